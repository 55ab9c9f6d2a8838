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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from collectors.window_parts import (
    PartCache,
    WindowPart,
    count_metrics,
    merged_scores,
    window_parts,
)
from monitoring.metrics import (
    METRICS_BY_TASK,
    compute_metrics,
)
from monitoring.scores import SCORE_METRICS, score_metrics, sorted_scores
from monitoring.windows import check_window, choose_window
from storage import ModelInfo
from storage.performance import Segment, finish_windows, labelled_arrays

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
NO_LABELS = {"labeled": 0, "label_delay_p50_h": None, "label_delay_p90_h": None}
Metrics = dict[str, Any]  # floats or None; multiclass adds recall_by_class {class: float | None}
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
    cache: PartCache | None = None,
    segments: bool = False,
) -> dict[str, Any]:
    """The API payload: {model, task, window, rows} with one row per window (see README).

    segments=True also counts segments in the window parts, for a worst_segments call on the
    same cache to reuse.
    """
    check_coverage(provisional_coverage)
    window = choose_window(start, end) if window is None else check_window(window)
    parts = window_parts(
        con, model, start, end, window, version, segment, segments=segments, cache=cache
    )
    rows = rows_from_parts(model, parts, start, end, window, provisional_coverage, now)
    return {"model": model.name, "task": model.task, "window": window, "rows": rows}


def check_coverage(provisional_coverage: float) -> None:
    if not 0 <= provisional_coverage <= 1:
        raise ValueError(f"provisional_coverage must be in [0, 1], got {provisional_coverage!r}")


def rows_from_parts(
    model: ModelInfo,
    parts: Mapping[int, WindowPart],
    start: datetime,
    end: datetime,
    window: str,
    provisional_coverage: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """metric_rows' rows from window parts: empty windows filled up to now."""
    frame = pd.DataFrame(
        [{"window_us": w, **p.record} for w, p in parts.items()],
        columns=None if parts else ["window_us", "count"],
    )
    summary = finish_windows(frame, start, end, window, now)
    rows = []
    for record in summary.to_dict("records"):
        key = int(record["window_start"].value // 1000)  # epoch µs
        stats = parts[key].stats if key in parts else {}
        merged = {**NO_LABELS, **{str(k): v for k, v in record.items()}, **stats}
        rows.append(_row(model, merged, provisional_coverage))
    return rows


def overall_metrics(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    segment: Segment | None = None,
    *,
    cache: PartCache | None = None,
) -> Metrics:
    """Every metric of the model's task over the whole range (None where undefined), with
    count, labeled, label_coverage, latency quantiles and label delays."""
    parts = window_parts(con, model, start, end, None, version, segment, cache=cache)
    part = parts.get(0)
    merged = {**NO_LABELS, "count": 0}
    if part is not None:
        merged |= {**part.record, **part.stats}
    return _overall(model, merged)


def overall_from_parts(
    model: ModelInfo, parts: Mapping[int, WindowPart], cache: PartCache | None = None
) -> Metrics:
    """overall_metrics of a classification model from its window parts, without latency
    quantiles and label delays (they do not add up across windows)."""
    if model.task == "regression":
        raise ValueError("regression metrics do not add up across windows: use overall_metrics")
    confusion = total_confusion(parts)
    merged: dict[str, Any] = {
        "count": sum(int(p.record["count"]) for p in parts.values()),
        "labeled": sum(int(p.record.get("labeled") or 0) for p in parts.values()),
        **count_metrics(model, confusion),
    }
    if model.task == "binary":
        scored = any(p.scores is not None for p in parts.values())
        merged |= (
            score_metrics(merged_scores(parts, cache)) if scored else dict.fromkeys(SCORE_METRICS)
        )
    return _overall(model, merged)


def total_confusion(parts: Mapping[int, WindowPart]) -> Confusion:
    """{(label, prediction): n} summed over the parts."""
    total: Confusion = {}
    for part in parts.values():
        for cell, n in (part.record.get("confusion") or {}).items():
            total[cell] = total.get(cell, 0) + int(n)
    return total


def _overall(model: ModelInfo, merged: dict[str, Any]) -> Metrics:
    count, labeled = int(merged["count"]), int(merged["labeled"])
    out: Metrics = {"count": count, "labeled": labeled}
    out["label_coverage"] = labeled / count if count else None
    out |= {name: _number(merged.get(name)) for name in METRICS_BY_TASK[model.task]}
    out |= {name: _number(merged[name]) for name in TAIL_KEYS if name in merged}
    if model.task == "multiclass":
        out["recall_by_class"] = dict(merged.get("recall_by_class") or {})
    return out


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
    if model.task == "multiclass":
        row["recall_by_class"] = dict(record.get("recall_by_class") or {})
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
    *,
    window: str | None = None,
    cache: PartCache | None = None,
) -> pd.DataFrame:
    """Segments (tag or categorical value) ranked by how far `metric` falls below the whole.

    gap = overall - value for higher-is-better metrics, value - overall for lower-is-better;
    only segments with at least `min_count` labelled predictions, the most frequent
    `values_per_dimension` values of each dimension. Undefined values sort last. Segment
    counts come from the window parts (`window`, default chosen from the range), so with a
    cache they are shared with the page's other views.
    """
    _check_rankable(model, metric)
    window = choose_window(start, end) if window is None else check_window(window)
    parts = window_parts(con, model, start, end, window, version, segments=True, cache=cache)
    return rank_segments(
        con, model, start, end, metric, parts, version, min_count, limit, values_per_dimension
    )


def rank_segments(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    metric: str,
    parts: Mapping[int, WindowPart],
    version: str | None = None,
    min_count: int = 30,
    limit: int = 10,
    values_per_dimension: int = 50,
) -> pd.DataFrame:
    """worst_segments from window parts computed with segments=True."""
    _check_rankable(model, metric)
    columns = ["dimension", "value", "count", "labeled", metric, "overall", "gap"]
    summary = _segment_totals(parts)
    summary = summary[summary["labeled"] >= min_count]
    summary = summary.sort_values(["count", "dimension", "value"], ascending=[False, True, True])
    summary = summary.groupby("dimension", sort=False).head(values_per_dimension)
    if summary.empty:
        return pd.DataFrame(columns=columns)
    scope = (start, end, None, version, None)
    dims = sorted(set(summary["dimension"]))
    total = total_confusion(parts)
    values, overall = _segment_metric(con, model, scope, metric, summary, dims, total)
    frame = summary[["dimension", "value", "count", "labeled"]].reset_index(drop=True)
    frame[metric] = values
    frame["overall"] = overall
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    frame["gap"] = sign * (frame[metric].astype(float) - (np.nan if overall is None else overall))
    frame = frame.sort_values("gap", ascending=False, na_position="last", kind="stable")
    return frame.head(limit).reset_index(drop=True)[columns]


def _segment_totals(parts: Mapping[int, WindowPart]) -> pd.DataFrame:
    """dimension, value, count, labeled and confusion of every segment, summed over parts."""
    totals: dict[tuple[str, str], list[Any]] = {}
    for part in parts.values():
        for key, (count, labeled, confusion) in part.segments.items():
            cell = totals.setdefault(key, [0, 0, {}])
            cell[0] += count
            cell[1] += labeled
            for pair, n in confusion.items():
                cell[2][pair] = cell[2].get(pair, 0) + n
    frame = pd.DataFrame(
        [(d, v, c, lab, conf) for (d, v), (c, lab, conf) in totals.items()],
        columns=["dimension", "value", "count", "labeled", "confusion"],
    )
    return frame.astype({"count": np.int64, "labeled": np.int64})


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
        overall = count_metrics(model, total)[metric]
        return [count_metrics(model, c)[metric] for c in summary["confusion"]], overall
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
