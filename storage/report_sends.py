"""The log of scheduled report sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

COLUMNS = (
    "id",
    "schedule",
    "model",
    "version",
    "range_start",
    "range_end",
    "channel",
    "recipients",
    "status",
    "error",
    "pdf_bytes",
    "html_bytes",
    "sent_at",
)
_WRITTEN = COLUMNS[1:-1]


def record_send(
    con: duckdb.DuckDBPyConnection, row: Mapping[str, Any], recipients: Sequence[str]
) -> int:
    """Log one send (sent_at = now); returns its id."""
    if row.get("status") not in ("sent", "failed"):
        raise ValueError(f"status must be 'sent' or 'failed', got {row.get('status')!r}")
    values = [", ".join(recipients) if key == "recipients" else row.get(key) for key in _WRITTEN]
    marks = ", ".join("?" * len(_WRITTEN))
    found = con.execute(
        f"INSERT INTO report_sends ({', '.join(_WRITTEN)}, sent_at) "
        f"VALUES ({marks}, now()) RETURNING id",
        values,
    ).fetchall()
    return int(found[0][0])


def recent_sends(
    con: duckdb.DuckDBPyConnection, limit: int = 50, schedule: str | None = None
) -> pd.DataFrame:
    """The newest sends first (of one schedule when given)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    where, params = ("WHERE schedule = ?", [schedule]) if schedule is not None else ("", [])
    return con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM report_sends {where} ORDER BY sent_at DESC, id DESC "
        "LIMIT ?",
        [*params, limit],
    ).df()


def last_send(con: duckdb.DuckDBPyConnection, schedule: str) -> datetime | None:
    """When a schedule last sent successfully, or None."""
    found = con.execute(
        "SELECT max(sent_at) FROM report_sends WHERE schedule = ? AND status = 'sent'", [schedule]
    ).fetchall()
    value = found[0][0] if found else None
    return value if isinstance(value, datetime) else None
