"""Per-window aggregates of storage.performance against pandas/numpy on the same rows.

Rows go in through the real IngestService into a DuckDB file; the expected numbers are
computed independently from the generated records with pandas.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store
from storage.performance import (
    dimension_sql,
    labelled_rows,
    range_summary,
    window_summary,
)
from storage.segments import segment_counts, segment_dimensions, segment_values
from storage.time_windows import window_width

T0 = datetime(2026, 11, 18, 7, tzinfo=UTC)  # a Wednesday, not on a window boundary
DAYS = 9
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
CLASSES = {"binary": ["0", "1"], "multiclass": ["bird", "cat", "dog"]}
FEATURES = {"x": "numeric", "region": "categorical"}


def make_rows(
    task: str,
    n: int = 3000,
    seed: int = 0,
    label_share: Any = 0.7,
    days: float = DAYS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pd.DataFrame]:
    """Prediction records, label records and the same rows as a frame (label NaN if none).

    label_share may be a function of the day index, to make coverage differ by day.
    """
    rng = np.random.default_rng(seed)
    seconds = np.round(np.sort(rng.uniform(0, days * 86400, n)), 3)
    ts = [T0 + timedelta(seconds=float(s)) for s in seconds]
    region = rng.choice(["north", "south", "east"], n)
    score = rng.random(n)
    if task == "regression":
        prediction: list[Any] = np.round(rng.normal(50, 10, n), 3).tolist()
        label: list[Any] = (np.array(prediction) + np.round(rng.normal(0, 5, n), 3)).tolist()
    elif task == "binary":
        prediction = (score > 0.5).astype(int).tolist()
        label = (rng.random(n) < score).astype(int).tolist()
    else:
        classes = np.array(CLASSES["multiclass"])
        prediction = rng.choice(classes, n).tolist()
        label = np.where(rng.random(n) < 0.6, prediction, rng.choice(classes, n)).tolist()
    latency = np.round(rng.lognormal(3, 0.6, n), 3)
    delay_h = np.round(rng.uniform(0, 48, n), 3)
    share = label_share if callable(label_share) else (lambda day: label_share)
    labelled = rng.random(n) < np.array([share(int(s // 86400)) for s in seconds])
    records, labels = [], []
    for i in range(n):
        rec: dict[str, Any] = {
            "event_id": f"e{i}",
            "timestamp": ts[i].isoformat(),
            "version": "2" if i % 3 == 0 else "1",
            "features": {"x": float(rng.random()), "region": str(region[i])},
            "prediction": prediction[i],
            "latency_ms": None if i % 20 == 7 else float(latency[i]),
            "tags": {"channel": "web" if i % 2 else "app"},
        }
        if task == "binary" and i % 10 != 3:
            rec["score"] = float(score[i])
        records.append(rec)
        if labelled[i]:
            label_ts = ts[i] + timedelta(hours=float(delay_h[i]))
            labels.append(
                {"event_id": f"e{i}", "label": label[i], "timestamp": label_ts.isoformat()}
            )
    return records, labels, _frame(task, records, labels)


def _frame(task: str, records: list[dict[str, Any]], labels: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [r["event_id"] for r in records],
            "ts": pd.to_datetime([r["timestamp"] for r in records], utc=True, format="ISO8601"),
            "version": [r["version"] for r in records],
            "region": [r["features"]["region"] for r in records],
            "channel": [r["tags"]["channel"] for r in records],
            "prediction": [_text(task, r["prediction"]) for r in records],
            "score": [r.get("score", np.nan) for r in records],
            "latency_ms": [np.nan if r["latency_ms"] is None else r["latency_ms"] for r in records],
        }
    )
    truth = pd.DataFrame(
        {
            "event_id": [r["event_id"] for r in labels],
            "label": [_text(task, r["label"]) for r in labels],
            "label_ts": pd.to_datetime(
                [r["timestamp"] for r in labels], utc=True, format="ISO8601"
            ),
        }
    )
    return frame.merge(truth, on="event_id", how="left")


def _text(task: str, value: Any) -> Any:
    return float(value) if task == "regression" else str(value)


def load(
    ingest: IngestService, task: str, name: str | None = None, **kwargs: Any
) -> tuple[ModelInfo, pd.DataFrame]:
    """Register a model, ingest generated rows through the real service; model and frame."""
    name = name or task
    records, labels, frame = make_rows(task, **kwargs)
    body: dict[str, Any] = {"task": task, "features": FEATURES}
    if task == "binary":
        body["positive_class"] = 1
    ingest.register(name, body)
    ingest.predictions(name, records)
    ingest.labels(name, labels)
    return ingest.model(name), frame


def window_of(ts: pd.Series, window: str) -> pd.Series:
    """Window starts computed with pandas: weeks start on Monday 00:00 UTC."""
    if window == "1w":
        day = ts.dt.floor("1D")
        return day - pd.to_timedelta(day.dt.weekday, unit="D")
    return ts.dt.floor({"1h": "1h", "1d": "1D"}[window])


def quantiles(values: pd.Series, qs: list[float]) -> list[float]:
    clean = values.dropna().to_numpy(dtype=float)
    if len(clean) == 0:
        return [np.nan] * len(qs)
    return [float(v) for v in np.quantile(clean, qs, method="linear")]


@pytest.fixture
def binary(ingest: IngestService) -> tuple[ModelInfo, pd.DataFrame]:
    return load(ingest, "binary")


@pytest.mark.parametrize("window", ["1h", "1d", "1w"])
def test_window_summary_matches_pandas(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame], window: str
) -> None:
    model, frame = binary
    start, end = T0, T0 + timedelta(days=DAYS)
    got = window_summary(store.cursor(), model, start, end, window, now=FAR_FUTURE)
    frame["window"] = window_of(frame["ts"], window)
    groups = dict(list(frame.groupby("window")))
    assert got["window_start"].tolist() == sorted(groups)
    assert len(got) == {"1h": DAYS * 24, "1d": DAYS + 1, "1w": 2}[window]
    for row in got.to_dict("records"):
        part = groups[row["window_start"]]
        labelled = part.dropna(subset=["label"])
        assert row["count"] == len(part)
        assert row["labeled"] == len(labelled)
        delay = (labelled["label_ts"] - labelled["ts"]).dt.total_seconds() / 3600
        expected = quantiles(delay, [0.5, 0.9])
        got_delay = [row["label_delay_p50_h"], row["label_delay_p90_h"]]
        assert got_delay == pytest.approx(expected, rel=1e-9, nan_ok=True)
        lat = quantiles(part["latency_ms"], [0.5, 0.9, 0.95, 0.99])
        got_lat = [row[f"latency_{q}_ms"] for q in ("p50", "p90", "p95", "p99")]
        assert got_lat == pytest.approx(lat, rel=1e-9)
        assert row["latency_max_ms"] == pytest.approx(part["latency_ms"].max(), rel=1e-12)
        lo = max(row["window_start"], pd.Timestamp(start))
        hi = min(row["window_start"] + window_width(window), pd.Timestamp(end))
        minutes = (hi - lo).total_seconds() / 60
        assert row["throughput_per_min"] == pytest.approx(len(part) / minutes, rel=1e-12)


def test_first_window_is_partial_and_the_current_one_counts_up_to_now(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    start = T0 + timedelta(hours=5)  # 12:00, half a day into the first window
    now = datetime(2026, 11, 22, 18, tzinfo=UTC)
    got = window_summary(store.cursor(), model, start, FAR_FUTURE, "1d", now=now)
    frame = frame[frame.ts >= start]
    first, current = got.iloc[0], got[got.window_start == pd.Timestamp("2026-11-22", tz=UTC)]
    assert first["window_start"] == pd.Timestamp("2026-11-18", tz=UTC)
    in_first = int((frame.ts < pd.Timestamp("2026-11-19", tz=UTC)).sum())
    assert first["throughput_per_min"] == pytest.approx(in_first / (12 * 60), rel=1e-12)
    in_current = int((window_of(frame["ts"], "1d") == pd.Timestamp("2026-11-22", tz=UTC)).sum())
    assert current["throughput_per_min"].item() == pytest.approx(in_current / (18 * 60))
    # Windows after `now` appear only because they hold (future-stamped) predictions.
    assert got["window_start"].max() == window_of(frame["ts"], "1d").max()


def test_windows_without_predictions_are_rows_of_zero(ingest: IngestService, store: Store) -> None:
    records, _, _ = make_rows("binary", n=200, days=1)
    late, _, _ = make_rows("binary", n=100, days=1, seed=5)
    for rec in late:
        rec["event_id"] = "late-" + rec["event_id"]
        rec["timestamp"] = (
            datetime.fromisoformat(rec["timestamp"]) + timedelta(days=3)
        ).isoformat()
    ingest.register("gappy", {"task": "binary"})
    ingest.predictions("gappy", records + late)
    model = ingest.model("gappy")
    start = datetime(2026, 11, 18, tzinfo=UTC)
    got = window_summary(
        store.cursor(), model, start, start + timedelta(days=5), "1d", now=FAR_FUTURE
    )
    assert got["count"].tolist() == [
        sum(r["timestamp"] < "2026-11-19" for r in records),
        sum(r["timestamp"] >= "2026-11-19" for r in records),
        0,
        sum(r["timestamp"] < "2026-11-22" for r in late),
        sum(r["timestamp"] >= "2026-11-22" for r in late),
    ]
    empty = got.iloc[2]
    assert empty["labeled"] == 0 and empty["throughput_per_min"] == 0
    assert np.isnan(empty["latency_p95_ms"]) and np.isnan(empty["label_delay_p50_h"])


def test_window_summary_filters_version_and_segments(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    con, end = store.cursor(), T0 + timedelta(days=DAYS)
    cases = [
        ({"version": "2"}, frame.version == "2"),
        ({"segment": ("tag:channel", "web")}, frame.channel == "web"),
        ({"segment": ("region", "north")}, frame.region == "north"),
        (
            {"version": "1", "segment": ("region", "east")},
            (frame.version == "1") & (frame.region == "east"),
        ),
    ]
    for kwargs, mask in cases:
        got = window_summary(con, model, T0, end, "1d", now=FAR_FUTURE, **kwargs)
        part = frame[mask]
        expected = part.groupby(window_of(part["ts"], "1d")).size()
        assert got.set_index("window_start")["count"].to_dict() == expected.to_dict(), kwargs
        assert got["labeled"].sum() == part["label"].notna().sum(), kwargs


def test_window_summary_counts_the_confusion(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    got = window_summary(store.cursor(), model, T0, T0 + timedelta(days=DAYS), "1w", confusion=True)
    frame = frame.dropna(subset=["label"])
    for start, confusion in zip(got["window_start"], got["confusion"], strict=True):
        part = frame[window_of(frame["ts"], "1w") == start]
        expected = part.groupby(["label", "prediction"]).size().to_dict()
        assert confusion == expected and sum(confusion.values()) > 0


def test_range_summary_covers_the_whole_range(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    end = T0 + timedelta(days=DAYS)
    got = range_summary(store.cursor(), model, T0, end, version="1", confusion=True)
    part = frame[frame.version == "1"]
    assert got["count"] == len(part) and got["labeled"] == part["label"].notna().sum()
    p95 = quantiles(part["latency_ms"], [0.95])[0]
    assert got["latency_p95_ms"] == pytest.approx(p95, rel=1e-9)
    assert sum(got["confusion"].values()) == got["labeled"]
    empty = range_summary(store.cursor(), model, FAR_FUTURE, FAR_FUTURE + timedelta(days=1))
    assert empty["count"] == 0 and empty["latency_p95_ms"] is None and empty["confusion"] == {}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_labelled_rows_fetch_only_the_labelled_rows_and_columns(
    ingest: IngestService, store: Store, task: str
) -> None:
    model, frame = load(ingest, task)
    got = labelled_rows(
        store.cursor(), model, T0, T0 + timedelta(days=DAYS), "1d", columns=("prediction", "label")
    )
    assert list(got.columns) == ["window_start", "prediction", "label"]
    expected = frame.dropna(subset=["label"])
    assert len(got) == len(expected)
    assert got["window_start"].is_monotonic_increasing
    pairs = sorted(zip(got["prediction"], got["label"], strict=True))
    assert pairs == sorted(zip(expected["prediction"], expected["label"], strict=True))


def test_labelled_rows_refuse_unknown_columns(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, _ = binary
    with pytest.raises(ValueError, match="unknown row column 'event_id': use prediction, label"):
        labelled_rows(store.cursor(), model, T0, FAR_FUTURE, "1d", columns=("event_id",))


@pytest.mark.parametrize(
    ("dimension", "message"),
    [
        ("colour", "unknown segment dimension 'colour' for model 'binary': use tag:<key> or"),
        ("x", "feature 'x' of model 'binary' is numeric: segments need tag:<key> or a categ"),
        ("region' OR '1'='1", "unknown segment dimension \"region' OR '1'='1\""),
        ('region" = "region', "unknown segment dimension 'region\" = \"region'"),
        ("tag:", "segment 'tag:' names no tag key: use tag:<key>"),
    ],
)
def test_bad_segments_are_refused_with_a_clear_message(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame], dimension: str, message: str
) -> None:
    model, _ = binary
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        window_summary(store.cursor(), model, T0, FAR_FUTURE, "1d", segment=(dimension, "north"))
    if dimension != "tag:":
        assert "(region)" in str(info.value)  # names the categorical features one may use


def test_injection_in_a_tag_key_or_value_is_only_data(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    con = store.cursor()
    evil = "web' OR '1'='1"
    for segment in [("tag:channel' OR '1'='1", "web"), ("tag:channel", evil), ("region", evil)]:
        got = window_summary(con, model, T0, T0 + timedelta(days=DAYS), "1d", segment=segment)
        assert got["count"].sum() == 0, segment
    assert con.execute(f"SELECT count(*) FROM {model.table}").fetchone() == (len(frame),)


def test_dimension_sql_quotes_the_feature_column(binary: tuple[ModelInfo, pd.DataFrame]) -> None:
    model, _ = binary
    assert dimension_sql(model, "region") == ('p."f_region"', [])
    assert dimension_sql(model, "tag:team") == ("p.tags[?]", ["team"])


def test_segment_values_dimensions_and_summary(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    con, end = store.cursor(), T0 + timedelta(days=DAYS)
    counts = frame["region"].value_counts()
    assert segment_values(con, model, T0, end, "region") == counts.index.tolist()
    assert segment_values(con, model, T0, end, "tag:channel", limit=1) == [
        frame["channel"].value_counts().index[0]
    ]
    assert segment_dimensions(con, model) == ["tag:channel", "region"]
    counts = segment_counts(con, model, T0, end, None, ["tag:channel", "region"], version="2")
    part = frame[frame.version == "2"]
    got = {key: (count, labeled) for key, (count, labeled, _) in counts[0].items()}
    expected = {
        (dim, value): (len(g), int(g["label"].notna().sum()))
        for dim, column in (("tag:channel", "channel"), ("region", "region"))
        for value, g in part.groupby(column)
    }
    assert got == expected
    labelled_north = part[(part["region"] == "north")]["label"].notna().sum()
    assert sum(counts[0][("region", "north")][2].values()) == labelled_north
    assert segment_counts(con, model, T0, end, "1d", []) == {}


@pytest.mark.parametrize("window", ["2h", "", None])
def test_unknown_windows_are_refused(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame], window: Any
) -> None:
    model, _ = binary
    with pytest.raises(ValueError, match=r"unknown window .*: use 1h, 1d or 1w"):
        window_summary(store.cursor(), model, T0, FAR_FUTURE, window)


def test_bad_ranges_are_refused(store: Store, binary: tuple[ModelInfo, pd.DataFrame]) -> None:
    model, _ = binary
    con = store.cursor()
    with pytest.raises(ValueError, match="must be after start"):
        window_summary(con, model, T0, T0, "1d")
    with pytest.raises(ValueError, match="spans 12,000 windows of 1h: use a larger window"):
        window_summary(con, model, T0, T0 + timedelta(days=500), "1h", now=FAR_FUTURE)


def test_naive_times_are_utc(store: Store, binary: tuple[ModelInfo, pd.DataFrame]) -> None:
    model, _ = binary
    naive = T0.replace(tzinfo=None)
    a = window_summary(store.cursor(), model, naive, naive + timedelta(days=2), "1d")
    b = window_summary(store.cursor(), model, T0, T0 + timedelta(days=2), "1d")
    pd.testing.assert_frame_equal(a, b)
