"""Human formatting of numbers, bytes, durations and user text for the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# The report (monitoring) formats these the same way; the dashboard re-exports its helpers.
from monitoring.report.text import MISSING as MISSING
from monitoring.report.text import count as count
from monitoring.report.text import ms as ms
from monitoring.report.text import number as _number
from monitoring.report.text import plotly_text as plotly_text

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


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
