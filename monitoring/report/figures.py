"""The report's charts: performance, latency, drift and feature importance, dashboard look.

Every builder accepts an empty frame and returns a figure saying so. User text (feature names,
units) is escaped with text.plotly_text and only reaches trace data (categories, customdata),
never a layout title, annotation or hovertemplate.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from monitoring.report import text
from monitoring.report.chart_style import (
    BAND_COLOR,
    FINAL_COLOR,
    HEIGHT,
    LABELLED_COLOR,
    LATENCY_LINES,
    OBJECTIVE_COLOR,
    PROVISIONAL_COLOR,
    empty_figure,
    naive_utc,
    runs,
    style,
)
from monitoring.report.data import ReportData, chart_metrics, has, report_window
from monitoring.report.drift_figures import drift_heatmap, drift_share
from monitoring.windows import WINDOWS

WINDOW_WORDS = {"1h": "hour", "1d": "day", "1w": "week"}
NO_LABELS = "No labelled predictions in this range"
MAX_IMPORTANCE_BARS = 15
ROW_HEIGHT = 190


def report_figures(data: ReportData) -> dict[str, go.Figure]:
    """Every chart of the report by name, in the order the report shows them."""
    window = report_window(data)
    return {
        "performance": performance_over_time(data.performance, data.task, window, data.objectives),
        "latency": latency_over_time(data.latency, window),
        "drift_heatmap": drift_heatmap(data.drift_features, window),
        "drift_share": drift_share(data.drift_windows, window),
        "importance": importance_bar(data.importance, data.units),
    }


def _targets(objectives: pd.DataFrame) -> dict[str, list[float]]:
    """Objective targets by metric (the first word of each objective's text)."""
    if not has(objectives, "objective", "target"):
        return {}
    found: dict[str, list[float]] = {}
    for objective, target in zip(objectives["objective"], objectives["target"], strict=True):
        words = str(objective).split()
        value = text.number(target)
        if words and value is not None:
            found.setdefault(words[0], []).append(value)
    return found


def performance_over_time(
    df: pd.DataFrame, task: str, window: str, objectives: pd.DataFrame | None = None
) -> go.Figure:
    """Key metrics per window, one row each, and the labelled share below.

    As on the dashboard: final windows are filled blue markers, provisional ones (labels
    still arriving) hollow orange markers on an orange band; objective targets are dashed.
    """
    title = f"Performance per {WINDOW_WORDS.get(window, window)}"
    metrics = chart_metrics(task, df) if has(df, "window_start") else []
    if not metrics:
        return empty_figure(title, NO_LABELS)
    coverage = "label_coverage" in df.columns and df["label_coverage"].notna().any()
    labels = [text.metric_label(m) for m in metrics]
    rows = len(metrics) + int(coverage)
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[*labels, *(["Labelled (%)"] if coverage else [])],
    )
    width = WINDOWS[window]
    starts = naive_utc(df["window_start"])
    times = starts + width / 2  # a window's value belongs to its middle
    if "provisional" in df.columns:
        provisional = df["provisional"].fillna(False).astype(bool).to_numpy()
    else:
        provisional = pd.Series(False, index=range(len(df))).to_numpy()
    targets = _targets(objectives if objectives is not None else pd.DataFrame())
    for row, (metric, label) in enumerate(zip(metrics, labels, strict=True), start=1):
        values = pd.to_numeric(df[metric], errors="coerce").astype(float).reset_index(drop=True)
        _metric_traces(fig, row, label, times, values, provisional)
        for target in targets.get(metric, []):
            fig.add_hline(
                y=target,
                line={"color": OBJECTIVE_COLOR, "dash": "dash"},
                annotation_text=f"objective {target:g}",
                annotation_position="top left",
                row=row,
                col=1,
            )
        if metric in text.RATIO_METRICS:
            fig.update_yaxes(
                rangemode="normal", autorangeoptions={"clipmin": 0, "clipmax": 1}, row=row, col=1
            )
    if coverage:
        share = pd.to_numeric(df["label_coverage"], errors="coerce").reset_index(drop=True) * 100
        fig.add_bar(
            x=times,
            y=share.astype(float),
            name="labelled",
            showlegend=False,
            marker_color=[PROVISIONAL_COLOR if p else LABELLED_COLOR for p in provisional],
            opacity=0.6,
            hovertemplate="%{y:.1f} % labelled<extra></extra>",
            row=rows,
            col=1,
        )
        fig.update_yaxes(range=[0, 105], row=rows, col=1)
    for first, last in runs(list(provisional)):
        fig.add_vrect(
            x0=starts.iloc[first],
            x1=starts.iloc[last] + width,
            fillcolor=BAND_COLOR,
            line_width=0,
            layer="below",
            row="all",
            col=1,
        )
    fig.update_layout(height=120 + ROW_HEIGHT * rows)
    style(fig, title, "")
    fig.update_xaxes(title_text="")
    fig.update_xaxes(title_text="Time (UTC)", row=rows, col=1)
    return fig


def _metric_traces(
    fig: go.Figure,
    row: int,
    label: str,
    times: pd.Series,
    values: pd.Series,
    provisional: object,
) -> None:
    """A line through every window, filled markers on final ones, hollow on provisional ones."""
    flags = pd.Series(provisional, dtype=bool).to_numpy()
    first = row == 1  # one legend entry for the marker kinds, not one per row
    fig.add_scatter(
        x=times,
        y=values,
        mode="lines",
        name=label,
        showlegend=False,
        line={"color": FINAL_COLOR},
        hoverinfo="skip",
        connectgaps=False,
        row=row,
        col=1,
    )
    fig.add_scatter(
        x=times[~flags],
        y=values[~flags],
        mode="markers",
        name="final window",
        legendgroup="final",
        showlegend=first and bool((~flags).any()),
        marker={"color": FINAL_COLOR, "size": 8},
        hovertemplate="%{y:.4g}<extra>final</extra>",
        row=row,
        col=1,
    )
    if flags.any():
        fig.add_scatter(
            x=times[flags],
            y=values[flags],
            mode="markers",
            name="provisional window (labels still arriving)",
            legendgroup="provisional",
            showlegend=first,
            marker={
                "color": PROVISIONAL_COLOR,
                "size": 9,
                "symbol": "circle-open",
                "line": {"width": 2},
            },
            hovertemplate="%{y:.4g}<extra>provisional</extra>",
            row=row,
            col=1,
        )


def latency_over_time(df: pd.DataFrame, window: str) -> go.Figure:
    """Latency percentiles per window: p50 dotted, p95 solid, p99 dashed."""
    title = f"Latency percentiles per {WINDOW_WORDS.get(window, window)}"
    present = [c for c in LATENCY_LINES if c in df.columns]
    if not has(df, "window_start") or not present or df[present].isna().all().all():
        return empty_figure(title, "No latencies in this range")
    times = naive_utc(df["window_start"]) + WINDOWS[window] / 2
    fig = go.Figure()
    for column in present:
        name, dash = LATENCY_LINES[column]
        fig.add_scatter(
            x=times,
            y=pd.to_numeric(df[column], errors="coerce").astype(float).reset_index(drop=True),
            mode="lines+markers",
            name=name,
            line={"dash": dash},
            marker={"size": 4},
            hovertemplate=f"{name} %{{y:,.1f}} ms<extra></extra>",
        )
    fig.update_layout(hovermode="x unified")
    style(fig, title, "Latency (ms)")
    fig.update_yaxes(rangemode="tozero")
    return fig


def importance_bar(df: pd.DataFrame, units: str | None) -> go.Figure:
    """The features with the largest share of mean |SHAP|, largest on top."""
    title = "Top features by mean |SHAP|"
    if not has(df, "feature") or not ({"share", "mean_abs"} & set(df.columns)):
        return empty_figure(title, "No feature attributions in this range")
    column = "share" if "share" in df.columns and df["share"].notna().any() else "mean_abs"
    frame = df.assign(_value=pd.to_numeric(df[column], errors="coerce")).dropna(subset=["_value"])
    if frame.empty:
        return empty_figure(title, "No feature attributions in this range")
    frame = frame.sort_values("_value", ascending=False).head(MAX_IMPORTANCE_BARS)
    mean_abs = (
        frame["mean_abs"] if "mean_abs" in frame.columns else pd.Series(None, index=frame.index)
    )
    unit = "" if units is None else f" {units}"
    custom = [text.plotly_text(f"{text.plain(v)}{unit}") for v in mean_abs]
    fig = go.Figure(
        go.Bar(
            x=frame["_value"].astype(float),
            y=[text.plotly_text(name) for name in frame["feature"]],
            orientation="h",
            marker_color=FINAL_COLOR,
            customdata=custom,
            hovertemplate=(
                "%{y}: %{x:.1%} of attribution (mean |SHAP| %{customdata})<extra></extra>"
                if column == "share"
                else "%{y}: mean |SHAP| %{customdata}<extra></extra>"
            ),
        )
    )
    x_title = "Share of mean |SHAP|" if column == "share" else "Mean |SHAP|"
    style(fig, title, "", x_title)
    fig.update_layout(height=max(HEIGHT, 170 + 24 * len(frame)))
    fig.update_yaxes(type="category", autorange="reversed")
    if column == "share":
        fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    return fig
