"""Overview: one model's traffic, accuracy, latency and the host's load over a time range."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import streamlit as st

from dashboard import data, figures
from dashboard import format as fmt
from dashboard.views import getting_started

NO_HOST_SAMPLES = "No host samples in this range<br>(the server records them while it runs)"


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def pickers(models: list[dict[str, Any]]) -> tuple[str, str | None, str]:
    """Model, version (None for all) and range label chosen at the top of the page."""
    names = [m["name"] for m in models]
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    name = left.selectbox("Model", names, key="overview_model")
    summary = next(m for m in models if m["name"] == name)
    choice = middle.selectbox(
        "Version", [data.ALL_VERSIONS, *summary["versions"]], key=f"overview_version_{name}"
    )
    range_label = right.segmented_control(
        "Time range",
        list(data.OVERVIEW_RANGES),
        default=data.default_range(summary["first_seen"], summary["last_seen"]),
        required=True,
        key=f"overview_range_{name}",
    )
    version = None if choice == data.ALL_VERSIONS else str(choice)
    return name, version, str(range_label)


def kpi_tiles(name: str, task: str, start: datetime, end: datetime, version: str | None) -> None:
    """Predictions, accuracy (or MAE), p95 latency and the host's latest CPU and memory."""
    kpis = data.kpis(name, start, end, version)
    latest = data.latest_system() or {}
    tiles = st.columns(5)
    tiles[0].metric("Predictions", fmt.count(kpis["predictions"]), border=True)
    labeled = int(kpis["labeled"] or 0)
    note = f"{fmt.count(labeled)} labelled" if labeled else "no labels yet"
    if task == "regression":
        mae = kpis.get("mae")
        value = fmt.MISSING if mae is None else f"{mae:,.4g}"
        tiles[1].metric("MAE", value, note, delta_color="off", delta_arrow="off", border=True)
    else:
        value = fmt.percent(kpis.get("accuracy"), ratio=True)
        tiles[1].metric("Accuracy", value, note, delta_color="off", delta_arrow="off", border=True)
    tiles[2].metric("Latency p95", fmt.ms(kpis["latency_p95_ms"]), border=True)
    tiles[3].metric(
        "CPU", fmt.percent(latest.get("cpu_percent")), help="Latest host sample", border=True
    )
    tiles[4].metric(
        "Memory used",
        fmt.bytes_(latest.get("mem_used_bytes")),
        help="Latest host sample",
        border=True,
    )


def model_charts(
    name: str, start: datetime, end: datetime, version: str | None, versions: list[str]
) -> None:
    """Volume, latency and accuracy over the range; colours follow the version."""
    span = end - start
    bucket = data.auto_bucket(span)
    colors = figures.version_colors(versions)
    traffic = data.traffic(name, start, end, bucket, version)
    left, right = st.columns(2)
    show(left, figures.prediction_volume(traffic, colors, bucket), "volume")
    show(right, figures.latency_percentiles(traffic, colors, bucket), "latency")
    # Labels are sparse: a day is the natural unit, unless the range is shorter than two.
    acc_bucket = "1h" if span < timedelta(days=2) else "1d"
    accuracy = data.accuracy(name, start, end, acc_bucket, version)
    show(st, figures.accuracy_over_time(accuracy, colors, acc_bucket), "accuracy")


def host_charts(start: datetime, end: datetime) -> None:
    """CPU and memory over the part of the range that has host samples."""
    window = data.system_window(start, end)
    left, right = st.columns(2)
    if window is None:
        show(left, figures.empty_figure("CPU", NO_HOST_SAMPLES), "cpu")
        show(right, figures.empty_figure("Memory", NO_HOST_SAMPLES), "memory")
        return
    # Host samples exist only while the server runs: size buckets to that part.
    start, end = window
    bucket = data.auto_bucket(end - start, data.SYSTEM_BUCKETS)
    system = data.system(start, end, bucket)
    show(left, figures.cpu_usage(system, bucket), "cpu")
    show(right, figures.memory_usage(system, bucket), "memory")


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(name: str, version: str | None, range_label: str) -> None:
    """The refreshing part: re-reads the model's range so new predictions show up."""
    summary = next((m for m in data.model_summaries() if m["name"] == name), None)
    if summary is None:
        st.warning("This model no longer exists. Pick another one.")
        return
    if not summary["predictions"]:
        st.info("This model has no predictions yet: send some to see its charts.")
        return
    start, end = data.model_range(range_label, summary["first_seen"], summary["last_seen"])
    assert start is not None and end is not None  # the model has predictions
    st.caption(
        f"{fmt.markdown_text(range_label)}: {fmt.timestamp(start)} to "
        f"{fmt.timestamp(summary['last_seen'])} (ranges end at the model's last prediction)"
    )
    kpi_tiles(name, summary["task"], start, end, version)
    model_charts(name, start, end, version, summary["versions"])
    host_charts(start, end)


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Overview")
model_name, chosen_version, chosen_range = pickers(models)
live(model_name, chosen_version, chosen_range)
