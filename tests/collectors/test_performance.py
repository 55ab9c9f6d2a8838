"""The performance service: every metric per window against scikit-learn on the same rows.

Rows go in through the real IngestService into a DuckDB file; scikit-learn computes the
expected values from the generated records (labelled rows only; scored rows for ROC AUC,
PR AUC, log loss and Brier).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from collectors import window_parts
from collectors.ingest import IngestService
from collectors.metrics_query import parse_metrics_query
from collectors.performance import metric_rows, overall_metrics, worst_segments
from monitoring.metrics import METRICS_BY_TASK
from storage import ModelInfo, Store
from tests.storage.test_performance import DAYS, FAR_FUTURE, T0, load, make_rows, window_of

END = T0 + timedelta(days=DAYS)
TAIL = [
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "throughput_per_min",
    "label_delay_p50_h",
    "label_delay_p90_h",
]


@pytest.fixture(autouse=True)
def quiet_sklearn() -> Iterator[None]:
    """scikit-learn warns on undefined metrics; the tests check our None instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def close(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def expected_metrics(task: str, rows: pd.DataFrame) -> dict[str, float]:
    """scikit-learn's value of every metric on the labelled rows given."""
    y, p = rows["label"].to_numpy(), rows["prediction"].to_numpy()
    if task == "regression":
        return {
            "mae": sk.mean_absolute_error(y, p),
            "rmse": sk.root_mean_squared_error(y, p),
            "mape": sk.mean_absolute_percentage_error(y, p),
            "r2": sk.r2_score(y, p),
        }
    if task == "multiclass":
        out = {"accuracy": sk.accuracy_score(y, p)}
        for name, fn in [
            ("precision", sk.precision_score),
            ("recall", sk.recall_score),
            ("f1", sk.f1_score),
        ]:
            for avg in ("macro", "weighted"):
                out[f"{name}_{avg}"] = fn(y, p, average=avg, zero_division=0)
        return out
    scored = rows.dropna(subset=["score"])
    ys, s = scored["label"].to_numpy() == "1", scored["score"].to_numpy()
    return {
        "accuracy": sk.accuracy_score(y, p),
        "precision": sk.precision_score(y, p, pos_label="1"),
        "recall": sk.recall_score(y, p, pos_label="1"),
        "f1": sk.f1_score(y, p, pos_label="1"),
        "roc_auc": sk.roc_auc_score(ys, s),
        "pr_auc": sk.average_precision_score(ys, s),
        "log_loss": sk.log_loss(ys, s, labels=[False, True]),
        "brier": sk.brier_score_loss(ys, s),
        "positive_rate_predicted": float(np.mean(p == "1")),
        "positive_rate_actual": float(np.mean(y == "1")),
    }


@pytest.mark.parametrize("label_share", [0.7, 1.0])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_metric_per_window_equals_sklearn(
    ingest: IngestService, store: Store, task: str, label_share: float
) -> None:
    model, frame = load(ingest, task, label_share=label_share)
    payload = metric_rows(store.cursor(), model, T0, END, "1d", now=FAR_FUTURE)
    assert {k: payload[k] for k in ("model", "task", "window")} == {
        "model": task,
        "task": task,
        "window": "1d",
    }
    frame["window"] = window_of(frame["ts"], "1d")
    rows = payload["rows"]
    assert len(rows) == DAYS + 1
    for row in rows:
        part = frame[frame.window == pd.Timestamp(row["window_start"])]
        labelled = part.dropna(subset=["label"])
        assert list(row) == [
            "window_start",
            "count",
            "labeled",
            "label_coverage",
            "provisional",
            *METRICS_BY_TASK[task],
            *TAIL,
            *(["recall_by_class"] if task == "multiclass" else []),
        ]
        assert row["count"] == len(part) and row["labeled"] == len(labelled)
        if task == "multiclass":
            classes = sorted(set(labelled["label"]) | set(labelled["prediction"]))
            recall = sk.recall_score(
                labelled["label"], labelled["prediction"], labels=classes, average=None
            )
            present = set(labelled["label"])
            want = {
                c: (close(r) if c in present else None)
                for c, r in zip(classes, recall, strict=True)
            }
            assert row["recall_by_class"] == want
        assert row["label_coverage"] == close(len(labelled) / len(part))
        for name, value in expected_metrics(task, labelled).items():
            assert row[name] == close(value), (row["window_start"], name)
        delay = (labelled["label_ts"] - labelled["ts"]).dt.total_seconds() / 3600
        expected_delay = np.quantile(delay, [0.5, 0.9]).tolist()
        assert [row["label_delay_p50_h"], row["label_delay_p90_h"]] == close(expected_delay)
        latency = np.quantile(part["latency_ms"].dropna(), [0.5, 0.99]).tolist()
        assert [row["latency_p50_ms"], row["latency_p99_ms"]] == close(latency)
    json.dumps(payload, allow_nan=False)  # plain JSON: ISO strings, no NaN


def test_overall_metrics_equal_sklearn_on_the_whole_range(
    ingest: IngestService, store: Store
) -> None:
    model, frame = load(ingest, "binary")
    got = overall_metrics(store.cursor(), model, T0, END, version="2")
    part = frame[frame.version == "2"]
    labelled = part.dropna(subset=["label"])
    assert got["count"] == len(part) and got["labeled"] == len(labelled)
    for name, value in expected_metrics("binary", labelled).items():
        assert got[name] == close(value), name
    p99 = np.quantile(part["latency_ms"].dropna(), 0.99)
    assert got["latency_p99_ms"] == close(p99)


def test_metrics_that_cannot_be_computed_are_null(ingest: IngestService, store: Store) -> None:
    records, _, _ = make_rows("binary", n=300, days=2)
    first_day = [r for r in records if r["timestamp"] < "2026-11-19"]
    for rec in records:
        rec["score"] = 0.9
    ingest.register("edge", {"task": "binary", "positive_class": 1})
    ingest.predictions("edge", records)
    # Every label of the first window is the positive class; the second has none.
    ingest.labels("edge", [{"event_id": r["event_id"], "label": 1} for r in first_day])
    model = ingest.model("edge")
    first, second = metric_rows(
        store.cursor(), model, T0, T0 + timedelta(days=2), "1d", now=FAR_FUTURE
    )["rows"][:2]
    assert first["labeled"] == len(first_day) > 0 and first["precision"] == 1.0
    assert first["roc_auc"] is None  # one class only
    assert first["pr_auc"] == close(1.0)
    assert first["brier"] == close(0.01)
    assert second["labeled"] == 0 and second["label_coverage"] == 0
    assert all(second[m] is None for m in METRICS_BY_TASK["binary"])
    assert second["latency_p50_ms"] is not None and second["label_delay_p50_h"] is None


def test_windows_below_the_coverage_level_are_provisional(
    ingest: IngestService, store: Store
) -> None:
    shares = [1.0, 0.95, 0.5, 0.3, 0.9, 0.1, 1.0, 0.85, 0.6, 1.0]
    model, _ = load(ingest, "binary", label_share=lambda day: shares[day])
    con = store.cursor()
    for threshold in (0.8, 0.4):
        rows = metric_rows(con, model, T0, END, "1d", provisional_coverage=threshold)["rows"]
        flags = [r["provisional"] for r in rows]
        assert flags == [r["label_coverage"] < threshold for r in rows]
        assert True in flags and False in flags
    strict = metric_rows(con, model, T0, END, "1d")["rows"]
    assert [r["provisional"] for r in strict][:4] == [False, False, True, True]
    with pytest.raises(ValueError, match=r"provisional_coverage must be in \[0, 1\], got 80"):
        metric_rows(con, model, T0, END, "1d", provisional_coverage=80)


@pytest.mark.parametrize(
    ("kwargs", "column", "value"),
    [
        ({"version": "2"}, "version", "2"),
        ({"segment": ("tag:channel", "web")}, "channel", "web"),
        ({"segment": ("region", "north")}, "region", "north"),
    ],
)
def test_version_and_segment_filters(
    ingest: IngestService,
    store: Store,
    kwargs: dict[str, Any],
    column: str,
    value: str,
) -> None:
    model, frame = load(ingest, "multiclass")
    rows = metric_rows(store.cursor(), model, T0, END, "1w", **kwargs)["rows"]
    part = frame[frame[column] == value]
    part = part.assign(window=window_of(part["ts"], "1w"))
    assert [r["count"] for r in rows] == part.groupby("window").size().tolist()
    for row in rows:
        labelled = part[part.window == pd.Timestamp(row["window_start"])].dropna(subset=["label"])
        for name, expected in expected_metrics("multiclass", labelled).items():
            assert row[name] == close(expected), name


def test_the_window_is_chosen_from_the_range(store: Store, ingest: IngestService) -> None:
    model, _ = load(ingest, "regression", n=500)
    con = store.cursor()
    assert metric_rows(con, model, T0, END, None)["window"] == "1d"
    day = metric_rows(con, model, T0, T0 + timedelta(days=1), None, now=FAR_FUTURE)
    assert day["window"] == "1h" and len(day["rows"]) == 24
    assert metric_rows(con, model, T0, T0 + timedelta(days=200), None)["window"] == "1w"
    with pytest.raises(ValueError, match="unknown window '5m': use 1h, 1d or 1w"):
        metric_rows(con, model, T0, END, "5m")


def _bad_east(task: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows where region 'east' is predicted badly."""
    records, labels, _ = make_rows(task, n=3000)
    truth = {r["event_id"]: r["label"] for r in labels}
    for rec in records:
        if rec["features"]["region"] != "east" or rec["event_id"] not in truth:
            continue
        if task == "regression":
            rec["prediction"] = truth[rec["event_id"]] + 25.0
        else:
            rec["prediction"] = 1 - int(truth[rec["event_id"]])
            if "score" in rec:
                rec["score"] = 1 - rec["score"]
    return records, labels


@pytest.mark.parametrize(
    ("task", "metric"), [("binary", "accuracy"), ("binary", "roc_auc"), ("regression", "mae")]
)
def test_worst_segments_rank_the_bad_segment_first(
    ingest: IngestService, store: Store, task: str, metric: str
) -> None:
    records, labels = _bad_east(task)
    ingest.register("m", {"task": task, "positive_class": 1, "features": {"region": "categorical"}})
    ingest.predictions("m", records)
    ingest.labels("m", labels)
    model = ingest.model("m")
    got = worst_segments(store.cursor(), model, T0, END, metric, min_count=10)
    assert list(got.columns) == ["dimension", "value", "count", "labeled", metric, "overall", "gap"]
    worst = got.iloc[0]
    assert (worst["dimension"], worst["value"]) == ("region", "east")
    assert set(got["dimension"]) == {"region", "tag:channel"}
    assert got["gap"].is_monotonic_decreasing and worst["gap"] > 0.1
    overall = overall_metrics(store.cursor(), model, T0, END)[metric]
    assert worst["overall"] == close(overall)
    direction = 1 if metric == "mae" else -1
    assert worst["gap"] == close(direction * (worst[metric] - overall))
    east = [r for r in records if r["features"]["region"] == "east"]
    assert worst["count"] == len(east)


def test_worst_segments_need_a_rankable_metric(ingest: IngestService, store: Store) -> None:
    model, _ = load(ingest, "binary", n=200)
    with pytest.raises(ValueError, match="by 'positive_rate_actual': use one of accuracy, prec"):
        worst_segments(store.cursor(), model, T0, END, "positive_rate_actual")
    with pytest.raises(ValueError, match="by 'mae'"):
        worst_segments(store.cursor(), model, T0, END, "mae")
    none = worst_segments(store.cursor(), model, T0, END, "accuracy", min_count=10_000)
    assert none.empty and "accuracy" in none.columns


def test_parse_metrics_query_reads_every_parameter() -> None:
    query = parse_metrics_query(
        {
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-02 12:00:00 01:00",  # '+01:00' whose '+' a URL turned into ' '
            "window": "1h",
            "version": "2",
            "segment": "tag:channel:web",
        }
    )
    assert query.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert query.end == datetime(2026, 11, 2, 11, tzinfo=UTC)
    assert (query.window, query.version, query.segment) == ("1h", "2", ("tag:channel", "web"))
    naive = parse_metrics_query({"start": "2026-11-01", "end": "2026-11-02"})
    assert naive.start.tzinfo is not None and naive.window is None and naive.segment is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"end": "2026-11-02"}, "start is required"),
        ({"start": "2026-11-02", "end": "yesterday"}, "end='yesterday' is not an ISO-8601 time"),
        ({"start": "2026-11-02", "end": "2026-11-01"}, "must be after start"),
        ({"start": "2026-11-01", "end": "2026-11-02", "window": "1m"}, "unknown window '1m'"),
        ({"start": "2026-11-01", "end": "2026-11-02", "segment": "north"}, "must be NAME:VALUE"),
        ({"start": "2026-11-01", "end": "2026-11-02", "segment": "region:"}, "NAME:VALUE"),
        ({"start": "2026-11-01", "end": "2026-11-02", "bucket": "1h"}, "unknown query parameter"),
    ],
)
def test_parse_metrics_query_refuses_bad_parameters(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_metrics_query(params)


def test_model_info_is_what_the_service_reports(ingest: IngestService, store: Store) -> None:
    model, _ = load(ingest, "binary", name="churn", n=100)
    assert isinstance(model, ModelInfo)
    payload = metric_rows(store.cursor(), model, T0, END, "1w")
    assert payload["model"] == "churn" and payload["task"] == "binary"
    assert sum(r["count"] for r in payload["rows"]) == 100


def test_many_rows_are_computed_in_threads_with_the_same_result(
    ingest: IngestService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = load(ingest, "binary")
    serial = metric_rows(store.cursor(), model, T0, END, "1d", now=FAR_FUTURE)
    monkeypatch.setattr(window_parts, "PARALLEL_ROWS", 0)  # the threshold, not a stand-in
    threaded = metric_rows(store.cursor(), model, T0, END, "1d", now=FAR_FUTURE)
    assert threaded == serial and len(serial["rows"]) > 2


def test_a_range_of_too_many_windows_is_refused() -> None:
    params = {"start": "2020-01-01", "end": "2025-01-01", "window": "1h"}
    with pytest.raises(ValueError, match="more than 10,000 windows of 1h: use a larger window"):
        parse_metrics_query(params)
    assert parse_metrics_query({**params, "window": "1d"}).window == "1d"
