"""Formatting for the report: numbers, times, metric names and user text made inert.

monitoring may not import dashboard, so these live here; dashboard.format reuses the
number, count, latency and Plotly-text helpers rather than keeping copies.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

MISSING = "—"
# Fractions between 0 and 1, shown as percentages; their changes are percentage points.
RATIO_METRICS = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "positive_rate_predicted",
        "positive_rate_actual",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "label_coverage",
        "drift_share",
        "missing_rate",
        "out_of_range_rate",
        "unseen_rate",
        "error_rate",
    }
)
COUNT_METRICS = frozenset(
    {"count", "predictions", "labelled", "labeled", "alerts", "n_drifted", "n_tested", "rows"}
)
_SPECIAL_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "r2": "R²",
    "f1": "F1",
    "count": "Predictions",
    "label_coverage": "Label coverage",
    "throughput_per_min": "Throughput (per minute)",
    "drift_share": "Drifted features (share)",
    "attribution_ndcg": "Attribution NDCG",
}
_UPPER = frozenset({"mae", "rmse", "mape", "f1", "cpu"})


def number(value: Any) -> float | None:
    """A finite float, or None for None, NaN, NaT, infinities and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def label(value: Any) -> str:
    """User text for a table cell: missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return MISSING
    return str(value)


def plotly_text(text: object) -> str:
    """User text for Plotly trace data: Plotly renders a subset of HTML in names and hovers."""
    return html.escape(str(text), quote=False)


def metric_label(metric: str) -> str:
    """A metric name for people: f1_macro -> F1 macro, latency_p95_ms -> Latency p95 (ms)."""
    if metric in _SPECIAL_LABELS:
        return _SPECIAL_LABELS[metric]
    if metric.startswith("latency_") and metric.endswith("_ms"):
        return f"Latency {metric[len('latency_') : -len('_ms')]} (ms)"
    words = metric.split("_")
    head = words[0].upper() if words[0] in _UPPER else words[0].capitalize()
    return " ".join([head, *words[1:]])


def count(value: Any) -> str:
    """An integer with thousands separators: 12,345."""
    result = number(value)
    return MISSING if result is None else f"{round(result):,}"


def percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.934 -> 93.4 %."""
    result = number(value)
    return MISSING if result is None else f"{result * 100:,.{digits}f} %"


def ms(value: Any) -> str:
    """A latency in milliseconds: 0.42 ms, 12.3 ms, 1,234 ms."""
    result = number(value)
    if result is None:
        return MISSING
    if abs(result) < 1:
        return f"{result:.2f} ms"
    if abs(result) < 100:
        return f"{result:.1f} ms"
    return f"{result:,.0f} ms"


def plain(value: Any) -> str:
    """A number to four significant digits (3 decimals for values near 1)."""
    result = number(value)
    if result is None:
        return MISSING
    if result != 0 and (abs(result) >= 1e6 or abs(result) < 1e-3):
        return f"{result:.3g}"
    return f"{result:,.4g}"


def metric_value(name: str, value: Any) -> str:
    """A value in the unit its metric name implies."""
    if name in RATIO_METRICS:
        return percent(value)
    if name in COUNT_METRICS:
        return count(value)
    if name.endswith("_ms"):
        return ms(value)
    return plain(value)


def metric_change(name: str, change: Any) -> str:
    """A signed change: percentage points for ratios, milliseconds for latencies."""
    result = number(change)
    if result is None:
        return MISSING
    sign = "+" if result > 0 else ("−" if result < 0 else "±")
    size = abs(result)
    if name in RATIO_METRICS:
        return f"{sign}{size * 100:,.1f} pp"
    if name in COUNT_METRICS:
        return f"{sign}{size:,.0f}"
    if name.endswith("_ms"):
        return f"{sign}{ms(size)}"
    return f"{sign}{plain(size)}"


def duration(seconds: Any) -> str:
    """A duration in the largest fitting unit: 45 s, 15 min, 2.5 h, 3 days."""
    result = number(seconds)
    if result is None:
        return MISSING
    for size, unit in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if abs(result) >= size:
            amount = result / size
            shown = f"{amount:.0f}" if round(amount, 1).is_integer() else f"{amount:.1f}"
            return f"{shown} {'day' if unit == 'days' and shown == '1' else unit}"
    return f"{result:.0f} s"


def utc(value: Any) -> datetime | None:
    """A datetime in UTC (naive ones taken as UTC), or None for missing and unparsable values."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    result: datetime = stamp.to_pydatetime()
    return result


def timestamp(value: Any) -> str:
    """A time in UTC to the minute: 2026-11-25 14:05 UTC."""
    moment = utc(value)
    return MISSING if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def day_or_time(value: Any) -> str:
    """A range bound: the date alone at midnight, else the minute."""
    moment = utc(value)
    if moment is None:
        return MISSING
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M}"


def date_range(start: Any, end: Any) -> str:
    """A range for titles: 2026-11-01 to 2026-11-08 (UTC)."""
    return f"{day_or_time(start)} to {day_or_time(end)} (UTC)"


def join_words(items: list[str]) -> str:
    """a, b and c."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def plural(amount: int, word: str, many: str | None = None) -> str:
    """1 window, 2 windows."""
    return f"{amount:,} {word if amount == 1 else (many or word + 's')}"
