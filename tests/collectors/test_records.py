"""Record validation: every bad field named, good inputs typed, and both paths agreeing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from collectors.records import (
    MAX_EVENT_ID,
    PredictionBatch,
    RecordsInvalid,
    label_batch,
    prediction_batch,
)
from storage import ModelInfo

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
CLF = ModelInfo(1, "churn", "binary", "1", {"age": "numeric", "plan": "categorical"})
REG = ModelInfo(2, "price", "regression", None, {"age": "numeric", "plan": "categorical"})
NAN = json.loads('{"x": NaN}')["x"]
INF = json.loads('{"x": Infinity}')["x"]


def _good(i: int = 0, **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_id": f"e{i}",
        "timestamp": "2026-11-25T10:00:00Z",
        "prediction": 1,
        "score": 0.7,
        "latency_ms": 12.5,
        "features": {"age": 41, "plan": "gold"},
    }
    rec.update(changes)
    return rec


def _invalid(records: object, model: ModelInfo = CLF) -> list[tuple[int, str, str]]:
    with pytest.raises(RecordsInvalid) as info:
        prediction_batch(records, model, now=NOW)
    return [(e.index, e.field, e.reason) for e in info.value.errors]


def _one_bad(bad: dict[str, Any], model: ModelInfo = CLF) -> tuple[str, str]:
    """The single (field, reason) reported for `bad` placed between two good records."""
    errors = _invalid([_good(0), bad, _good(2)], model)
    assert len(errors) == 1, errors
    index, field, reason = errors[0]
    assert index == 1
    assert reason
    return field, reason


def _without(key: str) -> dict[str, Any]:
    rec = _good(1)
    del rec[key]
    return rec


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (_without("event_id"), "event_id", "required"),
        (_good(1, event_id=17), "event_id", "string"),
        (_good(1, event_id=None), "event_id", "string"),
        (_good(1, event_id=""), "event_id", "1-256"),
        (_good(1, event_id="x" * (MAX_EVENT_ID + 1)), "event_id", "1-256"),
        (_good(1, timestamp="yesterday"), "timestamp", "ISO-8601"),
        (_good(1, timestamp="2026-13-45T00:00:00Z"), "timestamp", "ISO-8601"),
        (_good(1, timestamp="2026-11-25T10:00:00+99:00"), "timestamp", "ISO-8601"),
        (_good(1, timestamp=""), "timestamp", "ISO-8601"),
        (_good(1, timestamp="nan"), "timestamp", "ISO-8601"),
        (_good(1, timestamp="now"), "timestamp", "ISO-8601"),
        (_good(1, timestamp=-1), "timestamp", "epoch seconds"),
        (_good(1, timestamp=40_000_000_000), "timestamp", "epoch seconds"),
        (_good(1, timestamp=NAN), "timestamp", "epoch seconds"),
        (_good(1, timestamp=INF), "timestamp", "epoch seconds"),
        (_good(1, timestamp=True), "timestamp", "ISO-8601 string or epoch"),
        (_good(1, timestamp=[2026]), "timestamp", "ISO-8601 string or epoch"),
        (_good(1, version=2), "version", "string"),
        (_without("prediction"), "prediction", "required"),
        (_good(1, prediction=None), "prediction", "required"),
        (_good(1, prediction=0.5), "prediction", "class label"),
        (_good(1, prediction=NAN), "prediction", "class label"),
        (_good(1, prediction=[1]), "prediction", "class label"),
        (_good(1, prediction={"a": 1}), "prediction", "class label"),
        (_good(1, score=1.5), "score", "between 0 and 1"),
        (_good(1, score=-0.01), "score", "between 0 and 1"),
        (_good(1, score=NAN), "score", "finite"),
        (_good(1, score=INF), "score", "finite"),
        (_good(1, score="0.5"), "score", "finite"),
        (_good(1, score=True), "score", "finite"),
        (_good(1, latency_ms=NAN), "latency_ms", "finite"),
        (_good(1, latency_ms=-INF), "latency_ms", "finite"),
        (_good(1, latency_ms="fast"), "latency_ms", "finite"),
        (_good(1, latency_ms=True), "latency_ms", "finite"),
        (_good(1, latency_ms=2**60), "latency_ms", "finite"),
        (_good(1, features={"age": "old"}), "features.age", "numeric feature got str"),
        (_good(1, features={"age": NAN}), "features.age", "NaN"),
        (_good(1, features={"age": INF}), "features.age", "infinity"),
        (_good(1, features={"age": 2**60}), "features.age", "2**53"),
        (_good(1, features={"age": [1]}), "features.age", "numeric feature got list"),
        (_good(1, features={"plan": 3}), "features.plan", "send a string"),
        (_good(1, features={"plan": True}), "features.plan", "send a string"),
        (_good(1, features={"bad name": 1}), "features.bad name", "invalid feature name"),
        (_good(1, features="age=3"), "features", "object"),
        (_good(1, features=[1, 2]), "features", "object"),
        (_good(1, probabilities={"1": "high"}), "probabilities.1", "finite"),
        (_good(1, probabilities={"1": NAN}), "probabilities.1", "finite"),
        (_good(1, probabilities={"1": None}), "probabilities.1", "finite"),
        (_good(1, probabilities={"1": True}), "probabilities.1", "finite"),
        (_good(1, probabilities=[["1", 0.5]]), "probabilities", "object"),
        (_good(1, probabilities=0.5), "probabilities", "object"),
        (_good(1, tags={"region": 3}), "tags.region", "strings"),
        (_good(1, tags={"region": None}), "tags.region", "strings"),
        (_good(1, tags=[["region", "eu"]]), "tags", "object"),
        (_good(1, tags="eu"), "tags", "object"),
    ],
)
def test_each_bad_field_is_named(bad: dict[str, Any], field: str, reason: str) -> None:
    got_field, got_reason = _one_bad(bad)
    assert got_field == field
    assert reason in got_reason


@pytest.mark.parametrize(
    ("prediction", "reason"),
    [("cheap", "number"), (True, "number"), (NAN, "number"), (None, "required"), (2**60, "number")],
)
def test_regression_prediction_must_be_a_number(prediction: Any, reason: str) -> None:
    field, got = _one_bad(_good(1, prediction=prediction, features={}), REG)
    assert field == "prediction"
    assert reason in got


def test_every_bad_field_of_a_record_is_listed() -> None:
    bad = {"event_id": "", "timestamp": "soon", "prediction": None, "score": 3, "tags": {"a": 1}}
    errors = _invalid([_good(0), _good(1), bad])
    assert {(i, f) for i, f, _ in errors} == {
        (2, "event_id"),
        (2, "timestamp"),
        (2, "prediction"),
        (2, "score"),
        (2, "tags.a"),
    }


def test_error_message_counts_records_not_fields() -> None:
    with pytest.raises(RecordsInvalid, match="2 of the records are invalid"):
        prediction_batch([_good(0, score=9, latency_ms="x"), _good(1), 7], CLF, now=NOW)


@pytest.mark.parametrize("records", [[], {}, "records", None, {"records": []}, 5])
def test_records_must_be_a_non_empty_list(records: object) -> None:
    assert _invalid(records) == [(-1, "records", "must be a non-empty list of objects")]


def test_non_object_records_are_named() -> None:
    errors = _invalid([_good(0), "x", None, [1], _good(4)])
    assert [(i, f) for i, f, _ in errors] == [(1, ""), (2, ""), (3, "")]
    assert all("JSON object" in r for _, _, r in errors)


def _ts(batch: PredictionBatch) -> list[datetime]:
    return list(batch.table.column("ts").to_pylist())


def test_timestamps_of_every_form_become_utc_instants() -> None:
    expected = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    forms = [
        "2026-11-25T10:00:00.123456Z",
        "2026-11-25T12:00:00.123456+02:00",
        "2026-11-25T05:00:00.123456-05:00",
        "2026-11-25T10:00:00.123456",  # naive means UTC
        "2026-11-25 10:00:00.123456789",  # nanoseconds are cut to microseconds
        expected.timestamp(),  # epoch seconds as a float, like time.time()
    ]
    batch = prediction_batch([_good(i, timestamp=t) for i, t in enumerate(forms)], CLF, now=NOW)
    assert _ts(batch) == [expected] * len(forms)
    assert batch.table.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_epoch_seconds_and_dates() -> None:
    records = [
        _good(0, timestamp=1_700_000_000),
        _good(1, timestamp=0),
        _good(2, timestamp="2026-11-25"),
        _good(3, timestamp="2999-06-01T00:00:00.5Z"),
    ]
    assert _ts(prediction_batch(records, CLF, now=NOW)) == [
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 25, tzinfo=UTC),
        datetime(2999, 6, 1, 0, 0, 0, 500000, tzinfo=UTC),
    ]


def test_mixed_precision_strings_in_one_batch() -> None:
    # pandas picks nanoseconds from the first value, which cannot hold year 2999.
    records = [_good(0, timestamp="2026-11-25T10:00:00.123456789Z"), _good(1)]
    records[1]["timestamp"] = "2999-01-01T00:00:00Z"
    assert _ts(prediction_batch(records, CLF, now=NOW))[1] == datetime(2999, 1, 1, tzinfo=UTC)


def test_missing_timestamp_is_now_and_version_defaults_to_1() -> None:
    rec = _good(0)
    del rec["timestamp"]
    batch = prediction_batch([rec, _good(1, timestamp=None, version=None)], CLF, now=NOW)
    assert _ts(batch) == [NOW, NOW]
    assert batch.table.column("version").to_pylist() == ["1", "1"]
    other = prediction_batch([_good(0, version="2024-b")], CLF, now=NOW)
    assert other.table.column("version").to_pylist() == ["2024-b"]


def test_classification_predictions_are_normalised() -> None:
    preds = [1, 1.0, "1", True, False, 0, "yes", -0.0]
    batch = prediction_batch([_good(i, prediction=p) for i, p in enumerate(preds)], CLF)
    assert batch.table.column("prediction").to_pylist() == [
        "1",
        "1",
        "1",
        "true",
        "false",
        "0",
        "yes",
        "0",
    ]


def test_regression_predictions_are_doubles() -> None:
    batch = prediction_batch([_good(0, prediction=3), _good(1, prediction=2.5)], REG)
    column = batch.table.column("prediction")
    assert column.type == pa.float64()
    assert column.to_pylist() == [3.0, 2.5]


def test_new_features_are_inferred_and_reported() -> None:
    records = [
        _good(0, features={"age": 30, "income": None, "city": "Oslo", "empty": None}),
        _good(1, features={"income": 52_000, "city": None, "flag": True}),
    ]
    batch = prediction_batch(records, CLF, now=NOW)
    assert batch.new_features == {"city": "categorical", "flag": "numeric", "income": "numeric"}
    table = batch.table
    assert table.column("f_income").to_pylist() == [None, 52000.0]
    assert table.column("f_city").to_pylist() == ["Oslo", None]
    assert table.column("f_flag").to_pylist() == [None, 1.0]
    assert table.column("f_plan").to_pylist() == [None, None]  # registered, absent
    assert "f_empty" not in table.column_names


def test_registered_features_are_not_reported_as_new() -> None:
    batch = prediction_batch([_good(0)], CLF, now=NOW)
    assert batch.new_features == {}
    assert batch.table.column("f_age").type == pa.float64()
    assert batch.table.column("f_plan").type == pa.string()


def test_a_new_feature_of_mixed_kinds_is_refused() -> None:
    records = [_good(0, features={"city": "Oslo"}), _good(1, features={"city": 3})]
    assert [(i, f) for i, f, _ in _invalid(records)] == [(1, "features.city")]


def test_maps_and_optional_fields_are_kept() -> None:
    rec = _good(0, probabilities={"0": 0.3, "1": 0.7}, tags={"region": "eu"})
    row = prediction_batch([rec, _good(1, score=None, latency_ms=None)], CLF).table.to_pylist()
    assert row[0]["probabilities"] == [("0", 0.3), ("1", 0.7)]
    assert row[0]["tags"] == [("region", "eu")]
    assert row[0]["score"] == 0.7 and row[0]["latency_ms"] == 12.5
    assert row[1]["score"] is None and row[1]["probabilities"] is None


def test_null_features_and_null_bad_names_are_ignored() -> None:
    records = [_good(0, features=None), _good(1, features={"bad name": None})]
    batch = prediction_batch(records, CLF, now=NOW)
    assert batch.table.num_rows == 2 and batch.new_features == {}


def test_json_nan_literals_are_refused() -> None:
    records = json.loads(
        '[{"event_id": "a", "prediction": 1, "score": NaN},'
        ' {"event_id": "b", "prediction": 1, "features": {"age": -Infinity}}]'
    )
    errors = _invalid(records)
    assert [(i, f) for i, f, _ in errors] == [(0, "score"), (1, "features.age")]


# --- labels ---


def test_labels_good_and_normalised() -> None:
    records = [
        {"event_id": "a", "label": 1.0, "timestamp": "2026-11-25T10:00:00+01:00"},
        {"event_id": "b", "label": True},
        {"event_id": "c", "label": "no", "timestamp": 1_700_000_000.25},
    ]
    table = label_batch(records, CLF, now=NOW)
    assert table.column("label").to_pylist() == ["1", "true", "no"]
    assert table.column("label_value").null_count == 3
    assert table.column("ts").to_pylist() == [
        datetime(2026, 11, 25, 9, tzinfo=UTC),
        NOW,
        datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC),
    ]


def test_bad_labels_are_named() -> None:
    records = [
        {"event_id": "a", "label": 0.5},
        {"label": 1},
        {"event_id": "c"},
        {"event_id": "d", "label": 1, "timestamp": "later"},
        "x",
    ]
    with pytest.raises(RecordsInvalid, match="5 of the labels are invalid") as info:
        label_batch(records, CLF, now=NOW)
    assert [(e.index, e.field) for e in info.value.errors] == [
        (0, "label"),
        (1, "event_id"),
        (2, "label"),
        (3, "timestamp"),
        (4, ""),
    ]


def test_regression_labels() -> None:
    table = label_batch([{"event_id": "a", "label": 4}], REG, now=NOW)
    assert table.column("label_value").to_pylist() == [4.0]
    with pytest.raises(RecordsInvalid):
        label_batch([{"event_id": "a", "label": "4"}], REG, now=NOW)
    with pytest.raises(RecordsInvalid):
        label_batch([{"event_id": "a", "label": 2**60}], REG, now=NOW)


# --- the fast path and the per-record path agree ---

_POOLS: dict[str, list[Any]] = {
    "event_id": ["ok", "", "x" * 300, 5, None, True],
    "timestamp": [
        "2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00.123456789Z",
        "2999-01-01T00:00:00.5Z",
        "2026-11-25",
        1_700_000_000.123,
        1_700_000_000,
        "bad",
        "",
        "nan",
        -5,
        1e12,
        True,
        None,
        NAN,
        INF,
        [1],
    ],
    "version": ["2", "", 3, None, 1.5],
    "prediction": [1, 0, 1.0, 0.5, "a", True, None, [1], {"a": 1}, NAN, INF, 2**70, 7.25],
    "score": [0.3, 0, 1, 1.5, -0.1, NAN, INF, "0.5", True, None, 2**60],
    "latency_ms": [12.5, 3, NAN, -INF, "x", False, None, 2**60, 10**400],
    "probabilities": [
        {"a": 0.1},
        {},
        {"a": "x"},
        {"a": None},
        {"a": True},
        [["a", 0.5]],
        "p",
        None,
        {"a": NAN},
        {"a": 2**60},
    ],
    "tags": [{"k": "v"}, {}, {"k": 1}, {"k": None}, [["k", "v"]], "t", None],
    "features": [
        {"age": 3, "plan": "gold"},
        {"age": "3"},
        {"age": NAN},
        {"age": 2**60},
        {"age": True},
        {"plan": 4},
        {"plan": None, "age": None},
        {"bad name": 1},
        {"bad name": None},
        None,
        [],
        "f",
        {},
    ],
}


def _corrupt(rng: random.Random, i: int) -> object:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice([5, "rec", None, [], 1.5])
    rec: dict[str, Any] = _good(i)
    if roll < 0.4:
        return rec
    for key in rng.sample(sorted(_POOLS), rng.randint(1, 3)):
        if rng.random() < 0.15:
            rec.pop(key, None)
        else:
            rec[key] = rng.choice(_POOLS[key])
    return rec


def _outcome(records: list[Any], model: ModelInfo) -> dict[int, set[str]] | int:
    """Rows stored, or the fields named per bad record; any other exception fails the test."""
    try:
        return prediction_batch(records, model, now=NOW).table.num_rows
    except RecordsInvalid as exc:
        named: dict[int, set[str]] = {}
        for e in exc.errors:
            named.setdefault(e.index, set()).add(e.field)
        return named


@pytest.mark.parametrize("model", [CLF, REG], ids=["classification", "regression"])
def test_batches_and_single_records_agree(model: ModelInfo) -> None:
    rng = random.Random(20261125)
    for _ in range(150):
        records = [_corrupt(rng, i) for i in range(rng.randint(1, 8))]
        alone = [_outcome([rec], model) for rec in records]
        expected = {i: out[0] for i, out in enumerate(alone) if isinstance(out, dict)}
        together = _outcome(records, model)
        if expected:
            assert together == expected, records
        else:
            assert together == len(records), records


def test_now_defaults_to_the_current_time() -> None:
    rec = _good(0)
    del rec["timestamp"]
    before = datetime.now(UTC)
    (ts,) = _ts(prediction_batch([rec], CLF))
    assert before - timedelta(seconds=1) <= ts <= datetime.now(UTC) + timedelta(seconds=1)
    assert ts.utcoffset() == timedelta(0)
