"""storage.retention on a real DuckDB file: rows strictly older than the cutoff go, per kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store, Writer
from storage.explanations import insert_explanations
from storage.retention import Deleted, apply_retention, delete_where

T0 = datetime(2026, 11, 18, 0, tzinfo=UTC)
N = 10
NOW = T0 + timedelta(hours=N)
QUARTER = 0.25  # days: the cutoff is NOW - 6 h = T0 + 4 h, exactly prediction e4's time
LABELLED = [i for i in range(N) if i % 2 == 0]


def load(ingest: IngestService, writer: Writer, name: str, explain: bool = True) -> ModelInfo:
    """Predictions e0-e9 one hour apart, labels of the even ones at their prediction's time
    plus one still waiting for its prediction, and (optionally) explanations of all."""
    ingest.register(name, {"task": "binary", "positive_class": "1", "features": {"x": "numeric"}})
    ingest.predictions(
        name,
        [
            {
                "event_id": f"e{i}",
                "timestamp": (T0 + timedelta(hours=i)).isoformat(),
                "features": {"x": float(i)},
                "prediction": "1",
            }
            for i in range(N)
        ],
    )
    labels = [
        {"event_id": f"e{i}", "label": "0", "timestamp": (T0 + timedelta(hours=i)).isoformat()}
        for i in LABELLED
    ]
    labels.append({"event_id": "early", "label": "1", "timestamp": T0.isoformat()})
    ingest.labels(name, labels)
    model = ingest.model(name)
    if explain:
        frame = pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(N)],
                "ts": [T0 + timedelta(hours=i) for i in range(N)],
                "version": "1",
                "sha256": "ab" * 32,
                "base_value": 0.0,
                "output": 1.0,
                "units": "raw",
                "explained_class": None,
                "x": 0.5,
            }
        )
        writer.run(lambda con: insert_explanations(con, model, frame))
    return model


def rows(store: Store, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return sorted(store.cursor().execute(sql, params or []).fetchall())


def test_predictions_older_than_the_cutoff_go_and_the_one_at_it_stays(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    deleted = writer.run(lambda con: apply_retention(con, model, NOW, QUARTER, None, None))
    assert deleted == Deleted(predictions=4)
    assert deleted.as_dict() == {"predictions": 4, "labels": 0, "explanations": 0}
    kept = rows(store, "SELECT event_id FROM predictions_1")
    assert kept == sorted((f"e{i}",) for i in range(4, N))
    # Labels and explanations follow their own policies (None: kept).
    assert len(rows(store, "SELECT * FROM labels")) == len(LABELLED) + 1
    assert len(rows(store, "SELECT * FROM explanations_1")) == N


def test_labels_go_by_their_own_time_and_their_copies_are_cleared(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    other = load(ingest, writer, "other")
    deleted = writer.run(lambda con: apply_retention(con, model, NOW, None, QUARTER, None))
    assert deleted == Deleted(labels=3)  # e0, e2 and the early label; e4 is at the cutoff
    assert rows(store, "SELECT event_id FROM labels WHERE model_id = ?", [model.id]) == [
        ("e4",),
        ("e6",),
        ("e8",),
    ]
    assert rows(store, "SELECT model_id, event_id FROM pending_labels") == [(other.id, "early")]
    copies = rows(
        store, "SELECT event_id, label, label_value, label_ts, labelled_at FROM predictions_1"
    )
    for event_id, label, value, label_ts, labelled_at in copies:
        i = int(event_id[1:])
        if i in LABELLED and i >= 4:
            assert (label, label_ts) == ("0", T0 + timedelta(hours=i)) and labelled_at is not None
        else:
            assert (label, value, label_ts, labelled_at) == (None, None, None, None)
    # The other model's labels and copies are untouched.
    assert len(rows(store, "SELECT * FROM labels WHERE model_id = ?", [other.id])) == 6
    labelled = rows(store, "SELECT count(*) FROM predictions_2 WHERE label IS NOT NULL")
    assert labelled == [(len(LABELLED),)]


def test_explanations_go_by_their_predictions_time(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    deleted = writer.run(lambda con: apply_retention(con, model, NOW, None, None, QUARTER))
    assert deleted == Deleted(explanations=4)
    kept = rows(store, "SELECT event_id FROM explanations_1")
    assert kept == sorted((f"e{i}",) for i in range(4, N))
    assert len(rows(store, "SELECT * FROM predictions_1")) == N


def test_all_three_at_once_and_a_second_run_finds_nothing(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    deleted = writer.run(lambda con: apply_retention(con, model, NOW, QUARTER, 0.5, 1.0))
    # Predictions before T0+4h; labels before T0-2h (none); explanations before T0-14h (none).
    assert deleted == Deleted(predictions=4, labels=0, explanations=0)
    deleted = writer.run(lambda con: apply_retention(con, model, NOW, 0.0, 0.0, 0.0))
    assert deleted == Deleted(predictions=6, labels=len(LABELLED) + 1, explanations=N)
    again = writer.run(lambda con: apply_retention(con, model, NOW, 0, 0, 0))
    assert again == Deleted()


def test_none_keeps_everything_and_a_missing_explanations_table_is_fine(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m", explain=False)
    before = rows(store, "SELECT * FROM predictions_1")
    assert writer.run(lambda con: apply_retention(con, model, NOW, None, None, None)) == Deleted()
    assert rows(store, "SELECT * FROM predictions_1") == before
    assert writer.run(lambda con: apply_retention(con, model, NOW, None, None, 0)) == Deleted()


def test_a_naive_now_is_utc(store: Store, writer: Writer, ingest: IngestService) -> None:
    model = load(ingest, writer, "m")
    naive = NOW.replace(tzinfo=None)
    assert writer.run(lambda con: apply_retention(con, model, naive, QUARTER, None, None)) == (
        Deleted(predictions=4)
    )


@pytest.mark.parametrize("days", [-1, float("nan"), float("inf"), "7", True])
def test_bad_policies_are_refused_before_anything_goes(
    store: Store, writer: Writer, ingest: IngestService, days: Any
) -> None:
    model = load(ingest, writer, "m")
    with pytest.raises(ValueError, match="predictions_days"):
        writer.run(lambda con: apply_retention(con, model, NOW, days, 0, 0))
    assert len(rows(store, "SELECT * FROM labels")) == len(LABELLED) + 1


def _schema(store: Store, table: str) -> list[tuple[Any, ...]]:
    con = store.cursor()
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    constraints = con.execute(
        "SELECT constraint_type, constraint_text FROM duckdb_constraints() WHERE table_name = ?",
        [table],
    ).fetchall()
    return [*columns, *sorted(constraints)]


@pytest.mark.parametrize("table", ["predictions_1", "labels", "explanations_1"])
def test_a_large_deletion_rebuilds_the_table_to_the_same_rows_and_schema(
    store: Store, writer: Writer, ingest: IngestService, table: str
) -> None:
    load(ingest, writer, "m")
    load(ingest, writer, "other")  # shares the labels table
    schema = _schema(store, table)
    everything = rows(store, f"SELECT * FROM {table}")
    cutoff = T0 + timedelta(hours=4)
    condition = "ts < ?" if table != "labels" else "model_id = 1 AND ts < ?"
    expected = rows(store, f"SELECT * FROM {table} WHERE NOT ({condition})", [cutoff])
    assert 0 < len(expected) < len(everything)
    oid = "SELECT table_oid FROM duckdb_tables() WHERE table_name = ?"
    before = rows(store, oid, [table])
    # rebuild_min=1: rebuilt even though few rows go (a plain DELETE gives the same rows).
    deleted = writer.run(lambda con: delete_where(con, table, condition, [cutoff], rebuild_min=1))
    assert deleted == len(everything) - len(expected)
    assert rows(store, f"SELECT * FROM {table}") == expected
    assert _schema(store, table) == schema
    assert rows(store, oid, [table]) != before  # a new table, not a DELETE
    assert (
        rows(store, "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%retained'")
        == []
    )
    assert writer.run(lambda con: delete_where(con, table, condition, [cutoff], 1)) == 0


def test_a_rebuilt_predictions_table_keeps_its_key_and_takes_new_rows(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    deleted = writer.run(lambda con: delete_where(con, model.table, "ts < ?", [NOW], 1))
    assert deleted == N
    ingest.predictions("m", [{"event_id": "new", "prediction": "1", "features": {"x": 1.0}}])
    again = ingest.predictions("m", [{"event_id": "new", "prediction": "0"}])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert writer.run(lambda con: delete_where(con, "no_such_table", "true", [], 1)) == 0


def test_a_table_with_its_own_index_is_never_rebuilt(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer, "m")
    store.cursor().execute("CREATE INDEX by_version ON predictions_1 (version)")
    oid = "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'predictions_1'"
    before = rows(store, oid)
    deleted = writer.run(lambda con: delete_where(con, model.table, "ts < ?", [NOW], 1))
    assert deleted == N
    assert rows(store, oid) == before  # a DELETE, which keeps the index
    assert rows(store, "SELECT index_name FROM duckdb_indexes()") == [("by_version",)]
