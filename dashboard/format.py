"""Human formatting of numbers, bytes, durations and user text for the dashboard."""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime
from typing import Any

MISSING = "—"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def _number(value: Any) -> float | None:
    """A finite float, or None for None/NaN/inf/non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def count(value: Any) -> str:
    """An integer count with thousands separators: 12,345."""
    number = _number(value)
    return MISSING if number is None else f"{round(number):,}"


def percent(value: Any, ratio: bool = False) -> str:
    """A percentage with one decimal; `ratio=True` means 0.934 is 93.4 %."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{number * 100 if ratio else number:,.1f} %"


def byte_unit(value: Any) -> tuple[float, str]:
    """The IEC divisor and unit name that suit a byte count (2048 -> (1024, 'KiB'))."""
    number = abs(_number(value) or 0.0)
    power = 0
    # Switch at 1000, not 1024, so values stay short: "1.0 GiB", never "1,018.9 MiB".
    while number >= 1000 and power < len(_UNITS) - 1:
        number /= 1024
        power += 1
    return float(1024**power), _UNITS[power]


def bytes_(value: Any) -> str:
    """Bytes in IEC units: 512 B, 1.5 KiB, 3.2 GiB."""
    number = _number(value)
    if number is None:
        return MISSING
    divisor, unit = byte_unit(number)
    if unit == "B":
        return f"{number:,.0f} B"
    return f"{number / divisor:,.1f} {unit}"


def rate(value: Any) -> str:
    """Bytes per second in IEC units: 1.2 MiB/s."""
    text = bytes_(value)
    return text if text == MISSING else f"{text}/s"


def ms(value: Any) -> str:
    """A latency in milliseconds: 0.42 ms, 12.3 ms, 1,234 ms."""
    number = _number(value)
    if number is None:
        return MISSING
    if abs(number) < 1:
        return f"{number:.2f} ms"
    if abs(number) < 100:
        return f"{number:.1f} ms"
    return f"{number:,.0f} ms"


def duration(seconds: Any) -> str:
    """A duration in the largest fitting unit: 45 s, 15 min, 24 h, 7 days."""
    number = _number(seconds)
    if number is None:
        return MISSING
    for size, unit in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if abs(number) >= size:
            amount = number / size
            shown = f"{amount:.0f}" if amount.is_integer() else f"{amount:.1f}"
            return f"{shown} {'day' if unit == 'days' and shown == '1' else unit}"
    return f"{number:.0f} s"


def timestamp(value: Any) -> str:
    """A time in UTC to the minute: 2026-11-25 14:05 UTC."""
    if not isinstance(value, datetime):
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def markdown_text(text: object) -> str:
    """User text made inert for Streamlit markdown (no links, emphasis or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def plotly_text(text: object) -> str:
    """User text for Plotly titles, legends and hovers, which interpret some HTML tags."""
    return html.escape(str(text), quote=False)
