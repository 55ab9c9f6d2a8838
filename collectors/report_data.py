"""Everything a stakeholder report shows, gathered from the store for one model and range.

The report itself (summary, figures, HTML, CSV) is monitoring.report's; this module only
reads: the same queries the dashboard pages use, so the report agrees with them.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from collectors.explain_service import ranked
from collectors.performance import metric_rows, overall_metrics
from collectors.settings import Settings
from monitoring.explain.attribution_drift import ndcg
from monitoring.pii import mask_columns
from monitoring.report import Headline, ReportData, higher_is_better, metric_label
from monitoring.windows import choose_window
from storage import ModelInfo
from storage import alerts as stored_alerts
from storage.drift_store import ALL_VERSIONS, drift_results, drift_windows, quality_results
from storage.explanations import importance
from storage.queries import system_series
from storage.reference_importance import latest_reference_importance
from storage.references import active_reference

HEADLINES = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "multiclass": ("accuracy", "f1_macro", "precision_macro", "recall_macro"),
    "regression": ("mae", "rmse", "r2"),
}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def headlines(current: dict[str, Any], previous: dict[str, Any], task: str) -> list[Headline]:
    """The task's headline metrics, volume, coverage and p95 latency vs the previous period."""
    names = ("count", *HEADLINES.get(task, ()), "label_coverage", "latency_p95_ms")
    return [
        Headline(
            name,
            metric_label(name),
            _number(current.get(name)),
            _number(previous.get(name)),
            higher_is_better(name),
        )
        for name in names
    ]


def objectives_frame(
    settings: Settings, model: ModelInfo, totals: dict[str, Any], version: str | None
) -> pd.DataFrame:
    """Each configured objective, its value over the range and whether it was met."""
    rows = []
    for objective in settings.model(model.name).objectives:
        if objective.version is not None and version is not None and objective.version != version:
            continue
        value = _number(totals.get(objective.metric))
        rows.append(
            {
                "objective": str(objective),
                "metric": objective.metric,
                "value": value,
                "target": objective.target,
                "met": None if value is None else objective.met_by(value),
            }
        )
    return pd.DataFrame(rows, columns=["objective", "metric", "value", "target", "met"])


def alert_spans(
    con: duckdb.DuckDBPyConnection,
    model: str,
    start: datetime,
    end: datetime,
    severities: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Each firing of the model's rules in the range: rule, severity, fired_at, resolved_at
    (NaT while still firing) and duration_s (until the end of the range when still firing)."""
    frame = stored_alerts.transitions(con, start, end, model=model, limit=10_000)
    columns = ["rule", "severity", "fired_at", "resolved_at", "duration_s"]
    severities = severities or {}
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for rule, part in frame.sort_values("at").groupby("rule", sort=True):
        fired: Any = None
        for row in part.itertuples(index=False):
            if row.to_state == "firing":
                fired = row.at
            elif fired is not None and row.to_state in ("resolved", "inactive"):
                seconds = (row.at - fired).total_seconds()
                rows.append([rule, severities.get(str(rule)), fired, row.at, seconds])
                fired = None
        if fired is not None:
            seconds = (pd.Timestamp(end) - pd.Timestamp(fired)).total_seconds()
            rows.append([rule, severities.get(str(rule)), fired, pd.NaT, seconds])
    return pd.DataFrame(rows, columns=columns)


def system_peaks(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Per host: CPU peak and mean, memory peak (percent)."""
    columns = ["host", "cpu_peak_percent", "cpu_mean_percent", "memory_peak_percent"]
    hosts = system_series(con, start, end)
    if hosts.empty:
        return pd.DataFrame(columns=columns)
    used, available = hosts["mem_used_bytes"], hosts["mem_available_bytes"]
    hosts = hosts.assign(memory_percent=100 * used / (used + available))
    peak = "cpu_percent_max" if "cpu_percent_max" in hosts.columns else "cpu_percent"
    grouped = hosts.groupby("host")
    return pd.DataFrame(
        {
            "host": list(grouped.groups),
            "cpu_peak_percent": grouped[peak].max().to_numpy(),
            "cpu_mean_percent": grouped["cpu_percent"].mean().to_numpy(),
            "memory_peak_percent": grouped["memory_percent"].max().to_numpy(),
        },
        columns=columns,
    )


def quality_summary(quality: pd.DataFrame) -> pd.DataFrame:
    """Per feature over the range: rows and the missing, out-of-range and unseen rates."""
    columns = ["feature", "rows", "missing_rate", "out_of_range_rate", "unseen_rate"]
    if quality.empty:
        return pd.DataFrame(columns=columns)
    sums = quality.groupby("feature")[["rows", "missing", "out_of_range", "unseen"]].sum()
    rows = sums["rows"].where(sums["rows"] > 0)
    out = pd.DataFrame(
        {
            "feature": sums.index,
            "rows": sums["rows"].to_numpy(),
            "missing_rate": (sums["missing"] / rows).to_numpy(),
            "out_of_range_rate": (sums["out_of_range"] / rows).to_numpy(),
            "unseen_rate": (sums["unseen"] / rows).to_numpy(),
        }
    )
    worst = out[["missing_rate", "out_of_range_rate", "unseen_rate"]].max(axis=1)
    return (
        out.assign(_worst=worst)
        .sort_values(["_worst", "feature"], ascending=[False, True])
        .drop(columns="_worst")
        .reset_index(drop=True)
    )


def gather(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    generated_by: str = "vigil",
    hidden: Collection[str] | None = None,
) -> ReportData:
    """The report's data for [start, end), compared with the period of the same length before.

    hidden: the PII features the reader must not see (None: every feature the model marks
    PII, for readers nobody vouched for, such as a schedule's recipients).
    """
    if hidden is None:
        hidden = settings.model(model.name).pii
    return masked(_gather(con, settings, model, start, end, version, generated_by), hidden)


def masked(data: ReportData, hidden: Collection[str]) -> ReportData:
    """The report with hidden features' values masked in every table.

    The report shows feature names and aggregates (scores, rates, mean |SHAP|), never one
    row's feature values; a table with a column named after a hidden feature is masked all
    the same, so a section that adds such a column cannot leak it.
    """
    if not hidden:
        return data
    frames = {
        f.name: mask_columns(getattr(data, f.name), hidden)
        for f in fields(data)
        if isinstance(getattr(data, f.name), pd.DataFrame)
    }
    return replace(data, **frames)


def _gather(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None,
    generated_by: str,
) -> ReportData:
    span = end - start
    coverage = settings.model(model.name).provisional_coverage
    current = overall_metrics(con, model, start, end, version)
    previous = overall_metrics(con, model, start - span, start, version)
    window = choose_window(start, end)
    rows = metric_rows(con, model, start, end, window, version, provisional_coverage=coverage)
    windows = pd.DataFrame(rows["rows"])
    granularity = "1h" if span.total_seconds() <= 2 * 86400 else "1d"
    stored_version = version or ALL_VERSIONS
    drift = drift_windows(con, model, granularity, start, end, stored_version)
    features = drift_results(con, model, granularity, start, end, stored_version, role="feature")
    quality = quality_results(con, model, granularity, start, end, stored_version)
    explained = importance(con, model, start, end, version)
    reference_rank = latest_reference_importance(con, model)
    ndcg_value = (
        _number(ndcg(ranked(reference_rank), ranked(explained)))
        if reference_rank is not None and not explained.empty
        else None
    )
    reference = active_reference(con, model, version)
    return ReportData(
        model=model.name,
        task=model.task,
        version=version,
        start=start,
        end=end,
        generated_at=datetime.now(UTC),
        generated_by=generated_by,
        headline=headlines(current, previous, model.task),
        objectives=objectives_frame(settings, model, current, version),
        performance=windows,
        latency=windows[
            [c for c in windows.columns if c == "window_start" or c.startswith("latency_p")]
        ]
        if not windows.empty
        else pd.DataFrame(),
        drift_windows=drift,
        drift_features=features,
        quality=quality_summary(quality),
        alerts=alert_spans(
            con, model.name, start, end, {r.name: r.severity for r in settings.alerting.rules}
        ),
        importance=ranked(explained) if not explained.empty else pd.DataFrame(),
        attribution_ndcg=ndcg_value,
        system=system_peaks(con, start, end),
        reference=None if reference is None else reference.as_dict(),
        units=None,
    )
