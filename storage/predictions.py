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
    early = _has_pending_labels(con, model)
    source = "vigil_batch b"
    if early:  # labels that came before their predictions are copied in with them
        source += (
            " LEFT JOIN (SELECT l.event_id, l.label, l.label_value, l.ts FROM pending_labels q "
            "JOIN labels l USING (model_id, event_id) WHERE q.model_id = ?) l USING (event_id)"
        )
    labelled = ", label, label_value, label_ts, labelled_at" if early else ""
    from_labels = ", l.label, l.label_value, l.ts, now()" if early else ""
    # No unregister on failure: an aborted transaction refuses it, and the next
    # register() of the same name replaces the view anyway.
    con.register("vigil_batch", unique)
    try:
        row = con.execute(
            f"{verb} INTO {quote(model.table)} ({select}, received_at{labelled}) "
            f"SELECT {', '.join(f'b.{quote(c)}' for c in columns)}, now(){from_labels} "
            f"FROM {source}",
            [model.id] if early else [],
        ).fetchall()[0]
        if early:
            con.execute(
                "DELETE FROM pending_labels WHERE model_id = ? "
                "AND event_id IN (SELECT event_id FROM vigil_batch)",
                [model.id],
            ).fetchall()
    except duckdb.ConstraintException:
        if skip_duplicates:
            raise
        raise StoredDuplicates(f"batch repeats stored event_ids of {model.name}") from None
    con.unregister("vigil_batch")
    inserted = int(row[0]) if row else 0
    return PredictionResult(accepted=inserted, duplicates=total - inserted)


def _has_pending_labels(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> bool:
    row = con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM pending_labels WHERE model_id = ? LIMIT 1)",
        [model.id],
    ).fetchall()
    return bool(row and row[0][0])


def insert_labels(con: duckdb.DuckDBPyConnection, model: ModelInfo, batch: pa.Table) -> LabelResult:
    """Upsert labels (a later label for the same event replaces the earlier one).

    Each label is also copied onto its prediction's row, so that reads need no join; a
    label whose prediction has not arrived yet waits in pending_labels for it.
    """
    unique = first_occurrences(batch, keep="last")
    con.register("vigil_labels", unique)
    try:
        con.execute(
            "INSERT OR REPLACE INTO labels "
            "SELECT ?::INTEGER, event_id, label, label_value, ts, now() FROM vigil_labels",
            [model.id],
        ).fetchall()
        # No RETURNING: with it DuckDB rewrites each updated row at the table's end.
        row = con.execute(
            f"UPDATE {quote(model.table)} p SET label = b.label, label_value = b.label_value, "
            "label_ts = b.ts, labelled_at = now() FROM vigil_labels b WHERE p.event_id = b.event_id"
        ).fetchall()[0]
        unmatched = unique.num_rows - int(row[0])
        if unmatched:
            con.execute(
                "INSERT OR IGNORE INTO pending_labels SELECT ?::INTEGER, b.event_id "
                f"FROM vigil_labels b ANTI JOIN {quote(model.table)} p USING (event_id)",
                [model.id],
            ).fetchall()
    finally:
        con.unregister("vigil_labels")
    return LabelResult(accepted=batch.num_rows, unmatched=unmatched)
