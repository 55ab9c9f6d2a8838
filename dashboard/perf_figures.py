"""Plotly builders for the Performance and Latency & traffic pages: frame in, figure out.

Like dashboard.figures: no I/O, an empty or incomplete frame gives a figure saying so, times
are drawn in UTC and user text (class names) is escaped for Plotly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import figures
from dashboard import format as fmt
from monitoring.report.chart_style import runs
from monitoring.windows import WINDOWS

NO_LABELS = "No labelled predictions in this range"
FINAL_COLOR = "#1f77b4"
PROVISIONAL_COLOR = "#ff7f0e"
BAND_COLOR = "rgba(255, 127, 14, 0.10)"
LATENCY_LINES = {
    "latency_p50_ms": ("p50", "dot"),
    "latency_p90_ms": ("p90", "dashdot"),
    "latency_p95_ms": ("p95", "solid"),
    "latency_p99_ms": ("p99", "dash"),
    "latency_max_ms": ("max", "longdash"),
}
WINDOW_WORDS = {"1h": "hour", "1d": "day", "1w": "week"}
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
    }
)


def metric_label(metric: str) -> str:
    """A metric name for people: f1_macro -> F1 macro, roc_auc -> ROC AUC."""
    special = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "r2": "R²", "f1": "F1"}
    if metric in special:
        return special[metric]
    words = metric.split("_")
    head = words[0].upper() if words[0] in {"mae", "rmse", "mape", "f1"} else words[0].capitalize()
    return " ".join([head, *words[1:]])


def style(fig: go.Figure, title: str, y_title: str, x_title: str = figures.TIME_AXIS) -> go.Figure:
    """Template, title, height, margins and a bottom legend shared by the pages' charts."""
    fig.update_layout(
        template=figures.TEMPLATE,
        title={"text": title, "x": 0, "xanchor": "left"},
        height=figures.HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 110},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC (Plotly would shift tz-aware times)."""
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def lacks(df: pd.DataFrame, columns: Sequence[str]) -> bool:
    """Whether a frame is empty or misses one of `columns`."""
    return df.empty or any(c not in df.columns for c in columns)


def metric_over_time(
    df: pd.DataFrame,
    metric: str,
    threshold: float,
    window: str = "1h",
    target: float | None = None,
) -> go.Figure:
    """A metric per window; provisional windows (coverage < threshold) shaded, hollow markers."""
    label = metric_label(metric)
    title = f"{label} per {WINDOW_WORDS.get(window, window)}"
    if lacks(df, ("window_start", "provisional", metric)) or df[metric].isna().all():
        return figures.empty_figure(title, NO_LABELS)
    width = WINDOWS[window]
    times = _utc(df["window_start"]) + width / 2  # a window's value belongs to its middle
    values = df[metric].astype(float)
    provisional = df["provisional"].fillna(False).astype(bool).to_numpy()
    fig = go.Figure()
    fig.add_scatter(
        x=times,
        y=values,
        mode="lines",
        name=label,
        showlegend=False,
        line={"color": FINAL_COLOR},
        hoverinfo="skip",
        connectgaps=False,
    )
    fig.add_scatter(
        x=times[~provisional],
        y=values[~provisional],
        mode="markers",
        name=label,
        marker={"color": FINAL_COLOR, "size": 8},
        hovertemplate="%{y:.4g}<extra>final</extra>",
    )
    if provisional.any():
        fig.add_scatter(
            x=times[provisional],
            y=values[provisional],
            mode="markers",
            name=f"provisional: label coverage < {threshold:.0%}",
            marker={
                "color": PROVISIONAL_COLOR,
                "size": 9,
                "symbol": "circle-open",
                "line": {"width": 2},
            },
            hovertemplate="%{y:.4g}<extra>provisional</extra>",
        )
        starts = _utc(df["window_start"])
        for first, last in runs(list(provisional)):
            fig.add_vrect(
                x0=starts.iloc[first],
                x1=starts.iloc[last] + width,
                fillcolor=BAND_COLOR,
                line_width=0,
                layer="below",
            )
    if target is not None:
        fig.add_hline(
            y=target,
            line={"color": "#d62728", "dash": "dash"},
            annotation_text=f"objective {target:g}",
            annotation_position="top left",
        )
    style(fig, title, label)
    if metric in RATIO_METRICS:
        fig.update_yaxes(rangemode="normal", autorangeoptions={"clipmin": 0, "clipmax": 1})
    return fig


def coverage_and_delay(df: pd.DataFrame, threshold: float, window: str = "1h") -> go.Figure:
    """Label coverage per window (bars) and label delay p50/p90 in hours (lines)."""
    title = "Label coverage and delay"
    if lacks(df, ("window_start", "label_coverage", "count")) or not (df["count"] > 0).any():
        return figures.empty_figure(title)
    width = WINDOWS[window]
    times = _utc(df["window_start"]) + width / 2
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    coverage = df["label_coverage"].astype(float) * 100
    colors = [
        PROVISIONAL_COLOR if c < threshold * 100 else FINAL_COLOR for c in coverage.fillna(100)
    ]
    fig.add_bar(
        x=times,
        y=coverage,
        name="label coverage (%)",
        marker_color=colors,
        opacity=0.6,
        hovertemplate="%{y:.1f} % labelled",
        secondary_y=False,
    )
    for column, name, dash in (
        ("label_delay_p50_h", "delay p50 (h)", "solid"),
        ("label_delay_p90_h", "delay p90 (h)", "dash"),
    ):
        if column in df.columns and df[column].notna().any():
            fig.add_scatter(
                x=times,
                y=df[column].astype(float),
                mode="lines+markers",
                name=name,
                line={"color": "#2ca02c", "dash": dash},
                hovertemplate="%{y:.1f} h",
                secondary_y=True,
            )
    fig.add_hline(
        y=threshold * 100,
        line={"color": PROVISIONAL_COLOR, "dash": "dot"},
        annotation_text=f"provisional below {threshold:.0%}",
        annotation_position="top left",
        secondary_y=False,
    )
    style(fig, title, "")
    fig.update_yaxes(title_text="Labelled (%)", range=[0, 105], secondary_y=False)
    fig.update_yaxes(
        title_text="Label delay (h)",
        rangemode="tozero",
        secondary_y=True,
        showgrid=False,
        tickformat=",.0f",
    )
    return fig


def confusion_heatmap(classes: Sequence[str], counts: np.ndarray) -> go.Figure:
    """Counts of true class (rows) against predicted class (columns)."""
    title = "Confusion matrix"
    if len(classes) == 0 or int(np.asarray(counts).sum()) == 0:
        return figures.empty_figure(title, NO_LABELS)
    names = [fmt.plotly_text(c) for c in classes]
    matrix = np.asarray(counts, dtype=np.int64)
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text:,}",
            hovertemplate="true %{y}, predicted %{x}: %{z:,}<extra></extra>",
        )
    )
    style(fig, title, "True class", "Predicted class")
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def calibration(df: pd.DataFrame) -> go.Figure:
    """Fraction of positives against mean score per bin, with the perfect diagonal."""
    title = "Calibration"
    if lacks(df, ("mean_score", "fraction_positive", "count")):
        return figures.empty_figure(title, "No scored, labelled predictions in this range")
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        name="perfectly calibrated",
        line={"color": "#999", "dash": "dash"},
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=df["mean_score"].astype(float),
        y=df["fraction_positive"].astype(float),
        mode="lines+markers",
        name="model",
        customdata=df["count"].astype(int),
        line={"color": FINAL_COLOR},
        hovertemplate="score %{x:.2f}: %{y:.1%} positive (%{customdata:,} rows)<extra></extra>",
    )
    style(fig, title, "Fraction positive", "Mean score")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return fig


def class_recall(recalls: dict[str, float | None]) -> go.Figure:
    """Recall of each class over the range (classes never labelled are left out)."""
    title = "Recall per class"
    known = {c: r for c, r in recalls.items() if r is not None}
    if not known:
        return figures.empty_figure(title, NO_LABELS)
    names = [fmt.plotly_text(c) for c in known]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=list(known.values()),
            marker_color=FINAL_COLOR,
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1])
    return style(fig, title, "Recall", "True class")


def residual_histogram(values: np.ndarray) -> go.Figure:
    """Distribution of residuals (label - prediction)."""
    title = "Residuals (label - prediction)"
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return figures.empty_figure(title, NO_LABELS)
    fig = go.Figure(
        go.Histogram(
            x=values,
            nbinsx=40,
            marker_color=FINAL_COLOR,
            name="residuals",
            hovertemplate="%{y:,} rows<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#999", "dash": "dash"})
    return style(fig, title, "Predictions (count)", "Residual")


def latency_over_time(df: pd.DataFrame, window: str = "1h") -> go.Figure:
    """Latency p50/p90/p95/p99/max per window."""
    title = f"Latency percentiles per {WINDOW_WORDS.get(window, window)}"
    present = [c for c in LATENCY_LINES if c in df.columns]
    if lacks(df, ("window_start",)) or not present or df[present].isna().all().all():
        return figures.empty_figure(title, "No latencies in this range")
    times = _utc(df["window_start"])
    fig = go.Figure()
    for column in present:
        name, dash = LATENCY_LINES[column]
        fig.add_scatter(
            x=times,
            y=df[column].astype(float),
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


def latency_histogram(df: pd.DataFrame) -> go.Figure:
    """Latency counts per bin (bin_lower, bin_upper, count)."""
    title = "Latency distribution"
    if lacks(df, ("bin_lower", "bin_upper", "count")):
        return figures.empty_figure(title, "No latencies in this range")
    lower, upper = df["bin_lower"].astype(float), df["bin_upper"].astype(float)
    fig = go.Figure(
        go.Bar(
            x=(lower + upper) / 2,
            y=df["count"].astype(int),
            width=(upper - lower) * 0.95,
            marker_color=FINAL_COLOR,
            customdata=np.stack([lower, upper], axis=-1),
            hovertemplate="%{customdata[0]:,.1f}-%{customdata[1]:,.1f} ms: %{y:,}<extra></extra>",
            name="predictions",
        )
    )
    return style(fig, title, "Predictions (count)", "Latency (ms)")


def throughput(df: pd.DataFrame, window: str = "1h") -> go.Figure:
    """Predictions per minute, averaged over each window."""
    title = f"Throughput (mean per {WINDOW_WORDS.get(window, window)})"
    if lacks(df, ("window_start", "throughput_per_min", "count")) or not (df["count"] > 0).any():
        return figures.empty_figure(title, "No predictions in this range")
    fig = go.Figure()
    fig.add_scatter(
        x=_utc(df["window_start"]) + WINDOWS[window] / 2,
        y=df["throughput_per_min"].astype(float),
        mode="lines+markers",
        name="predictions per minute",
        line={"color": FINAL_COLOR},
        hovertemplate="%{y:,.2f} per minute<extra></extra>",
    )
    style(fig, title, "Predictions per minute")
    fig.update_yaxes(rangemode="tozero")
    return fig
