"""Traffic shape shared by the history and the live simulator: arrivals, latency, label delays.

Times are integer milliseconds since the Unix epoch (UTC) so they vectorize cleanly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# 1970-01-01 was a Thursday; Monday = 0.
_EPOCH_WEEKDAY = 3
_PEAK_HOUR_UTC = 14
_DIURNAL_AMPLITUDE = 0.75
# Weekdays busier than weekends; the mean over a week stays 1.
_WEEKDAY_FACTOR = 1.08
_WEEKEND_FACTOR = (7 - 5 * _WEEKDAY_FACTOR) / 2

# Lognormal latency (median ms, sigma): v1 p95 ~= 80 ms, v2 p95 ~= 160 ms with a heavier tail.
_LATENCY = {"1": (40.0, 0.42), "2": (58.0, 0.617)}
_DEFAULT_LATENCY = _LATENCY["1"]

CHANNELS = ("web", "mobile", "branch")
_CHANNEL_P = np.array([0.55, 0.35, 0.10])

MIN_LABEL_DELAY_MS = DAY_MS
MAX_LABEL_DELAY_MS = 7 * DAY_MS


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_timestamps(ms: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings with millisecond precision and a `Z` suffix."""
    as_datetime = ms.astype("datetime64[ms]")
    strings: list[str] = np.datetime_as_string(as_datetime, unit="ms", timezone="UTC").tolist()
    return strings


def intensity(slot_start_ms: np.ndarray) -> np.ndarray:
    """Relative traffic for the hours starting at `slot_start_ms` (mean 1 over a week)."""
    hour = (slot_start_ms // HOUR_MS) % 24
    weekday = (slot_start_ms // DAY_MS + _EPOCH_WEEKDAY) % 7
    diurnal = 1.0 + _DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (hour - _PEAK_HOUR_UTC) / 24)
    weekly = np.where(weekday >= 5, _WEEKEND_FACTOR, _WEEKDAY_FACTOR)
    return np.asarray(diurnal * weekly)


def arrival_times(
    rng: np.random.Generator, start_ms: int, end_ms: int, per_day: float
) -> np.ndarray:
    """Sorted request times in [start_ms, end_ms) from an hourly-varying Poisson process."""
    if end_ms <= start_ms:
        return np.empty(0, dtype=np.int64)
    slots = np.arange(start_ms // HOUR_MS, -(-end_ms // HOUR_MS), dtype=np.int64) * HOUR_MS
    lo = np.maximum(slots, start_ms)
    width = np.minimum(slots + HOUR_MS, end_ms) - lo
    counts = rng.poisson(per_day / DAY_MS * intensity(slots) * width)
    offsets = np.floor(rng.random(int(counts.sum())) * np.repeat(width, counts)).astype(np.int64)
    return np.sort(np.repeat(lo, counts) + offsets)


def latencies(rng: np.random.Generator, versions: np.ndarray) -> np.ndarray:
    """Serving latency in ms (0.1 ms resolution) for each request's model version."""
    median = np.full(len(versions), _DEFAULT_LATENCY[0])
    sigma = np.full(len(versions), _DEFAULT_LATENCY[1])
    for version, (m, s) in _LATENCY.items():
        median[versions == version] = m
        sigma[versions == version] = s
    return np.round(median * np.exp(sigma * rng.standard_normal(len(versions))), 1)


def channels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Which front end sent each request."""
    return np.asarray(CHANNELS, dtype=object)[rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P)]


def label_delays(rng: np.random.Generator, n: int) -> np.ndarray:
    """How long each outcome takes to become known: uniform in [1, 7) days, in ms."""
    spread = MAX_LABEL_DELAY_MS - MIN_LABEL_DELAY_MS
    return MIN_LABEL_DELAY_MS + np.floor(rng.random(n) * spread).astype(np.int64)


def event_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Random (version 4 format) UUID strings drawn from `rng`, so they are reproducible."""
    raw = rng.bytes(16 * n)
    return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * n, 16)]
