"""The audit log: who did what, to what, from where. Append-only: no update or delete here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

COLUMNS = ("id", "at", "actor", "actor_kind", "action", "target", "detail", "source", "outcome")
_INSERTED = '"at", actor, actor_kind, action, target, detail, source, outcome'
_SELECT = f"id, {_INSERTED}"


@dataclass(frozen=True)
class AuditEntry:
    """One audited act; detail is stored as JSON text (values that JSON lacks as str)."""

    actor: str
    actor_kind: str
    action: str
    target: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    outcome: str = "ok"


def record(con: duckdb.DuckDBPyConnection, entry: AuditEntry, now: datetime) -> int:
    """Append an entry; return its id."""
    for name in ("actor", "actor_kind", "action"):
        if not getattr(entry, name):
            raise ValueError(f"an audit entry needs a non-empty {name}")
    if not isinstance(entry.detail, Mapping):
        raise ValueError(f"audit detail must be a mapping, got {type(entry.detail).__name__}")
    detail = json.dumps(dict(entry.detail), sort_keys=True, default=str, ensure_ascii=False)
    rows = con.execute(
        f"INSERT INTO audit_log ({_INSERTED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            now,
            entry.actor,
            entry.actor_kind,
            entry.action,
            entry.target or "",
            detail,
            entry.source or "",
            entry.outcome or "ok",
        ],
    ).fetchall()
    return int(rows[0][0])


def entries(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Entries in [start, end), of one actor, whose action starts with `action`; newest first.

    A prefix, so "user." finds every user action. detail is the stored JSON text.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    clauses: list[str] = ["true"]
    params: list[Any] = []
    if start is not None:
        clauses.append('"at" >= ?')
        params.append(start)
    if end is not None:
        clauses.append('"at" < ?')
        params.append(end)
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if action:
        clauses.append("starts_with(action, ?)")  # a bound prefix: no LIKE wildcards to escape
        params.append(action)
    frame = con.execute(
        f"SELECT {_SELECT} FROM audit_log WHERE {' AND '.join(clauses)} "
        'ORDER BY "at" DESC, id DESC LIMIT ?',
        [*params, limit],
    ).df()
    return frame[list(COLUMNS)]
