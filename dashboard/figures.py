"""Plotly figure builders: a DataFrame from storage.queries in, a go.Figure out, no I/O.

Every builder accepts an empty frame and returns a figure that says "No data" instead of
raising. Times are shown in UTC; user text (versions, hosts, GPU names) is escaped because
Plotly interprets a subset of HTML in names and hovers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dashboard import format as fmt

TEMPLATE = "plotly_white"
HEIGHT = 380
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
NO_DATA = "No data in this range"
TIME_AXIS = "Time (UTC)"
BUCKET_SIZES = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
}
BUCKET_WORDS = {
    "1m": "minute",
    "5m": "5 minutes",
    "15m": "15 minutes",
    "1h": "hour",
    "6h": "6 hours",
    "1d": "day",
}
_PERCENTILE_DASH = {"latency_p50_ms": "dot", "latency_p95_ms": "solid", "latency_p99_ms": "dash"}


def version_colors(versions: Iterable[str]) -> dict[str, str]:
    """A stable colour per version (sorted), so every chart shows a version alike."""
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(sorted(set(versions)))}


def _style(fig: go.Figure, title: str, y_title: str, x_title: str = TIME_AXIS) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0, "xanchor": "left"},
        height=HEIGHT,
        # Legends sit at the figure's bottom edge, under the axis title: on top, long ones
        # (six latency lines) would cover the title.
        margin={"l": 60, "r": 20, "t": 50, "b": 110},
        hovermode="x unified",
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "traceorder": "normal",
        },
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return fig


def _bucket(bucket: str) -> timedelta:
    try:
        return BUCKET_SIZES[bucket]
    except KeyError:
        raise ValueError(
            f"unknown time bucket {bucket!r}: use one of {', '.join(BUCKET_SIZES)}"
        ) from None


def _frame_time(fig: go.Figure, times: pd.Series, bucket: str) -> None:
    """Give a chart with a single time a bucket-wide axis (Plotly would zoom to microseconds)."""
    if times.nunique() == 1:
        pad = _bucket(bucket)
        fig.update_xaxes(range=[times.iloc[0] - pad, times.iloc[0] + pad])


def _mode(points: int) -> str:
    """A lone point drawn as a line is invisible: show markers then."""
    return "lines" if points > 1 else "markers"


def empty_figure(title: str, message: str = NO_DATA) -> go.Figure:
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
    _style(fig, title, "")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC (Plotly would otherwise shift tz-aware times)."""
    times = pd.to_datetime(values, utc=True)
    return times.dt.tz_convert("UTC").dt.tz_localize(None)


def _missing(df: pd.DataFrame, columns: Sequence[str]) -> bool:
    return df.empty or any(c not in df.columns for c in columns)


def _groups(df: pd.DataFrame, key: str) -> list[tuple[str, pd.DataFrame]]:
    """Rows per value of `key` (as text), in sorted order."""
    keyed = df.assign(_key=df[key].astype(str))
    return [(str(k), part) for k, part in keyed.groupby("_key", sort=True)]


def prediction_volume(
    df: pd.DataFrame, colors: Mapping[str, str] | None = None, bucket: str = "1h"
) -> go.Figure:
    """Stacked bars of predictions per time bucket, one colour per version."""
    title = f"Predictions per {BUCKET_WORDS.get(bucket, bucket)}"
    width_ms = _bucket(bucket).total_seconds() * 1000 * 0.9
    if _missing(df, ("bucket", "version", "predictions")):
        return empty_figure(title)
    colors = colors or version_colors(df["version"].astype(str))
    fig = go.Figure()
    for version, part in _groups(df, "version"):
        fig.add_bar(
            # Bars are centred on x: shift them so each covers its bucket.
            x=_utc(part["bucket"]) + _bucket(bucket) / 2,
            y=part["predictions"].astype(int),
            width=width_ms,
            name=fmt.plotly_text(version),
            marker_color=colors.get(version),
            hovertemplate="%{y:,} predictions",
        )
    fig.update_layout(barmode="stack", legend_title_text="Version")
    _frame_time(fig, _utc(df["bucket"]) + _bucket(bucket) / 2, bucket)
    return _style(fig, title, "Predictions (count)")


def latency_percentiles(
    df: pd.DataFrame, colors: Mapping[str, str] | None = None, bucket: str = "1h"
) -> go.Figure:
    """Latency p50/p95/p99 per bucket: colour is the version, dash the percentile."""
    title = "Latency percentiles"
    columns = ("bucket", "version", *_PERCENTILE_DASH)
    if _missing(df, columns) or df[list(_PERCENTILE_DASH)].isna().all().all():
        return empty_figure(title)
    colors = colors or version_colors(df["version"].astype(str))
    fig = go.Figure()
    for version, part in _groups(df, "version"):
        for column, dash in _PERCENTILE_DASH.items():
            label = column.split("_")[1]
            fig.add_scatter(
                x=_utc(part["bucket"]),
                y=part[column].astype(float),
                mode=_mode(len(part)),
                name=f"{fmt.plotly_text(version)} {label}",
                legendgroup=version,
                line={"color": colors.get(version), "dash": dash},
                hovertemplate="%{y:,.1f} ms",
            )
    _frame_time(fig, _utc(df["bucket"]), bucket)
    return _style(fig, title, "Latency (ms)")


def accuracy_over_time(
    df: pd.DataFrame, colors: Mapping[str, str] | None = None, bucket: str = "1d"
) -> go.Figure:
    """Accuracy (or MAE) per version on top, the labelled share of predictions below."""
    regression = "mae" in df.columns
    metric = "mae" if regression else "accuracy"
    name = "MAE" if regression else "Accuracy"
    title = f"{name} per {BUCKET_WORDS.get(bucket, bucket)}"
    half = _bucket(bucket) / 2
    needed = ("bucket", "version", "predictions", "labeled", metric)
    if _missing(df, needed) or not (df["labeled"] > 0).any():
        return empty_figure(title, "No labelled predictions in this range")
    colors = colors or version_colors(df["version"].astype(str))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3])
    for version, part in _groups(df, "version"):
        times = _utc(part["bucket"]) + half  # a bucket's value belongs to its middle
        values = part[metric].astype(float) * (1 if regression else 100)
        share = part["labeled"] / part["predictions"].where(part["predictions"] > 0) * 100
        color = colors.get(version)
        text = fmt.plotly_text(version)
        fig.add_scatter(
            x=times,
            y=values,
            mode="lines+markers",
            connectgaps=False,
            name=text,
            legendgroup=version,
            line={"color": color},
            customdata=part["labeled"].astype(int),
            hovertemplate=("%{y:,.3f}" if regression else "%{y:.1f} %")
            + " (%{customdata:,} labelled)",
            row=1,
            col=1,
        )
        fig.add_bar(
            x=times,
            y=share.astype(float),
            name=f"{text} labelled",
            legendgroup=version,
            showlegend=False,
            marker_color=color,
            opacity=0.6,
            hovertemplate="%{y:.1f} % labelled",
            row=2,
            col=1,
        )
    _style(fig, title, "")
    fig.update_layout(height=HEIGHT + 80, barmode="group", legend_title_text="Version")
    fig.update_xaxes(title_text="", row=1, col=1)
    fig.update_yaxes(title_text="MAE" if regression else "Accuracy (%)", row=1, col=1)
    fig.update_yaxes(title_text="Labelled (%)", range=[0, 100], row=2, col=1)
    if not regression:
        # Not 0-100: a drop from 93 % to 88 % must be visible.
        fig.update_yaxes(
            rangemode="normal", autorangeoptions={"clipmin": 0, "clipmax": 100}, row=1, col=1
        )
    _frame_time(fig, _utc(df["bucket"]) + half, bucket)
    return fig


def _series_figure(
    df: pd.DataFrame,
    title: str,
    columns: Mapping[str, str],
    y_title: str,
    bucket: str,
    scale: float = 1.0,
    hover: str = "%{y:,.1f}",
) -> go.Figure:
    """One line per (host, column); the host is named only when there are several."""
    present = {c: label for c, label in columns.items() if c in df.columns}
    if _missing(df, ("bucket", "host")) or not present or df[list(present)].isna().all().all():
        return empty_figure(title)
    groups = _groups(df, "host")
    fig = go.Figure()
    for host, part in groups:
        for column, label in present.items():
            if part[column].isna().all():
                continue
            fig.add_scatter(
                x=_utc(part["bucket"]),
                y=part[column].astype(float) / scale,
                mode=_mode(len(part)),
                name=label if len(groups) == 1 else f"{fmt.plotly_text(host)} {label}",
                hovertemplate=hover,
            )
    _frame_time(fig, _utc(df["bucket"]), bucket)
    return _style(fig, title, y_title)


def cpu_usage(df: pd.DataFrame, bucket: str = "1m") -> go.Figure:
    """Host CPU % and the Vigil process's CPU % over time."""
    columns = {"cpu_percent": "host CPU", "proc_cpu_percent": "Vigil process"}
    return _series_figure(df, "CPU", columns, "CPU (%)", bucket, hover="%{y:.1f} %")


def _byte_series(
    df: pd.DataFrame, title: str, columns: Mapping[str, str], bucket: str, per_s: bool
) -> go.Figure:
    """Byte (or byte/s) columns scaled to one IEC unit chosen from the largest value."""
    present = [c for c in columns if c in df.columns]
    peak = df[present].max().max() if present and not df.empty else 0
    divisor, unit = fmt.byte_unit(peak if pd.notna(peak) else 0)
    unit = f"{unit}/s" if per_s else unit
    hover = f"%{{y:,.2f}} {unit}"
    return _series_figure(df, title, columns, f"{title} ({unit})", bucket, divisor, hover)


def memory_usage(df: pd.DataFrame, bucket: str = "1m") -> go.Figure:
    """Memory used and available, swap used and the Vigil process's resident memory."""
    columns = {
        "mem_used_bytes": "used",
        "mem_available_bytes": "available",
        "swap_used_bytes": "swap used",
        "proc_rss_bytes": "Vigil process",
    }
    return _byte_series(df, "Memory", columns, bucket, per_s=False)


def disk_io(df: pd.DataFrame, bucket: str = "1m") -> go.Figure:
    """Disk read and write rates."""
    columns = {"disk_read_bps": "read", "disk_write_bps": "write"}
    return _byte_series(df, "Disk I/O", columns, bucket, per_s=True)


def disk_usage(df: pd.DataFrame, bucket: str = "1m") -> go.Figure:
    """Used share of the data directory's disk."""
    columns = {"disk_percent": "used"}
    return _series_figure(df, "Disk used", columns, "Disk used (%)", bucket, hover="%{y:.1f} %")


def network_io(df: pd.DataFrame, bucket: str = "1m") -> go.Figure:
    """Network send and receive rates."""
    columns = {"net_sent_bps": "sent", "net_recv_bps": "received"}
    return _byte_series(df, "Network", columns, bucket, per_s=True)


GPU_METRICS: dict[str, tuple[str, str]] = {
    "util_percent": ("GPU utilisation", "Utilisation (%)"),
    "mem_used_bytes": ("GPU memory used", "Memory used"),
    "temperature_c": ("GPU temperature", "Temperature (°C)"),
    "power_w": ("GPU power", "Power (W)"),
}


def _device_label(host: str, index: int, part: pd.DataFrame, several_hosts: bool) -> str:
    gpu = f"GPU {int(index)}"
    if "name" in part.columns and part["name"].notna().any():
        gpu = f"{gpu} {part['name'].dropna().iloc[0]}"
    return fmt.plotly_text(f"{host} {gpu}" if several_hosts else gpu)


def gpu_metric(df: pd.DataFrame, metric: str, bucket: str = "1m") -> go.Figure:
    """One GPU metric over time, one line per device (host, index and name)."""
    if metric not in GPU_METRICS:
        raise ValueError(f"unknown GPU metric {metric!r}: use one of {', '.join(GPU_METRICS)}")
    title, y_title = GPU_METRICS[metric]
    if _missing(df, ("bucket", "host", "gpu_index", metric)) or df[metric].isna().all():
        return empty_figure(title)
    divisor, unit = 1.0, ""
    if metric == "mem_used_bytes":
        divisor, unit = fmt.byte_unit(df[metric].max())
        y_title = f"{y_title} ({unit})"
    several_hosts = df["host"].nunique() > 1
    fig = go.Figure()
    for _, part in df.groupby(["host", "gpu_index"], sort=True):
        host, index = str(part["host"].iloc[0]), int(part["gpu_index"].iloc[0])
        fig.add_scatter(
            x=_utc(part["bucket"]),
            y=part[metric].astype(float) / divisor,
            mode=_mode(len(part)),
            name=_device_label(host, index, part, several_hosts),
            hovertemplate=f"%{{y:,.1f}} {unit}".rstrip(),
        )
    _frame_time(fig, _utc(df["bucket"]), bucket)
    return _style(fig, title, y_title)
