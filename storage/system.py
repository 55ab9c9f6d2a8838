"""System samples: raw writes, 1-minute rollups and retention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb

SYSTEM_COLUMNS = (
    "ts",
    "host",
    "cpu_percent",
    "load1",
    "load5",
    "load15",
    "mem_used_bytes",
    "mem_available_bytes",
    "swap_used_bytes",
    "swap_percent",
    "disk_percent",
    "disk_read_bps",
    "disk_write_bps",
    "net_sent_bps",
    "net_recv_bps",
    "proc_cpu_percent",
    "proc_rss_bytes",
)
GPU_COLUMNS = (
    "ts",
    "host",
    "gpu_index",
    "name",
    "uuid",
    "util_percent",
    "mem_used_bytes",
    "mem_total_bytes",
    "temperature_c",
    "power_w",
)
_AVERAGED = SYSTEM_COLUMNS[2:]
_GPU_AVERAGED = ("util_percent", "mem_used_bytes", "mem_total_bytes", "temperature_c", "power_w")


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, object]],
) -> None:
    if not rows:
        return
    placeholders = ", ".join("?" for _ in columns)
    values = [[row.get(c) for c in columns] for row in rows]
    # A few rows every few seconds: executemany is fine here, unlike prediction batches.
    con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", values)


def write_samples(
    con: duckdb.DuckDBPyConnection,
    system_rows: Sequence[Mapping[str, object]],
    gpu_rows: Sequence[Mapping[str, object]] = (),
) -> None:
    """Store raw system and GPU samples."""
    _insert(con, "system_samples", SYSTEM_COLUMNS, system_rows)
    _insert(con, "gpu_samples", GPU_COLUMNS, gpu_rows)


def rollup(con: duckdb.DuckDBPyConnection, until: datetime) -> int:
    """Roll raw samples of every complete minute before `until` into 1-minute rows."""
    avg = ", ".join(f"avg({c})" for c in _AVERAGED[1:])
    before = con.execute("SELECT count(*) FROM system_rollup_1m").fetchone()
    con.execute(
        "INSERT OR REPLACE INTO system_rollup_1m "
        f"SELECT date_trunc('minute', ts) AS m, host, count(*), avg(cpu_percent), "
        f"max(cpu_percent), {avg} "
        "FROM system_samples WHERE ts < date_trunc('minute', ?::TIMESTAMPTZ) "
        "AND ts >= coalesce((SELECT max(ts) FROM system_rollup_1m), '-infinity'::TIMESTAMPTZ) "
        "GROUP BY m, host",
        [until],
    )
    gavg = ", ".join(f"avg({c})" for c in _GPU_AVERAGED[1:])
    con.execute(
        "INSERT OR REPLACE INTO gpu_rollup_1m "
        "SELECT date_trunc('minute', ts) AS m, host, gpu_index, any_value(name), count(*), "
        f"avg(util_percent), max(util_percent), {gavg} "
        "FROM gpu_samples WHERE ts < date_trunc('minute', ?::TIMESTAMPTZ) "
        "AND ts >= coalesce((SELECT max(ts) FROM gpu_rollup_1m), '-infinity'::TIMESTAMPTZ) "
        "GROUP BY m, host, gpu_index",
        [until],
    )
    after = con.execute("SELECT count(*) FROM system_rollup_1m").fetchone()
    return int(after[0]) - int(before[0]) if after and before else 0


def apply_retention(
    con: duckdb.DuckDBPyConnection, now: datetime, raw_days: float, rollup_days: float
) -> dict[str, int]:
    """Delete raw samples older than raw_days and rollups older than rollup_days."""
    deleted = {}
    for table, days in (
        ("system_samples", raw_days),
        ("gpu_samples", raw_days),
        ("system_rollup_1m", rollup_days),
        ("gpu_rollup_1m", rollup_days),
    ):
        row = con.execute(
            f"DELETE FROM {table} WHERE ts < ?::TIMESTAMPTZ - to_microseconds(?::BIGINT)",
            [now, int(days * 86_400_000_000)],
        ).fetchone()
        deleted[table] = int(row[0]) if row else 0
    return deleted
