"""Time windows for performance metrics: names, automatic choice and their DuckDB intervals."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from storage.time_windows import WINDOW_ORIGIN, WINDOW_WIDTHS

# One definition, in storage (which computes windows in SQL); WINDOW_ORIGIN (2024-01-01)
# is a Monday, so weeks start Monday 00:00 UTC.
WINDOWS: dict[str, timedelta] = dict(WINDOW_WIDTHS)
__all__ = [
    "WINDOWS",
    "WINDOW_ORIGIN",
    "check_window",
    "choose_window",
    "window_floor",
    "window_sql_interval",
]

_SQL_INTERVALS = {"1h": "1 hour", "1d": "1 day", "1w": "7 days"}
_HOURLY_UP_TO = timedelta(days=2)
_DAILY_UP_TO = timedelta(days=90)


def check_window(name: str) -> str:
    """Return `name` if it is a known window, else raise a ValueError naming the choices."""
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}: use 1h, 1d or 1w")
    return name


def choose_window(start: datetime, end: datetime) -> str:
    """The window for a range: 1h up to 2 days, 1d up to 90 days, else 1w."""
    try:
        span = end - start
    except TypeError:
        raise ValueError(
            "start and end must both carry a time zone or both be naive; "
            f"got start={start.isoformat()} and end={end.isoformat()}"
        ) from None
    if span < timedelta(0):
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}: swap them")
    if span <= _HOURLY_UP_TO:
        return "1h"
    if span <= _DAILY_UP_TO:
        return "1d"
    return "1w"


def window_sql_interval(name: str) -> str:
    """The DuckDB interval text of a window, e.g. '1 hour'; use with origin WINDOW_ORIGIN."""
    return _SQL_INTERVALS[check_window(name)]


def window_floor(ts: datetime, name: str) -> datetime:
    """The start of the window holding `ts` (time zone aware), as DuckDB's time_bucket gives it."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone: pass an aware datetime")
    size = WINDOWS[check_window(name)]
    return WINDOW_ORIGIN + ((ts - WINDOW_ORIGIN) // size) * size


MAX_GRID_WINDOWS = 5000


def window_grid(starts: pd.Series, name: str) -> pd.DatetimeIndex:
    """Every window from the first start to the last, so a gap shows as an empty column
    (only the starts present when that would exceed MAX_GRID_WINDOWS: a wrong window name
    must not explode a chart)."""
    present = pd.DatetimeIndex(sorted(starts.unique()))
    size = WINDOWS[check_window(name)]
    if (present[-1] - present[0]).total_seconds() / size.total_seconds() > MAX_GRID_WINDOWS:
        return present
    return pd.date_range(present[0], present[-1], freq=size).union(present)
