"""`vigil reference upload FILE --model M` and `vigil reference list --model M`: a running
server's reference data, over its HTTP API (the server owns the database file)."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.reference_input import FILE_SUFFIXES, ReferenceInvalid, read_file
from dashboard import format as fmt

DEFAULT_URL = "http://127.0.0.1:8501"
PARQUET = "application/vnd.apache.parquet"


def add_parser(sub: Any) -> None:
    """The `reference` command and its subcommands."""
    ref = sub.add_parser("reference", help="upload or list a model's reference data")
    actions = ref.add_subparsers(dest="action", required=True)
    upload = actions.add_parser("upload", help="make a file the model's reference data")
    upload.add_argument("file", type=Path, help=f"the data: {', '.join(FILE_SUFFIXES)}")
    upload.add_argument("--model", required=True, help="the registered model")
    upload.add_argument("--version", help="the version it is for (default: every version)")
    _server_flags(upload)
    listing = actions.add_parser("list", help="the model's references, the one in use first")
    listing.add_argument("--model", required=True, help="the registered model")
    _server_flags(listing)


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("VIGIL_URL", DEFAULT_URL),
        help=f"the server (default {DEFAULT_URL}; env VIGIL_URL)",
    )


def _token() -> str:
    token = os.environ.get("VIGIL_API_TOKEN", "")
    path = os.environ.get("VIGIL_API_TOKEN_FILE")
    if not token and path:
        token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise SystemExit(
            "vigil: set VIGIL_API_TOKEN (or VIGIL_API_TOKEN_FILE) to an API token of the server"
        )
    return token


def _call(method: str, url: str, body: bytes | None = None, kind: str = "") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {_token()}"}
    if kind:
        headers["Content-Type"] = kind
    # _model_url only builds http(s) URLs.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=600) as reply:  # noqa: S310
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        raise SystemExit(f"vigil: the server refused it ({exc.code}): {message}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(
            f"vigil: cannot reach the server at {url.split('/api/')[0]}: {exc.reason}. "
            "Is `vigil serve` running? Set --url or VIGIL_URL"
        ) from None


def _model_url(base: str, model: str, path: str, params: dict[str, str]) -> str:
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"vigil: --url {base!r} must start with http:// or https://")
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{base.rstrip('/')}/api/v1/models/{quote(model, safe='')}/{path}" + (
        f"?{query}" if query else ""
    )


def upload(args: argparse.Namespace) -> int:
    """Read the file, send it as Parquet, print what the server stored."""
    path: Path = args.file
    if not path.is_file():
        raise SystemExit(f"vigil: {path} is not a file")
    started = time.monotonic()
    print(f"Reading {path} ...", file=sys.stderr, flush=True)
    try:
        frame = read_file(path)
    except ReferenceInvalid as exc:
        raise SystemExit(f"vigil: {exc}") from None
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    body = buffer.getvalue()
    print(
        f"  {fmt.count(len(frame))} rows, {len(frame.columns)} columns; "
        f"uploading {fmt.bytes_(len(body))} to {args.url} ...",
        file=sys.stderr,
        flush=True,
    )
    url = _model_url(
        args.url, args.model, "reference", {"version": args.version or "", "name": path.name}
    )
    info = _call("PUT", url, body, PARQUET)["reference"]
    took = time.monotonic() - started
    scope = f"version {info['version']}" if info.get("version") else "every version"
    print(
        f"Stored reference #{info['id']} of model {args.model} for {scope}: "
        f"{fmt.count(info['rows'])} rows ({fmt.count(info['labelled'])} labelled) in {took:.1f} s"
    )
    return 0


def listing(args: argparse.Namespace) -> int:
    """Print the model's references, newest first, marking the one in use."""
    url = _model_url(args.url, args.model, "reference", {})
    reply = _call("GET", url)
    active = (reply.get("reference") or {}).get("id")
    if not reply.get("references"):
        print(f"model {args.model} has no reference data yet")
        return 0
    for ref in reply["references"]:
        mark = "*" if ref["id"] == active else " "
        scope = ref.get("version") or "every version"
        print(
            f"{mark} #{ref['id']:<4} {ref['created_at'][:19]}  {scope:<14} "
            f"{fmt.count(ref['rows']):>12} rows  {ref['source']}: {ref['description']}"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch `vigil reference ...`."""
    return upload(args) if args.action == "upload" else listing(args)
