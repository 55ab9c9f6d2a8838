"""API handlers in-process, for what a subprocess cannot show on demand: a full write queue."""

from __future__ import annotations

import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from collectors.http_api import ApiContext, api_routes
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from storage import Store, Writer
from storage.tokens import hash_token

TOKEN = "in-process-token-0123456789"


def test_full_write_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store, max_queue=1)
    ingest = IngestService(store, writer, ServerMetrics())
    ingest.register("m", {"task": "regression"})
    ctx = ApiContext(ingest, "test", 1 << 20, {hash_token(TOKEN)})
    release = threading.Event()
    started = threading.Event()

    def blocker(con: object) -> None:
        started.set()
        release.wait(30)

    writer.submit(blocker)  # occupies the writer thread
    assert started.wait(10)
    writer.submit(lambda con: None)  # fills the one queue slot
    try:
        client = TestClient(Starlette(routes=api_routes(ctx)))
        resp = client.post(
            "/api/v1/models/m/predictions",
            json={"records": [{"event_id": "a", "prediction": 1.0}]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "1"
        assert "retry" in resp.json()["error"]
    finally:
        release.set()
        writer.stop()
    # Once the queue drains the same request succeeds.
    writer2 = Writer(store)
    ingest2 = IngestService(store, writer2, ServerMetrics())
    assert ingest2.predictions("m", [{"event_id": "a", "prediction": 1.0}]).accepted == 1
    writer2.stop()
    store.close()
