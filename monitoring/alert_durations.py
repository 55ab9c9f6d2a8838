"""Durations in alert rules: "30s", "5m", "1h", "1d", "1h30m" or seconds, and back."""

from __future__ import annotations

import math
import re

_DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, rule: str = "?", key: str = "for") -> float:
    """Seconds from ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"1h30m"`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION_RE.fullmatch(value.strip()):
        parts = _DURATION_PART_RE.findall(value.strip())
        seconds = sum(float(number) * _UNIT_S[unit] for number, unit in parts)
    else:
        raise ValueError(
            f"alert rule {rule!r}, {key}: {value!r} is not a duration; "
            "write '30s', '5m', '1h', '1d' or seconds"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"alert rule {rule!r}, {key}: must be >= 0 seconds, got {value!r}")
    return seconds


def duration_text(seconds: float) -> str | float:
    """The shortest of ``"2d"``, ``"3h"``, ``"5m"``, ``"30s"`` for whole units; else seconds."""
    if seconds.is_integer():
        for unit in ("d", "h", "m", "s"):
            if seconds % _UNIT_S[unit] == 0:
                return f"{int(seconds) // _UNIT_S[unit]}{unit}"
    return seconds
