"""Window names, the automatic choice by range, and alignment equal to DuckDB's time_bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb
import numpy as np
import pytest

from monitoring.windows import (
    WINDOW_ORIGIN,
    WINDOWS,
    check_window,
    choose_window,
    window_floor,
    window_sql_interval,
)

T0 = datetime(2026, 11, 20, 13, 45, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_windows_are_an_hour_a_day_and_a_week() -> None:
    expected = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(days=7)}
    assert expected == WINDOWS


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (timedelta(0), "1h"),
        (timedelta(hours=5), "1h"),
        (timedelta(days=2), "1h"),
        (timedelta(days=2) + TICK, "1d"),
        (timedelta(days=30), "1d"),
        (timedelta(days=90), "1d"),
        (timedelta(days=90) + TICK, "1w"),
        (timedelta(days=800), "1w"),
    ],
)
def test_choose_window_by_span(span: timedelta, expected: str) -> None:
    assert choose_window(T0, T0 + span) == expected


def test_choose_window_accepts_two_naive_datetimes() -> None:
    start = datetime(2026, 1, 1)
    assert choose_window(start, start + timedelta(days=3)) == "1d"


def test_choose_window_rejects_end_before_start() -> None:
    with pytest.raises(ValueError, match="is before start"):
        choose_window(T0, T0 - TICK)


def test_choose_window_rejects_mixed_naive_and_aware() -> None:
    with pytest.raises(ValueError, match="time zone"):
        choose_window(T0.replace(tzinfo=None), T0 + timedelta(days=1))


@pytest.mark.parametrize("name", ["1h", "1d", "1w"])
def test_check_window_returns_known_names(name: str) -> None:
    assert check_window(name) == name


@pytest.mark.parametrize("name", ["", "1m", "1H", "week", "7d"])
def test_check_window_names_the_choices(name: str) -> None:
    with pytest.raises(ValueError) as error:
        check_window(name)
    assert str(error.value) == f"unknown window {name!r}: use 1h, 1d or 1w"


def test_window_sql_intervals() -> None:
    assert [window_sql_interval(n) for n in ("1h", "1d", "1w")] == ["1 hour", "1 day", "7 days"]
    with pytest.raises(ValueError, match="unknown window '2h'"):
        window_sql_interval("2h")


def test_window_origin_is_a_monday_midnight_utc() -> None:
    assert WINDOW_ORIGIN.weekday() == 0
    assert WINDOW_ORIGIN.utcoffset() == timedelta(0)
    assert (WINDOW_ORIGIN.hour, WINDOW_ORIGIN.minute, WINDOW_ORIGIN.second) == (0, 0, 0)


def test_weeks_start_monday_midnight_utc() -> None:
    sunday_night = datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC)
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert window_floor(sunday_night, "1w") == datetime(2026, 11, 16, tzinfo=UTC)
    assert window_floor(monday, "1w") == monday
    # Before the origin too: floor division keeps the Monday alignment.
    assert window_floor(datetime(2023, 12, 31, 23, tzinfo=UTC), "1w") == datetime(
        2023, 12, 25, tzinfo=UTC
    )


def test_window_floor_works_in_utc_whatever_the_zone() -> None:
    local = datetime(2026, 11, 20, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert window_floor(local, "1d") == datetime(2026, 11, 19, tzinfo=UTC)
    assert window_floor(local, "1h") == datetime(2026, 11, 19, 23, tzinfo=UTC)


def test_window_floor_rejects_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        window_floor(datetime(2026, 1, 1), "1d")


@pytest.mark.parametrize("name", ["1h", "1d", "1w"])
def test_window_floor_equals_duckdb_time_bucket(name: str) -> None:
    rng = np.random.default_rng(7)
    seconds = rng.integers(-400 * 86400, 1200 * 86400, size=300)
    stamps = [WINDOW_ORIGIN + timedelta(seconds=int(s), microseconds=123) for s in seconds]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"SELECT time_bucket(INTERVAL '{window_sql_interval(name)}', ts, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00') FROM unnest(?::TIMESTAMPTZ[]) AS t(ts)",
        [stamps],
    ).fetchall()
    con.close()
    assert [row[0] for row in rows] == [window_floor(ts, name) for ts in stamps]
