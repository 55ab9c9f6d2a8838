"""Store: migrations, the single-process lock, per-thread cursors and checkpoint on close."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from storage import SchemaTooNewError, Store, StoreLockedError
from storage.migrate import available_migrations

TABLES = {
    "schema_migrations",
    "models",
    "model_features",
    "labels",
    "system_samples",
    "gpu_samples",
    "system_rollup_1m",
    "gpu_rollup_1m",
    "api_tokens",
}
HOLD_SCRIPT = """
import sys, time
from storage import Store
store = Store(sys.argv[1])
print("open", flush=True)
time.sleep(60)
"""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {r[0] for r in rows}


def test_new_database_gets_every_migration_recorded(store: Store) -> None:
    known = [m.version for m in available_migrations()]
    assert known and known[0] == 1
    assert store.applied_migrations == known
    rows = store.cursor().execute("SELECT version, name FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == known
    assert rows[0][1] == "initial"
    assert _tables(store.cursor()) >= TABLES


def test_reopen_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as first:
        first.cursor().execute(
            "INSERT INTO api_tokens (token_hash, name, created_at, id, scope) "
            "VALUES ('h', 'n', now(), 'h', 'admin')"
        )
    with Store(path) as again:
        assert again.applied_migrations == []
        count = again.cursor().execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert count == (len(available_migrations()),)
        assert again.cursor().execute("SELECT name FROM api_tokens").fetchall() == [("n",)]


def test_newer_schema_is_refused_with_advice_and_releases_the_file(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as store:
        store.cursor().execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    with pytest.raises(SchemaTooNewError) as info:
        Store(path)
    message = str(info.value)
    assert "999" in message
    assert str(path) in message
    assert "Upgrade Vigil" in message
    # While the traceback (and the half-built Store) is alive, another process can open it.
    probe = f"import duckdb; duckdb.connect({str(path)!r}).close(); print('opened')"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip() == "opened", out.stderr


def test_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError) as info:
            Store(path)
        message = str(info.value)
        assert f"PID {holder.pid}" in message
        assert str(path) in message
        assert "VIGIL_DB" in message
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_each_thread_gets_its_own_cursor_and_they_run_together(store: Store) -> None:
    store.cursor().execute("CREATE TABLE nums AS SELECT range AS n FROM range(200000)")
    n_threads = 4
    barrier = threading.Barrier(n_threads)
    cursors: dict[int, duckdb.DuckDBPyConnection] = {}
    sums: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            cur = store.cursor()
            assert store.cursor() is cur  # stable within a thread
            cursors[k] = cur
            barrier.wait(timeout=30)
            for _ in range(5):
                row = cur.execute("SELECT sum(n) FROM nums WHERE n % ? = 0", [k + 1]).fetchone()
                assert row is not None
                sums[k] = int(row[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({id(c) for c in cursors.values()}) == n_threads
    assert store.cursor() not in cursors.values()
    for k in range(n_threads):
        assert sums[k] == sum(range(0, 200000, k + 1))


def test_close_checkpoints_so_the_wal_is_empty_and_data_survives(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    wal = Path(f"{path}.wal")
    store = Store(path)
    store.cursor().execute("CREATE TABLE t AS SELECT range AS n FROM range(1000)")
    store.close()
    assert store.closed
    assert not wal.exists() or wal.stat().st_size == 0
    with pytest.raises(RuntimeError, match="closed"):
        store.cursor()
    store.close()  # a second close is harmless
    with Store(path) as again:
        assert again.cursor().execute("SELECT count(*), sum(n) FROM t").fetchone() == (
            1000,
            sum(range(1000)),
        )


def test_timestamps_are_utc_whatever_the_host_zone(tmp_path: Path) -> None:
    script = (
        "import sys; from storage import Store; s = Store(sys.argv[1]); "
        "print(s.cursor().execute(\"SELECT current_setting('TimeZone'), "
        "time_bucket(INTERVAL '1 day', TIMESTAMPTZ '2026-11-25 23:30:00+00')::VARCHAR\")"
        ".fetchone()); s.close()"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "v.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TZ": "Asia/Kolkata"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "('UTC', '2026-11-25 00:00:00+00')", out.stderr


def test_migration_2_copies_stored_labels_onto_predictions(tmp_path: Path) -> None:
    """A database written before migration 2 gets label columns filled from its labels."""
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        con = store.cursor()
        con.execute("INSERT INTO models VALUES (7, 'm', 'binary', '1', now(), now())")
    # Rewind to schema 1: the shape a Vigil before migration 2 left behind.
    con = duckdb.connect(str(path))
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    con.execute(
        "CREATE TABLE predictions_7 (event_id VARCHAR PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, "
        "version VARCHAR NOT NULL, prediction VARCHAR, score DOUBLE, "
        "probabilities MAP(VARCHAR, DOUBLE), latency_ms DOUBLE, tags MAP(VARCHAR, VARCHAR), "
        "received_at TIMESTAMPTZ NOT NULL)"
    )
    con.execute(
        "INSERT INTO predictions_7 VALUES ('a', ?, '1', '1', 0.9, NULL, 3, NULL, ?)", [t0] * 2
    )
    con.execute(
        "INSERT INTO labels VALUES (7, 'a', '0', NULL, ?, ?), (7, 'early', '1', NULL, ?, ?)",
        [t0] * 4,
    )
    con.execute("DROP TABLE pending_labels")
    con.execute("DELETE FROM schema_migrations WHERE version >= 2")
    con.close()
    with Store(path) as store:
        assert 2 in store.applied_migrations
        con = store.cursor()
        assert con.execute("SELECT event_id, label, label_ts FROM predictions_7").fetchall() == [
            ("a", "0", t0)
        ]
        assert con.execute("SELECT model_id, event_id FROM pending_labels").fetchall() == [
            (7, "early")
        ]
