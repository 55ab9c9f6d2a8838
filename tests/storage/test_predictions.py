"""Prediction and label batches: idempotent inserts, label upserts, late labels joining."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from collectors.records import label_batch, prediction_batch
from storage import LabelResult, ModelInfo, PredictionResult, Store, Writer
from storage.models import register_model
from storage.predictions import first_occurrences, insert_labels, insert_predictions
from storage.queries import model_kpis

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.fixture
def churn(store: Store) -> ModelInfo:
    return register_model(store.cursor(), "churn", "binary", 1, {"age": "numeric"})


def _preds(ids: list[str], prediction: Any = 1) -> pa.Table:
    records = [
        {"event_id": e, "timestamp": T0.isoformat(), "prediction": prediction, "features": {}}
        for e in ids
    ]
    return prediction_batch(records, ModelInfo(0, "x", "binary", "1", {"age": "numeric"})).table


def _labels(pairs: list[tuple[str, Any]], model: ModelInfo) -> pa.Table:
    return label_batch([{"event_id": e, "label": v} for e, v in pairs], model, now=T0)


def _stored(store: Store, model: ModelInfo) -> list[tuple[Any, ...]]:
    return (
        store.cursor()
        .execute(f'SELECT event_id, prediction FROM "{model.table}" ORDER BY event_id')
        .fetchall()
    )


def test_insert_counts_accepted_then_all_duplicates(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    batch = _preds(["a", "b", "c"])
    first = writer.run(lambda con: insert_predictions(con, churn, batch), timeout=30)
    assert first == PredictionResult(accepted=3, duplicates=0)
    again = writer.run(lambda con: insert_predictions(con, churn, batch), timeout=30)
    assert again == PredictionResult(accepted=0, duplicates=3)
    assert [r[0] for r in _stored(store, churn)] == ["a", "b", "c"]


def test_overlapping_batch_stores_only_new_ids(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    writer.run(lambda con: insert_predictions(con, churn, _preds(["a", "b"], 1)), timeout=30)
    result = writer.run(
        lambda con: insert_predictions(con, churn, _preds(["b", "c"], 0)), timeout=30
    )
    assert result == PredictionResult(accepted=1, duplicates=1)
    # The first write of an event wins: a retry never changes what was stored.
    assert _stored(store, churn) == [("a", "1"), ("b", "1"), ("c", "0")]


def test_duplicates_inside_one_batch_are_stored_once(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    result = writer.run(
        lambda con: insert_predictions(con, churn, _preds(["a", "a", "b", "a"])), timeout=30
    )
    assert result == PredictionResult(accepted=2, duplicates=2)
    assert [r[0] for r in _stored(store, churn)] == ["a", "b"]


def test_first_occurrences_keeps_first_or_last() -> None:
    table = pa.table({"event_id": ["a", "b", "a"], "v": [1, 2, 3]})
    assert first_occurrences(table).column("v").to_pylist() == [1, 2]
    assert first_occurrences(table, keep="last").column("v").to_pylist() == [2, 3]


def test_labels_upsert_and_count_unmatched(store: Store, writer: Writer, churn: ModelInfo) -> None:
    writer.run(lambda con: insert_predictions(con, churn, _preds(["a", "b"])), timeout=30)
    first = writer.run(
        lambda con: insert_labels(con, churn, _labels([("a", 0), ("zz", 1)], churn)), timeout=30
    )
    assert first == LabelResult(accepted=2, unmatched=1)
    second = writer.run(
        lambda con: insert_labels(con, churn, _labels([("a", 1), ("a", 1.0)], churn)),
        timeout=30,
    )
    assert second.unmatched == 0
    rows = (
        store.cursor()
        .execute("SELECT event_id, label FROM labels WHERE model_id = ? ORDER BY 1", [churn.id])
        .fetchall()
    )
    assert rows == [("a", "1"), ("zz", "1")]


def test_last_label_in_a_batch_wins(store: Store, writer: Writer, churn: ModelInfo) -> None:
    writer.run(
        lambda con: insert_labels(con, churn, _labels([("a", 0), ("a", 1)], churn)), timeout=30
    )
    row = store.cursor().execute("SELECT label FROM labels WHERE event_id = 'a'").fetchone()
    assert row == ("1",)


def test_label_before_its_prediction_joins_later(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    early = writer.run(
        lambda con: insert_labels(con, churn, _labels([("late", 1)], churn)), timeout=30
    )
    assert early.unmatched == 1
    assert model_kpis(store.cursor(), churn, None, None)["labeled"] == 0
    writer.run(lambda con: insert_predictions(con, churn, _preds(["late", "other"])), timeout=30)
    kpis = model_kpis(store.cursor(), churn, None, None)
    assert kpis["predictions"] == 2
    assert kpis["labeled"] == 1
    assert kpis["accuracy"] == 1.0


def test_regression_labels_are_stored_as_numbers(store: Store, writer: Writer) -> None:
    price = register_model(store.cursor(), "price", "regression")
    table = label_batch([{"event_id": "a", "label": 2.5}], price, now=T0)
    writer.run(lambda con: insert_labels(con, price, table), timeout=30)
    row = store.cursor().execute("SELECT label, label_value FROM labels").fetchone()
    assert row == (None, 2.5)


def test_plain_insert_refuses_stored_ids_and_leaves_nothing(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    from storage.predictions import StoredDuplicates

    writer.run(lambda con: insert_predictions(con, churn, _preds(["a", "b"])))
    with pytest.raises(StoredDuplicates):
        writer.run(
            lambda con: insert_predictions(con, churn, _preds(["c", "a"]), skip_duplicates=False)
        )
    assert [r[0] for r in _stored(store, churn)] == ["a", "b"]  # "c" was rolled back
    result = writer.run(
        lambda con: insert_predictions(con, churn, _preds(["c", "d"]), skip_duplicates=False)
    )
    assert result == PredictionResult(accepted=2, duplicates=0)


def test_ingest_redoes_a_retried_batch_skipping_stored_ids(ingest: Any) -> None:
    ingest.register("m", {"task": "binary"})
    first = [{"event_id": f"e{i}", "prediction": 1, "features": {"x": 1.0}} for i in range(5)]
    assert ingest.predictions("m", first).accepted == 5
    retried = [*first[2:], {"event_id": "new", "prediction": 0, "features": {"y": "a"}}]
    result = ingest.predictions("m", retried)
    assert (result.accepted, result.duplicates) == (1, 3)
    assert ingest.model("m").features == {"x": "numeric", "y": "categorical"}


def _copies(store: Store, model: ModelInfo) -> list[tuple[Any, ...]]:
    return (
        store.cursor()
        .execute(f'SELECT event_id, label, label_ts FROM "{model.table}" ORDER BY event_id')
        .fetchall()
    )


def test_labels_are_copied_onto_their_predictions_in_place(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    writer.run(lambda con: insert_predictions(con, churn, _preds(["a", "b", "c"])), timeout=30)
    before = store.cursor().execute(f'SELECT event_id, rowid FROM "{churn.table}"').fetchall()
    writer.run(lambda con: insert_labels(con, churn, _labels([("b", 0)], churn)), timeout=30)
    writer.run(lambda con: insert_labels(con, churn, _labels([("b", 1)], churn)), timeout=30)
    assert _copies(store, churn) == [("a", None, None), ("b", "1", T0), ("c", None, None)]
    # Rows keep their place (an UPDATE ... RETURNING would move them to the table's end).
    after = store.cursor().execute(f'SELECT event_id, rowid FROM "{churn.table}"').fetchall()
    assert sorted(after) == sorted(before)


def test_early_label_waits_in_pending_then_lands_on_its_prediction(
    store: Store, writer: Writer, churn: ModelInfo
) -> None:
    writer.run(lambda con: insert_labels(con, churn, _labels([("x", 0)], churn)), timeout=30)
    pending = "SELECT event_id FROM pending_labels WHERE model_id = ?"
    assert store.cursor().execute(pending, [churn.id]).fetchall() == [("x",)]
    writer.run(lambda con: insert_predictions(con, churn, _preds(["x", "y"])), timeout=30)
    assert _copies(store, churn) == [("x", "0", T0), ("y", None, None)]
    assert store.cursor().execute(pending, [churn.id]).fetchall() == []
