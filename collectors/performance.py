"""Per-window model performance, latency, traffic and label coverage: the API's and the
dashboard's one source.

DuckDB computes volumes, latency quantiles and throughput per window (storage.performance).
Binary and regression metrics need rows: one query fetches only the columns they need for the
labelled predictions (label is positive, prediction is positive, score, label delay; or label,
prediction, label delay), and the labelled count and label delays come from those same rows.
Multiclass metrics need only the confusion counts, which DuckDB sums per window along with
the label counts and delays. Every metric comes from monitoring.metrics, so its definitions
are the ones tested against scikit-learn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from monitoring.metrics import (
    METRICS_BY_TASK,
    binary_count_metrics,
    compute_metrics,
    multiclass_count_metrics,
)
from monitoring.scores import SCORE_METRICS, SortedScores, score_metrics, sorted_scores
from monitoring.windows import check_window, choose_window
from storage import ModelInfo
from storage.performance import (
    Segment,
    labelled_arrays,
    range_summary,
    window_summary,
)
from storage.segments import segment_dimensions, segment_summary

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse", "mape"})
NO_DIRECTION = frozenset({"positive_rate_predicted", "positive_rate_actual"})
LATENCY_KEYS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
)
TAIL_KEYS = (*LATENCY_KEYS, "throughput_per_min", "label_delay_p50_h", "label_delay_p90_h")
PARALLEL_ROWS = 200_000
NO_LABELS = {"labeled": 0, "label_delay_p50_h": None, "label_delay_p90_h": None}
Metrics = dict[str, float | None]
Confusion = dict[tuple[str, str], int]
Scope = tuple[datetime, datetime, str | None, str | None, Segment | None]


def metric_rows(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None = None,
    segment: Segment | None = None,
    provisional_coverage: float = 0.8,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The API payload: {model, task, window, rows} with one row per window (see README)."""
    if not 0 <= provisional_coverage <= 1:
        raise ValueError(f"provisional_coverage must be in [0, 1], got {provisional_coverage!r}")
    window = choose_window(start, end) if window is None else check_window(window)
    classes = model.task != "regression"
    summary = window_summary(
        con,
        model,
        start,
        end,
        window,
        version,
        segment,
        labels=classes,
        confusion=classes,
        now=now,
    )
    keys = _window_keys(summary)
    scope = (start, end, window, version, segment)
    stats = _window_stats(con, model, dict(zip(keys, _confusions(summary), strict=True)), scope)
    rows = []
    for key, record in zip(keys, summary.to_dict("records"), strict=True):
        merged = {**NO_LABELS, **{str(k): v for k, v in record.items()}, **stats.get(key, {})}
        rows.append(_row(model, merged, provisional_coverage))
    return {"model": model.name, "task": model.task, "window": window, "rows": rows}


def overall_metrics(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    segment: Segment | None = None,
) -> Metrics:
    """Every metric of the model's task over the whole range (None where undefined), with
    count, labeled, label_coverage, latency quantiles and label delays."""
    classes = model.task != "regression"
    totals = range_summary(
        con, model, start, end, version, segment, labels=classes, confusion=classes
    )
    scope = (start, end, None, version, segment)
    stats = _window_stats(con, model, {0: totals["confusion"]}, scope).get(0, {})
    merged = {**NO_LABELS, **totals, **stats}
    count, labeled = int(merged["count"]), int(merged["labeled"])
    out: Metrics = {"count": count, "labeled": labeled}
    out["label_coverage"] = labeled / count if count else None
    out |= {name: _number(merged.get(name)) for name in METRICS_BY_TASK[model.task]}
    out |= {name: _number(merged[name]) for name in TAIL_KEYS if name in merged}
    return out


def _window_keys(summary: pd.DataFrame) -> list[int]:
    return [int(t.value // 1000) for t in summary["window_start"]]  # epoch µs


def _confusions(summary: pd.DataFrame) -> list[Confusion]:
    if "confusion" not in summary.columns:
        return [{} for _ in range(len(summary))]
    return list(summary["confusion"])


def _window_stats(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    confusions: dict[int, Confusion],
    scope: Scope,
) -> dict[int, dict[str, Any]]:
    """Per window key: the task's metrics (regression: also `labeled` and the label delays).

    Classification count metrics come from the confusion counts DuckDB summed. Binary score
    metrics fetch only the scored labelled rows' (is positive, score), sorted per window in
    threads. Regression metrics need every labelled row's label and prediction; counting
    those rows gives `labeled` and the delays without a second aggregate.
    """
    if model.task == "multiclass":
        return {key: _count_metrics(model, c) for key, c in confusions.items()}
    if model.task == "binary":
        stats: dict[int, dict[str, Any]] = {
            k: _count_metrics(model, c) for k, c in confusions.items()
        }
        for key, part in window_scores(con, model, scope).items():
            stats.setdefault(key, {}).update(score_metrics(part))
        return stats
    columns = ("label", "prediction", "label_delay_h")
    arrays = labelled_arrays(con, model, *scope, columns=columns)

    def regression(part: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = compute_metrics("regression", part["label"], part["prediction"])
        p50, p90 = np.quantile(part["label_delay_h"], [0.5, 0.9], method="linear")
        out["labeled"] = len(part["label_delay_h"])
        out |= {"label_delay_p50_h": float(p50), "label_delay_p90_h": float(p90)}
        return out

    return _per_window(regression, _split(arrays))


def window_scores(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, scope: Scope
) -> dict[int, SortedScores]:
    """Per window key: the scored labelled rows' scores, sorted by class (binary models)."""
    arrays = labelled_arrays(
        con, model, *scope, columns=("label_is_positive", "score"), scored_only=True
    )
    return _per_window(
        lambda part: sorted_scores(part["label_is_positive"].astype(bool), part["score"]),
        _split(arrays),
    )


def _per_window(
    fn: Callable[[dict[str, np.ndarray]], Any],
    parts: list[tuple[int, dict[str, np.ndarray]]],
) -> dict[int, Any]:
    """fn of every window's rows; on many rows in threads (numpy sorts release the GIL)."""
    rows = sum(len(part["window_us"]) for _, part in parts)
    if len(parts) < 2 or rows < PARALLEL_ROWS:
        return {key: fn(part) for key, part in parts}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip([k for k, _ in parts], pool.map(fn, [p for _, p in parts]), strict=True))


def _positive(model: ModelInfo) -> str:
    return model.positive_class or "1"


def _split(arrays: dict[str, np.ndarray]) -> list[tuple[int, dict[str, np.ndarray]]]:
    """Cut rows ordered by window_us into one slice per window."""
    keys = arrays["window_us"]
    if len(keys) == 0:
        return []
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts, stops = np.r_[0, bounds], np.r_[bounds, len(keys)]
    return [
        (int(keys[a]), {name: values[a:b] for name, values in arrays.items()})
        for a, b in zip(starts, stops, strict=True)
    ]


def _count_metrics(model: ModelInfo, confusion: Mapping[tuple[str, str], int]) -> Metrics:
    if model.task == "binary":
        pos = _positive(model)
        tally = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for (label, prediction), n in confusion.items():
            key = ("t" if (label == pos) == (prediction == pos) else "f") + (
                "p" if prediction == pos else "n"
            )
            tally[key] += n
        return binary_count_metrics(**tally)
    classes = sorted({c for pair in confusion for c in pair})
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for (label, prediction), n in confusion.items():
        matrix[index[label], index[prediction]] += n
    return multiclass_count_metrics(matrix)


def _number(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _row(model: ModelInfo, record: dict[str, Any], threshold: float) -> dict[str, Any]:
    count, labeled = int(record["count"]), int(record["labeled"])
    coverage = labeled / count if count else None
    row: dict[str, Any] = {
        "window_start": record["window_start"].isoformat(),
        "count": count,
        "labeled": labeled,
        "label_coverage": coverage,
        # An empty window has nothing waiting for labels, so it is not provisional.
        "provisional": coverage is not None and coverage < threshold,
    }
    for name in (*METRICS_BY_TASK[model.task], *TAIL_KEYS):
        row[name] = _number(record.get(name))
    return row


def worst_segments(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    metric: str,
    version: str | None = None,
    min_count: int = 30,
    limit: int = 10,
    values_per_dimension: int = 50,
) -> pd.DataFrame:
    """Segments (tag or categorical value) ranked by how far `metric` falls below the whole.

    gap = overall - value for higher-is-better metrics, value - overall for lower-is-better;
    only segments with at least `min_count` labelled predictions, the most frequent
    `values_per_dimension` values of each dimension. Undefined values sort last.
    """
    _check_rankable(model, metric)
    columns = ["dimension", "value", "count", "labeled", metric, "overall", "gap"]
    dims = segment_dimensions(con, model, start, end)
    summary = segment_summary(con, model, start, end, dims, version)
    total = summary["confusion"].iloc[-1]  # the last row holds the whole range
    summary = summary.iloc[:-1]
    summary = summary[summary["labeled"] >= min_count]
    summary = summary.sort_values("count", ascending=False, kind="stable")
    summary = summary.groupby("dimension", sort=False).head(values_per_dimension)
    if summary.empty:
        return pd.DataFrame(columns=columns)
    scope = (start, end, None, version, None)
    values, overall = _segment_metric(con, model, scope, metric, summary, dims, total)
    frame = summary[["dimension", "value", "count", "labeled"]].reset_index(drop=True)
    frame[metric] = values
    frame["overall"] = overall
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    frame["gap"] = sign * (frame[metric].astype(float) - (np.nan if overall is None else overall))
    frame = frame.sort_values("gap", ascending=False, na_position="last", kind="stable")
    return frame.head(limit).reset_index(drop=True)[columns]


def _check_rankable(model: ModelInfo, metric: str) -> None:
    known = [m for m in METRICS_BY_TASK[model.task] if m not in NO_DIRECTION]
    if metric not in known:
        raise ValueError(
            f"cannot rank segments of {model.task} model {model.name!r} by {metric!r}: "
            f"use one of {', '.join(known)}"
        )


def _segment_metric(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    scope: Scope,
    metric: str,
    summary: pd.DataFrame,
    dims: list[str],
    total: Confusion,
) -> tuple[list[float | None], float | None]:
    """The metric of each summary row's segment, and of the whole range."""
    if model.task != "regression" and metric not in SCORE_METRICS:
        overall = _count_metrics(model, total)[metric]
        return [_count_metrics(model, c)[metric] for c in summary["confusion"]], overall
    binary = model.task == "binary"
    columns = ("label_is_positive", "score") if binary else ("label", "prediction")
    arrays = labelled_arrays(
        con, model, *scope, columns=columns, dimensions=dims, scored_only=binary
    )

    def value(rows: np.ndarray | slice) -> float | None:
        if binary:
            actual = arrays["label_is_positive"][rows].astype(bool)
            got = score_metrics(sorted_scores(actual, arrays["score"][rows]))
        else:
            got = compute_metrics("regression", arrays["label"][rows], arrays["prediction"][rows])
        return got[metric]

    groups = {d: _groups(arrays[f"dim_{i}"]) for i, d in enumerate(dims)}
    values = [
        value(groups[dimension].get(segment, np.zeros(0, dtype=np.intp)))
        for dimension, segment in zip(summary["dimension"], summary["value"], strict=True)
    ]
    return values, value(slice(None))


def _groups(values: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of each distinct value (None, a missing tag, is no group)."""
    codes, uniques = pd.factorize(values)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(u): order[bounds[i] : bounds[i + 1]] for i, u in enumerate(uniques)}
