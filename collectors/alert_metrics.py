"""The current value of an alert rule's metric: for a model over the rule's look-back
window, or for the host (the worst host, the busiest GPU)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from collectors.drift_alerts import DRIFT_METRICS, drift_value
from collectors.explain_alerts import EXPLAIN_METRICS, ndcg_value
from collectors.performance import overall_metrics
from collectors.window_parts import PartCache
from monitoring.alert_rules import AlertRule
from monitoring.metrics import METRICS_BY_TASK
from storage import ModelInfo
from storage.queries import gpu_series, system_series

WINDOWS = {
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
}
LABEL_BASED = frozenset(m for names in METRICS_BY_TASK.values() for m in names)


def window_of(rule: AlertRule) -> timedelta:
    """The rule's look-back as a timedelta."""
    return WINDOWS[rule.window]


def model_value(
    con: duckdb.DuckDBPyConnection,
    rule: AlertRule,
    model: ModelInfo,
    now: datetime,
    provisional_coverage: float,
    cache: PartCache | None = None,
) -> float | None:
    """The metric over [now - window, now); None when there is no data to judge.

    No data: fewer predictions than the rule's min_count; a metric of another task; a
    label-based metric whose labels are still arriving (coverage below the model's
    provisional_coverage) unless the rule includes provisional windows.
    """
    span = window_of(rule)
    if rule.metric in DRIFT_METRICS:
        return drift_value(con, rule, model, now, span)
    if rule.metric in EXPLAIN_METRICS:
        return ndcg_value(con, rule, model, now, span)
    start = now - span
    totals = overall_metrics(con, model, start, now, rule.version, cache=cache)
    count = int(totals.get("count") or 0)
    if count < rule.min_count:
        return None
    if rule.metric == "count":
        return float(count)
    if rule.metric == "throughput_per_min":
        return count / (span.total_seconds() / 60)
    if rule.metric in LABEL_BASED:
        coverage = totals.get("label_coverage")
        if coverage is None or (coverage < provisional_coverage and not rule.include_provisional):
            return None
    value = totals.get(rule.metric)
    return None if value is None else float(value)


def system_value(con: duckdb.DuckDBPyConnection, rule: AlertRule, now: datetime) -> float | None:
    """The host metric averaged over the window; the worst host (or GPU) when there are several."""
    start = now - window_of(rule)
    if rule.metric.startswith("gpu_"):
        gpus = gpu_series(con, start, now)
        if gpus.empty:
            return None
        means = gpus.groupby(["host", "gpu_index"]).mean(numeric_only=True)
        if rule.metric == "gpu_util_percent":
            return _max(means["util_percent"])
        return _max(100 * means["mem_used_bytes"] / means["mem_total_bytes"])
    hosts = system_series(con, start, now)
    if hosts.empty:
        return None
    means = hosts.groupby("host").mean(numeric_only=True)
    if rule.metric == "memory_percent":
        used, available = means["mem_used_bytes"], means["mem_available_bytes"]
        return _max(100 * used / (used + available))
    column = {"cpu_percent": "cpu_percent", "disk_percent": "disk_percent"}[rule.metric]
    return _max(means[column])


def _max(values: pd.Series) -> float | None:
    clean = values.dropna()
    return None if clean.empty else float(clean.max())
