"""`vigil report --model M --start DATE --end DATE --format FORMAT [--version V] -o FILE`.

Through the running server's API when one answers at --url; otherwise straight from the
database file (--db), which only works while no server holds it.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.metrics_query import parse_time
from dashboard import cli_http
from dashboard import format as fmt

FORMATS = ("html", "pdf", "csv", "parquet")


def add_parser(sub: Any) -> None:
    """The `report` command."""
    report = sub.add_parser("report", help="write a stakeholder report of a model and range")
    report.add_argument("--model", required=True, help="the registered model")
    report.add_argument("--start", required=True, help="first day or time (ISO-8601, UTC)")
    report.add_argument("--end", required=True, help="end (exclusive), ISO-8601, UTC")
    report.add_argument(
        "--format",
        choices=FORMATS,
        default="html",
        help="html, pdf, csv (a zip of tables) or parquet (the raw predictions)",
    )
    report.add_argument(
        "--paper", choices=("a4", "letter"), default="a4", help="PDF paper size (default a4)"
    )
    report.add_argument("--version", help="one model version (default: all)")
    report.add_argument(
        "--include-pii",
        action="store_true",
        help="keep the features marked pii = true in a parquet export (admin token only)",
    )
    report.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    report.add_argument(
        "--db",
        type=Path,
        default=Path("vigil-data/vigil.duckdb"),
        help="database file used when no server answers (default ./vigil-data/vigil.duckdb)",
    )
    report.add_argument(
        "--config", type=Path, help="TOML config with the model's objectives (used with --db)"
    )
    cli_http.server_flags(report)


def _step(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.1f} s] {text}", file=sys.stderr, flush=True)


def _range(args: argparse.Namespace) -> tuple[datetime, datetime]:
    try:
        start, end = parse_time(args.start, "--start"), parse_time(args.end, "--end")
    except ValueError as exc:
        raise SystemExit(f"vigil: {exc}") from None
    if end <= start:
        raise SystemExit(f"vigil: --end {args.end} must be after --start {args.start}")
    return start, end


def _server_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/health", timeout=3):  # noqa: S310
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _from_server(args: argparse.Namespace, start: datetime, end: datetime) -> bytes:
    params = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "format": args.format,
        "paper": args.paper,
    }
    if args.version:
        params["version"] = args.version
    if args.include_pii:
        params["include_pii"] = "true"
    url = cli_http.model_url(args.url, args.model, "report", params)
    return cli_http.fetch(url)


def _from_file(args: argparse.Namespace, start: datetime, end: datetime, started: float) -> bytes:
    from collectors.report_api import report_bytes
    from collectors.report_pdf import PdfUnavailable
    from collectors.settings import SettingsError, load_settings
    from storage import Store, StoreLockedError, UnknownModelError
    from storage.models import get_model

    try:
        settings = load_settings(args.config, overrides={"db": args.db})
    except SettingsError as exc:
        raise SystemExit(f"vigil: {exc}") from None
    if not args.db.exists():
        raise SystemExit(f"vigil: no server at {args.url} and no database at {args.db}")
    try:
        store = Store(args.db)
    except StoreLockedError as exc:
        raise SystemExit(f"vigil: {exc}; pass --url of the server that holds it") from None
    try:
        con = store.cursor()
        model = get_model(con, args.model)
        if model is None:
            raise SystemExit(f"vigil: {UnknownModelError.__name__}: no model {args.model!r}")
        _step("reading performance, drift, quality, alerts and explanations ...", started)
        return report_bytes(
            con,
            settings,
            model,
            start,
            end,
            args.version,
            args.format,
            "vigil report (CLI)",
            # Whoever can open the file directly can read every value in it already.
            hidden=frozenset() if args.include_pii else None,
        )
    except PdfUnavailable as exc:
        raise SystemExit(f"vigil: {exc}") from None
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    """Build the report through the server or from the file, write it, say where."""
    start, end = _range(args)
    started = time.monotonic()
    if _server_answers(args.url):
        _step(f"asking the server at {args.url} ...", started)
        body = _from_server(args, start, end)
    else:
        _step(f"no server at {args.url}: reading {args.db} directly", started)
        body = _from_file(args, start, end, started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(body)
    _step(f"wrote {args.output} ({fmt.bytes_(len(body))})", started)
    return 0
