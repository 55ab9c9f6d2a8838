"""Where `vigil users|tokens|erase` act: the server's admin API at --url when it answers,
else the database file opened here (possible only while no server holds it)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote

from dashboard import cli_http


class Backend(Protocol):
    """What the commands need, served by the HTTP API or by the database file."""

    def users(self) -> list[dict[str, Any]]: ...
    def add_user(self, name: str, role: str, password: str) -> dict[str, Any]: ...
    def change_user(self, name: str, role: str | None, password: str | None) -> dict[str, Any]: ...
    def remove_user(self, name: str) -> None: ...
    def tokens(self) -> list[dict[str, Any]]: ...
    def create_token(self, name: str, scope: str, model: str | None) -> dict[str, Any]: ...
    def revoke_token(self, ident: str) -> dict[str, Any]: ...
    def erase(self, model: str, selector: dict[str, Any]) -> tuple[dict[str, int], str]: ...


class Remote:
    """The running server's admin API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _api(self, path: str) -> str:
        return cli_http.api_url(self.url, path)

    def users(self) -> list[dict[str, Any]]:
        return list(cli_http.call_json("GET", self._api("users"))["users"])

    def add_user(self, name: str, role: str, password: str) -> dict[str, Any]:
        body = {"name": name, "role": role, "password": password}
        return dict(cli_http.call_json("POST", self._api("users"), body)["user"])

    def change_user(self, name: str, role: str | None, password: str | None) -> dict[str, Any]:
        body = {k: v for k, v in (("role", role), ("password", password)) if v is not None}
        url = self._api(f"users/{quote(name, safe='')}")
        return dict(cli_http.call_json("PATCH", url, body)["user"])

    def remove_user(self, name: str) -> None:
        cli_http.call_json("DELETE", self._api(f"users/{quote(name, safe='')}"))

    def tokens(self) -> list[dict[str, Any]]:
        return list(cli_http.call_json("GET", self._api("tokens"))["tokens"])

    def create_token(self, name: str, scope: str, model: str | None) -> dict[str, Any]:
        body = {"name": name, "scope": scope, "model": model}
        return cli_http.call_json("POST", self._api("tokens"), body)

    def revoke_token(self, ident: str) -> dict[str, Any]:
        url = self._api(f"tokens/{quote(ident, safe='')}")
        return dict(cli_http.call_json("DELETE", url)["revoked"])

    def erase(self, model: str, selector: dict[str, Any]) -> tuple[dict[str, int], str]:
        url = cli_http.model_url(self.url, model, "erase", {})
        reply = cli_http.call_json("POST", url, selector)
        return dict(reply["erased"]), str(reply.get("note", ""))


class Local:
    """The database file, opened by this process, acting as `principal`."""

    def __init__(self, access: Any, principal: Any) -> None:
        self.access, self.by = access, principal
        self.erased = False  # then the file is compacted once it is closed

    def users(self) -> list[dict[str, Any]]:
        from collectors.admin_api import user_dict

        return [user_dict(u) for u in self.access.list_users()]

    def add_user(self, name: str, role: str, password: str) -> dict[str, Any]:
        from collectors.admin_api import user_dict
        from monitoring.access import parse_role

        return user_dict(self.access.add_user(name, parse_role(role), password, self.by, "cli"))

    def change_user(self, name: str, role: str | None, password: str | None) -> dict[str, Any]:
        from collectors.admin_api import user_dict
        from monitoring.access import parse_role

        if password is not None:
            self.access.set_password(name, password, self.by, "cli")
        if role is not None:
            return user_dict(self.access.set_role(name, parse_role(role), self.by, "cli"))
        return next(u for u in self.users() if u["name"] == name)

    def remove_user(self, name: str) -> None:
        self.access.remove_user(name, self.by, "cli")

    def tokens(self) -> list[dict[str, Any]]:
        from collectors.admin_api import token_dict

        return [token_dict(t) for t in self.access.list_tokens()]

    def create_token(self, name: str, scope: str, model: str | None) -> dict[str, Any]:
        from collectors.admin_api import token_dict

        secret, record = self.access.create_token(name, scope, model, self.by, "cli")
        return {"token": secret, **token_dict(record)}

    def revoke_token(self, ident: str) -> dict[str, Any]:
        from collectors.admin_api import token_dict

        return token_dict(self.access.revoke_token(ident, self.by, "cli"))

    def erase(self, model: str, selector: dict[str, Any]) -> tuple[dict[str, int], str]:
        column, value = None, None
        if "feature" in selector:
            column, value = selector["feature"], selector["value"]
        elif "tag" in selector:
            column, value = f"tag:{selector['tag']}", selector["value"]
        erased = self.access.erase(
            model,
            self.by,
            "cli",
            event_ids=list(selector.get("event_ids", ())),
            column=column,
            value=value,
        )
        self.erased = self.erased or erased.total > 0
        return dict(erased.as_dict()), ""


def _admin_token_set() -> None:
    if not os.environ.get("VIGIL_API_TOKEN") and not os.environ.get("VIGIL_API_TOKEN_FILE"):
        raise SystemExit(
            "vigil: a server answers at the --url; set VIGIL_API_TOKEN (or "
            "VIGIL_API_TOKEN_FILE) to one of its admin tokens"
        )


def _principal() -> Any:
    """The person at this machine, as an admin: they can open the database file anyway."""
    from monitoring.access import Principal, Role

    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        name = "cli"
    return Principal(name, "local", role=Role.ADMIN)


@contextmanager
def _local(args: argparse.Namespace, create: bool) -> Iterator[Backend]:
    """The database file opened for this command, closed (and checkpointed) after."""
    from collectors.access import AccessService
    from collectors.settings import SettingsError, load_settings
    from storage import StorageError, Store, StoreLockedError, Writer

    try:
        settings = load_settings(args.config, overrides={"db": args.db})
    except SettingsError as exc:
        raise SystemExit(f"vigil: {exc}") from None
    db = settings.db
    if not db.exists() and not create:
        raise SystemExit(f"vigil: no server answers at {args.url} and there is no database {db}")
    new = "" if db.exists() else " (a new database)"
    print(f"vigil: no server answers at {args.url}; using {db}{new} directly", file=sys.stderr)
    try:
        store = Store(db)
    except StoreLockedError as exc:
        raise SystemExit(
            f"vigil: {exc} If it is a Vigil server, pass its address with --url."
        ) from None
    except StorageError as exc:
        raise SystemExit(f"vigil: {exc}") from None
    writer = Writer(store)

    local = None
    try:
        local = Local(AccessService(store, writer, settings), _principal())
        yield local
    except (ValueError, LookupError, StorageError) as exc:
        if isinstance(exc, KeyError):
            raise  # a bug, not an unknown user or token
        raise SystemExit(f"vigil: {exc}") from None
    finally:
        writer.stop()
        store.close()
    if local is not None and local.erased:
        # Deleted values linger in the file's free blocks; the server's open rewrites the
        # file when an erasure marked it, so the erasure is complete when this returns.
        from dashboard.server import open_store

        open_store(settings).close()


@contextmanager
def backend(args: argparse.Namespace, create: bool = False) -> Iterator[Backend]:
    """The server at --url when it answers, else the database file."""
    if cli_http.server_answers(args.url):
        _admin_token_set()
        yield Remote(args.url)
    else:
        with _local(args, create) as local:
            yield local
