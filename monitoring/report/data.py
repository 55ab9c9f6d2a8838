"""What a report holds: ReportData (one model, one range) and its Headline numbers.

Frames follow COLUMNS; any of them may be empty (even column-less). Times are UTC; naive
ones are taken as UTC. User text (model, version, feature, rule and host names, category
values) is kept raw here and escaped where it is rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from monitoring.metrics import METRICS_BY_TASK
from monitoring.windows import WINDOWS, choose_window

COLUMNS: dict[str, tuple[str, ...]] = {
    "objectives": ("objective", "value", "met", "target"),
    "performance": ("window_start", "count", "labelled", "label_coverage", "provisional"),
    "latency": ("window_start", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"),
    "drift_windows": (
        "window_start",
        "drift_share",
        "dataset_drift",
        "n_drifted",
        "n_tested",
        "multivariate_auc",
    ),
    "drift_features": ("window_start", "feature", "method", "score", "threshold", "drifted"),
    "quality": ("feature", "rows", "missing_rate", "out_of_range_rate", "unseen_rate"),
    "alerts": ("rule", "severity", "fired_at", "resolved_at", "duration_s"),
    "importance": ("feature", "mean_abs", "share", "rank"),
    "system": ("host", "cpu_peak_percent", "cpu_mean_percent", "memory_peak_percent"),
}
# The metrics the performance chart draws, most telling first; the table keeps them all.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "f1", "roc_auc"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("mae", "rmse"),
}
_HIGHER_IS_BETTER = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "r2",
        "label_coverage",
        "attribution_ndcg",
    }
)
_LOWER_IS_BETTER = frozenset(
    {
        "log_loss",
        "brier",
        "mae",
        "rmse",
        "mape",
        "drift_share",
        "n_drifted",
        "alerts",
        "missing_rate",
        "out_of_range_rate",
        "unseen_rate",
        "error_rate",
    }
)


def higher_is_better(metric: str) -> bool | None:
    """True for accuracy-like metrics, False for errors and latencies, None when neutral.

    Neutral: volumes (count, throughput) and the positive rates, which have no good side.
    """
    if metric in _HIGHER_IS_BETTER:
        return True
    if metric in _LOWER_IS_BETTER or (metric.startswith("latency_") and metric.endswith("_ms")):
        return False
    return None


@dataclass(frozen=True)
class Headline:
    """One headline number over the report's range and over the previous range as long."""

    name: str
    label: str
    current: float | None
    previous: float | None
    higher_is_better: bool | None  # None: neutral (e.g. count)

    def change(self) -> float | None:
        """current - previous, or None when either is missing."""
        current, previous = _finite(self.current), _finite(self.previous)
        if current is None or previous is None:
            return None
        return current - previous

    def arrow(self) -> str:
        """↑ or ↓ for the direction of the change, → when unchanged, "" when unknown."""
        change = self.change()
        if change is None:
            return ""
        if self._unchanged():
            return "→"
        return "↑" if change > 0 else "↓"

    def tone(self) -> str:
        """Whether the change is "good", "bad" or "neutral"; "" when it is unknown."""
        change = self.change()
        if change is None:
            return ""
        if self.higher_is_better is None or self._unchanged():
            return "neutral"
        return "good" if (change > 0) == self.higher_is_better else "bad"

    def relative_change(self) -> float | None:
        """The change as a fraction of the previous value (None from a zero previous value)."""
        change, previous = self.change(), _finite(self.previous)
        if change is None or previous is None or previous == 0:
            return None
        return change / abs(previous)

    def _unchanged(self) -> bool:
        # Float noise from re-aggregation must not show as a move.
        current, previous = _finite(self.current), _finite(self.previous)
        if current is None or previous is None:
            return False
        return math.isclose(current, previous, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class ReportData:
    """Everything a stakeholder report shows for one model (optionally one version)."""

    model: str
    task: str
    version: str | None
    start: datetime  # the range, UTC
    end: datetime
    generated_at: datetime
    generated_by: str  # e.g. "vigil report (CLI)", "dashboard"
    headline: list[Headline]
    objectives: pd.DataFrame
    performance: pd.DataFrame
    latency: pd.DataFrame
    drift_windows: pd.DataFrame
    drift_features: pd.DataFrame
    quality: pd.DataFrame
    alerts: pd.DataFrame
    importance: pd.DataFrame
    attribution_ndcg: float | None
    system: pd.DataFrame
    reference: dict[str, Any] | None  # ReferenceInfo.as_dict()
    units: str | None  # SHAP units


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def has(frame: pd.DataFrame, *columns: str) -> bool:
    """Whether a frame has rows and every one of `columns`."""
    return not frame.empty and all(column in frame.columns for column in columns)


def times(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as UTC timestamps (NaT where missing or unparsable; all NaT without it)."""
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(frame[column], utc=True, errors="coerce")


def task_metrics(task: str, frame: pd.DataFrame) -> list[str]:
    """The task's metrics that `frame` carries, in METRICS_BY_TASK order."""
    known = METRICS_BY_TASK.get(task) or tuple(
        dict.fromkeys(m for metrics in METRICS_BY_TASK.values() for m in metrics)
    )
    return [metric for metric in known if metric in frame.columns]


def chart_metrics(task: str, frame: pd.DataFrame) -> list[str]:
    """The metrics the performance chart draws: the task's key ones that hold a value."""
    present = task_metrics(task, frame)
    key = [m for m in KEY_METRICS.get(task, ()) if m in present]
    chosen = key or present[:3]
    return [m for m in chosen if frame[m].notna().any()]


def report_window(data: ReportData) -> str:
    """The window size of the report's series: read from their spacing, else from the range."""
    steps: list[timedelta] = []
    for frame in (data.performance, data.latency, data.drift_windows):
        if has(frame, "window_start"):
            starts = pd.Series(pd.to_datetime(frame["window_start"], utc=True).unique())
            gaps = starts.sort_values().diff().dropna()
            gaps = gaps[gaps > pd.Timedelta(0)]
            if not gaps.empty:
                steps.append(gaps.min().to_pytimedelta())
    if steps:
        step = min(steps)
        for name, width in WINDOWS.items():
            if width == step:
                return name
    try:
        return choose_window(data.start, data.end)
    except (TypeError, ValueError):
        return "1d"
