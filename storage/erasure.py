"""Erasure of a data subject's rows everywhere Vigil copies them.

A prediction's values live in its model's predictions table; its label in `labels` (and
`pending_labels` while the prediction is missing) with a copy on the prediction's row;
its explanation in `explanations_<id>`; and references made from a range of predictions
hold copies of its features and prediction. DELETE leaves the values in the database
file's blocks, so every erasure is followed by storage.compact (see mark_purge_needed).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from storage.identifiers import explanations_table, quote
from storage.models import ModelInfo
from storage.references import reference_table

PURGE_KEY = "purge_needed"
_IDS = "vigil_erase_ids"  # the registered view of the event_ids to erase


@dataclass(frozen=True)
class Erased:
    """Rows deleted by one erasure, per place."""

    predictions: int = 0
    labels: int = 0
    explanations: int = 0
    reference_rows: int = 0

    @property
    def total(self) -> int:
        return self.predictions + self.labels + self.explanations + self.reference_rows

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            self.predictions + other.predictions,
            self.labels + other.labels,
            self.explanations + other.explanations,
            self.reference_rows + other.reference_rows,
        )


def _count(result: duckdb.DuckDBPyConnection) -> int:
    rows = result.fetchall()
    return int(rows[0][0]) if rows else 0


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of a table of this database (empty if it does not exist)."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _references(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> list[tuple[Any, ...]]:
    """(table, source, range_start, range_end, range_version, columns) of each reference."""
    rows = con.execute(
        "SELECT id, source, range_start, range_end, range_version FROM model_references "
        "WHERE model_id = ? ORDER BY id",
        [model.id],
    ).fetchall()
    found = []
    for row in rows:
        table = reference_table(int(row[0]))
        columns = _columns(con, table)
        if columns:
            found.append((table, row[1], row[2], row[3], row[4], columns))
    return found


def _erase_references_of_events(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> int:
    """Reference rows copied from the predictions in _IDS (run before those are deleted).

    A table with an event_id column (a range reference since migration 8) is matched on it.
    An older range reference has none, so its rows are matched on what was copied: each
    feature and the prediction of an erased prediction inside the reference's range. An
    identical row of someone else may go too; that changes a reference sample negligibly,
    while keeping a subject's copy would not do.
    """
    erased = 0
    for table, source, start, end, version, columns in _references(con, model):
        if "event_id" in columns:
            erased += _count(
                con.execute(
                    f"DELETE FROM {quote(table)} WHERE event_id IN (SELECT event_id FROM {_IDS})"
                )
            )
            continue
        features = [model.column(f) for f in model.features if model.column(f) in columns]
        if source != "range" or not features or start is None or end is None:
            continue  # an upload: nothing ties its rows to event_ids
        same = [f"r.{quote(c)} IS NOT DISTINCT FROM p.{quote(c)}" for c in features]
        same.append("r.prediction IS NOT DISTINCT FROM p.prediction")
        params: list[Any] = [start, end]
        in_range = "p.ts >= ? AND p.ts < ?"
        if version is not None:
            in_range += " AND p.version = ?"
            params.append(version)
        erased += _count(
            con.execute(
                f"DELETE FROM {quote(table)} r WHERE EXISTS (SELECT 1 FROM {quote(model.table)} p "
                f"WHERE p.event_id IN (SELECT event_id FROM {_IDS}) AND {in_range} "
                f"AND {' AND '.join(same)})",
                params,
            )
        )
    return erased


def _erase_registered(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> Erased:
    """Delete every row of the event_ids in the registered view _IDS."""
    in_ids = f"event_id IN (SELECT event_id FROM {_IDS})"
    references = _erase_references_of_events(con, model)
    explanations = 0
    explained = explanations_table(model.id)
    if _columns(con, explained):
        explanations = _count(con.execute(f"DELETE FROM {quote(explained)} WHERE {in_ids}"))
    con.execute(
        f"DELETE FROM pending_labels WHERE model_id = ? AND {in_ids}", [model.id]
    ).fetchall()
    labels = _count(con.execute(f"DELETE FROM labels WHERE model_id = ? AND {in_ids}", [model.id]))
    predictions = _count(con.execute(f"DELETE FROM {quote(model.table)} WHERE {in_ids}"))
    return Erased(predictions, labels, explanations, references)


def _erase_ids(con: duckdb.DuckDBPyConnection, model: ModelInfo, ids: pa.Table) -> Erased:
    if ids.num_rows == 0:
        return Erased()
    con.register(_IDS, ids)
    try:
        return _erase_registered(con, model)
    finally:
        # An aborted transaction may refuse this; the next register() replaces the view.
        with contextlib.suppress(duckdb.Error):
            con.unregister(_IDS)


def erase_events(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, event_ids: Sequence[str]
) -> Erased:
    """Delete the predictions, labels, explanations and reference copies of these events.

    Call inside a writer transaction, then mark_purge_needed.
    """
    if isinstance(event_ids, str):
        raise ValueError(f"event_ids must be a list of ids, got the string {event_ids!r}")
    unique = list(dict.fromkeys(str(e) for e in event_ids))
    return _erase_ids(con, model, pa.table({"event_id": pa.array(unique, pa.string())}))


def _match(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, column: str, value: object
) -> tuple[str, list[Any]]:
    """The condition (on alias p) selecting rows whose `column` equals `value`."""
    choices = f"a feature ({', '.join(model.features) or 'the model has none'}) or tag:<key>"
    if not isinstance(column, str) or not column:
        raise ValueError(f"erase by which column? Use {choices}")
    if column.startswith("tag:"):
        key = column[4:]
        if not key:
            raise ValueError(f"{column!r} names no tag key: use tag:<key>")
        known = con.execute(
            f"SELECT 1 FROM {quote(model.table)} WHERE map_contains(tags, ?) LIMIT 1", [key]
        ).fetchall()
        if not known:
            raise ValueError(
                f"no prediction of model {model.name!r} has the tag {key!r}: check the key "
                f"(features: {', '.join(model.features) or 'none'})"
            )
        return "p.tags[?] = ?", [key, str(value)]
    kind = model.features.get(column)
    if kind is None:
        raise ValueError(f"model {model.name!r} has no feature {column!r}: use {choices}")
    if kind == "numeric":
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(
                f"feature {column!r} of model {model.name!r} is numeric: {value!r} is not a number"
            ) from None
        if math.isnan(number):
            raise ValueError(f"feature {column!r}: NaN identifies no one; give the value to erase")
        return f"p.{quote(model.column(column))} = ?", [number]
    return f"p.{quote(model.column(column))} = ?", [str(value)]


def erase_matching(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, column: str, value: str
) -> Erased:
    """Erase every prediction whose feature (or "tag:<key>") equals `value`, with its label,
    explanation and reference copies; reference rows with that feature value go too.

    Values compare as the feature's kind: for a numeric feature '42' matches 42.0. Unknown
    features or tag keys raise ValueError naming the model's features. Call inside a writer
    transaction, then mark_purge_needed.
    """
    condition, params = _match(con, model, column, value)
    ids = con.sql(
        f"SELECT DISTINCT p.event_id FROM {quote(model.table)} p WHERE {condition}", params=params
    ).to_arrow_table()
    referenced = 0
    if not column.startswith("tag:"):
        feature = model.column(column)
        for table, *_rest, columns in _references(con, model):
            if feature in columns:
                referenced += _count(
                    con.execute(f"DELETE FROM {quote(table)} p WHERE {condition}", params)
                )
    return _erase_ids(con, model, ids) + Erased(reference_rows=referenced)


def mark_purge_needed(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Note that deleted values wait in the file for a compaction (storage.compact)."""
    con.execute(
        "INSERT OR REPLACE INTO maintenance (key, value, updated_at) VALUES (?, 'true', ?)",
        [PURGE_KEY, now],
    ).fetchall()


def purge_needed(con: duckdb.DuckDBPyConnection) -> bool:
    """True when an erasure happened since the last compaction."""
    rows = con.execute("SELECT value FROM maintenance WHERE key = ?", [PURGE_KEY]).fetchall()
    return bool(rows) and rows[0][0] == "true"


def clear_purge(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the purge flag (after a compaction)."""
    con.execute("DELETE FROM maintenance WHERE key = ?", [PURGE_KEY]).fetchall()
