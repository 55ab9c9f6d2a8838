"""The `vigil` command: serve, demo, token, reference, model, report, users, tokens, erase."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboard import cli_access, cli_model, cli_reference, cli_report


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file (its [server] table)")
    parser.add_argument(
        "--db", type=Path, help="DuckDB file (default ./vigil-data/vigil.duckdb; env VIGIL_DB)"
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8501)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil", description="ML model monitoring in one process."
    )
    parser.add_argument("--log-level", default=os.environ.get("VIGIL_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server: dashboard, API, /metrics and collectors")
    _server_args(serve)
    demo = sub.add_parser(
        "demo", help="load the demo model's 30-day history, then serve it with live traffic"
    )
    _server_args(demo)
    demo.add_argument(
        "--rate",
        type=float,
        default=0.2,
        help="live predictions per second (default 0.2: one every few seconds)",
    )
    demo.add_argument(
        "--no-live", action="store_true", help="load the history but send no live traffic"
    )
    sub.add_parser("token", help="print a new random API token and its SHA-256 hash")
    cli_reference.add_parser(sub)
    cli_model.add_parser(sub)
    cli_report.add_parser(sub)
    cli_access.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Its INFO lines would report every job run (every 2 s).
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    if args.command == "token":
        from storage.tokens import hash_token, new_token

        token = new_token()
        print(f"token:  {token}\nsha256: {hash_token(token)}")
        print(
            "Give the server the token (VIGIL_API_TOKEN / VIGIL_API_TOKEN_FILE) or the hash "
            "(api_token_hashes in the config); give clients the token.",
            file=sys.stderr,
        )
        return 0
    if args.command == "reference":
        return cli_reference.run(args)
    if args.command == "model":
        return cli_model.run(args)
    if args.command == "report":
        return cli_report.run(args)
    if args.command in ("users", "tokens", "erase"):
        return cli_access.run(args)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Imported here: the settings pull in the drift engine (scipy), a second that the
    # commands which only call the server should not wait for.
    from collectors.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            args.config, overrides={"db": args.db, "host": args.host, "port": args.port}
        )
    except SettingsError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return 2
    from dashboard.server import run_server

    if args.command == "demo":
        from dashboard.demo import demo_preparer, with_demo_alerts

        preparer = demo_preparer(rate=args.rate, live=not args.no_live)
        return run_server(with_demo_alerts(settings), preparer)
    return run_server(settings)


if __name__ == "__main__":
    sys.exit(main())
