"""Start, stop, crash and restart the real server; nothing acknowledged is lost or doubled."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from tests.integration.conftest import FEATURES, record
from tests.integration.server import ServerProcess, start_server


def test_second_server_on_same_db_exits_naming_the_holder(server: ServerProcess) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "serve", "--db", str(server.db), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert f"PID {server.proc.pid}" in second.stderr and "--db" in second.stderr
    assert server.request("GET", "/api/v1/health", token=None).status == 200


def test_sigterm_drains_checkpoints_and_exits_zero(server: ServerProcess, model: str) -> None:
    resp = server.request(
        "POST", f"/api/v1/models/{model}/predictions", {"records": [record(i) for i in range(1000)]}
    )
    assert resp.status == 200
    assert server.stop(signal.SIGTERM) == 0
    wal = server.db.with_name(server.db.name + ".wal")
    assert not wal.exists() or wal.stat().st_size == 0
    con = duckdb.connect(str(server.db), read_only=True)
    assert con.execute("SELECT count(*) FROM predictions_1").fetchall()[0][0] == 1000


def test_sigint_also_exits_zero(server: ServerProcess) -> None:
    assert server.stop(signal.SIGINT) == 0


def _sender(srv: ServerProcess, acked: list[str], stop: threading.Event) -> None:
    """Post batches until the server dies; remember every acknowledged event_id."""
    batch_no = 0
    while not stop.is_set():
        batch = [record(batch_no * 200 + i) for i in range(200)]
        try:
            resp = srv.request(
                "POST", "/api/v1/models/credit/predictions", {"records": batch}, timeout=10
            )
        except OSError:
            return
        if resp.status == 200:
            acked.extend(str(r["event_id"]) for r in batch)
        batch_no += 1


def test_kill_9_during_ingest_loses_no_acknowledged_record(tmp_path: Path) -> None:
    db = tmp_path / "vigil.duckdb"
    srv = start_server(db)
    srv.request("PUT", "/api/v1/models/credit", {"task": "binary", "features": FEATURES})
    acked: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=_sender, args=(srv, acked, stop))
    thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.proc.kill()  # SIGKILL mid-stream: no shutdown, no checkpoint
    srv.proc.wait(10)
    stop.set()
    thread.join(20)
    assert len(acked) >= 4000

    again = start_server(db, port=srv.port)
    try:
        again.stop(signal.SIGTERM)
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
    con = duckdb.connect(str(db), read_only=True)
    stored = {r[0] for r in con.execute("SELECT event_id FROM predictions_1").fetchall()}
    total = con.execute("SELECT count(*) FROM predictions_1").fetchall()[0][0]
    con.close()
    assert set(acked) <= stored
    assert total == len(stored)  # exactly once

    # A client that retries everything it sent gets duplicates, not double rows.
    resumed = start_server(db)
    try:
        resp = resumed.request(
            "POST",
            "/api/v1/models/credit/predictions",
            {"records": [record(i) for i in range(200)]},
        )
        assert resp.status == 200 and resp.body["duplicates"] == 200
    finally:
        resumed.stop()
