"""Alert rules and channels saved from the dashboard, each stored as its TOML table in JSON.

Config-file rules and channels are not stored. Channels hold no secret, only the names of
the environment variables or files that hold one: a definition holding one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb

SECRET_KEYS = ("password", "secret")


def json_object(value: object, what: str) -> str:
    """JSON text of a mapping (or a JSON object text, checked); a clear error otherwise."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} is not valid JSON ({exc}): pass a JSON object") from None
        if not isinstance(decoded, dict):
            raise ValueError(f"{what} must be a JSON object, got {type(decoded).__name__}")
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        return json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} cannot be stored as JSON ({exc}): use strings, finite numbers, booleans, "
            "null, lists and objects only"
        ) from None


def save_rule(
    con: duckdb.DuckDBPyConnection,
    name: str,
    definition: Mapping[str, Any],
    by: str | None,
    at: datetime,
) -> None:
    """Insert or replace an editor rule's definition."""
    _save(con, "alert_rules", "an alert rule", name, definition, by, at)


def delete_rule(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Delete an editor rule; False when there was none of that name."""
    return _delete(con, "alert_rules", name)


def list_rules(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Editor rules by name, each definition decoded to a dict."""
    return _list(con, "alert_rules")


def save_channel(
    con: duckdb.DuckDBPyConnection,
    name: str,
    definition: Mapping[str, Any],
    by: str | None,
    at: datetime,
) -> None:
    """Insert or replace a dashboard channel's definition (never one holding a secret)."""
    held = [key for key in SECRET_KEYS if key in definition]
    if held:
        raise ValueError(
            f"channel {name!r} holds a plain {held[0]}: store the name of an environment "
            f"variable ({held[0]}_env) or a file ({held[0]}_file) instead"
        )
    _save(con, "alert_channels", "a channel", name, definition, by, at)


def delete_channel(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Delete a dashboard channel; False when there was none of that name."""
    return _delete(con, "alert_channels", name)


def list_channels(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Dashboard channels by name, each definition decoded to a dict."""
    return _list(con, "alert_channels")


# `table` below is always one of the two literal names above, never user input.
def _save(
    con: duckdb.DuckDBPyConnection,
    table: str,
    what: str,
    name: str,
    definition: Mapping[str, Any],
    by: str | None,
    at: datetime,
) -> None:
    if not name:
        raise ValueError(f"{what} needs a name")
    text = json_object(definition, f"definition of {what.split(' ', 1)[1]} {name!r}")
    con.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)", [name, text, at, by])


def _delete(con: duckdb.DuckDBPyConnection, table: str, name: str) -> bool:
    row = con.execute(f"DELETE FROM {table} WHERE name = ?", [name]).fetchone()
    return bool(row and row[0])


def _list(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, dict[str, Any]]:
    rows = con.execute(f"SELECT name, definition FROM {table} ORDER BY name").fetchall()
    return {str(name): json.loads(text) for name, text in rows}
