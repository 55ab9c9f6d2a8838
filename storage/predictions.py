"""Batch writes of predictions and labels (Arrow in, counts out); run on the writer thread."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from storage.errors import StorageError
from storage.identifiers import quote
from storage.models import ModelInfo

PREDICTION_COLUMNS = (
    "event_id",
    "ts",
    "version",
    "prediction",
    "score",
    "probabilities",
    "latency_ms",
    "tags",
)
LABEL_COLUMNS = ("event_id", "label", "label_value", "ts")


@dataclass(frozen=True)
class PredictionResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class LabelResult:
    accepted: int
    unmatched: int


def first_occurrences(table: pa.Table, keep: str = "first") -> pa.Table:
    """Drop rows whose event_id repeats within the batch, keeping the first (or last)."""
    ids = table.column("event_id").to_pylist()
    if len(set(ids)) == len(ids):
        return table
    seen: dict[object, int] = {}
    for i, event_id in enumerate(ids):
        if keep == "last" or event_id not in seen:
            seen[event_id] = i
    return table.take(sorted(seen.values()))


class StoredDuplicates(StorageError):
    """The batch holds event_ids already stored; the transaction must be redone."""


def insert_predictions(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    batch: pa.Table,
    *,
    skip_duplicates: bool = True,
) -> PredictionResult:
    """Insert a validated batch; rows whose event_id is already stored count as duplicates.

    With skip_duplicates=False a plain INSERT is tried, twice as fast as INSERT OR IGNORE;
    if any event_id is already stored it raises StoredDuplicates and the caller redoes the
    transaction with skip_duplicates=True. Retried batches are rare, so this usually wins.
    """
    total = batch.num_rows
    unique = first_occurrences(batch)
    columns = [c for c in unique.column_names if c in PREDICTION_COLUMNS]
    columns += [model.column(f) for f in model.features if model.column(f) in unique.column_names]
    select = ", ".join(quote(c) for c in columns)
    verb = "INSERT OR IGNORE" if skip_duplicates else "INSERT"
    # No unregister on failure: an aborted transaction refuses it, and the next
    # register() of the same name replaces the view anyway.
    con.register("vigil_batch", unique)
    try:
        row = con.execute(
            f"{verb} INTO {quote(model.table)} ({select}, received_at) "
            f"SELECT {select}, now() FROM vigil_batch"
        ).fetchall()[0]
    except duckdb.ConstraintException:
        if skip_duplicates:
            raise
        raise StoredDuplicates(f"batch repeats stored event_ids of {model.name}") from None
    con.unregister("vigil_batch")
    inserted = int(row[0]) if row else 0
    return PredictionResult(accepted=inserted, duplicates=total - inserted)


def insert_labels(con: duckdb.DuckDBPyConnection, model: ModelInfo, batch: pa.Table) -> LabelResult:
    """Upsert labels (a later label for the same event replaces the earlier one)."""
    unique = first_occurrences(batch, keep="last")
    con.register("vigil_labels", unique)
    try:
        con.execute(
            "INSERT OR REPLACE INTO labels "
            "SELECT ?::INTEGER, event_id, label, label_value, ts, now() FROM vigil_labels",
            [model.id],
        ).fetchall()
        row = con.execute(
            f"SELECT count(*) FROM vigil_labels b ANTI JOIN {quote(model.table)} p USING (event_id)"
        ).fetchall()[0]
    finally:
        con.unregister("vigil_labels")
    return LabelResult(accepted=batch.num_rows, unmatched=int(row[0]) if row else 0)
