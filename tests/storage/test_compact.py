"""storage.compact on real DuckDB files: an erased value leaves the disk, nothing else changes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from storage import Store, Writer
from storage.audit import AuditEntry, record
from storage.compact import CompactError, compact
from storage.erasure import clear_purge, erase_matching, mark_purge_needed, purge_needed
from storage.references import create_reference
from storage.tokens import store_token
from storage.users import add_user

T0 = datetime(2026, 11, 18, 7, tzinfo=UTC)
SECRET = "SUBJECTZZQX9-customer-0042"


def _raw(path: Path) -> bytes:
    """The bytes of the database file and its WAL, if any."""
    wal = path.with_name(path.name + ".wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _everything(path: Path) -> dict[str, Any]:
    """Every table's rows (sorted), every sequence's state and every view, read from the file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        found: dict[str, Any] = {
            t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
        }
        found["@sequences"] = con.execute(
            "SELECT sequence_name, start_value, last_value FROM duckdb_sequences() ORDER BY 1"
        ).fetchall()
        found["@constraints"] = sorted(
            con.execute(
                "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()"
            ).fetchall()
        )
        return found
    finally:
        con.close()


def _populate(path: Path) -> None:
    """A database with predictions, labels, a reference, users, tokens and audit entries,
    from which one customer's predictions were erased (after the file was checkpointed)."""
    with Store(path) as store:
        writer = Writer(store)
        ingest = IngestService(store, writer, ServerMetrics())
        features = {"x": "numeric", "customer": "categorical"}
        ingest.register("m", {"task": "binary", "positive_class": "1", "features": features})
        customers = [SECRET if i % 7 == 3 else f"customer-{i:04d}" for i in range(40)]
        ingest.predictions(
            "m",
            [
                {
                    "event_id": f"e{i}",
                    "timestamp": (T0 + timedelta(minutes=i)).isoformat(),
                    "features": {"x": i / 3, "customer": customers[i]},
                    "prediction": str(i % 2),
                    "tags": {"region": "north" if i % 2 else "south"},
                }
                for i in range(40)
            ],
        )
        ingest.labels("m", [{"event_id": f"e{i}", "label": "1"} for i in range(0, 40, 2)])
        model = ingest.model("m")
        upload = pa.table({"x": [1.0, 2.0], "customer": ["r1", "r2"]})
        writer.run(lambda c: create_reference(c, model, upload, version=None, description="u"))
        writer.run(lambda c: add_user(c, "ann", "hash", "admin", T0))
        writer.run(lambda c: store_token(c, "tok", "ci", "ingest", "m", "ann", T0))
        entry = AuditEntry("ann", "user", "erase", "m", {"rows": 6}, "127.0.0.1")
        writer.run(lambda c: record(c, entry, T0))
        store.checkpoint()  # the value now sits in the file's blocks
        writer.run(lambda c: erase_matching(c, model, "customer", SECRET))
        writer.run(lambda c: mark_purge_needed(c, T0))
        writer.stop()


def test_an_erased_value_leaves_the_file_and_everything_else_stays(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    _populate(path)
    assert SECRET.encode() in _raw(path)  # deleted, yet still in the file
    before = _everything(path)
    assert SECRET not in repr(before)  # no table holds it any longer
    messages: list[str] = []
    size_before, size_after = compact(path, messages.append)
    assert size_before > 0 and size_after > 0
    assert messages[0].startswith("copying") and messages[-1].startswith("compacted")
    assert SECRET.encode() not in _raw(path)
    assert not path.with_name(path.name + ".wal").exists()
    assert not path.with_name(path.name + ".compact").exists()
    assert _everything(path) == before
    with Store(path) as store:
        assert store.applied_migrations == []
        writer = Writer(store)
        ingest = IngestService(store, writer, ServerMetrics())
        con = store.cursor()
        assert purge_needed(con)
        writer.run(clear_purge)
        # Primary keys still hold, and sequences continue where they were.
        again = ingest.predictions("m", [{"event_id": "e0", "prediction": "1"}])
        assert (again.accepted, again.duplicates) == (0, 1)
        ingest.register("m2", {"task": "regression"})
        assert ingest.model("m2").id == 2
        entry = AuditEntry("ann", "user", "user.add", "bob", {}, "cli")
        assert writer.run(lambda c: record(c, entry, T0)) == 2
        model = ingest.model("m")
        upload = pa.table({"x": [3.0]})
        made = writer.run(
            lambda c: create_reference(c, model, upload, version=None, description="")
        )
        assert made.id == 2
        with pytest.raises(duckdb.ConstraintException):
            con.execute(
                "INSERT INTO users VALUES ('ann', 'h', 'viewer', now(), now(), NULL, 0, NULL)"
            )
        writer.stop()


def test_views_macros_indexes_types_and_sequences_are_copied(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("CREATE TYPE mood AS ENUM ('calm', 'tense')")
    con.execute("CREATE SEQUENCE ticks START 10 INCREMENT BY 5")
    con.execute("CREATE TABLE moods (id BIGINT DEFAULT nextval('ticks'), m mood, note VARCHAR)")
    con.execute("INSERT INTO moods (m, note) VALUES ('calm', 'a'), ('tense', 'b')")
    con.execute("CREATE INDEX moods_note ON moods (note)")
    con.execute("CREATE VIEW tense AS SELECT id, note FROM moods WHERE m = 'tense'")
    con.execute("CREATE MACRO twice(x) AS x * 2")
    con.close()
    compact(path)
    con = duckdb.connect(str(path))
    try:
        con.execute("INSERT INTO moods (m, note) VALUES ('tense', 'c')")
        assert con.execute("SELECT * FROM tense ORDER BY id").fetchall() == [(15, "b"), (20, "c")]
        assert con.execute("SELECT twice(21)").fetchall() == [(42,)]
        indexes = con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()
        assert indexes == [("moods_note",)]
        with pytest.raises(duckdb.ConversionException):
            con.execute("INSERT INTO moods (m) VALUES ('happy')")
    finally:
        con.close()


def test_an_open_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as store:
        store.checkpoint()
        before = path.read_bytes()
        with pytest.raises(CompactError, match="stop the Vigil server"):
            compact(path)
        assert path.read_bytes() == before
        assert store.cursor().execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0] > 0
    with pytest.raises(FileNotFoundError, match="no database file"):
        compact(tmp_path / "missing.duckdb")


def test_a_database_held_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    Store(path).close()
    hold = (
        "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); "
        "print('open', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(CompactError, match="is open"):
            compact(path)
    finally:
        holder.kill()
        holder.wait()


def test_a_pending_wal_is_folded_in_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    Store(path).close()
    crash = (
        "import os, sys, duckdb; c = duckdb.connect(sys.argv[1]); "
        'c.execute("INSERT INTO users VALUES '
        "('wal-only', 'h', 'viewer', now(), now(), NULL, 0, NULL)\"); "
        "os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", crash, str(path)], check=True)
    wal = path.with_name(path.name + ".wal")
    assert wal.exists() and b"wal-only" in wal.read_bytes()
    # A leftover of an interrupted compaction is replaced, not trusted.
    path.with_name(path.name + ".compact").write_bytes(b"garbage")
    compact(path)
    assert not wal.exists()
    with Store(path) as store:
        names = store.cursor().execute("SELECT name FROM users").fetchall()
        assert names == [("wal-only",)]


def test_a_server_starting_during_the_swap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    Store(path).close()
    opened: list[subprocess.CompletedProcess[str]] = []

    def on_progress(message: str) -> None:
        if message.startswith("replacing"):  # the file is being swapped now
            probe = "import sys; from storage import Store; Store(sys.argv[1]).close()"
            run = subprocess.run(
                [sys.executable, "-c", probe, str(path)], capture_output=True, text=True
            )
            opened.append(run)

    compact(path, on_progress)
    assert len(opened) == 1 and opened[0].returncode != 0
    assert "already open" in opened[0].stderr
    with Store(path) as store:
        assert store.applied_migrations == []
