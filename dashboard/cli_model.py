"""`vigil model register FILE --model M --version V`: upload a model artifact (joblib or
pickle) to a running server, which checks it can explain it and stores it by SHA-256.

A pickle is code: loading it runs whatever it holds. Register only files from a trusted
source (your own training pipeline).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dashboard import cli_http
from dashboard import format as fmt


def add_parser(sub: Any) -> None:
    """The `model` command and its `register` subcommand."""
    model = sub.add_parser("model", help="register a model artifact for explanations")
    actions = model.add_subparsers(dest="action", required=True)
    register = actions.add_parser("register", help="upload a joblib/pickle model file")
    register.add_argument("file", type=Path, help="the model, as written by joblib.dump")
    register.add_argument("--model", required=True, help="the registered model")
    register.add_argument("--version", required=True, help="the model version it serves")
    cli_http.server_flags(register)


def run(args: argparse.Namespace) -> int:
    """Upload the file and print what the server stored."""
    path: Path = args.file
    if not path.is_file():
        raise SystemExit(f"vigil: {path} is not a file")
    started = time.monotonic()
    data = path.read_bytes()
    print(
        f"Uploading {path.name} ({fmt.bytes_(len(data))}, sha256 "
        f"{hashlib.sha256(data).hexdigest()[:12]}...) to {args.url} ...",
        file=sys.stderr,
        flush=True,
    )
    url = cli_http.model_url(
        args.url, args.model, f"versions/{quote(args.version, safe='')}/artifact", {}
    )
    info = cli_http.call("PUT", url, data, "application/octet-stream")["artifact"]
    print(
        f"Registered {info['estimator']} for model {args.model} version {info['version']}: "
        f"{info['explainer']} explainer, attributions in {info['units']}, sha256 "
        f"{info['sha256'][:12]}... ({time.monotonic() - started:.1f} s)"
    )
    return 0
