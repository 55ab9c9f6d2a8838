"""Latency & traffic: a model's latency percentiles and distribution, throughput and volume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from dashboard import data, figures, latency_data, perf_data, perf_figures
from dashboard import format as fmt
from dashboard.views import getting_started

TABLE_COLUMNS = [
    "window_start",
    "count",
    "throughput_per_min",
    *perf_figures.LATENCY_LINES,
]


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def tiles(name: str, start: datetime, end: datetime, version: str | None) -> None:
    """Predictions, mean throughput and latency quantiles over the whole range."""
    totals = latency_data.latency_totals(name, start, end, version)
    count = int(totals.get("count") or 0)
    minutes = (end - start).total_seconds() / 60
    cols = st.columns(6)
    cols[0].metric("Predictions", fmt.count(count), border=True)
    cols[1].metric(
        "Predictions / min",
        f"{count / minutes:,.2f}" if minutes > 0 else fmt.MISSING,
        help="Mean throughput over the range",
        border=True,
    )
    for col, (label, key) in zip(
        cols[2:],
        (
            ("Latency p50", "latency_p50_ms"),
            ("Latency p95", "latency_p95_ms"),
            ("Latency p99", "latency_p99_ms"),
            ("Latency max", "latency_max_ms"),
        ),
        strict=True,
    ):
        col.metric(label, fmt.ms(totals.get(key)), border=True)


def charts(
    name: str,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None,
    versions: list[str],
) -> None:
    """Percentiles and throughput per window, the latency histogram and volume by version."""
    windows = latency_data.traffic_windows(name, start, end, window, version)
    left, right = st.columns(2)
    show(left, perf_figures.latency_over_time(windows, window), "latency_percentiles")
    histogram = latency_data.latency_histogram(name, start, end, version)
    show(right, perf_figures.latency_histogram(histogram), "latency_histogram")
    left, right = st.columns(2)
    show(left, perf_figures.throughput(windows, window), "latency_throughput")
    bucket = data.auto_bucket(end - start)
    traffic = data.traffic(name, start, end, bucket, version)
    colors = figures.version_colors(versions)
    show(right, figures.prediction_volume(traffic, colors, bucket), "latency_volume")
    st.subheader("Per window")
    table = windows[[c for c in TABLE_COLUMNS if c in windows.columns]]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "window_start": st.column_config.DatetimeColumn(
                "window start (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC"
            ),
            "throughput_per_min": st.column_config.NumberColumn("per minute", format="%.2f"),
            **{
                column: st.column_config.NumberColumn(f"{label} (ms)", format="%.1f")
                for column, (label, _) in perf_figures.LATENCY_LINES.items()
            },
        },
        key="latency_table",
    )
    perf_data.download(st, table, f"{name}-latency.csv", "latency_csv")


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(name: str, version: str | None, range_label: str, window_choice: str) -> None:
    """The refreshing part: re-reads the range so new predictions show up."""
    resolved = perf_data.live_range(name, range_label, window_choice, "latency and traffic")
    if resolved is None:
        return
    summary, start, end, window = resolved
    st.caption(
        f"{fmt.markdown_text(range_label)}: {fmt.timestamp(start)} to "
        f"{fmt.timestamp(summary['last_seen'])}, in {window} windows"
    )
    tiles(name, start, end, version)
    try:
        charts(name, start, end, window, version, summary["versions"])
    except ValueError as exc:  # e.g. too many windows for the range: say how to fix it
        st.warning(str(exc))


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Latency & traffic")
model_name, chosen_version, chosen_range, chosen_window = perf_data.pickers(models, "latency")
live(model_name, chosen_version, chosen_range, chosen_window)
