"""The client SDK and the spool directory against a real server."""

from __future__ import annotations

import json
import time

from collectors.client import Monitor
from tests.integration.conftest import FEATURES, record
from tests.integration.server import ServerProcess


def _wait_for(check, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_sdk_logs_predictions_and_labels(server: ServerProcess) -> None:
    monitor = Monitor(
        server.url,
        server.token,
        "sdk-model",
        task="binary",
        positive_class=1,
        features=FEATURES,
        batch_size=500,
        flush_interval=0.2,
    )
    ids = [
        monitor.log_prediction(
            {"age": 30 + i % 50, "income": 100.0 * i, "region": "south"},
            i % 2,
            score=0.4,
            latency_ms=12.0,
            version="3",
            tags={"ab": "b"},
        )
        for i in range(3000)
    ]
    for event_id in ids[:1000]:
        monitor.log_label(event_id, 1)
    assert monitor.flush(timeout=30)
    monitor.close()
    assert monitor.stats["dropped"] == 0
    models = {m["name"]: m for m in server.request("GET", "/api/v1/models").body["models"]}
    assert models["sdk-model"]["predictions"] == 3000
    assert models["sdk-model"]["labels"] == 1000
    assert models["sdk-model"]["versions"] == ["3"]


def test_spool_files_are_ingested_and_bad_ones_quarantined(server: ServerProcess) -> None:
    server.request("PUT", "/api/v1/models/credit", {"task": "binary", "features": FEATURES})
    spool = server.db.parent / "spool" / "credit"
    spool.mkdir(parents=True, exist_ok=True)
    good = spool / "batch1.jsonl"
    good.write_text("\n".join(json.dumps(record(i)) for i in range(300)))
    labels = spool / "labels1.jsonl"
    labels.write_text("\n".join(json.dumps({"event_id": f"e{i}", "label": 1}) for i in range(50)))
    bad = spool / "broken.jsonl"
    bad.write_text(json.dumps(record(1000)) + "\n{not json\n")

    def done() -> bool:
        return (
            (spool / "done" / "batch1.jsonl").exists()
            and (spool / "quarantine" / "broken.jsonl").exists()
            and (spool / "done" / "labels1.jsonl").exists()
        )

    assert _wait_for(done), list(spool.rglob("*"))
    reason = (spool / "quarantine" / "broken.jsonl.error.txt").read_text()
    assert "line 2" in reason
    model = server.request("GET", "/api/v1/models").body["models"][0]
    assert model["predictions"] == 300 and model["labels"] == 50
    assert not good.exists() and not bad.exists()


def test_unregistered_spool_model_is_quarantined(server: ServerProcess) -> None:
    spool = server.db.parent / "spool" / "ghost"
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "a.jsonl").write_text(json.dumps(record(1)))
    reason_file = spool / "quarantine" / "a.jsonl.error.txt"
    assert _wait_for(reason_file.exists)
    assert "PUT /api/v1/models/ghost" in reason_file.read_text()
