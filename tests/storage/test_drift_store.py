"""storage.drift_store against a real DuckDB file and pandas on the same records."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store, Writer
from storage.drift_store import (
    ALL_VERSIONS,
    drift_results,
    drift_windows,
    latest_quality,
    latest_window,
    quality_results,
    record_rejections,
    rejections,
    save_window,
    stored_windows,
    window_counts,
    window_frame,
)
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN
from tests.storage.test_references import DAYS, T0, load, rows_of

DAY = timedelta(days=1)
END = T0 + timedelta(days=DAYS)


def summary(rows: int = 10, **kwargs: Any) -> dict[str, Any]:
    values = {
        "rows": rows,
        "labelled": 4,
        "n_tested": 2,
        "n_drifted": 1,
        "drift_share": 0.5,
        "dataset_drift": True,
        "multivariate_auc": 0.71,
        "multivariate_drifted": True,
        "multivariate_top": json.dumps([["x", 0.2], ["region", 0.05]]),
    }
    return values | kwargs


def drift_rows(score: float = 0.3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "role": ["feature", "feature", "prediction"],
            "feature": ["x", "region", "prediction"],
            "kind": ["numeric", "categorical", "categorical"],
            "method": ["wasserstein", "jensenshannon", "chisquare"],
            "score": [score, np.nan, 0.04],
            "threshold": [0.1, 0.1, 0.05],
            "drifted": [True, False, True],
        }
    )


def quality_rows(missing: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": ["x", "region"],
            "kind": ["numeric", "categorical"],
            "rows": [10, 10],
            "missing": [missing, 0],
            "nan": [0, 0],
            "inf": [2, 0],
            "out_of_range": [3, 0],
            "unseen": [0, 4],
            "constant": [False, True],
        }
    )


def save(writer: Writer, model: ModelInfo, version: str, start: datetime, **kwargs: Any) -> None:
    """Store one 1d window of `version` starting at `start`."""
    values = summary(**kwargs.pop("summary", {}))
    drift = kwargs.pop("drift", drift_rows())
    quality = kwargs.pop("quality", quality_rows())
    writer.run(
        lambda con: save_window(
            con, model, version, "1d", start, start + DAY, 7, values, drift, quality
        )
    )


@pytest.fixture
def model(ingest: IngestService) -> tuple[ModelInfo, pd.DataFrame]:
    return load(ingest)


def test_window_frame_returns_the_range_as_a_drift_frame(
    store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, frame = model
    con, start, end = store.cursor(), T0 + DAY, T0 + timedelta(days=2, hours=3)
    got = window_frame(con, info, start, end)
    assert list(got.columns) == ["x", "region", PREDICTION_COLUMN, TARGET_COLUMN]
    assert got["x"].dtype == np.float64 and got["region"].dtype == object
    assert got[TARGET_COLUMN].dtype == object
    part = frame[(frame.ts >= start) & (frame.ts < end)]
    renamed = got.rename(columns={PREDICTION_COLUMN: "prediction", TARGET_COLUMN: "target"})
    columns = ["x", "region", "prediction", "target"]
    assert rows_of(renamed, columns) == rows_of(part, columns)
    only = window_frame(con, info, start, end, "2", features=["region"])
    assert list(only.columns) == ["region", PREDICTION_COLUMN, TARGET_COLUMN]
    assert rows_of(only, ["region"]) == rows_of(part[part.version == "2"], ["region"])
    empty = window_frame(con, info, END + DAY, END + 2 * DAY)
    assert empty.empty and list(empty.columns) == list(got.columns)
    assert empty["x"].dtype == np.float64 and empty["region"].dtype == object


def test_window_frame_samples_the_same_rows_every_call(
    store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, frame = model
    con = store.cursor()
    a = window_frame(con, info, T0, END, max_rows=500)
    b = window_frame(con, info, T0, END, max_rows=500)
    assert 400 <= len(a) <= 600
    pd.testing.assert_frame_equal(a, b)
    assert len(window_frame(con, info, T0, END, max_rows=len(frame))) == len(frame)
    with pytest.raises(ValueError, match="max_rows must be a positive integer"):
        window_frame(con, info, T0, END, max_rows=0)
    with pytest.raises(ValueError, match=r"unknown feature\(s\) 'nope'"):
        window_frame(con, info, T0, END, features=["nope"])


@pytest.mark.parametrize(("task", "granularity"), [("multiclass", "1h"), ("regression", "1d")])
def test_window_counts_match_pandas(
    ingest: IngestService, store: Store, task: str, granularity: str
) -> None:
    info, frame = load(ingest, task)
    start = T0 + timedelta(hours=5)
    got = window_counts(store.cursor(), info, granularity, start, END)
    assert list(got.columns) == ["version", "window_start", "rows", "labelled"]
    assert str(got["window_start"].dt.tz) == "UTC"
    part = frame[frame.ts >= start].assign(window=frame.ts.dt.floor(granularity))
    every = part.assign(version=ALL_VERSIONS)
    expected = (
        pd.concat([part, every])
        .groupby(["window", "version"])
        .agg(rows=("ts", "size"), labelled=("target", "count"))
    )
    assert {(r.window_start, r.version): (r.rows, r.labelled) for r in got.itertuples()} == {
        r.Index: (r.rows, r.labelled) for r in expected.itertuples()
    }
    assert got["window_start"].is_monotonic_increasing
    empty = window_counts(store.cursor(), info, granularity, END + DAY, END + 2 * DAY)
    assert empty.empty and list(empty.columns) == list(got.columns)
    with pytest.raises(ValueError, match="unknown window '2h'"):
        window_counts(store.cursor(), info, "2h", start, END)


def test_save_window_round_trips_and_replaces(
    writer: Writer, store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, _ = model
    con, day = store.cursor(), datetime(2026, 11, 19, tzinfo=UTC)
    save(writer, info, ALL_VERSIONS, day)
    windows = drift_windows(con, info, "1d", day, day + DAY)
    assert len(windows) == 1 and "model_id" not in windows.columns
    row = windows.iloc[0]
    assert (row["version"], row["granularity"], row["reference_id"]) == ("*", "1d", 7)
    assert row["window_start"] == pd.Timestamp(day) and row["window_end"] == pd.Timestamp(day + DAY)
    assert (row["rows"], row["n_drifted"], row["drift_share"]) == (10, 1, 0.5)
    assert json.loads(row["multivariate_top"]) == [["x", 0.2], ["region", 0.05]]
    results = drift_results(con, info, "1d", day, day + DAY)
    assert list(results.columns) == [
        "window_start", "role", "feature", "kind", "method", "score", "threshold", "drifted",
    ]  # fmt: skip
    assert len(results) == 3
    stored_nan = con.execute("SELECT count(*) FROM drift_results WHERE score IS NULL").fetchone()
    assert stored_nan == (1,)  # NaN is stored as NULL
    quality = quality_results(con, info, "1d", day, day + DAY)
    assert quality["feature"].tolist() == ["region", "x"]
    assert quality.set_index("feature").loc["x", "out_of_range"] == 3
    # Saving the same key again replaces the summary and every row.
    save(
        writer,
        info,
        ALL_VERSIONS,
        day,
        summary={"rows": 20, "multivariate_auc": np.nan, "multivariate_top": None},
        drift=drift_rows().iloc[:1],
        quality=quality_rows(missing=9).iloc[:1],
    )
    windows = drift_windows(con, info, "1d", day, day + DAY)
    assert windows["rows"].tolist() == [20]
    assert windows["multivariate_auc"].isna().all() and windows["multivariate_top"].isna().all()
    assert drift_results(con, info, "1d", day, day + DAY)["feature"].tolist() == ["x"]
    assert quality_results(con, info, "1d", day, day + DAY)["missing"].tolist() == [9]


def test_series_readers_filter_by_range_version_and_role(
    writer: Writer, store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, _ = model
    con, day = store.cursor(), datetime(2026, 11, 19, tzinfo=UTC)
    for i in range(4):
        save(writer, info, ALL_VERSIONS, day + i * DAY, summary={"rows": i})
        save(writer, info, "1", day + i * DAY, summary={"rows": 100 + i})
    # A range starting mid-window includes that window; its end is exclusive.
    windows = drift_windows(con, info, "1d", day + DAY + timedelta(hours=6), day + 3 * DAY)
    assert windows["rows"].tolist() == [1, 2]
    assert drift_windows(con, info, "1d", day, day + 9 * DAY, "1")["rows"].tolist() == [
        100, 101, 102, 103,
    ]  # fmt: skip
    assert drift_windows(con, info, "1h", day, day + 9 * DAY).empty
    results = drift_results(con, info, "1d", day, day + DAY, "1", role="prediction")
    assert results["feature"].tolist() == ["prediction"] and results["role"].tolist() == [
        "prediction"
    ]
    assert len(drift_results(con, info, "1d", day, day + 2 * DAY, role="feature")) == 4
    assert len(quality_results(con, info, "1d", day + 2 * DAY, day + 9 * DAY, "1")) == 4
    stored = stored_windows(con, info, "1d", day + 2 * DAY)
    assert stored == {
        (version, pd.Timestamp(day + i * DAY)): (7, rows + i, 4)
        for i in (2, 3)
        for version, rows in ((ALL_VERSIONS, 0), ("1", 100))
    }


def test_stored_window_keys_match_window_counts(
    writer: Writer, store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, _ = model
    con = store.cursor()
    counts = window_counts(con, info, "1d", T0, END)
    for row in counts.itertuples():
        save(writer, info, row.version, row.window_start, summary={"rows": row.rows})
    stored = stored_windows(con, info, "1d", T0)
    assert {(r.version, r.window_start): r.rows for r in counts.itertuples()} == {
        key: rows for key, (_, rows, _) in stored.items()
    }


def test_latest_window_and_its_quality(
    writer: Writer, store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, _ = model
    con, day = store.cursor(), datetime(2026, 11, 19, tzinfo=UTC)
    assert latest_window(con, info, "1d", ALL_VERSIONS, day) is None
    empty = latest_quality(con, info, "1d", ALL_VERSIONS, day)
    assert empty.empty and "out_of_range" in empty.columns
    save(writer, info, ALL_VERSIONS, day, summary={"rows": 1}, quality=quality_rows(1))
    save(writer, info, ALL_VERSIONS, day + DAY, summary={"rows": 2}, quality=quality_rows(5))
    save(writer, info, "1", day + 2 * DAY, summary={"rows": 3})
    latest = latest_window(con, info, "1d", ALL_VERSIONS, day)
    assert latest is not None and latest["rows"] == 2
    assert latest["window_start"] == day + DAY and latest["window_start"].tzinfo is not None
    assert latest["dataset_drift"] is True and latest["version"] == ALL_VERSIONS
    assert latest_window(con, info, "1d", ALL_VERSIONS, day + 2 * DAY) is None
    quality = latest_quality(con, info, "1d", ALL_VERSIONS, day)
    assert quality.set_index("feature").loc["x", "missing"] == 5
    assert latest_quality(con, info, "1d", "1", day)["window_start"].nunique() == 1


def test_record_rejections_adds_up(writer: Writer, store: Store) -> None:
    con, hour = store.cursor(), datetime(2026, 11, 19, 10, tzinfo=UTC)
    writer.run(lambda c: record_rejections(c, "m", hour + timedelta(minutes=5), {"invalid": 3}))
    writer.run(lambda c: record_rejections(c, "m", hour, {"invalid": 2, "unknown_model": 1}))
    writer.run(lambda c: record_rejections(c, "m", hour + timedelta(hours=2), {"invalid": 4}))
    writer.run(lambda c: record_rejections(c, "other", hour, {"invalid": 10, "zero": 0}))
    got = rejections(con, "m", hour + timedelta(minutes=30), hour + timedelta(hours=2))
    assert list(got.columns) == ["hour", "reason", "count"]
    assert [(r.hour, r.reason, r.count) for r in got.itertuples()] == [
        (pd.Timestamp(hour), "invalid", 5),
        (pd.Timestamp(hour), "unknown_model", 1),
    ]
    assert rejections(con, "m", hour, hour + timedelta(hours=3))["count"].sum() == 10
    assert rejections(con, "other", hour, hour + timedelta(hours=1))["reason"].tolist() == [
        "invalid"
    ]


def test_save_window_refuses_bad_rows(
    writer: Writer, store: Store, model: tuple[ModelInfo, pd.DataFrame]
) -> None:
    info, _ = model
    day = datetime(2026, 11, 19, tzinfo=UTC)
    with pytest.raises(ValueError, match="drift_results rows lack column"):
        save(writer, info, ALL_VERSIONS, day, drift=drift_rows().drop(columns="method"))
    partial = {k: v for k, v in summary().items() if k != "n_tested"}
    with pytest.raises(ValueError, match=re.escape("window summary lacks n_tested")):
        writer.run(
            lambda con: save_window(
                con, info, "*", "1d", day, day + DAY, 1, partial, drift_rows(), quality_rows()
            )
        )
    with pytest.raises(ValueError, match="unknown window '5m'"):
        writer.run(
            lambda con: save_window(
                con, info, "*", "5m", day, day + DAY, 1, summary(), drift_rows(), quality_rows()
            )
        )
    # Nothing half-written: the failed transaction rolled back.
    assert drift_windows(store.cursor(), info, "1d", day, day + DAY).empty
