"""Alert rule values of drift and data-quality metrics, read from the stored windows.

A rule reads the newest stored window that ended inside its look-back (hourly windows for
rules shorter than a day, daily ones otherwise); no such window means no data, which keeps
the alert's state as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from monitoring.alert_rules import AlertRule
from storage import ModelInfo
from storage.drift_store import ALL_VERSIONS, drift_results, latest_quality, latest_window

WINDOW_METRICS = {
    "drift_share": "drift_share",
    "drifted_features": "n_drifted",
    "multivariate_auc": "multivariate_auc",
}
QUALITY_METRICS = {
    "missing_rate": "missing",
    "out_of_range_rate": "out_of_range",
    "unseen_category_rate": "unseen",
}
DRIFT_METRICS = frozenset({*WINDOW_METRICS, *QUALITY_METRICS, "prediction_drifted"})


def granularity_of(look_back: timedelta) -> str:
    """Hourly windows for rules that look back less than a day, daily ones otherwise."""
    return "1d" if look_back >= timedelta(days=1) else "1h"


def drift_value(
    con: duckdb.DuckDBPyConnection,
    rule: AlertRule,
    model: ModelInfo,
    now: datetime,
    look_back: timedelta,
) -> float | None:
    """The metric of the newest stored window that ended within the look-back, or None."""
    granularity = granularity_of(look_back)
    version = rule.version or ALL_VERSIONS
    since = now - look_back
    window = latest_window(con, model, granularity, version, since, now)
    if window is None or int(window["rows"]) < rule.min_count:
        return None
    if rule.metric in WINDOW_METRICS:
        value = window[WINDOW_METRICS[rule.metric]]
        return None if value is None else float(value)
    start = window["window_start"]
    if rule.metric == "prediction_drifted":
        rows = drift_results(
            con, model, granularity, start, window["window_end"], version, role="prediction"
        )
        return None if rows.empty else float(bool(rows["drifted"].iloc[0]))
    quality = latest_quality(con, model, granularity, version, since, now)
    if quality.empty:
        return None
    counts = quality[QUALITY_METRICS[rule.metric]] / quality["rows"].where(quality["rows"] > 0)
    worst = counts.max()
    return None if worst != worst else float(worst)
