"""Native Arrow validation: the same tables and the same errors as the record path."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from collectors.arrow_batch import (
    NotNative,
    arrow_prediction_batch,
    arrow_records,
    native_prediction_batch,
)
from collectors.records import PredictionBatch, RecordsInvalid, prediction_batch
from storage import ModelInfo

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
CLF = ModelInfo(1, "churn", "binary", "1", {"age": "numeric", "plan": "categorical"})
MULTI = ModelInfo(3, "kind", "multiclass", None, {"age": "numeric", "plan": "categorical"})
REG = ModelInfo(2, "price", "regression", None, {"age": "numeric", "plan": "categorical"})
NAN = float("nan")
PROBS = pa.map_(pa.string(), pa.float64())
TAGS = pa.map_(pa.string(), pa.string())
T0 = 1_795_600_800  # 2026-11-25T10:00:00Z


def _table(n: int = 3, **columns: Any) -> pa.Table:
    """A well-typed binary batch of n rows; a column given as None is left out."""
    base: dict[str, Any] = {
        "event_id": [f"e{i}" for i in range(n)],
        "timestamp": pa.array([T0 + i + 0.25 for i in range(n)]),
        "prediction": [i % 2 for i in range(n)],
        "score": [0.1 * (i % 10) for i in range(n)],
        "latency_ms": [12.5] * n,
        "age": [30.0 + i for i in range(n)],
        "plan": [["gold", "free"][i % 2] for i in range(n)],
    }
    base.update(columns)
    return pa.table({k: v for k, v in base.items() if v is not None})


def _slow(table: pa.Table, model: ModelInfo) -> PredictionBatch:
    return prediction_batch(arrow_records(table), model, now=NOW)


def _same(table: pa.Table, model: ModelInfo = CLF) -> PredictionBatch:
    """Assert the native path takes `table` and gives what the record path gives."""
    native = native_prediction_batch(table, model, NOW)
    slow = _slow(table, model)
    assert native.table.schema == slow.table.schema
    assert native.table.equals(slow.table)
    assert native.new_features == slow.new_features
    return native


def _errors(call: Callable[[], object]) -> list[tuple[int, str, str]]:
    with pytest.raises(RecordsInvalid) as info:
        call()
    return [(e.index, e.field, e.reason) for e in info.value.errors]


WELL_TYPED: dict[str, tuple[pa.Table, ModelInfo]] = {
    "binary int predictions": (_table(), CLF),
    "only required columns": (_table(timestamp=None, score=None, latency_ms=None), CLF),
    "int epoch seconds": (_table(timestamp=[T0, T0 + 1, 0]), CLF),
    "epoch with nulls": (_table(timestamp=[T0 + 0.5, None, None]), CLF),
    "timestamp ms naive": (
        _table(timestamp=pa.array([T0 * 1000 + 7, T0 * 1000, None], pa.timestamp("ms"))),
        CLF,
    ),
    "timestamp us UTC": (
        _table(timestamp=pa.array([T0 * 10**6 + 1, 0, 5], pa.timestamp("us", tz="UTC"))),
        CLF,
    ),
    "timestamp s other zone": (
        _table(timestamp=pa.array([T0, T0 + 60, T0], pa.timestamp("s", tz="Europe/Oslo"))),
        CLF,
    ),
    "timestamp ns cut to us": (
        _table(timestamp=pa.array([T0 * 10**9 + 123_456_789] * 3, pa.timestamp("ns"))),
        CLF,
    ),
    "ISO strings with zones": (
        _table(
            timestamp=[
                "2026-11-25T10:00:00.123456Z",
                "2026-11-25T12:00:00+02:00",
                "1999-01-01 00:00:00.5-05:30",
            ]
        ),
        CLF,
    ),
    "ISO strings naive and null": (
        _table(timestamp=["2026-11-25T10:00:00", None, "2026-11-25 10:00:01.25"]),
        CLF,
    ),
    "ISO strings pandas parses": (
        _table(timestamp=["2026-11-25", "2026-11-25T10:00:00.123456789Z", "2026-11-25T10:00Z"]),
        CLF,
    ),
    "ISO dates before 1970": (_table(timestamp=["2026-11-25", "1950-01-01", None]), CLF),
    "year 0000, which pandas takes": (_table(timestamp=["0000-01-01T00:00:00Z"] * 3), CLF),
    "string predictions and versions": (
        _table(prediction=["yes", "no", ""], version=["v2", None, "v3"]),
        CLF,
    ),
    "bool predictions": (_table(prediction=[True, False, True]), CLF),
    "whole float predictions": (_table(prediction=[1.0, -0.0, 3e15]), CLF),
    "int8 predictions": (_table(prediction=pa.array([1, 0, -3], pa.int8())), CLF),
    "multiclass with probabilities": (
        _table(
            prediction=["a", "b", "c"],
            score=None,
            probabilities=pa.array(
                [[("a", 0.7), ("b", 0.3)], None, [("c", 1.0)]],
                pa.map_(pa.string(), pa.float64()),
            ),
        ),
        MULTI,
    ),
    "int probabilities and tags": (
        _table(
            probabilities=pa.array([[("1", 1)], [], None], pa.map_(pa.string(), pa.int64())),
            tags=pa.array([[("region", "eu"), ("tier", "a")], None, []], TAGS),
        ),
        CLF,
    ),
    "large string map keys": (
        _table(tags=pa.array([[("k", "v")], None, []], pa.map_(pa.large_string(), pa.string()))),
        CLF,
    ),
    "null map with entries": (
        _table(
            tags=pa.MapArray.from_arrays(
                pa.array([0, 1, 2, 2], pa.int32()),
                pa.array(["a", "b"]),
                pa.array(["x", "y"]),
                mask=pa.array([False, True, False]),
            )
        ),
        CLF,
    ),
    "regression": (_table(prediction=[3.5, -2.0, 1e9], score=None), REG),
    "regression int predictions": (_table(prediction=[3, 2**53, -7], score=None), REG),
    "features struct": (
        _table(
            age=None,
            plan=None,
            features=pa.array(
                [{"age": 3, "plan": "gold", "flag": True}, None, {"age": None, "plan": None}]
            ),
        ),
        CLF,
    ),
    "column overrides struct field": (
        _table(features=pa.array([{"age": 99.0, "city": "Oslo"}] * 3)),
        CLF,
    ),
    "new features and null columns": (
        _table(
            income=pa.array([52_000, None, 7], pa.int32()),
            city=pa.array(["Oslo", "Rome", None], pa.large_string()),
            empty=pa.nulls(3),
            **{"bad name": pa.nulls(3, pa.float64())},
        ),
        CLF,
    ),
    "registered feature absent": (_table(plan=None, age=pa.array([1, 2, 3], pa.uint8())), CLF),
    "dictionary strings and bool feature": (
        _table(
            plan=pa.array(["gold", "free", "gold"]).dictionary_encode(),
            flag=[True, False, None],
        ),
        CLF,
    ),
    "null-typed optional columns": (
        _table(
            score=pa.nulls(3),
            version=pa.nulls(3),
            timestamp=pa.nulls(3),
            tags=pa.nulls(3),
            probabilities=pa.nulls(3),
            age=pa.nulls(3),
        ),
        CLF,
    ),
}


@pytest.mark.parametrize("case", list(WELL_TYPED))
def test_well_typed_tables_match_the_record_path(case: str) -> None:
    table, model = WELL_TYPED[case]
    _same(table, model)
    assert arrow_prediction_batch(table, model, NOW).table.equals(_slow(table, model).table)


def test_layout_types_and_values() -> None:
    batch = _same(_table(city=["a", "b", None], timestamp=[T0 + 0.0000004, None, 1.5]))
    table = batch.table
    assert table.column_names == [
        "event_id",
        "ts",
        "version",
        "prediction",
        "score",
        "latency_ms",
        "probabilities",
        "tags",
        "f_age",
        "f_plan",
        "f_city",
    ]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("probabilities").type == PROBS
    assert batch.new_features == {"city": "categorical"}
    assert table.column("ts").to_pylist() == [
        datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        NOW,
        datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
    ]
    assert table.column("prediction").to_pylist() == ["0", "1", "0"]
    assert table.column("version").to_pylist() == ["1", "1", "1"]


def test_chunked_and_sliced_tables() -> None:
    probs = pa.array([[("a", 0.5), ("a", 0.5)], [("b", 1.0)], [("c", 1.0)]], PROBS)
    whole = _table(
        4, prediction=["a", "b", "c", "d"], probabilities=pa.concat_arrays([probs, probs[:1]])
    )
    sliced = whole.slice(1, 2)  # the repeated key 'a' is in row 0 only, outside the slice
    assert sliced.column("probabilities").chunk(0).offset == 1
    _same(sliced, MULTI)
    chunked = pa.concat_tables([_table(2), _table(3).slice(1)])
    assert chunked.column("event_id").num_chunks == 2
    _same(chunked)


ODD_BUT_VALID: dict[str, pa.Table] = {
    "timestamp before 1970": _table(timestamp=pa.array([-5, 0, 1], pa.timestamp("s"))),
    "date32 timestamps": _table(timestamp=pa.array([20417, 20418, None], pa.date32())),
    "repeated map keys": _table(probabilities=pa.array([[("a", 0.1), ("a", 0.2)]] * 3, PROBS)),
    "binary feature": _table(blob=[b"x", b"y", None]),
    "float prediction beyond int64": _table(prediction=[1e19, 0.0, 1.0]),
}


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_tables_take_the_record_path(case: str) -> None:
    table = ODD_BUT_VALID[case]
    with pytest.raises(NotNative):
        native_prediction_batch(table, CLF, NOW)
    got = arrow_prediction_batch(table, CLF, NOW)
    assert got.table.equals(_slow(table, CLF).table)
    assert got.new_features == _slow(table, CLF).new_features


BAD: list[tuple[str, pa.Table, ModelInfo, tuple[int, str]]] = [
    ("null event_id", _table(event_id=["a", None, "c"]), CLF, (1, "event_id")),
    ("empty event_id", _table(event_id=["a", "b", ""]), CLF, (2, "event_id")),
    ("long event_id", _table(event_id=["a", "x" * 257, "c"]), CLF, (1, "event_id")),
    ("int event_id", _table(event_id=[1, 2, 3]), CLF, (0, "event_id")),
    ("NaN feature", _table(age=[1.0, NAN, 2.0]), CLF, (1, "features.age")),
    ("inf feature", _table(age=[1.0, 2.0, float("-inf")]), CLF, (2, "features.age")),
    ("int beyond 2**53", _table(age=[1, 2**60, 3]), CLF, (1, "features.age")),
    ("string in numeric feature", _table(age=["1", "2", "3"]), CLF, (0, "features.age")),
    ("int in categorical feature", _table(plan=[None, 4, None]), CLF, (1, "features.plan")),
    ("bool in categorical feature", _table(plan=[None, None, True]), CLF, (2, "features.plan")),
    ("score 1.5", _table(score=[0.5, 1.5, 0.2]), CLF, (1, "score")),
    ("negative score", _table(score=[0.5, 0.1, -0.2]), CLF, (2, "score")),
    ("NaN score", _table(score=[NAN, 0.1, 0.2]), CLF, (0, "score")),
    ("bool score", _table(score=[True, None, None]), CLF, (0, "score")),
    ("string score", _table(score=["0.5", None, None]), CLF, (0, "score")),
    ("inf latency", _table(latency_ms=[1.0, float("inf"), 2.0]), CLF, (1, "latency_ms")),
    ("bool latency", _table(latency_ms=[None, None, False]), CLF, (2, "latency_ms")),
    ("epoch out of range", _table(timestamp=[T0, 4e10, T0]), CLF, (1, "timestamp")),
    ("negative epoch", _table(timestamp=[T0, T0, -1]), CLF, (2, "timestamp")),
    ("NaN epoch", _table(timestamp=[NAN, T0, T0]), CLF, (0, "timestamp")),
    ("bool timestamp", _table(timestamp=[True, None, None]), CLF, (0, "timestamp")),
    (
        "bad ISO string",
        _table(timestamp=["2026-02-30T00:00:00Z", "soon", None]),
        CLF,
        (0, "timestamp"),
    ),
    ("int version", _table(version=[1, None, 2]), CLF, (0, "version")),
    ("null prediction", _table(prediction=[1, None, 0]), CLF, (1, "prediction")),
    ("fractional prediction", _table(prediction=[1.0, 0.5, 0.0]), CLF, (1, "prediction")),
    ("NaN prediction", _table(prediction=[1.0, 0.0, NAN]), CLF, (2, "prediction")),
    ("string regression", _table(prediction=["1", "2", "3"], score=None), REG, (0, "prediction")),
    ("bool regression", _table(prediction=[True, False, True], score=None), REG, (0, "prediction")),
    ("NaN regression", _table(prediction=[1.0, NAN, 2.0], score=None), REG, (1, "prediction")),
    (
        "null probability",
        _table(probabilities=pa.array([None, None, [("a", None)]], PROBS)),
        CLF,
        (2, "probabilities.a"),
    ),
    (
        "NaN probability",
        _table(probabilities=pa.array([[("a", NAN)], None, None], PROBS)),
        CLF,
        (0, "probabilities.a"),
    ),
    (
        "bool probability",
        _table(
            probabilities=pa.array([None, [("a", True)], None], pa.map_(pa.string(), pa.bool_()))
        ),
        CLF,
        (1, "probabilities.a"),
    ),
    (
        "int tag",
        _table(tags=pa.array([None, [("k", 1)], None], pa.map_(pa.string(), pa.int64()))),
        CLF,
        (1, "tags.k"),
    ),
    ("null tag", _table(tags=pa.array([[("k", None)], None, None], TAGS)), CLF, (0, "tags.k")),
    (
        "bad feature name",
        _table().append_column("bad name", pa.array([None, 1.0, None])),
        CLF,
        (1, "features.bad name"),
    ),
]


@pytest.mark.parametrize(("case", "table", "model", "where"), BAD, ids=[b[0] for b in BAD])
def test_bad_values_give_the_record_path_errors(
    case: str, table: pa.Table, model: ModelInfo, where: tuple[int, str]
) -> None:
    with pytest.raises(NotNative):
        native_prediction_batch(table, model, NOW)
    errors = _errors(lambda: arrow_prediction_batch(table, model, NOW))
    assert errors == _errors(lambda: _slow(table, model))
    assert where in [(i, f) for i, f, _ in errors]


def test_missing_columns_and_empty_tables() -> None:
    assert _errors(lambda: arrow_prediction_batch(_table(prediction=None), CLF, NOW)) == [
        (i, "prediction", "required") for i in range(3)
    ]
    assert [
        f for _, f, _ in _errors(lambda: arrow_prediction_batch(_table(event_id=None), CLF, NOW))
    ] == ["event_id"] * 3
    empty = _table().slice(0, 0)
    assert _errors(lambda: arrow_prediction_batch(empty, CLF, NOW)) == [
        (-1, "records", "must be a non-empty list of objects")
    ]


# --- random tables: the native path and the record path agree ---

Form = Callable[[random.Random, int], Any]


def _spoil(values: list[Any], bad: Any, rng: random.Random) -> list[Any]:
    values = list(values)
    values[rng.randrange(len(values))] = bad
    return values


def _holes(values: list[Any], rng: random.Random) -> list[Any]:
    return [None if rng.random() < 0.2 else v for v in values]


def _stamps(rng: random.Random, n: int, unit: str, tz: str | None = None) -> pa.Array:
    per = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return pa.array(
        [(T0 + rng.randrange(10**6)) * per + rng.randrange(per) for _ in range(n)],
        pa.timestamp(unit, tz),
    )


def _epochs(rng: random.Random, n: int) -> list[Any]:
    return [T0 + rng.random() * 1e5 for _ in range(n)]


def _iso(rng: random.Random, n: int, zone: str = "Z") -> list[str]:
    day = "2026-{:02d}-{:02d}T10:{:02d}:07.{:06d}"
    return [
        day.format(rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 59), rng.randrange(10**6))
        + zone
        for _ in range(n)
    ]


def _maps(rng: random.Random, n: int, value: Callable[[], Any]) -> list[Any]:
    return [
        None if rng.random() < 0.2 else [(k, value()) for k in rng.sample("abc", rng.randint(0, 3))]
        for _ in range(n)
    ]


def _reals(rng: random.Random, n: int) -> list[float]:
    return [rng.random() for _ in range(n)]


FORMS: dict[str, tuple[list[Form], list[Form]]] = {
    # column: (valid forms, corrupted forms); a form giving None leaves the column out
    "event_id": (
        [
            lambda r, n: [f"e{i}" for i in range(n)],
            lambda r, n: pa.array([f"id-{i}" for i in range(n)], pa.large_string()),
        ],
        [
            lambda r, n: _spoil([f"e{i}" for i in range(n)], r.choice([None, "", "x" * 300]), r),
            lambda r, n: list(range(n)),
        ],
    ),
    "timestamp": (
        [
            lambda r, n: None,
            lambda r, n: pa.array(_holes(_epochs(r, n), r), pa.float64()),
            lambda r, n: [T0 + i for i in range(n)],
            lambda r, n: _stamps(r, n, "ms"),
            lambda r, n: _stamps(r, n, "us", "UTC"),
            lambda r, n: _stamps(r, n, "ns"),
            lambda r, n: _stamps(r, n, "s", "America/New_York"),
            lambda r, n: _holes(_iso(r, n), r),
            lambda r, n: _iso(r, n, r.choice(["", "+05:30", "-00:00"])),
            lambda r, n: _spoil(_iso(r, n), "2026-11-25", r),
            lambda r, n: pa.nulls(n),
        ],
        [
            lambda r, n: _spoil(_epochs(r, n), r.choice([-1.0, NAN, 4e10, float("inf")]), r),
            lambda r, n: _spoil(
                _iso(r, n),
                r.choice(["bad", "", "now", "2026-02-30T00:00:00Z", "1950-01-01T00:00:00Z"]),
                r,
            ),
            lambda r, n: [True] * n,
            lambda r, n: pa.array([-86400 * r.randint(0, 9)] * n, pa.timestamp("s")),
            lambda r, n: pa.array([20417] * n, pa.date32()),
        ],
    ),
    "version": (
        [lambda r, n: None, lambda r, n: _holes(["v2"] * n, r), lambda r, n: pa.nulls(n)],
        [lambda r, n: _spoil([None] * n, 2, r)],
    ),
    "prediction": (
        [
            lambda r, n: [r.randint(0, 1) for _ in range(n)],
            lambda r, n: [r.choice("xyz") for _ in range(n)],
            lambda r, n: [r.random() < 0.5 for _ in range(n)],
            lambda r, n: [float(r.randint(-2, 2)) for _ in range(n)],
            lambda r, n: pa.array([r.randint(0, 3) for _ in range(n)], pa.int8()),
        ],
        [
            lambda r, n: _spoil([r.randint(0, 1) for _ in range(n)], None, r),
            lambda r, n: _spoil(
                [float(r.randint(0, 1)) for _ in range(n)],
                r.choice([0.5, NAN, float("inf"), 1e19]),
                r,
            ),
            lambda r, n: _spoil([r.random() for _ in range(n)], r.choice([NAN, None]), r),
            lambda r, n: [2**60] * n,
        ],
    ),
    "score": (
        [
            lambda r, n: None,
            lambda r, n: _holes(_reals(r, n), r),
            lambda r, n: [r.randint(0, 1) for _ in range(n)],
            lambda r, n: pa.nulls(n),
        ],
        [
            lambda r, n: _spoil(_reals(r, n), r.choice([1.5, -0.1, NAN]), r),
            lambda r, n: [True] * n,
            lambda r, n: ["0.5"] * n,
        ],
    ),
    "latency_ms": (
        [
            lambda r, n: None,
            lambda r, n: _holes([r.random() * 50 for _ in range(n)], r),
            lambda r, n: [r.randint(0, 99) for _ in range(n)],
        ],
        [
            lambda r, n: _spoil(_reals(r, n), float("inf"), r),
            lambda r, n: [False] * n,
            lambda r, n: [2**60] * n,
        ],
    ),
    "probabilities": (
        [
            lambda r, n: None,
            lambda r, n: pa.array(_maps(r, n, r.random), PROBS),
            lambda r, n: pa.array(
                _maps(r, n, lambda: r.randint(0, 1)), pa.map_(pa.string(), pa.int64())
            ),
            lambda r, n: pa.nulls(n),
        ],
        [
            lambda r, n: pa.array(
                _spoil(_maps(r, n, r.random), [("a", r.choice([None, NAN])), ("b", 0.5)], r), PROBS
            ),
            lambda r, n: pa.array(
                _spoil(_maps(r, n, r.random), [("a", 0.1), ("a", 0.9)], r), PROBS
            ),
            lambda r, n: pa.array(_maps(r, n, lambda: True), pa.map_(pa.string(), pa.bool_())),
        ],
    ),
    "tags": (
        [lambda r, n: None, lambda r, n: pa.array(_maps(r, n, lambda: r.choice("uv")), TAGS)],
        [
            lambda r, n: pa.array(_spoil(_maps(r, n, lambda: "u"), [("k", None)], r), TAGS),
            lambda r, n: pa.array(
                _spoil(_maps(r, n, lambda: "u"), [("k", "u"), ("k", "v")], r), TAGS
            ),
            lambda r, n: pa.array(_maps(r, n, lambda: 1), pa.map_(pa.string(), pa.int64())),
        ],
    ),
    "age": (
        [
            lambda r, n: None,
            lambda r, n: _holes([r.gauss(40, 9) for _ in range(n)], r),
            lambda r, n: pa.array(
                [r.randint(0, 99) for _ in range(n)],
                r.choice([pa.int64(), pa.int32(), pa.uint16()]),
            ),
            lambda r, n: [r.random() < 0.5 for _ in range(n)],
            lambda r, n: pa.nulls(n, pa.string()),
        ],
        [
            lambda r, n: _spoil(_reals(r, n), r.choice([NAN, float("-inf")]), r),
            lambda r, n: _spoil(list(range(n)), 2**60, r),
            lambda r, n: ["41"] * n,
        ],
    ),
    "plan": (
        [
            lambda r, n: None,
            lambda r, n: _holes([r.choice(["gold", "free"]) for _ in range(n)], r),
            lambda r, n: pa.array(
                [r.choice(["gold", "free"]) for _ in range(n)], pa.large_string()
            ),
            lambda r, n: pa.array(
                [r.choice(["gold", "free"]) for _ in range(n)]
            ).dictionary_encode(),
        ],
        [lambda r, n: _spoil([None] * n, r.choice([4, True]), r)],
    ),
    "city": (
        [lambda r, n: None, lambda r, n: _holes([r.choice(["Oslo", "Rome"]) for _ in range(n)], r)],
        [lambda r, n: [b"x"] * n],
    ),
    "income": (
        [
            lambda r, n: None,
            lambda r, n: pa.array(_holes([r.randint(0, 10**5) for _ in range(n)], r), pa.int32()),
        ],
        [lambda r, n: _spoil([None] * n, 1.0, r)],
    ),
    "features": (
        [
            lambda r, n: None,
            lambda r, n: pa.array(
                _holes(
                    [
                        {"zone": r.choice("pq"), "flag": r.random() < 0.5, "age": r.random()}
                        for _ in range(n)
                    ],
                    r,
                )
            ),
        ],
        [lambda r, n: pa.array([{"zone": 3, "plan": 5}] * n)],
    ),
}


def _random_table(rng: random.Random) -> pa.Table:
    n = rng.randint(1, 12)
    columns: dict[str, Any] = {}
    for name, (valid, corrupted) in FORMS.items():
        forms = corrupted if rng.random() < 0.06 else valid
        column = rng.choice(forms)(rng, n)
        if column is not None:
            columns["bad name" if name == "income" and forms is corrupted else name] = column
    return pa.table(columns)


def _outcome(
    call: Callable[[pa.Table, ModelInfo], PredictionBatch], table: pa.Table, model: ModelInfo
) -> Any:
    try:
        batch = call(table, model)
    except RecordsInvalid as exc:
        return [(e.index, e.field, e.reason) for e in exc.errors]
    except Exception as exc:  # the record path's own failures must be the same too
        return type(exc).__name__
    return batch


@pytest.mark.parametrize("model", [CLF, MULTI, REG], ids=["binary", "multiclass", "regression"])
def test_random_tables_match_the_record_path(model: ModelInfo) -> None:
    rng = random.Random(20261125)
    seen = {"native": 0, "record path": 0, "invalid": 0}
    for _ in range(300):
        table = _random_table(rng)
        got = _outcome(lambda t, m: arrow_prediction_batch(t, m, NOW), table, model)
        want = _outcome(_slow, table, model)
        if isinstance(want, PredictionBatch):
            assert isinstance(got, PredictionBatch), (table, got)
            assert got.table.equals(want.table), table
            assert got.new_features == want.new_features
            try:
                native_prediction_batch(table, model, NOW)
                seen["native"] += 1
            except NotNative:
                seen["record path"] += 1
        else:
            assert got == want, table
            seen["invalid"] += 1
    assert min(seen.values()) >= 15, seen
