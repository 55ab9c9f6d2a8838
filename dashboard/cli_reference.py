"""`vigil reference upload FILE --model M` and `vigil reference list --model M`: a running
server's reference data, over its HTTP API (the server owns the database file)."""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.reference_input import FILE_SUFFIXES, ReferenceInvalid, read_file
from dashboard import cli_http
from dashboard import format as fmt

PARQUET = "application/vnd.apache.parquet"


def add_parser(sub: Any) -> None:
    """The `reference` command and its subcommands."""
    ref = sub.add_parser("reference", help="upload or list a model's reference data")
    actions = ref.add_subparsers(dest="action", required=True)
    upload = actions.add_parser("upload", help="make a file the model's reference data")
    upload.add_argument("file", type=Path, help=f"the data: {', '.join(FILE_SUFFIXES)}")
    upload.add_argument("--model", required=True, help="the registered model")
    upload.add_argument("--version", help="the version it is for (default: every version)")
    cli_http.server_flags(upload)
    listing = actions.add_parser("list", help="the model's references, the one in use first")
    listing.add_argument("--model", required=True, help="the registered model")
    cli_http.server_flags(listing)


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
    url = cli_http.model_url(
        args.url, args.model, "reference", {"version": args.version or "", "name": path.name}
    )
    info = cli_http.call("PUT", url, body, PARQUET)["reference"]
    took = time.monotonic() - started
    scope = f"version {info['version']}" if info.get("version") else "every version"
    print(
        f"Stored reference #{info['id']} of model {args.model} for {scope}: "
        f"{fmt.count(info['rows'])} rows ({fmt.count(info['labelled'])} labelled) in {took:.1f} s"
    )
    return 0


def listing(args: argparse.Namespace) -> int:
    """Print the model's references, newest first, marking the one in use."""
    url = cli_http.model_url(args.url, args.model, "reference", {})
    reply = cli_http.call("GET", url)
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
