"""The single writer: ordered jobs, one transaction each, a bounded queue, drain on stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import duckdb
import pytest

from storage import Store, WriteQueueFullError, Writer


@pytest.fixture
def log_table(store: Store) -> Store:
    store.cursor().execute("CREATE TABLE log (n INTEGER)")
    return store


def _logged(store: Store) -> list[int]:
    return [r[0] for r in store.cursor().execute("SELECT n FROM log ORDER BY rowid").fetchall()]


def _append(n: int) -> Callable[[duckdb.DuckDBPyConnection], int]:
    def job(con: duckdb.DuckDBPyConnection) -> int:
        con.execute("INSERT INTO log VALUES (?)", [n])
        return n

    return job


def test_jobs_run_in_submission_order(log_table: Store, writer: Writer) -> None:
    futures = [writer.submit(_append(n)) for n in range(10)]
    assert [f.result(timeout=30) for f in futures] == list(range(10))
    assert _logged(log_table) == list(range(10))


def test_job_runs_inside_a_transaction(log_table: Store, writer: Writer) -> None:
    def job(con: duckdb.DuckDBPyConnection) -> bool:
        con.execute("INSERT INTO log VALUES (1)")
        # BEGIN inside a running transaction is an error in DuckDB: proves one is open.
        try:
            con.execute("BEGIN")
        except duckdb.TransactionException:
            return True
        return False

    assert writer.run(job, timeout=30) is True


def test_failing_job_rolls_back_and_raises_while_later_jobs_commit(
    log_table: Store, writer: Writer
) -> None:
    def failing(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO log VALUES (100), (101)")
        raise ValueError("boom")

    before = writer.submit(_append(1))
    bad = writer.submit(failing)
    after = writer.submit(_append(2))
    assert before.result(timeout=30) == 1
    with pytest.raises(ValueError, match="boom"):
        bad.result(timeout=30)
    assert after.result(timeout=30) == 2
    assert _logged(log_table) == [1, 2]


def test_sql_error_rolls_back_the_whole_job(log_table: Store, writer: Writer) -> None:
    def bad_sql(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO log VALUES (7)")
        con.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(duckdb.CatalogException):
        writer.run(bad_sql, timeout=30)
    assert writer.run(_append(8), timeout=30) == 8
    assert _logged(log_table) == [8]


@pytest.fixture
def small_writer(log_table: Store) -> Iterator[tuple[Writer, threading.Event]]:
    """A writer with room for 2 waiting jobs; its thread is held by a job until released."""
    gate = threading.Event()
    started = threading.Event()
    w = Writer(log_table, max_queue=2)

    def hold(con: duckdb.DuckDBPyConnection) -> str:
        started.set()
        gate.wait(timeout=30)
        return "held"

    w.submit(hold)
    assert started.wait(timeout=30)
    yield w, gate
    gate.set()
    w.stop()


def test_full_queue_refuses_at_once(
    log_table: Store, small_writer: tuple[Writer, threading.Event]
) -> None:
    w, gate = small_writer
    queued = [w.submit(_append(1)), w.submit(_append(2))]
    assert w.depth == 2 and w.capacity == 2
    with pytest.raises(WriteQueueFullError, match="2 batches waiting"):
        w.submit(_append(3))
    gate.set()
    assert [f.result(timeout=30) for f in queued] == [1, 2]
    assert w.run(_append(4), timeout=30) == 4
    assert _logged(log_table) == [1, 2, 4]


def test_stop_drains_queued_jobs_then_refuses_more(
    log_table: Store, small_writer: tuple[Writer, threading.Event]
) -> None:
    w, gate = small_writer
    queued = [w.submit(_append(1)), w.submit(_append(2))]
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    gate.set()
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    assert all(f.done() for f in queued)
    assert _logged(log_table) == [1, 2]
    with pytest.raises(RuntimeError, match="stopped"):
        w.submit(_append(3))
