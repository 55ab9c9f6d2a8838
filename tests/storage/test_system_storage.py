"""System samples: raw writes, 1-minute rollups checked against pandas, retention."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from storage import Store
from storage.system import GPU_COLUMNS, SYSTEM_COLUMNS, apply_retention, rollup, write_samples

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
AVERAGED = [c for c in SYSTEM_COLUMNS if c not in ("ts", "host")]


def _system_rows(seed: int, minutes: int, hosts: tuple[str, ...]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for host in hosts:
        for second in range(0, minutes * 60, 7):
            row: dict[str, Any] = {c: rng.uniform(0, 100) for c in AVERAGED}
            for c in ("mem_used_bytes", "mem_available_bytes", "swap_used_bytes"):
                row[c] = rng.randrange(1, 2**40)
            row["proc_rss_bytes"] = rng.randrange(1, 2**32)
            row["ts"] = T0 + timedelta(seconds=second, microseconds=rng.randrange(10**6))
            row["host"] = host
            rows.append(row)
    return rows


def _gpu_rows(minutes: int) -> list[dict[str, Any]]:
    rng = random.Random(3)
    return [
        {
            "ts": T0 + timedelta(seconds=s),
            "host": "h1",
            "gpu_index": g,
            "name": "H100",
            "uuid": f"GPU-{g}",
            "util_percent": rng.uniform(0, 100),
            "mem_used_bytes": rng.randrange(2**30),
            "mem_total_bytes": 2**36,
            "temperature_c": rng.uniform(30, 80),
            "power_w": rng.uniform(50, 700),
        }
        for s in range(0, minutes * 60, 5)
        for g in (0, 1)
    ]


def _expected_rollup(rows: list[dict[str, Any]], until: datetime) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame[frame["ts"] < pd.Timestamp(until).floor("min")]
    frame["minute"] = frame["ts"].dt.floor("min")
    grouped = frame.groupby(["minute", "host"])
    out = grouped[AVERAGED].mean().astype(float)
    out["samples"] = grouped.size()
    out["cpu_percent_max"] = grouped["cpu_percent"].max()
    return out.sort_index()


def _stored_rollup(store: Store) -> pd.DataFrame:
    frame = store.cursor().execute("SELECT * FROM system_rollup_1m").df()
    frame = frame.rename(columns={"ts": "minute"}).set_index(["minute", "host"]).sort_index()
    return frame


def _assert_rollup_equal(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(stored.index) == list(expected.index)
    assert stored["samples"].tolist() == expected["samples"].tolist()
    for column in [*AVERAGED, "cpu_percent_max"]:
        pd.testing.assert_series_equal(
            stored[column], expected[column], check_names=False, rtol=1e-9
        )


def test_samples_are_written_raw(store: Store) -> None:
    rows = _system_rows(1, 2, ("h1",))
    write_samples(store.cursor(), rows, _gpu_rows(1))
    con = store.cursor()
    assert con.execute("SELECT count(*) FROM system_samples").fetchone() == (len(rows),)
    assert con.execute("SELECT count(*) FROM gpu_samples").fetchone() == (24,)
    first = con.execute("SELECT host, cpu_percent FROM system_samples ORDER BY ts").fetchone()
    assert first == ("h1", rows[0]["cpu_percent"])


def test_rollup_matches_pandas(store: Store) -> None:
    rows = _system_rows(7, 5, ("h1", "h2"))
    write_samples(store.cursor(), rows)
    until = T0 + timedelta(minutes=4, seconds=30)  # minute 4 is incomplete: left out
    created = rollup(store.cursor(), until)
    expected = _expected_rollup(rows, until)
    stored = _stored_rollup(store)
    assert created == len(expected) == 8
    _assert_rollup_equal(stored, expected)


def test_rollup_is_idempotent_and_completes_a_partial_minute(store: Store) -> None:
    rows = _system_rows(11, 3, ("h1",))
    write_samples(store.cursor(), rows)
    until = T0 + timedelta(minutes=3)
    rollup(store.cursor(), until)
    once = _stored_rollup(store)
    assert rollup(store.cursor(), until) == 0
    pd.testing.assert_frame_equal(_stored_rollup(store), once)
    # A late sample for the newest rolled minute is folded in by the next run.
    late = {**rows[-1], "ts": T0 + timedelta(minutes=2, seconds=59), "cpu_percent": 1000.0}
    write_samples(store.cursor(), [late])
    rollup(store.cursor(), until)
    again = _stored_rollup(store)
    assert again["cpu_percent_max"].iloc[-1] == 1000.0
    _assert_rollup_equal(again, _expected_rollup([*rows, late], until))


def test_gpu_rollup_per_device(store: Store) -> None:
    rows = _gpu_rows(2)
    write_samples(store.cursor(), [], rows)
    rollup(store.cursor(), T0 + timedelta(minutes=2))
    stored = store.cursor().execute("SELECT * FROM gpu_rollup_1m ORDER BY ts, gpu_index").df()
    frame = pd.DataFrame(rows)
    frame["minute"] = pd.to_datetime(frame["ts"], utc=True).dt.floor("min")
    expected = frame.groupby(["minute", "gpu_index"]).agg(
        samples=("util_percent", "size"),
        util=("util_percent", "mean"),
        util_max=("util_percent", "max"),
        power=("power_w", "mean"),
    )
    assert len(stored) == 4
    assert stored["samples"].tolist() == expected["samples"].tolist()
    assert stored["util_percent"].tolist() == pytest.approx(expected["util"].tolist())
    assert stored["util_percent_max"].tolist() == expected["util_max"].tolist()
    assert stored["power_w"].tolist() == pytest.approx(expected["power"].tolist())
    assert set(stored["name"]) == {"H100"}
    assert set(GPU_COLUMNS) <= set(frame.columns)


def test_retention_deletes_exactly_the_old_rows(store: Store) -> None:
    now = T0 + timedelta(days=10)
    ages_days = [0.5, 6.9, 7.1, 9.0, 30.0]
    rows = [
        {"ts": now - timedelta(days=age), "host": "h1", "cpu_percent": float(i)}
        for i, age in enumerate(ages_days)
    ]
    edge = {"ts": now - timedelta(days=7), "host": "h1", "cpu_percent": 99.0}
    write_samples(store.cursor(), [*rows, edge])
    con = store.cursor()
    con.execute(
        "INSERT INTO system_rollup_1m (ts, host, samples) VALUES "
        "(?::TIMESTAMPTZ, 'h1', 1), (?::TIMESTAMPTZ, 'h1', 1)",
        [now - timedelta(days=89), now - timedelta(days=91)],
    )
    deleted = apply_retention(con, now, raw_days=7, rollup_days=90)
    assert deleted == {
        "system_samples": 3,
        "gpu_samples": 0,
        "system_rollup_1m": 1,
        "gpu_rollup_1m": 0,
    }
    kept = sorted(r[0] for r in con.execute("SELECT cpu_percent FROM system_samples").fetchall())
    assert kept == [0.0, 1.0, 99.0]  # exactly at the cut-off is kept
    assert con.execute("SELECT count(*) FROM system_rollup_1m").fetchone() == (1,)
