"""Erasure on the real server: a subject's rows go from predictions, labels and the drift
reference; the audit log keeps the fact, not the value; and after the restart that
compacts the file, the value is in no byte of the database."""

from __future__ import annotations

from pathlib import Path

from tests.integration.access_seed import seed
from tests.integration.conftest import record
from tests.integration.server import start_server

SUBJECT = "CUSTZZQX9-subject-000042"


def _raw(db: Path) -> bytes:
    wal = Path(f"{db}.wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_erase_by_tag_then_restart_leaves_no_trace(tmp_path: Path) -> None:
    db = tmp_path / "vigil.duckdb"
    admin = seed(db).tokens["admin-tok"]
    server = start_server(db)
    try:
        records = [
            record(i, tags={"customer": SUBJECT if i < 3 else f"other-{i}"}) for i in range(40)
        ]
        sent = server.request(
            "POST", "/api/v1/models/credit/predictions", {"records": records}, token=admin
        )
        assert sent.status == 200, sent.body
        labels = [{"event_id": f"e{i}", "label": i % 2} for i in range(40)]
        assert server.request(
            "POST", "/api/v1/models/credit/labels", {"records": labels}, token=admin
        ).body == {"accepted": 40, "unmatched": 0}
        reference = {"range": {"start": "2025-11-24T00:00:00Z", "end": "2025-11-26T00:00:00Z"}}
        ref = server.request("PUT", "/api/v1/models/credit/reference", reference, token=admin)
        assert ref.status == 200, ref.body

        erased = server.request(
            "POST",
            "/api/v1/models/credit/erase",
            {"tag": "customer", "value": SUBJECT},
            token=admin,
        )
        assert erased.status == 200, erased.body
        assert erased.body["erased"]["predictions"] == 3
        assert erased.body["erased"]["labels"] == 3
        models = server.request("GET", "/api/v1/models", token=admin).body["models"]
        credit = next(m for m in models if m["name"] == "credit")
        assert credit["predictions"] == 37 and credit["labels"] == 37

        again = server.request(
            "POST", "/api/v1/models/credit/erase", {"event_ids": ["e5", "e6"]}, token=admin
        )
        assert again.body["erased"]["predictions"] == 2, again.body

        audit = server.request("GET", "/api/v1/audit?action=erase", token=admin).body["entries"]
        assert len(audit) == 2
        assert SUBJECT not in str(audit) and "e5" not in str(audit)
        assert audit[-1]["detail"]["matched_on"] == "tag:customer"
    finally:
        assert server.stop() == 0
    # DuckDB leaves deleted values in the file's blocks: only the compaction removes them.
    assert SUBJECT.encode() in _raw(db)
    restarted = start_server(db)
    try:
        assert "compacted" in restarted.output(), restarted.output()
        models = restarted.request("GET", "/api/v1/models", token=admin).body["models"]
        assert next(m for m in models if m["name"] == "credit")["predictions"] == 35
    finally:
        assert restarted.stop() == 0
    assert SUBJECT.encode() not in _raw(db)
