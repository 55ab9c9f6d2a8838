"""Notification channels added in the dashboard, stored as their TOML table in JSON text.

Only names of environment variables or files that hold secrets are stored, never a secret:
collectors.alert_settings refuses a definition holding one before it gets here, and
save_channel refuses it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb

SECRET_KEYS = ("password", "secret")


def save_channel(
    con: duckdb.DuckDBPyConnection,
    name: str,
    definition: Mapping[str, Any],
    by: str | None,
    at: datetime,
) -> None:
    """Insert or replace a dashboard channel's definition."""
    if not name:
        raise ValueError("a channel needs a name")
    held = [key for key in SECRET_KEYS if key in definition]
    if held:
        raise ValueError(
            f"channel {name!r} holds a plain {held[0]}: store the name of an environment "
            f"variable ({held[0]}_env) or a file ({held[0]}_file) instead"
        )
    try:
        text = json.dumps(dict(definition), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"channel {name!r} cannot be stored as JSON: {exc}") from None
    con.execute("INSERT OR REPLACE INTO alert_channels VALUES (?, ?, ?, ?)", [name, text, at, by])


def delete_channel(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Delete a dashboard channel; False when there was none of that name."""
    row = con.execute("DELETE FROM alert_channels WHERE name = ?", [name]).fetchone()
    return bool(row and row[0])


def list_channels(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Dashboard channels by name, each definition decoded to a dict."""
    rows = con.execute("SELECT name, definition FROM alert_channels ORDER BY name").fetchall()
    return {str(name): json.loads(text) for name, text in rows}
