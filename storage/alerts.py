"""Durable alert state: instances, transitions, the notification outbox, silences, editor rules.

Writes take the writer's connection and run inside its transaction; reads take a cursor.
`model` is '' for system rules (it is part of primary keys): writes accept None or '', reads
give ''. Outbox payloads are JSON text both ways (a mapping is encoded on enqueue).
Naive datetimes are taken as UTC (the store's session time zone); results are aware UTC.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from storage.alert_definitions import json_object

INSTANCE_COLUMNS = (
    "rule", "model", "state", "value", "active_since", "fired_at", "resolved_at", "last_change",
    "last_notified_at", "last_notified_status",
)  # fmt: skip
TRANSITION_COLUMNS = ("at", "rule", "model", "from_state", "to_state", "value", "silenced")
OUTBOX_COLUMNS = (
    "id", "group_key", "channel", "rule", "model", "status", "payload", "fired_at", "queued_at",
    "next_attempt_at", "attempts", "done_at", "outcome", "last_error",
)  # fmt: skip
DELIVERY_COLUMNS = ("at", "outbox_id", "channel", "group_key", "status", "attempt", "ok", "error")
SILENCE_COLUMNS = (
    "id", "rule", "model", "labels", "starts_at", "ends_at", "author", "comment", "created_at",
    "expired_at",
)  # fmt: skip
_ENQUEUED = OUTBOX_COLUMNS[1:10]  # id comes from the sequence; attempts and after start empty
STATES = ("inactive", "pending", "firing", "resolved")
STATUSES = ("firing", "resolved")
OUTCOMES = ("delivered", "superseded", "dropped")
# Delivery errors can quote a response body; the history keeps a readable head of it.
MAX_ERROR_CHARS = 1000

Row = dict[str, Any]


def _model_key(model: str | None) -> str:
    return model or ""


def _names(columns: Sequence[str]) -> str:
    """A quoted column list ("at" is a keyword in DuckDB 2.0)."""
    return ", ".join(f'"{c}"' for c in columns)


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({_names(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def _values(row: Mapping[str, Any], columns: Sequence[str], **given: Any) -> list[Any]:
    """The row's values in column order, with `given` ones (normalised) taking precedence."""
    return [given[c] if c in given else row.get(c) for c in columns]


def _rows(con: duckdb.DuckDBPyConnection) -> list[Row]:
    assert con.description is not None
    names = [d[0] for d in con.description]
    return [dict(zip(names, r, strict=True)) for r in con.fetchall()]


def _require(row: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if row.get(k) is None]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}: each one needs {', '.join(keys)}")


def _choice(value: object, allowed: Sequence[str], field: str, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} has {field}={value!r}: use one of {', '.join(allowed)}")


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def load_instances(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Every stored alert instance as a dict keyed by INSTANCE_COLUMNS, by rule and model."""
    con.execute(f"SELECT {_names(INSTANCE_COLUMNS)} FROM alert_instances ORDER BY rule, model")
    return _rows(con)


def save_instances(con: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace instances by (rule, model); absent optional columns are stored NULL."""
    by_key: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        _require(row, ("rule", "state", "last_change"), "alert instance")
        what = f"alert instance {row['rule']!r}"
        _choice(row["state"], STATES, "state", what)
        if row.get("last_notified_status") is not None:
            _choice(row["last_notified_status"], STATUSES, "last_notified_status", what)
        model = _model_key(row.get("model"))
        # The last row of a key wins: one statement must not write a key twice.
        by_key[(str(row["rule"]), model)] = _values(row, INSTANCE_COLUMNS, model=model)
    if by_key:
        sql = _insert("alert_instances", INSTANCE_COLUMNS).replace("INSERT", "INSERT OR REPLACE")
        con.executemany(sql, list(by_key.values()))


def delete_instances(
    con: duckdb.DuckDBPyConnection, keep: Collection[tuple[str, str | None]]
) -> int:
    """Delete every instance whose (rule, model) is not in `keep`; return how many went."""
    wanted = {(rule, _model_key(model)) for rule, model in keep}
    stored = con.execute("SELECT rule, model FROM alert_instances").fetchall()
    gone = [[rule, model] for rule, model in stored if (rule, model) not in wanted]
    if gone:
        con.executemany("DELETE FROM alert_instances WHERE rule = ? AND model = ?", gone)
    return len(gone)


def prune_instances(con: duckdb.DuckDBPyConnection, rules: Collection[str]) -> int:
    """Delete the instances of rules not in `rules` (rules that no longer exist); return count."""
    if isinstance(rules, str) or not all(isinstance(r, str) for r in rules):
        raise TypeError(
            "prune_instances takes rule names; to keep (rule, model) pairs use "
            "delete_instances(con, keep)"
        )
    row = con.execute(
        "DELETE FROM alert_instances WHERE NOT list_contains(?::VARCHAR[], rule)", [list(rules)]
    ).fetchone()
    return int(row[0]) if row else 0


def add_transitions(con: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append state changes (at, rule, model, from_state, to_state, value, silenced)."""
    values = []
    for row in rows:
        _require(row, ("at", "rule", "from_state", "to_state"), "alert transition")
        what = f"alert transition of {row['rule']!r}"
        _choice(row["from_state"], STATES, "from_state", what)
        _choice(row["to_state"], STATES, "to_state", what)
        model, silenced = _model_key(row.get("model")), bool(row.get("silenced", False))
        values.append(_values(row, TRANSITION_COLUMNS, model=model, silenced=silenced))
    if values:
        con.executemany(_insert("alert_transitions", TRANSITION_COLUMNS), values)


def transitions(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    rule: str | None = None,
    model: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """State changes with start <= at < end, newest first; model='' selects system rules."""
    clauses = ['"at" >= ?', '"at" < ?']
    params: list[Any] = [start, end]
    if rule is not None:
        clauses.append("rule = ?")
        params.append(rule)
    if model is not None:
        clauses.append("model = ?")
        params.append(model)
    params.append(_limit(limit))
    return con.execute(
        f"SELECT {_names(TRANSITION_COLUMNS)} FROM alert_transitions "
        f'WHERE {" AND ".join(clauses)} ORDER BY "at" DESC, rowid DESC LIMIT ?',
        params,
    ).df()


def enqueue(con: duckdb.DuckDBPyConnection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Queue notifications (one per alert and channel); return their outbox ids in order."""
    required = ("group_key", "channel", "rule", "status", "payload", "queued_at")
    ids = []
    for row in rows:
        _require(row, required, "outbox row")
        what = f"outbox row for {row['rule']!r}"
        _choice(row["status"], STATUSES, "status", what)
        payload = json_object(row["payload"], f"payload of the {what}")
        values = _values(
            row,
            _ENQUEUED,
            model=_model_key(row.get("model")),
            payload=payload,
            next_attempt_at=row.get("next_attempt_at") or row["queued_at"],
        )
        inserted = con.execute(f"{_insert('alert_outbox', _ENQUEUED)} RETURNING id", values)
        new = inserted.fetchone()
        assert new is not None
        ids.append(int(new[0]))
    return ids


def due(con: duckdb.DuckDBPyConnection, now: datetime, limit: int = 500) -> list[Row]:
    """Undone outbox rows whose next attempt is due, oldest first (payload as JSON text)."""
    con.execute(
        f"SELECT {_names(OUTBOX_COLUMNS)} FROM alert_outbox "
        "WHERE done_at IS NULL AND next_attempt_at <= ? ORDER BY queued_at, id LIMIT ?",
        [now, _limit(limit)],
    )
    return _rows(con)


def pending_groups(con: duckdb.DuckDBPyConnection) -> list[tuple[str, datetime]]:
    """(group_key, oldest queued_at) of every group with undone rows, oldest group first."""
    rows = con.execute(
        "SELECT group_key, min(queued_at) AS oldest FROM alert_outbox WHERE done_at IS NULL "
        "GROUP BY group_key ORDER BY oldest, group_key"
    ).fetchall()
    return [(str(key), oldest) for key, oldest in rows]


def record_attempt(
    con: duckdb.DuckDBPyConnection,
    outbox_id: int,
    *,
    ok: bool,
    error: str | None,
    at: datetime,
    next_attempt_at: datetime | None,
) -> int:
    """Count a delivery attempt and log it; ok closes the row as delivered, a failure with
    next_attempt_at=None closes it as dropped, else schedules a retry. Returns the attempt number.
    """
    row = con.execute(
        "UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ? "
        "RETURNING attempts, channel, group_key, status",
        [outbox_id],
    ).fetchone()
    if row is None:
        raise ValueError(f"outbox row {outbox_id} does not exist (deleted by retention?)")
    attempt, channel, group_key, status = row
    error = None if ok or error is None else error[:MAX_ERROR_CHARS]
    con.execute(
        _insert("alert_deliveries", DELIVERY_COLUMNS),
        [at, outbox_id, channel, group_key, status, attempt, ok, error],
    )
    closes = ok or next_attempt_at is None
    outcome = "delivered" if ok else "dropped" if next_attempt_at is None else None
    # A row superseded while its send was in flight keeps that outcome; the attempt is logged.
    con.execute(
        "UPDATE alert_outbox SET done_at = ?, outcome = ?, last_error = coalesce(?, last_error), "
        "next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ? AND done_at IS NULL",
        [at if closes else None, outcome, error, next_attempt_at, outbox_id],
    )
    return int(attempt)


def supersede(
    con: duckdb.DuckDBPyConnection, rule: str, model: str | None, status: str, at: datetime
) -> int:
    """Close the alert's undone rows whose status is not `status` as superseded; count.

    Pass the status being queued now: supersede(con, rule, model, "resolved", at) closes the
    alert's undelivered "firing" rows.
    """
    _choice(status, STATUSES, "status", f"supersede for {rule!r}")
    row = con.execute(
        "UPDATE alert_outbox SET done_at = ?, outcome = 'superseded' "
        "WHERE rule = ? AND model = ? AND status <> ? AND done_at IS NULL",
        [at, rule, _model_key(model), status],
    ).fetchone()
    return int(row[0]) if row else 0


def deliveries(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, limit: int = 1000
) -> pd.DataFrame:
    """Delivery attempts with start <= at < end, newest first, with the alert's rule and model."""
    cols = ", ".join(f'd."{c}"' for c in DELIVERY_COLUMNS)
    return con.execute(
        f"SELECT {cols}, o.rule, o.model FROM alert_deliveries d "
        'LEFT JOIN alert_outbox o ON o.id = d.outbox_id WHERE d."at" >= ? AND d."at" < ? '
        'ORDER BY d."at" DESC, d.outbox_id DESC, d.attempt DESC LIMIT ?',
        [start, end, _limit(limit)],
    ).df()


def outbox(
    con: duckdb.DuckDBPyConnection, include_done: bool = False, limit: int = 1000
) -> pd.DataFrame:
    """Outbox rows, newest first: the undone ones, or all with include_done (payload as text)."""
    where = "" if include_done else "WHERE done_at IS NULL"
    return con.execute(
        f"SELECT {_names(OUTBOX_COLUMNS)} FROM alert_outbox {where} "
        "ORDER BY queued_at DESC, id DESC LIMIT ?",
        [_limit(limit)],
    ).df()


def _labels_text(labels: object) -> str:
    if labels is None:
        return "{}"
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ValueError(f"silence labels must map strings to strings, got {labels!r}")
    return json.dumps(dict(sorted(labels.items())))


def add_silence(con: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> str:
    """Store a silence (a random id when it has none); return its id."""
    _require(row, ("starts_at", "ends_at", "author", "comment"), "silence")
    if row["ends_at"] <= row["starts_at"]:
        raise ValueError("silence ends_at must be after starts_at")
    silence_id = str(row.get("id") or uuid.uuid4())
    if con.execute("SELECT 1 FROM silences WHERE id = ?", [silence_id]).fetchall():
        raise ValueError(f"silence {silence_id!r} already exists: leave id out to get a new one")
    values = _values(
        row,
        SILENCE_COLUMNS,
        id=silence_id,
        labels=_labels_text(row.get("labels")),
        created_at=row.get("created_at") or datetime.now(UTC),
        expired_at=None,
    )
    con.execute(_insert("silences", SILENCE_COLUMNS), values)
    return silence_id


def expire_silence(con: duckdb.DuckDBPyConnection, silence_id: str, at: datetime) -> bool:
    """End a silence at `at`; False when there is no such silence or it was expired before."""
    row = con.execute(
        "UPDATE silences SET expired_at = ?, ends_at = least(ends_at, ?) "
        "WHERE id = ? AND expired_at IS NULL",
        [at, at, silence_id],
    ).fetchone()
    return bool(row and row[0])


def list_silences(
    con: duckdb.DuckDBPyConnection, now: datetime | None = None, active_only: bool = False
) -> list[Row]:
    """Silences, newest first, labels decoded and `active` at `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    active = "(expired_at IS NULL AND starts_at <= ? AND ? < ends_at)"
    con.execute(
        f"SELECT {_names(SILENCE_COLUMNS)}, {active} AS active FROM silences "
        f"{'WHERE ' + active if active_only else ''} ORDER BY created_at DESC, id",
        [now, now, now, now] if active_only else [now, now],
    )
    rows = _rows(con)
    for row in rows:
        row["labels"] = json.loads(row["labels"]) if row["labels"] else {}
    return rows


def apply_retention(con: duckdb.DuckDBPyConnection, before: datetime) -> dict[str, int]:
    """Delete history older than `before`: transitions, deliveries, closed outbox rows and
    silences that ended; instances and undone outbox rows are kept whatever their age."""
    statements = {
        "alert_transitions": 'DELETE FROM alert_transitions WHERE "at" < ?',
        "alert_deliveries": 'DELETE FROM alert_deliveries WHERE "at" < ?',
        "alert_outbox": "DELETE FROM alert_outbox WHERE done_at < ?",
        "silences": "DELETE FROM silences WHERE ends_at < ?",
    }
    deleted = {}
    for table, sql in statements.items():
        row = con.execute(sql, [before]).fetchone()
        deleted[table] = int(row[0]) if row else 0
    return deleted
