"""Read queries checked against numpy, pandas and scikit-learn on the same rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error

from collectors.ingest import IngestService
from storage import ModelInfo, Store
from storage.queries import (
    BUCKETS,
    accuracy_series,
    bucket_interval,
    latest_system_sample,
    model_kpis,
    model_summaries,
    system_series,
    traffic_series,
)
from storage.system import write_samples

T0 = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = 3


def _records(seed: int, n: int, regression: bool = False) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = T0 + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        pred: Any = rng.uniform(0, 10) if regression else rng.choice(["a", "b", "c"])
        out.append(
            {
                "event_id": f"e{i}",
                "timestamp": ts.isoformat(),
                "version": rng.choice(["1", "2"]),
                "prediction": pred,
                "latency_ms": rng.lognormvariate(3, 0.5) if rng.random() > 0.05 else None,
                "features": {"x": rng.random()},
            }
        )
    return out


def _labels(seed: int, records: list[dict[str, Any]], regression: bool) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    labelled = [r for r in records if rng.random() < 0.6]
    if regression:
        return [{"event_id": r["event_id"], "label": rng.uniform(0, 10)} for r in labelled]
    return [
        {"event_id": r["event_id"], "label": r["prediction"] if rng.random() < 0.7 else "z"}
        for r in labelled
    ]


def _frame(records: list[dict[str, Any]], labels: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame["ts"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.merge(pd.DataFrame(labels), on="event_id", how="left")


@pytest.fixture
def classifier(ingest: IngestService) -> tuple[ModelInfo, pd.DataFrame]:
    records = _records(1, 3000)
    labels = _labels(2, records, regression=False)
    ingest.register("clf", {"task": "multiclass"})
    ingest.predictions("clf", records)
    ingest.labels("clf", labels)
    return ingest.model("clf"), _frame(records, labels)


@pytest.fixture
def regressor(ingest: IngestService) -> tuple[ModelInfo, pd.DataFrame]:
    records = _records(3, 1500, regression=True)
    labels = _labels(4, records, regression=True)
    ingest.register("reg", {"task": "regression"})
    ingest.predictions("reg", records)
    ingest.labels("reg", labels)
    return ingest.model("reg"), _frame(records, labels)


def test_traffic_series_matches_numpy(
    store: Store, classifier: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = classifier
    got = traffic_series(store.cursor(), model, None, None, bucket="6h")
    frame["bucket"] = frame["ts"].dt.floor("6h")
    groups = frame.groupby(["bucket", "version"])
    assert len(got) == groups.ngroups == DAYS * 4 * 2
    for row in got.itertuples():
        part = groups.get_group((row.bucket, row.version))
        lat = part["latency_ms"].dropna().to_numpy()
        assert row.predictions == len(part)
        expected = np.percentile(lat, [50, 95, 99], method="linear")
        got_q = [row.latency_p50_ms, row.latency_p95_ms, row.latency_p99_ms]
        assert got_q == pytest.approx(expected.tolist(), rel=1e-9)


def test_traffic_series_filters_range_and_version(
    store: Store, classifier: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = classifier
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=2)
    got = traffic_series(store.cursor(), model, start, end, bucket="1d", version="2")
    expected = frame[(frame.ts >= start) & (frame.ts < end) & (frame.version == "2")]
    assert got["predictions"].tolist() == [len(expected)]
    assert got["version"].tolist() == ["2"]
    assert got["bucket"].tolist() == [pd.Timestamp(start)]


def test_accuracy_series_equals_sklearn_on_labelled_rows(
    store: Store, classifier: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = classifier
    got = accuracy_series(store.cursor(), model, None, None, bucket="1d")
    frame["bucket"] = frame["ts"].dt.floor("1D")
    assert len(got) == DAYS
    for row in got.itertuples():
        part = frame[frame.bucket == row.bucket]
        labelled = part.dropna(subset=["label"])
        assert row.predictions == len(part)
        assert row.labeled == len(labelled) < len(part)
        expected = accuracy_score(labelled["label"], labelled["prediction"])
        assert row.accuracy == pytest.approx(expected, rel=1e-12)


def test_mae_series_equals_sklearn(store: Store, regressor: tuple[ModelInfo, pd.DataFrame]) -> None:
    model, frame = regressor
    got = accuracy_series(store.cursor(), model, None, None, bucket="1d")
    frame["bucket"] = frame["ts"].dt.floor("1D")
    for row in got.itertuples():
        labelled = frame[(frame.bucket == row.bucket)].dropna(subset=["label"])
        expected = mean_absolute_error(labelled["label"], labelled["prediction"])
        assert row.mae == pytest.approx(expected, rel=1e-9)


def test_model_kpis(store: Store, classifier: tuple[ModelInfo, pd.DataFrame]) -> None:
    model, frame = classifier
    kpis = model_kpis(store.cursor(), model, None, None)
    labelled = frame.dropna(subset=["label"])
    assert kpis["predictions"] == len(frame)
    assert kpis["labeled"] == len(labelled)
    assert kpis["accuracy"] == pytest.approx(
        accuracy_score(labelled["label"], labelled["prediction"])
    )
    p95 = np.percentile(frame["latency_ms"].dropna(), 95)
    assert kpis["latency_p95_ms"] == pytest.approx(p95, rel=1e-9)
    v1 = model_kpis(store.cursor(), model, None, None, version="1")
    assert v1["predictions"] == int((frame.version == "1").sum())


def test_model_kpis_of_an_empty_range(
    store: Store, classifier: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, _ = classifier
    start = T0 + timedelta(days=100)
    kpis = model_kpis(store.cursor(), model, start, None)
    assert kpis == {"predictions": 0, "labeled": 0, "accuracy": None, "latency_p95_ms": None}


def test_model_summaries(
    store: Store,
    classifier: tuple[ModelInfo, pd.DataFrame],
    regressor: tuple[ModelInfo, pd.DataFrame],
) -> None:
    summaries = {s["name"]: s for s in model_summaries(store.cursor())}
    assert set(summaries) == {"clf", "reg"}
    clf, frame = classifier[0], classifier[1]
    got = summaries["clf"]
    assert got["task"] == "multiclass"
    assert got["versions"] == ["1", "2"]
    assert got["features"] == {"x": "numeric"} == clf.features
    assert got["predictions"] == len(frame)
    assert got["labels"] == int(frame["label"].notna().sum())
    assert got["first_seen"] == frame["ts"].min().to_pydatetime()
    assert got["last_seen"] == frame["ts"].max().to_pydatetime()
    assert summaries["reg"]["task"] == "regression"


def test_summary_of_a_model_without_predictions(ingest: IngestService, store: Store) -> None:
    ingest.register("new", {"task": "binary", "positive_class": "yes"})
    (summary,) = model_summaries(store.cursor())
    assert summary["predictions"] == 0 and summary["labels"] == 0
    assert summary["versions"] == []
    assert summary["first_seen"] is None and summary["last_seen"] is None
    assert summary["positive_class"] == "yes"


def test_bucket_interval() -> None:
    assert bucket_interval("1h") == "1 hour"
    assert set(BUCKETS) == {"1m", "5m", "15m", "1h", "6h", "1d"}
    with pytest.raises(ValueError, match=r"unknown time bucket '2h': use one of 1m, 5m"):
        bucket_interval("2h")
    with pytest.raises(ValueError, match="unknown time bucket"):
        bucket_interval("1 hour'; DROP TABLE models; --")


def test_system_series_and_latest_sample(store: Store) -> None:
    rows = [
        {"ts": T0 + timedelta(seconds=10 * i), "host": "h1", "cpu_percent": float(i)}
        for i in range(12)
    ]
    write_samples(store.cursor(), rows)
    got = system_series(store.cursor(), None, None, bucket="1m")
    assert got["cpu_percent"].tolist() == [2.5, 8.5]
    latest = latest_system_sample(store.cursor())
    assert latest is not None and latest["cpu_percent"] == 11.0


def test_system_series_reads_rollups_before_raw_samples_and_raw_after(store: Store) -> None:
    from storage.system import apply_retention, rollup

    old = [
        {"ts": T0 + timedelta(minutes=m, seconds=s), "host": "h1", "cpu_percent": float(m)}
        for m in range(3)
        for s in (0, 30)
    ]
    new = [
        {"ts": T0 + timedelta(minutes=10, seconds=s), "host": "h1", "cpu_percent": 50.0}
        for s in (0, 20, 40)
    ]
    con = store.cursor()
    write_samples(con, old + new)
    rollup(con, T0 + timedelta(minutes=5))
    # Raw samples of the first minutes age out; their rollups stay.
    apply_retention(con, T0 + timedelta(minutes=5, days=1), raw_days=1, rollup_days=90)
    assert con.execute("SELECT count(*) FROM system_samples").fetchall()[0][0] == 3
    got = system_series(con, T0, T0 + timedelta(minutes=20), bucket="1m")
    assert got["cpu_percent"].tolist() == [0.0, 1.0, 2.0, 50.0]
    # Without any rollup the newest raw samples still show (a young server).
    assert system_series(con, T0 + timedelta(minutes=9), None, bucket="1m")[
        "cpu_percent"
    ].tolist() == [50.0]
