"""GPU readings through NVML (``pynvml`` from the optional ``nvidia-ml-py`` extra).

A machine without the package, the driver or a GPU simply has no GPUs: ``devices()``
returns ``[]`` and the reason is logged once at info level. The list of processes on a
GPU is deliberately not read: in sandboxed containers NVML returns it empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__ = ["GpuReading", "GpuSource", "NvmlApi", "NvmlSource"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU at one instant; a field NVML could not read is None."""

    index: int
    name: str | None
    uuid: str | None
    util_percent: float | None
    mem_used_bytes: int | None
    mem_total_bytes: int | None
    temperature_c: float | None
    power_w: float | None


class GpuSource(Protocol):
    """Anything that reports the GPUs of this host (empty list when there are none)."""

    def devices(self) -> list[GpuReading]:
        """Read every GPU now."""
        ...


class NvmlApi(Protocol):
    """The part of the ``pynvml`` module that NvmlSource uses, in pynvml's own names."""

    @property
    def NVMLError(self) -> type[Exception]: ...
    @property
    def NVML_TEMPERATURE_GPU(self) -> int: ...

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int: ...


def _text(value: str | bytes) -> str:
    # nvidia-ml-py < 11.515 returned bytes; later versions return str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class NvmlSource:
    """GpuSource backed by NVML; ``library=None`` imports ``pynvml`` on first use.

    Initialisation happens once, on the first ``devices()`` call; if the import or
    ``nvmlInit`` fails the source reports no GPUs from then on. Thread-safe.
    """

    def __init__(self, library: NvmlApi | None = None) -> None:
        self._library = library
        self._nvml: NvmlApi | None = None
        self._handles: list[tuple[int, Any]] = []
        self._started = False
        self._lock = threading.Lock()
        self._reported: set[tuple[int, str]] = set()

    def devices(self) -> list[GpuReading]:
        """Read every GPU now; ``[]`` when NVML is unavailable."""
        with self._lock:
            if not self._started:
                self._start()
            nvml = self._nvml
            if nvml is None:
                return []
            return [self._read(nvml, index, handle) for index, handle in self._handles]

    def close(self) -> None:
        """Shut NVML down if it was started; safe to call more than once."""
        with self._lock:
            nvml, self._nvml, self._handles = self._nvml, None, []
            if nvml is None:
                return
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError as exc:
                logger.info("NVML shutdown failed: %s", exc)

    def _start(self) -> None:
        self._started = True
        nvml = self._library if self._library is not None else _import_pynvml()
        if nvml is None:
            return
        try:
            nvml.nvmlInit()
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as exc:
            logger.info("NVML unavailable (%s): no GPU metrics", exc)
            return
        self._nvml = nvml
        self._handles = [(index, self._handle(nvml, index)) for index in range(count)]
        logger.info("NVML started: %d GPU(s)", count)

    def _handle(self, nvml: NvmlApi, index: int) -> Any:
        # A GPU whose handle fails still gets a row (all fields None): it exists but is unreadable.
        try:
            return nvml.nvmlDeviceGetHandleByIndex(index)
        except nvml.NVMLError as exc:
            logger.info("NVML cannot open GPU %d (%s): its fields will be empty", index, exc)
            return None

    def _read(self, nvml: NvmlApi, index: int, handle: Any) -> GpuReading:
        def field(name: str, read: Callable[[], _T]) -> _T | None:
            if handle is None:
                return None
            try:
                return read()
            except nvml.NVMLError as exc:
                self._report(index, name, exc)
                return None

        memory = field("memory", lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        return GpuReading(
            index=index,
            name=field("name", lambda: _text(nvml.nvmlDeviceGetName(handle))),
            uuid=field("uuid", lambda: _text(nvml.nvmlDeviceGetUUID(handle))),
            util_percent=field(
                "util_percent", lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            ),
            mem_used_bytes=None if memory is None else int(memory.used),
            mem_total_bytes=None if memory is None else int(memory.total),
            temperature_c=field("temperature_c", lambda: _temperature(nvml, handle)),
            # NVML reports milliwatts.
            power_w=field("power_w", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
        )

    def _report(self, index: int, name: str, exc: Exception) -> None:
        # Unsupported fields fail on every read: log each (GPU, field) once, not every 5 s.
        if (index, name) not in self._reported:
            self._reported.add((index, name))
            logger.info("NVML cannot read %s of GPU %d (%s): reported as empty", name, index, exc)


def _temperature(nvml: NvmlApi, handle: Any) -> float:
    # nvmlDeviceGetTemperature is deprecated and leaves with CUDA 14; its successor
    # nvmlDeviceGetTemperatureV is missing from older drivers and older nvidia-ml-py.
    try:
        return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    except nvml.NVMLError:
        successor = getattr(nvml, "nvmlDeviceGetTemperatureV", None)
        if successor is None:
            raise
        return float(successor(handle, nvml.NVML_TEMPERATURE_GPU))


def _import_pynvml() -> NvmlApi | None:
    try:
        import pynvml  # optional extra: imported only when GPUs are wanted
    except ImportError:
        logger.info("pynvml not installed (pip install 'vigil-ml[gpu]'): no GPU metrics")
        return None
    module: NvmlApi = pynvml
    return module
