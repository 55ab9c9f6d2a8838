"""The dashboard's chart look, copied: monitoring may not import dashboard (import-linter).

Keep these in step with dashboard/figures.py, perf_figures.py and drift_figures.py.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_white"
HEIGHT = 380
TIME_AXIS = "Time (UTC)"
FINAL_COLOR = "#1f77b4"
PROVISIONAL_COLOR = "#ff7f0e"
BAND_COLOR = "rgba(255, 127, 14, 0.10)"
DRIFT_COLOR = "#d62728"
OBJECTIVE_COLOR = "#d62728"
LABELLED_COLOR = "#7f7f7f"
LATENCY_LINES = {
    "latency_p50_ms": ("p50", "dot"),
    "latency_p90_ms": ("p90", "dashdot"),
    "latency_p95_ms": ("p95", "solid"),
    "latency_p99_ms": ("p99", "dash"),
    "latency_max_ms": ("max", "longdash"),
}
# Marks a figure that only says "no data", so the HTML can print a sentence instead.
EMPTY_META = "vigil-report-empty"


def style(fig: go.Figure, title: str, y_title: str, x_title: str = TIME_AXIS) -> go.Figure:
    """Template, title, height, margins and a bottom legend, as on the dashboard."""
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0, "xanchor": "left"},
        height=fig.layout.height or HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 110},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def empty_figure(title: str, message: str) -> go.Figure:
    """A blank chart with the title and a centred message."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 15, "color": "#888"},
    )
    style(fig, title, "", "")
    fig.update_layout(meta=EMPTY_META, height=200)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def is_empty(fig: go.Figure) -> bool:
    """Whether a figure came from empty_figure."""
    return bool(fig.layout.meta == EMPTY_META)


def empty_message(fig: go.Figure) -> str:
    """The message an empty figure shows."""
    notes = fig.layout.annotations
    return str(notes[0].text) if notes else ""


def naive_utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC, index reset (Plotly would shift tz-aware times)."""
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).reset_index(drop=True)


def runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of consecutive True values."""
    found, first = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and first is None:
            first = i
        elif not flag and first is not None:
            found.append((first, i - 1))
            first = None
    return found
