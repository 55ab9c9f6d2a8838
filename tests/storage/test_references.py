"""storage.references against a real DuckDB file; predictions go in through the IngestService."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store, Writer
from storage.references import (
    PREDICTION_COLUMN,
    TARGET_COLUMN,
    ReferenceInfo,
    active_reference,
    create_reference,
    get_reference,
    list_references,
    reference_frame,
    reference_from_range,
    reference_table,
)

T0 = datetime(2026, 11, 18, 7, tzinfo=UTC)
DAYS = 4
FEATURES = {"x": "numeric", "region": "categorical"}


def make_records(
    task: str, n: int = 2000, seed: int = 0, days: float = DAYS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame]:
    """Prediction and label records, and the same rows as a frame (target None if unlabelled).

    x is null in every 11th row, region in every 13th; about 60% of the rows are labelled.
    """
    rng = np.random.default_rng(seed)
    seconds = np.round(np.sort(rng.uniform(0, days * 86400, n)), 3)
    regions = rng.choice(["north", "south", "east"], n)
    xs = np.round(rng.normal(0, 1, n), 6)
    if task == "regression":
        predictions: list[Any] = np.round(rng.normal(50, 10, n), 3).tolist()
        targets: list[Any] = np.round(rng.normal(50, 10, n), 3).tolist()
    else:
        predictions = rng.choice(["cat", "dog"], n).tolist()
        targets = rng.choice(["cat", "dog"], n).tolist()
    labelled = rng.random(n) < 0.6
    records, labels, rows = [], [], []
    for i in range(n):
        ts = T0 + timedelta(seconds=float(seconds[i]))
        x = None if i % 11 == 0 else float(xs[i])
        region = None if i % 13 == 0 else str(regions[i])
        features = {k: v for k, v in (("x", x), ("region", region)) if v is not None}
        version = "2" if i % 3 == 0 else "1"
        records.append(
            {
                "event_id": f"e{i}",
                "timestamp": ts.isoformat(),
                "version": version,
                "features": features,
                "prediction": predictions[i],
            }
        )
        if labelled[i]:
            labels.append({"event_id": f"e{i}", "label": targets[i], "timestamp": ts.isoformat()})
        target = targets[i] if labelled[i] else None
        rows.append((f"e{i}", ts, version, x, region, predictions[i], target))
    frame = pd.DataFrame(
        rows, columns=["event_id", "ts", "version", "x", "region", "prediction", "target"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return records, labels, frame


def load(
    ingest: IngestService, task: str = "multiclass", name: str | None = None, **kwargs: Any
) -> tuple[ModelInfo, pd.DataFrame]:
    """Register a model and ingest generated rows through the real service."""
    name = name or task
    records, labels, frame = make_records(task, **kwargs)
    ingest.register(name, {"task": task, "features": FEATURES})
    ingest.predictions(name, records)
    ingest.labels(name, labels)
    return ingest.model(name), frame


def rows_of(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Sorted rows with NaN as None, to compare frames regardless of order and null kind."""
    part = frame[columns].astype(object)
    cells = part.where(part.notna(), None).itertuples(index=False, name=None)
    return sorted(cells, key=repr)


def upload(writer: Writer, model: ModelInfo, table: pa.Table, **kwargs: Any) -> ReferenceInfo:
    kwargs.setdefault("version", None)
    kwargs.setdefault("description", "ref.parquet")
    return writer.run(lambda con: create_reference(con, model, table, **kwargs))


def from_range(writer: Writer, model: ModelInfo, start: datetime, end: datetime, **kw: Any) -> Any:
    kw.setdefault("version", None)
    return writer.run(lambda con: reference_from_range(con, model, start, end, **kw))


def test_uploaded_reference_round_trips_with_nulls_and_missing_features(
    ingest: IngestService, writer: Writer, store: Store
) -> None:
    model = ingest.register("m", {"task": "binary", "features": {**FEATURES, "z": "numeric"}})
    table = pa.table(
        {
            "x": pa.array([1.5, None, -2.0], pa.float64()),
            "region": pa.array(["north", None, "east"]),
            PREDICTION_COLUMN: pa.array([1.0, 0.0, None]),  # 1.0 is the class "1"
            TARGET_COLUMN: pa.array([1, None, 0], pa.int64()),
        }
    )
    info = upload(writer, model, table, version="v3", description="train.csv")
    assert (info.model, info.version, info.source, info.description) == (
        "m",
        "v3",
        "upload",
        "train.csv",
    )
    assert (info.rows, info.labelled) == (3, 2)
    assert info.created_at.tzinfo is not None and info.range_start is None
    got = reference_frame(store.cursor(), model, info)
    assert list(got.columns) == ["x", "region", "z", PREDICTION_COLUMN, TARGET_COLUMN]
    assert got["x"].dtype == np.float64 and got["z"].dtype == np.float64
    assert got["region"].dtype == object and got[TARGET_COLUMN].dtype == object
    assert np.isnan(got["x"][1]) and got["z"].isna().all()
    assert got["x"].tolist()[::2] == [1.5, -2.0]
    assert got["region"].tolist() == ["north", None, "east"]
    assert got[PREDICTION_COLUMN].tolist() == ["1", "0", None]
    assert got[TARGET_COLUMN].tolist() == ["1", None, "0"]
    subset = reference_frame(store.cursor(), model, info, features=["region"])
    assert list(subset.columns) == ["region", PREDICTION_COLUMN, TARGET_COLUMN]


def test_regression_targets_are_numbers_and_a_feature_added_later_is_null(
    ingest: IngestService, writer: Writer, store: Store
) -> None:
    model = ingest.register("r", {"task": "regression", "features": {"x": "numeric"}})
    table = pa.table({"x": [1.0, 2.0], TARGET_COLUMN: [3.5, None], PREDICTION_COLUMN: [3, 4]})
    info = upload(writer, model, table)
    model = ingest.register("r", {"task": "regression", "features": {"late": "categorical"}})
    got = reference_frame(store.cursor(), model, info)
    assert got[TARGET_COLUMN].dtype == np.float64 and got[PREDICTION_COLUMN].dtype == np.float64
    assert got[TARGET_COLUMN].tolist()[0] == 3.5 and np.isnan(got[TARGET_COLUMN][1])
    assert got[PREDICTION_COLUMN].tolist() == [3.0, 4.0]
    assert got["late"].tolist() == [None, None] and got["late"].dtype == object
    assert info.labelled == 1


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_range_reference_copies_exactly_the_rows_of_the_range(
    ingest: IngestService, writer: Writer, store: Store, task: str
) -> None:
    model, frame = load(ingest, task)
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=2, hours=5)
    info = from_range(writer, model, start, end, version="1")
    part = frame[(frame.ts >= start) & (frame.ts < end)]
    assert (info.source, info.version, info.rows) == ("range", "1", len(part))
    assert info.labelled == part["target"].notna().sum()
    assert (info.range_start, info.range_end, info.range_version) == (start, end, None)
    assert info.description == f"predictions {start.isoformat()} to {end.isoformat()}"
    got = reference_frame(store.cursor(), model, info)
    columns = ["x", "region", "prediction", "target"]
    renamed = got.rename(columns={PREDICTION_COLUMN: "prediction", TARGET_COLUMN: "target"})
    assert rows_of(renamed, columns) == rows_of(part, columns)
    # Only one version's rows when asked.
    only = from_range(writer, model, start, end, version=None, source_version="2")
    assert only.rows == (part.version == "2").sum() and only.range_version == "2"
    got = reference_frame(store.cursor(), model, only, features=["x"])
    assert sorted(got["x"].dropna()) == sorted(part[part.version == "2"]["x"].dropna())


def test_range_reference_samples_above_max_rows_the_same_rows_every_time(
    ingest: IngestService, writer: Writer, store: Store
) -> None:
    model, frame = load(ingest, n=4000)
    end = T0 + timedelta(days=DAYS)
    a = from_range(writer, model, T0, end, max_rows=1000)
    b = from_range(writer, model, T0, end, max_rows=1000)
    assert 850 <= a.rows <= 1150 and a.rows == b.rows
    con = store.cursor()
    rows_a = reference_frame(con, model, a)
    rows_b = reference_frame(con, model, b)
    columns = ["x", "region", PREDICTION_COLUMN]
    assert rows_of(rows_a, columns) == rows_of(rows_b, columns)
    all_rows = set(rows_of(frame.rename(columns={"prediction": PREDICTION_COLUMN}), columns))
    assert set(rows_of(rows_a, columns)) <= all_rows
    whole = from_range(writer, model, T0, end, max_rows=4000)
    assert whole.rows == 4000


def test_active_reference_prefers_the_versions_own_then_model_wide(
    ingest: IngestService, writer: Writer, store: Store
) -> None:
    model = ingest.register("m", {"task": "binary", "features": {"x": "numeric"}})
    other = ingest.register("other", {"task": "binary", "features": {"x": "numeric"}})
    con = store.cursor()
    table = pa.table({"x": [1.0]})
    assert active_reference(con, model, None) is None
    v1 = upload(writer, model, table, version="1")
    assert active_reference(con, model, None) == v1  # no model-wide one: newest of any
    assert active_reference(con, model, "2") is None
    wide_old = upload(writer, model, table)
    wide = upload(writer, model, table)
    v2 = upload(writer, model, table, version="2")
    upload(writer, other, table)
    assert active_reference(con, model, "1") == v1
    assert active_reference(con, model, "2") == v2
    assert active_reference(con, model, "3") == wide
    assert active_reference(con, model, None) == wide
    assert list_references(con, model) == [v2, wide, wide_old, v1]
    assert get_reference(con, model, wide_old.id) == wide_old
    assert get_reference(con, other, wide_old.id) is None
    json.dumps(v1.as_dict())
    assert v1.as_dict()["created_at"] == v1.created_at.isoformat()


def test_bad_references_are_refused_and_leave_nothing_behind(
    ingest: IngestService, writer: Writer, store: Store
) -> None:
    model, _ = load(ingest)
    con = store.cursor()
    empty = pa.table({"x": pa.array([], pa.float64())})
    with pytest.raises(ValueError, match="reference for model 'multiclass' has no rows"):
        upload(writer, model, empty)
    with pytest.raises(ValueError, match=re.escape("unknown column(s) 'colour': use x, region")):
        upload(writer, model, pa.table({"x": [1.0], "colour": ["red"]}))
    later = datetime(2030, 1, 1, tzinfo=UTC)
    message = (
        "model 'multiclass' has no predictions from 2030-01-01T00:00:00+00:00 to "
        "2030-01-02T00:00:00+00:00: choose a range"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        from_range(writer, model, later, later + timedelta(days=1))
    with pytest.raises(ValueError, match="no predictions of version '9' from"):
        from_range(writer, model, T0, T0 + timedelta(days=DAYS), source_version="9")
    with pytest.raises(ValueError, match="must be after start"):
        from_range(writer, model, T0, T0)
    assert list_references(con, model) == []
    tables = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE regexp_matches(table_name, '^reference_[0-9]+$')"
    )
    assert tables.fetchone() == (0,)
    info = upload(writer, model, pa.table({"x": [1.0]}))
    with pytest.raises(ValueError, match=r"unknown feature\(s\) 'nope' of model 'multiclass'"):
        reference_frame(con, model, info, features=["nope"])
    other = ingest.register("other", {"task": "multiclass"})
    with pytest.raises(ValueError, match="belongs to model 'multiclass', not 'other'"):
        reference_frame(con, other, info)


@pytest.mark.parametrize("bad", [-1, True, "1", 1.0])
def test_reference_table_names_come_only_from_ids(bad: Any) -> None:
    assert reference_table(12) == "reference_12"
    with pytest.raises(ValueError, match="invalid reference id"):
        reference_table(bad)
