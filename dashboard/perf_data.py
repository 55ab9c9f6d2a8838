"""Cached data access for the Performance and Latency & traffic pages.

Same pattern as dashboard.data: every cached function takes plain values plus the store
key, and reads through the pooled cursors of data.connection(). The numbers come from
collectors.performance and storage.performance, the same code the metrics API serves.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from collectors import performance
from collectors.performance_view import PerformanceView, compare, performance_view
from collectors.settings import ModelSettings
from collectors.window_parts import PartCache
from dashboard import data
from monitoring.metrics import METRICS_BY_TASK
from monitoring.slo import evaluate
from monitoring.windows import choose_window
from storage import performance as storage_performance
from storage import segments as storage_segments

Segment = tuple[str, str]
AUTO = "Auto"
WINDOW_CHOICES = (AUTO, "1h", "1d", "1w")
NO_SEGMENT = "None"
COMPARE_TTL_S = 60.0  # bootstrapping is the costliest query here: refresh it less often
HISTOGRAM_BINS = 40
HEADLINE: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "multiclass": ("accuracy", "f1_macro", "f1_weighted"),
    "regression": ("mae", "rmse", "mape", "r2"),
}


def model_settings(name: str) -> ModelSettings:
    """The model's objectives and provisional threshold from the server's settings."""
    return data.runtime().settings.model(name)


def resolve_window(choice: str, start: datetime, end: datetime) -> str:
    """The window a picker choice means: Auto follows the range's span."""
    return choose_window(start, end) if choice == AUTO else choice


def live_range(
    name: str, range_label: str, window_choice: str, what: str
) -> tuple[dict[str, Any], datetime, datetime, str] | None:
    """The model's summary, range and window for a live fragment; None after a message."""
    summary = next((m for m in data.model_summaries() if m["name"] == name), None)
    if summary is None:
        st.warning("This model no longer exists. Pick another one.")
        return None
    if not summary["predictions"]:
        st.info(f"This model has no predictions yet: send some to see its {what}.")
        return None
    start, end = data.model_range(range_label, summary["first_seen"], summary["last_seen"])
    assert start is not None and end is not None  # the model has predictions
    return summary, start, end, resolve_window(window_choice, start, end)


def parts_cache() -> PartCache:
    """The server's cache of per-window parts, shared with the metrics API."""
    return data.runtime().parts


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _metric_rows(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None,
    segment: Segment | None,
    coverage: float,
) -> list[dict[str, Any]]:
    with data.connection() as con:
        payload = performance.metric_rows(
            con,
            data.model(name),
            start,
            end,
            window,
            version,
            segment,
            coverage,
            cache=parts_cache(),
            segments=segment is None,  # the worst-segments table then reuses the parts
        )
    return list(payload["rows"])


def metric_rows(
    name: str,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None = None,
    segment: Segment | None = None,
) -> list[dict[str, Any]]:
    """The metrics API's rows: one per window, with coverage, provisional flag and latency."""
    coverage = model_settings(name).provisional_coverage
    return _metric_rows(data.store_key(), name, start, end, window, version, segment, coverage)


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Metric rows as a frame with window_start as a UTC timestamp."""
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    if "recall_by_class" in frame.columns:  # multiclass: one column per class, CSV-friendly
        per_class = pd.DataFrame(list(frame.pop("recall_by_class")), index=frame.index)
        frame = frame.join(per_class.sort_index(axis=1).add_prefix("recall "))
    return frame


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _view(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None,
    segment: Segment | None,
    coverage: float,
    worst_metric: str,
) -> PerformanceView:
    with data.connection() as con:
        return performance_view(
            con,
            data.model(name),
            start,
            end,
            window,
            version,
            segment,
            coverage,
            cache=parts_cache(),
            worst_metric=worst_metric,
        )


def view(
    name: str,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None,
    segment: Segment | None,
    worst_metric: str,
) -> PerformanceView:
    """The page's metric rows, whole-range metrics, confusion counts, calibration and (without
    a segment) worst segments by worst_metric, from one pass over the window parts."""
    coverage = model_settings(name).provisional_coverage
    return _view(
        data.store_key(), name, start, end, window, version, segment, coverage, worst_metric
    )


def objectives_table(name: str, start: datetime, end: datetime, window: str) -> pd.DataFrame:
    """One row per configured objective: value now, status, compliance and error budget."""
    settings = model_settings(name)
    out = []
    for objective in settings.objectives:
        rows = metric_rows(name, start, end, window, objective.version)
        status = evaluate(objective, rows, settings.objective_target)
        out.append(
            {
                "objective": str(objective),
                "now": status.now_value,
                "status now": _status(status.now_ok, status.windows_provisional),
                "compliance": status.compliance,
                "windows met": f"{status.windows_ok} of {status.windows_total}",
                "provisional windows": status.windows_provisional,
                "error budget remaining": status.error_budget_remaining,
            }
        )
    return pd.DataFrame(out)


def _status(ok: bool | None, provisional: int) -> str:
    if ok is None:
        # Every labelled window still waits for labels: say so rather than "no data".
        return "provisional only" if provisional else "no data"
    return "met" if ok else "missed"


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _labelled(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None,
    columns: tuple[str, ...],
) -> pd.DataFrame:
    with data.connection() as con:
        return storage_performance.labelled_rows(
            con, data.model(name), start, end, "1w", version, segment, columns
        )


def labelled(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None = None,
    columns: tuple[str, ...] = ("prediction", "label", "score"),
) -> pd.DataFrame:
    """Labelled predictions of the range: only the requested columns."""
    return _labelled(data.store_key(), name, start, end, version, segment, columns)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _dimensions(store: str, name: str, start: datetime, end: datetime) -> list[str]:
    with data.connection() as con:
        return storage_segments.segment_dimensions(con, data.model(name), start, end)


def segment_dimensions(name: str, start: datetime, end: datetime) -> list[str]:
    """Tag keys (as tag:KEY) and categorical features to segment by."""
    return _dimensions(data.store_key(), name, start, end)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _values(store: str, name: str, start: datetime, end: datetime, dimension: str) -> list[str]:
    with data.connection() as con:
        return storage_segments.segment_values(con, data.model(name), start, end, dimension)


def segment_values(name: str, start: datetime, end: datetime, dimension: str) -> list[str]:
    """A dimension's most frequent values in the range."""
    return _values(data.store_key(), name, start, end, dimension)


def rankable(task: str) -> list[str]:
    """Metrics worst_segments can rank by (those with a better direction)."""
    return [m for m in METRICS_BY_TASK[task] if m not in performance.NO_DIRECTION]


@st.cache_data(ttl=COMPARE_TTL_S, show_spinner="Bootstrapping the comparison…")
def _comparison(
    store: str, name: str, start: datetime, end: datetime, champion: str, challenger: str
) -> pd.DataFrame:
    with data.connection() as con:
        found = compare(
            con, data.model(name), start, end, champion, challenger, cache=parts_cache()
        )
    return pd.DataFrame([asdict(c) for c in found])


def comparison(
    name: str, start: datetime, end: datetime, champion: str, challenger: str
) -> pd.DataFrame:
    """Every metric of two versions (columns a, b) with the bootstrap CI of b - a."""
    return _comparison(data.store_key(), name, start, end, champion, challenger)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV; text starting like a formula is quoted so spreadsheets show it."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_inert)
    return safe.to_csv(index=False).encode("utf-8")


def _inert(value: Any) -> Any:
    # Segment values and versions are user text: "=HYPERLINK(...)" must not run in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def download(container: Any, frame: pd.DataFrame, file_name: str, key: str) -> None:
    """The 'Download CSV' button every table has."""
    container.download_button(
        "Download CSV",
        csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def pickers(models: list[dict[str, Any]], prefix: str) -> tuple[str, str | None, str, str]:
    """Model, version (None for all), range label and window choice at the top of a page."""
    names = [m["name"] for m in models]
    cols = st.columns([3, 3, 7, 4], vertical_alignment="bottom")
    name = cols[0].selectbox("Model", names, key=f"{prefix}_model")
    summary = next(m for m in models if m["name"] == name)
    choice = cols[1].selectbox(
        "Version", [data.ALL_VERSIONS, *summary["versions"]], key=f"{prefix}_version_{name}"
    )
    range_label = cols[2].segmented_control(
        "Time range",
        list(data.OVERVIEW_RANGES),
        default=data.default_range(summary["first_seen"], summary["last_seen"]),
        required=True,
        key=f"{prefix}_range_{name}",
    )
    window = cols[3].segmented_control(
        "Window",
        list(WINDOW_CHOICES),
        default=AUTO,
        required=True,
        key=f"{prefix}_window",
        help="Auto: hourly up to 2 days, daily up to 90 days, else weekly",
    )
    version = None if choice == data.ALL_VERSIONS else str(choice)
    return name, version, str(range_label), str(window)
