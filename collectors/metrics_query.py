"""The query parameters of GET /api/v1/models/{model}/metrics, checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from monitoring.windows import WINDOWS, check_window, choose_window
from storage import ModelInfo
from storage.performance import Segment, dimension_sql
from storage.time_windows import MAX_WINDOWS

QUERY_PARAMS = ("start", "end", "window", "version", "segment")
_OFFSET_SPACE = re.compile(r" (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class MetricsQuery:
    """The parameters of GET /api/v1/models/{model}/metrics, checked."""

    start: datetime
    end: datetime
    window: str | None = None
    version: str | None = None
    segment: Segment | None = None


def parse_time(text: str, name: str) -> datetime:
    """An ISO-8601 time; naive means UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        # An unescaped '+' of an offset arrives as a space in a query string.
        try:
            value = datetime.fromisoformat(_OFFSET_SPACE.sub(r"+\1", text))
        except ValueError:
            raise ValueError(
                f"{name}={text!r} is not an ISO-8601 time: use e.g. 2026-11-25T10:00:00Z "
                "(write a '+' offset as %2B in a URL)"
            ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_segment(text: str) -> Segment:
    """`NAME:VALUE`, split on the last ':' (so `tag:channel:web` is tag:channel = web)."""
    name, sep, value = text.rpartition(":")
    if not sep or not name or not value:
        raise ValueError(
            f"segment={text!r} must be NAME:VALUE, e.g. region:north or tag:channel:web"
        )
    return name, value


def parse_metrics_query(params: Mapping[str, str]) -> MetricsQuery:
    """Check the query parameters; a ValueError names the bad one and what would be right."""
    unknown = sorted(set(params) - set(QUERY_PARAMS))
    if unknown:
        raise ValueError(
            f"unknown query parameter {', '.join(unknown)}: use {', '.join(QUERY_PARAMS)}"
        )
    for name in ("start", "end"):
        if not params.get(name):
            raise ValueError(f"{name} is required: ?start=ISO-8601&end=ISO-8601")
    start, end = parse_time(params["start"], "start"), parse_time(params["end"], "end")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    window = check_window(params["window"]) if params.get("window") else None
    size = WINDOWS[window or choose_window(start, end)]
    if (end - start) / size > MAX_WINDOWS:
        raise ValueError(
            f"the range spans more than {MAX_WINDOWS:,} windows of {window}: use a larger "
            "window or a shorter range"
        )
    segment = parse_segment(params["segment"]) if params.get("segment") else None
    return MetricsQuery(start, end, window, params.get("version") or None, segment)


def check_segment(model: ModelInfo, segment: Segment | None) -> None:
    """Raise ValueError if the segment's dimension is not a tag or categorical feature."""
    if segment is not None:
        dimension_sql(model, segment[0])
