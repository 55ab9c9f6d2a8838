"""`vigil users ...`, `vigil tokens ...` and `vigil erase ...`: who may use Vigil, and
erasing a data subject's rows.

Through the running server's admin API when one answers at --url (VIGIL_API_TOKEN must be
an admin token); otherwise straight on the database file (--db), which only works while no
server holds it, acting as the local OS user with the admin role.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboard import cli_http
from dashboard import format as fmt
from dashboard.cli_access_backend import backend

ROLES = ("viewer", "editor", "admin")
SCOPES = ("ingest", "read", "admin")
ERASED = (
    ("predictions", "predictions"),
    ("labels", "labels"),
    ("explanations", "explanations"),
    ("reference_rows", "reference rows"),
)


def _where(parser: argparse.ArgumentParser) -> None:
    cli_http.server_flags(parser)
    parser.add_argument(
        "--db",
        type=Path,
        help="database file used when no server answers (default ./vigil-data/vigil.duckdb; "
        "env VIGIL_DB)",
    )
    parser.add_argument("--config", type=Path, help="TOML config file (used with --db)")


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} must look like NAME=VALUE")
    return name, value


def add_parsers(sub: Any) -> None:
    """The `users`, `tokens` and `erase` commands."""
    users = sub.add_parser("users", help="add, list, change or remove dashboard users")
    user_actions = users.add_subparsers(dest="action", required=True)
    add = user_actions.add_parser(
        "add", help="add a user (password from a prompt, or the first line of stdin)"
    )
    add.add_argument("name", help="the login name (letters, digits and . _ @ + -)")
    add.add_argument("--role", required=True, choices=ROLES, help="what they may do")
    _where(add)
    _where(user_actions.add_parser("list", help="every user, their role and last login"))
    set_role = user_actions.add_parser("set-role", help="change a user's role")
    set_role.add_argument("name")
    set_role.add_argument("--role", required=True, choices=ROLES)
    _where(set_role)
    passwd = user_actions.add_parser("passwd", help="set a user's password (unlocks them)")
    passwd.add_argument("name")
    _where(passwd)
    remove = user_actions.add_parser("remove", help="remove a user and end their sessions")
    remove.add_argument("name")
    _where(remove)

    tokens = sub.add_parser("tokens", help="create, list or revoke API tokens")
    token_actions = tokens.add_subparsers(dest="action", required=True)
    create = token_actions.add_parser("create", help="create a token (shown once)")
    create.add_argument("--name", required=True, help="what it is for, e.g. ci-ingest")
    create.add_argument(
        "--scope",
        required=True,
        choices=SCOPES,
        help="ingest: send data; read: read the API; admin: everything",
    )
    create.add_argument("--model", help="limit the token to one model")
    _where(create)
    _where(token_actions.add_parser("list", help="every token with its last use"))
    revoke = token_actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("ident", metavar="ID_OR_NAME", help="the token's id or name")
    _where(revoke)

    erase = sub.add_parser("erase", help="delete a data subject's rows from a model")
    erase.add_argument("--model", required=True, help="the registered model")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--event-id", nargs="+", dest="event_ids", metavar="ID", help="event ids")
    which.add_argument(
        "--feature", type=_assignment, metavar="NAME=VALUE", help="rows whose feature equals"
    )
    which.add_argument("--tag", type=_assignment, metavar="KEY=VALUE", help="rows whose tag equals")
    _where(erase)


def read_password(name: str) -> str:
    """Asked twice on a terminal; otherwise the first line of stdin."""
    if sys.stdin.isatty():
        from monitoring.passwords import check_password

        first = getpass.getpass(f"Password for {name}: ")
        try:
            check_password(first)
        except ValueError as exc:
            raise SystemExit(f"vigil: {exc}") from None
        if getpass.getpass("Again: ") != first:
            raise SystemExit("vigil: the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise SystemExit(
            "vigil: no password on stdin: run it at a terminal, or pipe the password in "
            "(e.g. `printf '%s\\n' \"$PW\" | vigil users add ...`)"
        )
    return line


def _parse(value: Any) -> Any:
    """A time the server sent as ISO-8601 text back as a datetime (others unchanged)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def _when(value: Any, missing: str = fmt.MISSING) -> str:
    """A time for people, or `missing` when there is none ('never' for a last use)."""
    when = _parse(value)
    return fmt.timestamp(when) if isinstance(when, datetime) else missing


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns under their headers."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _locked(value: Any) -> str:
    """'no', or until when a user is locked out after failed sign-ins."""
    when = _parse(value)
    if not isinstance(when, datetime):
        return "no"
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return "no" if when <= datetime.now(UTC) else f"until {_when(when)}"


def _users(args: argparse.Namespace) -> int:
    """`vigil users add|list|set-role|passwd|remove`."""
    password = ""
    if args.action in ("add", "passwd"):
        password = read_password(args.name)
    with backend(args, create=args.action == "add") as where:
        if args.action == "add":
            user = where.add_user(args.name, args.role, password)
            print(f"Added user {user['name']} ({user['role']}).")
        elif args.action == "set-role":
            user = where.change_user(args.name, args.role, None)
            article = "a" if user["role"] == "viewer" else "an"
            print(f"{user['name']} is now {article} {user['role']}.")
        elif args.action == "passwd":
            where.change_user(args.name, None, password)
            print(f"Changed the password of {args.name}; their sessions have ended.")
        elif args.action == "remove":
            where.remove_user(args.name)
            print(f"Removed user {args.name}; their sessions have ended.")
        else:
            users = where.users()
            if not users:
                print("No users yet: add one with `vigil users add NAME --role admin`.")
                return 0
            rows = [
                [
                    u["name"],
                    u["role"],
                    _when(u["created_at"]),
                    _when(u["last_login_at"], "never"),
                    _locked(u["locked_until"]),
                ]
                for u in users
            ]
            print(table(("NAME", "ROLE", "CREATED", "LAST LOGIN", "LOCKED"), rows))
    return 0


def _tokens(args: argparse.Namespace) -> int:
    """`vigil tokens create|list|revoke`; a new token goes alone to stdout, for scripts."""
    with backend(args, create=args.action == "create") as where:
        if args.action == "create":
            made = where.create_token(args.name, args.scope, args.model)
            limit = f", model {made['model']}" if made.get("model") else ""
            print(
                f"Created token {made['name']} (id {made['id']}, scope {made['scope']}{limit}). "
                "Copy it now: it will not be shown again.",
                file=sys.stderr,
            )
            print(made["token"])
        elif args.action == "revoke":
            gone = where.revoke_token(args.ident)
            print(
                f"Revoked token {gone['name']} (id {gone['id']}); requests with it are "
                "refused from now on."
            )
        else:
            tokens = where.tokens()
            if not tokens:
                print("No API tokens: create one with `vigil tokens create --name N --scope S`.")
                return 0
            rows = [
                [
                    t["id"],
                    t["name"],
                    t["scope"],
                    t["model"] or "all",
                    _when(t["created_at"]),
                    t["created_by"] or fmt.MISSING,
                    _when(t["last_used_at"], "never"),
                    "active" if t["revoked_at"] is None else f"revoked {_when(t['revoked_at'])}",
                ]
                for t in tokens
            ]
            headers = ("ID", "NAME", "SCOPE", "MODEL", "CREATED", "BY", "LAST USED", "STATUS")
            print(table(headers, rows))
    return 0


def _erase(args: argparse.Namespace) -> int:
    """`vigil erase`: the rows erased per table."""
    selector: dict[str, Any]
    if args.event_ids:
        selector = {"event_ids": args.event_ids}
    elif args.feature:
        selector = {"feature": args.feature[0], "value": args.feature[1]}
    else:
        selector = {"tag": args.tag[0], "value": args.tag[1]}
    with backend(args) as where:
        counts, note = where.erase(args.model, selector)
        total = sum(int(counts.get(key, 0)) for key, _ in ERASED)
        print(f"Erased {fmt.count(total)} rows from model {args.model}:")
        width = max(len(label) for _, label in ERASED)
        for key, label in ERASED:
            print(f"  {label.ljust(width)}  {fmt.count(counts.get(key, 0)):>9}", flush=True)
    if note:
        print(note, file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `users`, `tokens` or `erase`; errors end as one line on stderr and exit 1."""
    if args.command == "users":
        return _users(args)
    if args.command == "tokens":
        return _tokens(args)
    return _erase(args)
