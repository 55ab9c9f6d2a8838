"""System: the host's CPU, memory, disk, network and GPUs over a recent time range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import data, figures
from dashboard import format as fmt


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


NO_GPU = (
    "No GPU found: no GPU samples in this range. Vigil reads NVIDIA GPUs through NVML "
    "(the `nvidia-ml-py` package and an NVIDIA driver); their charts appear here once "
    "the server sees one."
)


def latest_tiles(latest: dict[str, Any] | None) -> None:
    """The newest sample as tiles: CPU, memory, disk and network."""
    if latest is None:
        st.info("No system samples yet: the server takes one every few seconds.")
        return
    age = (datetime.now(UTC) - latest["ts"]).total_seconds()
    st.caption(
        f"Latest sample from host {fmt.markdown_text(latest['host'])} at "
        f"{fmt.timestamp(latest['ts'])} ({fmt.duration(max(age, 0))} ago)"
    )
    sent, received = latest.get("net_sent_bps"), latest.get("net_recv_bps")
    total = None if sent is None and received is None else (sent or 0) + (received or 0)
    tiles = st.columns(4)
    tiles[0].metric("CPU", fmt.percent(latest.get("cpu_percent")), border=True)
    tiles[1].metric("Memory used", fmt.bytes_(latest.get("mem_used_bytes")), border=True)
    tiles[2].metric("Disk used", fmt.percent(latest.get("disk_percent")), border=True)
    tiles[3].metric(
        "Network",
        fmt.rate(total),
        f"↑ {fmt.rate(sent)}  ↓ {fmt.rate(received)}",
        delta_color="off",
        delta_arrow="off",
        help="Sent plus received; below: sent (↑) and received (↓)",
        border=True,
    )


def host_charts(start: datetime, end: datetime, bucket: str) -> None:
    """CPU, memory, disk and network charts."""
    df = data.system(start, end, bucket)
    builders = (
        ("cpu", figures.cpu_usage),
        ("memory", figures.memory_usage),
        ("disk_io", figures.disk_io),
        ("network", figures.network_io),
    )
    for row in range(0, len(builders), 2):
        for column, (key, build) in zip(st.columns(2), builders[row : row + 2], strict=True):
            show(column, build(df, bucket), f"system_{key}")


def gpu_charts(start: datetime, end: datetime, bucket: str) -> None:
    """Utilisation, memory, temperature and power per GPU, or a note that there is none."""
    st.subheader("GPU")
    df = data.gpu(start, end, bucket)
    if df.empty:
        st.info(NO_GPU, icon=":material/memory:")
        return
    metrics = list(figures.GPU_METRICS)
    for row in range(0, len(metrics), 2):
        for column, metric in zip(st.columns(2), metrics[row : row + 2], strict=True):
            show(column, figures.gpu_metric(df, metric, bucket), f"gpu_{metric}")


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(range_label: str) -> None:
    """The refreshing part: the range always ends now."""
    latest_tiles(data.latest_system())
    window = data.system_window(*data.now_range(range_label))
    if window is None:
        st.info(f"No host samples in the {range_label.lower()}.")
        return
    start, end = window
    bucket = data.auto_bucket(end - start, data.SYSTEM_BUCKETS)
    st.caption(f"Averages per {figures.BUCKET_WORDS[bucket]}.")
    host_charts(start, end, bucket)
    gpu_charts(start, end, bucket)


st.title("System")
chosen = st.segmented_control(
    "Time range", list(data.SYSTEM_RANGES), default="Last 1 h", required=True, key="system_range"
)
live(str(chosen))
