"""Tests for the system sampler, its psutil host source and the NVML GPU source.

No GPU or NVIDIA driver exists on the test machine, so GPU sources here are fixtures
(plain classes standing in for NVML); the real NvmlSource is only checked to report no
GPUs without raising. Host sources are fixtures where exact numbers are asserted and the
real PsutilSource where sanity is asserted.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import namedtuple
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from collectors.gpu import GpuReading, NvmlSource
from collectors.host import (
    DiskIo,
    MemoryInfo,
    NetIo,
    ProcessInfo,
    PsutilSource,
    SwapInfo,
    busy_percent,
)
from collectors.system import (
    GPU_COLUMNS,
    SYSTEM_COLUMNS,
    SystemSample,
    SystemSampler,
    counter_rate,
    default_sampler,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeHost:
    """HostSource fixture: fixed gauges, counters scripted one reading per sample."""

    def __init__(self, disk: list[DiskIo | None], net: list[NetIo | None]) -> None:
        self._disk = iter(disk)
        self._net = iter(net)

    def cpu_percent(self) -> float | None:
        return 12.5

    def loadavg(self) -> tuple[float, float, float]:
        return (0.5, 0.25, 0.125)

    def virtual_memory(self) -> MemoryInfo:
        return MemoryInfo(used_bytes=4_000, available_bytes=6_000)

    def swap(self) -> SwapInfo:
        return SwapInfo(used_bytes=100, percent=10.0)

    def disk_usage(self, path: Path) -> float | None:
        return 42.0

    def disk_io_counters(self) -> DiskIo | None:
        return next(self._disk)

    def net_io_counters(self) -> NetIo | None:
        return next(self._net)

    def process(self) -> ProcessInfo | None:
        return ProcessInfo(cpu_percent=150.0, rss_bytes=2_048)

    def hostname(self) -> str:
        return "box-1"


class FakeClock:
    """Monotonic clock fixture that returns scripted times."""

    def __init__(self, *times: float) -> None:
        self._times = iter(times)

    def __call__(self) -> float:
        return next(self._times)


class FakeGpus:
    """GpuSource fixture with two devices (no GPU exists on the test machine)."""

    def devices(self) -> list[GpuReading]:
        return [
            GpuReading(0, "H100", "GPU-aaa", 99.0, 1_000, 80_000, 61.0, 350.5),
            GpuReading(1, "H100", "GPU-bbb", 0.0, 0, 80_000, 30.0, None),
        ]


def make_sampler(tmp_path: Path, host: Any, *times: float, gpus: Any = None) -> SystemSampler:
    return SystemSampler(host, tmp_path, gpus, clock=FakeClock(*times), now=lambda: T0)


def test_first_sample_has_no_rates(tmp_path: Path) -> None:
    host = FakeHost([DiskIo(10, 20)], [NetIo(30, 40)])
    first = make_sampler(tmp_path, host, 100.0).sample()
    rates = (first.disk_read_bps, first.disk_write_bps, first.net_sent_bps, first.net_recv_bps)
    assert rates == (None, None, None, None)


def test_rates_are_counter_deltas_over_monotonic_elapsed(tmp_path: Path) -> None:
    host = FakeHost(
        [DiskIo(1_000, 2_000), DiskIo(2_000, 5_000), DiskIo(2_000, 5_500)],
        [NetIo(100, 200), NetIo(600, 450), NetIo(1_600, 450)],
    )
    sampler = make_sampler(tmp_path, host, 10.0, 12.0, 17.0)
    sampler.sample()
    second, third = sampler.sample(), sampler.sample()
    assert (second.disk_read_bps, second.disk_write_bps) == (500.0, 1_500.0)
    assert (second.net_sent_bps, second.net_recv_bps) == (250.0, 125.0)
    assert (third.disk_read_bps, third.disk_write_bps) == (0.0, 100.0)
    assert (third.net_sent_bps, third.net_recv_bps) == (200.0, 0.0)


def test_counter_reset_gives_none_for_that_interval_only(tmp_path: Path) -> None:
    host = FakeHost(
        [DiskIo(5_000, 100), DiskIo(10, 300), DiskIo(1_010, 400)],
        [NetIo(900, 900), NetIo(1_000, 5), NetIo(1_000, 15)],
    )
    sampler = make_sampler(tmp_path, host, 0.0, 5.0, 10.0)
    sampler.sample()
    reset, after = sampler.sample(), sampler.sample()
    assert (reset.disk_read_bps, reset.disk_write_bps) == (None, 40.0)
    assert (reset.net_sent_bps, reset.net_recv_bps) == (20.0, None)
    assert (after.disk_read_bps, after.net_recv_bps) == (200.0, 2.0)


def test_missing_counters_and_zero_elapsed_give_none(tmp_path: Path) -> None:
    host = FakeHost([DiskIo(0, 0), None, DiskIo(10, 10)], [NetIo(0, 0), NetIo(5, 5), NetIo(9, 9)])
    sampler = make_sampler(tmp_path, host, 1.0, 2.0, 2.0)
    sampler.sample()
    no_disk, no_time = sampler.sample(), sampler.sample()
    assert (no_disk.disk_read_bps, no_disk.net_sent_bps) == (None, 5.0)
    assert (no_time.disk_read_bps, no_time.net_sent_bps) == (None, None)


@pytest.mark.parametrize(
    ("before", "after", "elapsed", "expected"),
    [
        (100, 350, 5.0, 50.0),
        (100, 100, 5.0, 0.0),
        (100, 99, 5.0, None),
        (None, 99, 5.0, None),
        (100, None, 5.0, None),
        (100, 200, 0.0, None),
        (100, 200, -1.0, None),
    ],
)
def test_counter_rate(before: int | None, after: int | None, elapsed: float, expected: Any) -> None:
    assert counter_rate(before, after, elapsed) == expected


def test_to_row_has_storage_columns_and_values(tmp_path: Path) -> None:
    host = FakeHost([DiskIo(0, 0)], [NetIo(0, 0)])
    row = make_sampler(tmp_path, host, 0.0).sample().to_row()
    assert tuple(row) == SYSTEM_COLUMNS
    assert row == {
        "ts": T0,
        "host": "box-1",
        "cpu_percent": 12.5,
        "load1": 0.5,
        "load5": 0.25,
        "load15": 0.125,
        "mem_used_bytes": 4_000,
        "mem_available_bytes": 6_000,
        "swap_used_bytes": 100,
        "swap_percent": 10.0,
        "disk_percent": 42.0,
        "disk_read_bps": None,
        "disk_write_bps": None,
        "net_sent_bps": None,
        "net_recv_bps": None,
        "proc_cpu_percent": 150.0,
        "proc_rss_bytes": 2_048,
    }


def test_two_gpus_give_two_rows_with_their_fields(tmp_path: Path) -> None:
    host = FakeHost([DiskIo(0, 0)], [NetIo(0, 0)])
    sample = make_sampler(tmp_path, host, 0.0, gpus=FakeGpus()).sample()
    rows = sample.gpu_rows()
    assert [tuple(row) for row in rows] == [GPU_COLUMNS, GPU_COLUMNS]
    assert rows[0] == {
        "ts": T0,
        "host": "box-1",
        "gpu_index": 0,
        "name": "H100",
        "uuid": "GPU-aaa",
        "util_percent": 99.0,
        "mem_used_bytes": 1_000,
        "mem_total_bytes": 80_000,
        "temperature_c": 61.0,
        "power_w": 350.5,
    }
    assert (rows[1]["gpu_index"], rows[1]["uuid"], rows[1]["power_w"]) == (1, "GPU-bbb", None)


def test_no_gpu_source_gives_no_gpu_rows(tmp_path: Path) -> None:
    sample = make_sampler(tmp_path, FakeHost([DiskIo(0, 0)], [NetIo(0, 0)]), 0.0).sample()
    assert sample.gpus == ()
    assert sample.gpu_rows() == []


def test_sampler_rejects_missing_data_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data_dir .*not an existing directory"):
        SystemSampler(FakeHost([], []), tmp_path / "missing")


@pytest.mark.parametrize(
    "ts", [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))]
)
def test_sample_rejects_non_utc_timestamp(ts: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware UTC"):
        SystemSample(ts, "h", 1.0, 0, 0, 0, 1, 1, 0, 0.0, None, None, None, None, None, None, None)


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")


def test_busy_percent_matches_psutil_definition() -> None:
    before = CpuTimes(10.0, 0.0, 5.0, 80.0, 5.0, 0.0, 0.0)
    # +30 busy (user 20 incl. 4 guest, system 10), +60 idle, +10 iowait: 30 of 100.
    after = CpuTimes(30.0, 0.0, 15.0, 140.0, 15.0, 4.0, 0.0)
    assert busy_percent(before, after) == pytest.approx(30.0)
    assert busy_percent(after, after) is None


class NVMLError(Exception):
    """Stands in for pynvml.NVMLError."""


class FakeNvml:
    """Fake ``pynvml`` module (no GPU here): GPU 1 lacks a power sensor, names are bytes."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0

    def __init__(self, init_error: bool = False) -> None:
        self.init_error = init_error
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.init_error:
            raise NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return f"GPU-{handle}"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=100 * handle, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(used=1_024 * handle, free=0, total=85_000_000_000)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        return 40 + handle

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if handle == 1:
            raise NVMLError("Not Supported")
        return 72_500


def test_nvml_source_reads_fields_and_empties_an_unreadable_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = NvmlSource(FakeNvml())
    with caplog.at_level(logging.INFO, logger="collectors.gpu"):
        source.devices()
        gpu0, gpu1 = source.devices()
    assert gpu0 == GpuReading(
        0, "NVIDIA H100 80GB HBM3", "GPU-0", 0.0, 0, 85_000_000_000, 40.0, 72.5
    )
    assert (gpu1.util_percent, gpu1.mem_used_bytes, gpu1.temperature_c) == (100.0, 1_024, 41.0)
    assert gpu1.power_w is None
    assert sum("power_w of GPU 1" in r.getMessage() for r in caplog.records) == 1


class FutureNvml(FakeNvml):
    """Fake NVML of a driver without the deprecated temperature call (no GPU here)."""

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        raise NVMLError("Function Not Found")

    def nvmlDeviceGetTemperatureV(self, handle: int, sensor: int) -> int:
        return 50 + handle


def test_nvml_temperature_falls_back_to_successor_call() -> None:
    assert [gpu.temperature_c for gpu in NvmlSource(FutureNvml()).devices()] == [50.0, 51.0]


def test_nvml_init_failure_means_no_gpus_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    source = NvmlSource(FakeNvml(init_error=True))
    with caplog.at_level(logging.INFO, logger="collectors.gpu"):
        assert source.devices() == []
        assert source.devices() == []
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "Driver Not Loaded" in caplog.records[0].getMessage()


def test_nvml_close_shuts_down_once() -> None:
    nvml = FakeNvml()
    source = NvmlSource(nvml)
    source.devices()
    source.close()
    source.close()
    assert nvml.shutdowns == 1
    assert source.devices() == []


def _real_gpu_count() -> int:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return 0
    return int(pynvml.nvmlDeviceGetCount())


def test_real_nvml_source_without_gpu_returns_empty_list() -> None:
    """Real pynvml, not mocked: on a machine without driver or GPU this is []."""
    source = NvmlSource()
    readings = source.devices()
    source.close()
    assert [r.index for r in readings] == list(range(_real_gpu_count()))


def test_real_psutil_source_gives_sane_values(tmp_path: Path) -> None:
    sampler = SystemSampler(PsutilSource(), tmp_path)
    sampler.sample()
    sum(i * i for i in range(200_000))  # some CPU for the process to show
    sample = sampler.sample()
    ncpu = psutil.cpu_count() or 1
    assert sample.host == socket.gethostname()
    assert sample.cpu_percent is not None and 0.0 <= sample.cpu_percent <= 100.0
    assert sample.proc_cpu_percent is not None
    assert 0.0 <= sample.proc_cpu_percent <= 100.0 * ncpu
    assert sample.proc_rss_bytes is not None and sample.proc_rss_bytes > 0
    assert sample.mem_used_bytes > 0 and sample.mem_available_bytes > 0
    assert sample.disk_percent is not None and 0.0 <= sample.disk_percent <= 100.0
    assert min(sample.load1, sample.load5, sample.load15) >= 0.0
    assert 0.0 <= sample.swap_percent <= 100.0
    rates = (sample.disk_read_bps, sample.disk_write_bps, sample.net_sent_bps, sample.net_recv_bps)
    assert all(rate is None or rate >= 0.0 for rate in rates)
    assert sample.ts.tzinfo is not None and sample.ts.utcoffset() == timedelta(0)


def test_psutil_source_rejects_unknown_pid() -> None:
    with pytest.raises(ValueError, match="no such process"):
        PsutilSource(pid=2**31 - 1)


def test_psutil_source_watches_given_pid() -> None:
    assert PsutilSource(pid=os.getpid()).process() is not None


def test_default_sampler_samples_this_host(tmp_path: Path) -> None:
    sample = default_sampler(tmp_path).sample()
    assert sample.host == socket.gethostname()
    assert len(sample.gpus) == _real_gpu_count()
