"""Figure builders on small fixture frames: the traces carry the frame's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard import format as fmt

T0 = datetime(2026, 11, 20, tzinfo=UTC)
GIB = 1024**3


def times(n: int, step: timedelta = timedelta(hours=1)) -> list[datetime]:
    return [T0 + i * step for i in range(n)]


def traffic_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bucket": times(2) * 2,
            "version": ["1", "1", "2", "2"],
            "predictions": [10, 20, 3, 4],
            "latency_p50_ms": [5.0, 6.0, 7.0, 8.0],
            "latency_p95_ms": [15.0, 16.0, 17.0, 18.0],
            "latency_p99_ms": [25.0, 26.0, 27.0, 28.0],
        }
    )


def system_frame(hosts: tuple[str, ...] = ("h1",)) -> pd.DataFrame:
    rows = []
    for host in hosts:
        for i, ts in enumerate(times(3, timedelta(minutes=1))):
            rows.append(
                {
                    "bucket": ts,
                    "host": host,
                    "cpu_percent": 10.0 + i,
                    "proc_cpu_percent": 1.0 + i,
                    "mem_used_bytes": (2 + i) * GIB,
                    "mem_available_bytes": 4 * GIB,
                    "swap_used_bytes": 0,
                    "proc_rss_bytes": GIB // 2,
                    "disk_percent": 50.0,
                    "disk_read_bps": 1024.0 * (i + 1),
                    "disk_write_bps": 2048.0,
                    "net_sent_bps": 100.0,
                    "net_recv_bps": 200.0,
                }
            )
    return pd.DataFrame(rows)


def by_name(fig: go.Figure) -> dict[str, go.BaseTraceType]:
    return {trace.name: trace for trace in fig.data}


def assert_no_data(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 0
    assert any("No data" in (a.text or "") for a in fig.layout.annotations)


def test_prediction_volume_has_one_bar_trace_per_version() -> None:
    fig = figures.prediction_volume(traffic_frame(), bucket="1h")
    traces = by_name(fig)
    assert sorted(traces) == ["1", "2"]
    assert list(traces["1"].y) == [10, 20]
    assert list(traces["2"].y) == [3, 4]
    assert all(isinstance(t, go.Bar) for t in fig.data)
    assert fig.layout.barmode == "stack"
    assert fig.layout.title.text == "Predictions per hour"
    assert fig.layout.template.layout.paper_bgcolor is not None  # plotly_white applied


def test_times_are_shown_as_naive_utc() -> None:
    frame = traffic_frame()
    frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.tz_convert("America/New_York")
    fig = figures.prediction_volume(frame, bucket="1h")
    # Bars are centred on their bucket: the 00:00 UTC hour is drawn at 00:30.
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-20 00:30")
    assert fig.data[0].width == pytest.approx(0.9 * 3_600_000)


def test_version_colours_are_shared_and_stable() -> None:
    colors = figures.version_colors(["2", "1", "3"])
    assert colors == {"1": figures.PALETTE[0], "2": figures.PALETTE[1], "3": figures.PALETTE[2]}
    # A frame filtered to version 2 keeps version 2's colour when the map is passed.
    only_two = traffic_frame().query("version == '2'")
    fig = figures.prediction_volume(only_two, colors)
    assert fig.data[0].marker.color == colors["2"]
    latency = figures.latency_percentiles(only_two, colors)
    assert {t.line.color for t in latency.data} == {colors["2"]}


def test_latency_percentiles_has_three_lines_per_version() -> None:
    fig = figures.latency_percentiles(traffic_frame())
    traces = by_name(fig)
    assert sorted(traces) == ["1 p50", "1 p95", "1 p99", "2 p50", "2 p95", "2 p99"]
    assert list(traces["1 p95"].y) == [15.0, 16.0]
    assert list(traces["2 p99"].y) == [27.0, 28.0]
    assert fig.layout.yaxis.title.text == "Latency (ms)"


def test_latency_without_any_latency_is_no_data() -> None:
    frame = traffic_frame()
    for column in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        frame[column] = float("nan")
    assert_no_data(figures.latency_percentiles(frame))


def test_accuracy_over_time_in_percent_with_labelled_share() -> None:
    frame = pd.DataFrame(
        {
            "bucket": times(2, timedelta(days=1)) * 2,
            "version": ["1", "1", "2", "2"],
            "predictions": [100, 50, 10, 20],
            "labeled": [40, 0, 10, 5],
            "accuracy": [0.75, None, 0.5, 1.0],
        }
    )
    fig = figures.accuracy_over_time(frame)
    traces = by_name(fig)
    assert sorted(traces) == ["1", "1 labelled", "2", "2 labelled"]
    assert list(traces["1"].y[:1]) == [75.0]
    assert list(traces["2"].y) == [50.0, 100.0]
    assert list(traces["1 labelled"].y) == [40.0, 0.0]
    assert list(traces["2 labelled"].y) == [100.0, 25.0]
    assert list(traces["1"].customdata) == [40, 0]
    assert fig.layout.title.text == "Accuracy per day"


def test_accuracy_for_regression_shows_mae() -> None:
    frame = pd.DataFrame(
        {
            "bucket": times(1, timedelta(days=1)),
            "version": ["1"],
            "predictions": [4],
            "labeled": [2],
            "mae": [0.25],
        }
    )
    fig = figures.accuracy_over_time(frame)
    assert list(by_name(fig)["1"].y) == [0.25]
    assert fig.layout.title.text == "MAE per day"


def test_accuracy_without_labels_says_so() -> None:
    frame = pd.DataFrame(
        {
            "bucket": times(1),
            "version": ["1"],
            "predictions": [4],
            "labeled": [0],
            "accuracy": [None],
        }
    )
    fig = figures.accuracy_over_time(frame)
    assert len(fig.data) == 0
    assert "No labelled predictions" in fig.layout.annotations[0].text


def test_cpu_usage_lines() -> None:
    fig = figures.cpu_usage(system_frame())
    traces = by_name(fig)
    assert sorted(traces) == ["Vigil process", "host CPU"]
    assert list(traces["host CPU"].y) == [10.0, 11.0, 12.0]
    assert fig.layout.yaxis.title.text == "CPU (%)"


def test_several_hosts_are_named_per_trace() -> None:
    fig = figures.cpu_usage(system_frame(("a", "b")))
    assert sorted(by_name(fig)) == [
        "a Vigil process",
        "a host CPU",
        "b Vigil process",
        "b host CPU",
    ]


def test_memory_is_scaled_to_one_iec_unit() -> None:
    fig = figures.memory_usage(system_frame())
    traces = by_name(fig)
    assert list(traces["used"].y) == [2.0, 3.0, 4.0]
    assert list(traces["Vigil process"].y) == [0.5, 0.5, 0.5]
    assert fig.layout.yaxis.title.text == "Memory (GiB)"


def test_disk_and_network_rates() -> None:
    disk = figures.disk_io(system_frame())
    assert list(by_name(disk)["read"].y) == [1.0, 2.0, 3.0]  # in KiB/s: the peak write is 2 KiB/s
    assert disk.layout.yaxis.title.text == "Disk I/O (KiB/s)"
    network = figures.network_io(system_frame())
    assert list(by_name(network)["received"].y) == [200.0, 200.0, 200.0]
    assert network.layout.yaxis.title.text == "Network (B/s)"
    assert list(by_name(figures.disk_usage(system_frame()))["used"].y) == [50.0] * 3


def gpu_frame() -> pd.DataFrame:
    rows = []
    for index in (0, 1):
        for i, ts in enumerate(times(2, timedelta(minutes=1))):
            rows.append(
                {
                    "bucket": ts,
                    "host": "h1",
                    "gpu_index": index,
                    "name": "NVIDIA H100",
                    "util_percent": 10.0 * (index + 1) + i,
                    "mem_used_bytes": (index + 1) * GIB,
                    "mem_total_bytes": 80 * GIB,
                    "temperature_c": 40.0 + index,
                    "power_w": 100.0 + i,
                }
            )
    return pd.DataFrame(rows)


def test_gpu_metric_has_one_line_per_device() -> None:
    fig = figures.gpu_metric(gpu_frame(), "util_percent")
    traces = by_name(fig)
    assert sorted(traces) == ["GPU 0 NVIDIA H100", "GPU 1 NVIDIA H100"]
    assert list(traces["GPU 1 NVIDIA H100"].y) == [20.0, 21.0]
    memory = figures.gpu_metric(gpu_frame(), "mem_used_bytes")
    assert list(by_name(memory)["GPU 1 NVIDIA H100"].y) == [2.0, 2.0]
    assert memory.layout.yaxis.title.text == "Memory used (GiB)"


def test_unknown_gpu_metric_names_the_choices() -> None:
    with pytest.raises(ValueError, match="util_percent"):
        figures.gpu_metric(gpu_frame(), "fan_speed")


@pytest.mark.parametrize(
    "build",
    [
        figures.prediction_volume,
        figures.latency_percentiles,
        figures.accuracy_over_time,
        figures.cpu_usage,
        figures.memory_usage,
        figures.disk_io,
        figures.disk_usage,
        figures.network_io,
        lambda df: figures.gpu_metric(df, "power_w"),
    ],
)
def test_empty_frames_give_a_no_data_figure(build: object) -> None:
    assert callable(build)
    fig = build(pd.DataFrame())
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 0
    assert len(fig.layout.annotations) == 1
    assert "No" in fig.layout.annotations[0].text


def test_user_text_is_escaped_in_trace_names() -> None:
    frame = traffic_frame()
    frame["version"] = ["<b>x</b>", "<b>x</b>", "2", "2"]
    fig = figures.prediction_volume(frame)
    assert "&lt;b&gt;x&lt;/b&gt;" in {t.name for t in fig.data}
    assert not any("<b>" in t.name for t in fig.data)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: fmt.count(1234567), "1,234,567"),
        (lambda: fmt.count(None), fmt.MISSING),
        (lambda: fmt.percent(0.9345, ratio=True), "93.5 %"),
        (lambda: fmt.percent(12.34), "12.3 %"),
        (lambda: fmt.percent(float("nan")), fmt.MISSING),
        (lambda: fmt.bytes_(512), "512 B"),
        (lambda: fmt.bytes_(1536), "1.5 KiB"),
        (lambda: fmt.bytes_(3 * GIB), "3.0 GiB"),
        (lambda: fmt.bytes_(1000 * 1024**2), "1.0 GiB"),
        (lambda: fmt.bytes_(999), "999 B"),
        (lambda: fmt.rate(2 * 1024**2), "2.0 MiB/s"),
        (lambda: fmt.ms(0.421), "0.42 ms"),
        (lambda: fmt.ms(12.34), "12.3 ms"),
        (lambda: fmt.ms(1234.5), "1,234 ms"),
        (lambda: fmt.duration(45), "45 s"),
        (lambda: fmt.duration(900), "15 min"),
        (lambda: fmt.duration(86_400), "1 day"),
        (lambda: fmt.duration(7 * 86_400), "7 days"),
        (lambda: fmt.timestamp(T0), "2026-11-20 00:00 UTC"),
        (lambda: fmt.markdown_text("a_b*[x](y)"), r"a\_b\*\[x\]\(y\)"),
    ],
)
def test_formatting(call: object, expected: str) -> None:
    assert callable(call)
    assert call() == expected


def test_a_single_time_gets_markers_and_a_bucket_wide_axis() -> None:
    frame = traffic_frame().iloc[:1]
    fig = figures.latency_percentiles(frame, bucket="5m")
    assert {t.mode for t in fig.data} == {"markers"}
    low, high = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    assert high - low == pd.Timedelta(minutes=10)


def test_unknown_bucket_names_the_choices() -> None:
    with pytest.raises(ValueError, match="1h"):
        figures.prediction_volume(traffic_frame(), bucket="2h")
