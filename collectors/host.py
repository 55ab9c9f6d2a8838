"""Raw host readings: the ``HostSource`` protocol and its psutil implementation.

``SystemSampler`` (in ``collectors.system``) turns these readings into samples and rates;
tests feed it plain fixture classes that implement ``HostSource``.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import psutil

__all__ = [
    "DiskIo",
    "HostSource",
    "MemoryInfo",
    "NetIo",
    "ProcessInfo",
    "PsutilSource",
    "SwapInfo",
    "busy_percent",
]

logger = logging.getLogger(__name__)


class MemoryInfo(NamedTuple):
    """Physical memory, as psutil defines used and available."""

    used_bytes: int
    available_bytes: int


class SwapInfo(NamedTuple):
    """Swap in use."""

    used_bytes: int
    percent: float


class DiskIo(NamedTuple):
    """Cumulative disk I/O counters since boot."""

    read_bytes: int
    write_bytes: int


class NetIo(NamedTuple):
    """Cumulative network counters since boot, all interfaces."""

    sent_bytes: int
    recv_bytes: int


class ProcessInfo(NamedTuple):
    """The monitored process: CPU % of one core (can exceed 100) and resident memory."""

    cpu_percent: float
    rss_bytes: int


class HostSource(Protocol):
    """Raw host readings; methods return None where the host has no such counter."""

    def cpu_percent(self) -> float | None:
        """Total CPU busy % (0-100, all cores) since the previous call; must not block."""
        ...

    def loadavg(self) -> tuple[float, float, float]:
        """1, 5 and 15 minute load averages."""
        ...

    def virtual_memory(self) -> MemoryInfo:
        """Physical memory used and available."""
        ...

    def swap(self) -> SwapInfo:
        """Swap used."""
        ...

    def disk_usage(self, path: Path) -> float | None:
        """Percent used of the filesystem holding ``path``."""
        ...

    def disk_io_counters(self) -> DiskIo | None:
        """Cumulative disk bytes read and written."""
        ...

    def net_io_counters(self) -> NetIo | None:
        """Cumulative network bytes sent and received."""
        ...

    def process(self) -> ProcessInfo | None:
        """CPU and memory of the monitored process."""
        ...

    def hostname(self) -> str:
        """This host's name."""
        ...


def busy_percent(before: Any, after: Any) -> float | None:
    """CPU busy % between two ``psutil.cpu_times()`` readings, computed as psutil does."""

    def total(times: Any) -> float:
        # Linux counts guest time inside user/nice already.
        return float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)

    def idle(times: Any) -> float:
        return float(times.idle) + getattr(times, "iowait", 0.0)

    all_delta = total(after) - total(before)
    if all_delta <= 0:
        return None
    idle_delta = max(0.0, idle(after) - idle(before))
    busy = max(0.0, all_delta - idle_delta)
    return min(100.0, busy / all_delta * 100.0)


class PsutilSource:
    """HostSource reading this host through psutil; ``pid=None`` watches the current process.

    CPU % is computed from this object's own ``cpu_times()`` snapshots rather than
    ``psutil.cpu_percent(interval=None)``, whose state is kept per calling thread: a
    scheduler that runs the job on pool threads would otherwise get 0.0 on each new
    thread and windows spanning several intervals. Nothing here blocks.
    """

    def __init__(self, pid: int | None = None) -> None:
        try:
            self._proc = psutil.Process(pid)
        except psutil.NoSuchProcess as exc:
            msg = f"PsutilSource(pid={pid}): no such process; pass a running pid or None"
            raise ValueError(msg) from exc
        self._lock = threading.Lock()
        self._last_cpu_times = psutil.cpu_times()
        self._warned: set[str] = set()
        # The first non-blocking call only sets the baseline (it returns 0.0).
        self._proc.cpu_percent(interval=None)

    def cpu_percent(self) -> float | None:
        """Total CPU busy % since the previous call (or since construction)."""
        now = psutil.cpu_times()
        with self._lock:
            before, self._last_cpu_times = self._last_cpu_times, now
        return busy_percent(before, now)

    def loadavg(self) -> tuple[float, float, float]:
        """1, 5 and 15 minute load averages."""
        one, five, fifteen = psutil.getloadavg()
        return (one, five, fifteen)

    def virtual_memory(self) -> MemoryInfo:
        """Physical memory used and available."""
        mem = psutil.virtual_memory()
        return MemoryInfo(used_bytes=mem.used, available_bytes=mem.available)

    def swap(self) -> SwapInfo:
        """Swap used."""
        swap = psutil.swap_memory()
        return SwapInfo(used_bytes=swap.used, percent=swap.percent)

    def disk_usage(self, path: Path) -> float | None:
        """Percent used of the filesystem holding ``path``; None if it cannot be read."""
        try:
            return psutil.disk_usage(str(path)).percent
        except OSError as exc:
            self._warn_once("disk_usage", f"cannot read disk usage of {path}: {exc}")
            return None

    def disk_io_counters(self) -> DiskIo | None:
        """Cumulative disk bytes; None where the kernel exposes no disks (some containers)."""
        io = psutil.disk_io_counters()
        return None if io is None else DiskIo(io.read_bytes, io.write_bytes)

    def net_io_counters(self) -> NetIo | None:
        """Cumulative network bytes over all interfaces."""
        io = psutil.net_io_counters()
        return None if io is None else NetIo(io.bytes_sent, io.bytes_recv)

    def process(self) -> ProcessInfo | None:
        """CPU % (of one core) since the previous call and RSS of the watched process."""
        try:
            with self._proc.oneshot():
                cpu = self._proc.cpu_percent(interval=None)
                rss = self._proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
            self._warn_once("process", f"cannot read process {self._proc.pid}: {exc}")
            return None
        return ProcessInfo(cpu_percent=cpu, rss_bytes=rss)

    def hostname(self) -> str:
        """This host's name as ``socket.gethostname()`` gives it."""
        return socket.gethostname()

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s (further failures not logged)", message)
