"""Host metrics sampler: one ``SystemSample`` per ``SystemSampler.sample()`` call.

The raw readings come from a ``HostSource`` (``collectors.host.PsutilSource`` in
production, plain fixture classes in tests) and optionally a ``GpuSource``. Byte rates
are counter deltas between consecutive samples divided by elapsed monotonic time; they
are None on the first sample, when a counter is missing, and when a counter went
backwards (reset or wrap), so a rate is never negative. The sampler does not schedule
itself: the caller runs ``sample()`` every few seconds (Vigil uses 5 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from collectors.gpu import GpuReading, GpuSource, NvmlSource
from collectors.host import DiskIo, HostSource, NetIo, PsutilSource
from storage import system as storage_system

__all__ = [
    "GPU_COLUMNS",
    "SYSTEM_COLUMNS",
    "HostSource",
    "PsutilSource",
    "SystemSample",
    "SystemSampler",
    "counter_rate",
    "default_sampler",
]

# The storage layer owns the table layout; to_row() and gpu_rows() give these columns.
SYSTEM_COLUMNS = storage_system.SYSTEM_COLUMNS
GPU_COLUMNS = storage_system.GPU_COLUMNS


def counter_rate(before: int | None, after: int | None, elapsed_s: float) -> float | None:
    """Per-second rate between two counter readings; None if unknown or the counter went back."""
    if before is None or after is None or elapsed_s <= 0 or after < before:
        return None
    return (after - before) / elapsed_s


@dataclass(frozen=True, slots=True)
class SystemSample:
    """One reading of the host; rates are bytes/s and None when not computable (see module doc)."""

    ts: datetime
    host: str
    cpu_percent: float | None
    load1: float
    load5: float
    load15: float
    mem_used_bytes: int
    mem_available_bytes: int
    swap_used_bytes: int
    swap_percent: float
    disk_percent: float | None
    disk_read_bps: float | None
    disk_write_bps: float | None
    net_sent_bps: float | None
    net_recv_bps: float | None
    proc_cpu_percent: float | None
    proc_rss_bytes: int | None
    gpus: tuple[GpuReading, ...] = ()

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None or self.ts.utcoffset() != timedelta(0):
            msg = f"SystemSample.ts must be a timezone-aware UTC datetime, got {self.ts!r}"
            raise ValueError(msg + "; use datetime.now(UTC)")

    def to_row(self) -> dict[str, object]:
        """The ``system_samples`` row: keys are ``SYSTEM_COLUMNS`` in order."""
        return {column: getattr(self, column) for column in SYSTEM_COLUMNS}

    def gpu_rows(self) -> list[dict[str, object]]:
        """One row per GPU: keys are ``GPU_COLUMNS`` in order; empty without GPUs."""
        return [
            {
                "ts": self.ts,
                "host": self.host,
                "gpu_index": gpu.index,
                "name": gpu.name,
                "uuid": gpu.uuid,
                "util_percent": gpu.util_percent,
                "mem_used_bytes": gpu.mem_used_bytes,
                "mem_total_bytes": gpu.mem_total_bytes,
                "temperature_c": gpu.temperature_c,
                "power_w": gpu.power_w,
            }
            for gpu in self.gpus
        ]


class _Counters(NamedTuple):
    at: float
    disk: DiskIo | None
    net: NetIo | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SystemSampler:
    """Turns raw host (and GPU) readings into ``SystemSample``s with byte rates.

    ``clock`` (monotonic seconds) times the rate intervals and ``now`` stamps samples;
    both are injectable so tests get exact rates. ``sample()`` is thread-safe.
    """

    def __init__(
        self,
        host: HostSource,
        data_dir: str | Path,
        gpus: GpuSource | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        path = Path(data_dir)
        if not path.is_dir():
            msg = (
                f"SystemSampler data_dir {str(path)!r} is not an existing directory; "
                "pass the directory that holds the database (create it first)"
            )
            raise ValueError(msg)
        self._host = host
        self._data_dir = path
        self._gpus = gpus
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._previous: _Counters | None = None

    def sample(self) -> SystemSample:
        """Read everything once and return the sample (first one has rates None)."""
        with self._lock:
            counters = _Counters(
                self._clock(), self._host.disk_io_counters(), self._host.net_io_counters()
            )
            previous, self._previous = self._previous, counters
            return self._build(previous, counters)

    def _build(self, previous: _Counters | None, current: _Counters) -> SystemSample:
        host = self._host
        load1, load5, load15 = host.loadavg()
        memory = host.virtual_memory()
        swap = host.swap()
        process = host.process()
        disk_read, disk_write = _rates(previous, current, _disk_pair)
        net_sent, net_recv = _rates(previous, current, _net_pair)
        gpus = tuple(self._gpus.devices()) if self._gpus is not None else ()
        return SystemSample(
            ts=self._now(),
            host=host.hostname(),
            cpu_percent=host.cpu_percent(),
            load1=load1,
            load5=load5,
            load15=load15,
            mem_used_bytes=memory.used_bytes,
            mem_available_bytes=memory.available_bytes,
            swap_used_bytes=swap.used_bytes,
            swap_percent=swap.percent,
            disk_percent=host.disk_usage(self._data_dir),
            disk_read_bps=disk_read,
            disk_write_bps=disk_write,
            net_sent_bps=net_sent,
            net_recv_bps=net_recv,
            proc_cpu_percent=None if process is None else process.cpu_percent,
            proc_rss_bytes=None if process is None else process.rss_bytes,
            gpus=gpus,
        )


_Pair = tuple[int, int] | None


def _disk_pair(counters: _Counters) -> _Pair:
    return None if counters.disk is None else (counters.disk.read_bytes, counters.disk.write_bytes)


def _net_pair(counters: _Counters) -> _Pair:
    return None if counters.net is None else (counters.net.sent_bytes, counters.net.recv_bytes)


def _rates(
    previous: _Counters | None, current: _Counters, pick: Callable[[_Counters], _Pair]
) -> tuple[float | None, float | None]:
    if previous is None:
        return (None, None)
    before, after = pick(previous), pick(current)
    if before is None or after is None:
        return (None, None)
    elapsed = current.at - previous.at
    return (
        counter_rate(before[0], after[0], elapsed),
        counter_rate(before[1], after[1], elapsed),
    )


def default_sampler(data_dir: str | Path) -> SystemSampler:
    """The production wiring: psutil for this process and host, NVML for GPUs if present."""
    return SystemSampler(PsutilSource(), data_dir, NvmlSource())
