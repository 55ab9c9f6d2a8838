"""Retention: delete a model's predictions, labels and explanations older than their policy."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from storage.identifiers import explanations_table, quote
from storage.models import ModelInfo
from storage.time_windows import aware

REBUILD_MIN_ROWS = 20_000  # below this a plain DELETE takes about a second at most
REBUILD_RATIO = 25  # rebuild when the rows to delete are at least 1/25 of those to keep


@dataclass(frozen=True)
class Deleted:
    """Rows deleted by one retention run."""

    predictions: int = 0
    labels: int = 0
    explanations: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _cutoff(now: datetime, days: float | None, name: str) -> datetime | None:
    """now - days, or None for keep-forever; a negative, NaN or non-number is an error."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or not math.isfinite(days):
        raise ValueError(f"{name} must be a number of days or None, got {days!r}")
    if days < 0:
        raise ValueError(f"{name} must not be negative, got {days!r}")
    return now - timedelta(days=days)


def _count(result: duckdb.DuckDBPyConnection) -> int:
    rows = result.fetchall()
    return int(rows[0][0]) if rows else 0


def _table_sql(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, bool] | None:
    """The CREATE TABLE statement of a table of this database and whether it has separate
    indexes (CREATE INDEX, which that statement lacks); None if there is no such table."""
    rows = con.execute(
        "SELECT t.sql, (SELECT count(*) FROM duckdb_indexes() i WHERE i.database_name = "
        "t.database_name AND i.schema_name = t.schema_name AND i.table_name = t.table_name) "
        "FROM duckdb_tables() t WHERE t.database_name = current_database() "
        "AND t.schema_name = 'main' AND t.table_name = ?",
        [table],
    ).fetchall()
    return (str(rows[0][0]), bool(rows[0][1])) if rows else None


def delete_where(
    con: duckdb.DuckDBPyConnection,
    table: str,
    condition: str,
    params: list[Any],
    rebuild_min: int = REBUILD_MIN_ROWS,
) -> int:
    """Delete the rows of `table` (a validated name) meeting `condition`; return how many.

    A missing table has nothing to delete. DuckDB deletes from a primary-key table at ~50 us
    a row here (index entries go one by one: 500k of 1M predictions took 31 s, holding the
    writer all along), while copying the rows to keep into a fresh table took ~2 us a row.
    So a large deletion rebuilds the table from its own CREATE statement instead (call
    inside a transaction); readers in older transactions still see the old table.
    """
    found = _table_sql(con, table)
    if found is None:
        return 0
    sql, indexed = found
    counted = con.execute(
        f"SELECT count(*) FILTER (WHERE {condition}), count(*) FROM {quote(table)}", params
    ).fetchall()
    doomed, kept = int(counted[0][0]), int(counted[0][1]) - int(counted[0][0])
    if doomed == 0:
        return 0
    heads = (f"CREATE TABLE {table}(", f"CREATE TABLE {quote(table)}(")
    head = next((h for h in heads if sql.startswith(h)), None)
    small = doomed < rebuild_min or doomed * REBUILD_RATIO < kept
    if small or head is None or indexed:
        return _count(con.execute(f"DELETE FROM {quote(table)} WHERE {condition}", params))
    fresh = quote(f"{table}_retained")
    con.execute(f"CREATE TABLE {fresh}(" + sql[len(head) :])
    con.execute(
        f"INSERT INTO {fresh} SELECT * FROM {quote(table)} WHERE ({condition}) IS NOT TRUE",
        params,
    ).fetchall()
    con.execute(f"DROP TABLE {quote(table)}")
    con.execute(f"ALTER TABLE {fresh} RENAME TO {quote(table)}")
    return doomed


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    now: datetime,
    predictions_days: float | None,
    labels_days: float | None,
    explanations_days: float | None,
) -> Deleted:
    """Delete rows strictly older than now - days (None keeps them forever).

    Predictions and explanations go by their prediction time, labels by the label's time;
    a label's copy on its prediction's row is cleared with it. A row exactly at the cutoff
    stays. Call inside a writer transaction.
    """
    now = aware(now, "now")
    cut_predictions = _cutoff(now, predictions_days, "predictions_days")
    cut_labels = _cutoff(now, labels_days, "labels_days")
    cut_explanations = _cutoff(now, explanations_days, "explanations_days")
    predictions = labels = explanations = 0
    if cut_predictions is not None:
        predictions = delete_where(con, model.table, "ts < ?", [cut_predictions])
    if cut_labels is not None:
        labels = delete_where(con, "labels", "model_id = ? AND ts < ?", [model.id, cut_labels])
        con.execute(
            "DELETE FROM pending_labels q WHERE q.model_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM labels l WHERE l.model_id = q.model_id AND l.event_id = q.event_id)",
            [model.id],
        ).fetchall()
        con.execute(
            f"UPDATE {quote(model.table)} SET label = NULL, label_value = NULL, label_ts = NULL, "
            "labelled_at = NULL WHERE label_ts < ?",
            [cut_labels],
        ).fetchall()
    if cut_explanations is not None:
        explained = explanations_table(model.id)  # created on first use: may not exist
        explanations = delete_where(con, explained, "ts < ?", [cut_explanations])
    return Deleted(predictions, labels, explanations)
