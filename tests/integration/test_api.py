"""The HTTP API of a real server: auth, registration, ingest, labels and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa

from tests.integration.conftest import FEATURES, record
from tests.integration.server import ServerProcess, start_server


def test_health_needs_no_token(server: ServerProcess) -> None:
    resp = server.request("GET", "/api/v1/health", token=None)
    assert resp.status == 200
    assert resp.body["status"] == "ok" and resp.body["db"].endswith("vigil.duckdb")
    assert resp.body["version"]


def test_every_other_route_needs_the_token(server: ServerProcess) -> None:
    for method, path in [
        ("GET", "/api/v1/models"),
        ("PUT", "/api/v1/models/m"),
        ("POST", "/api/v1/models/m/predictions"),
        ("POST", "/api/v1/models/m/labels"),
    ]:
        for token in (None, "wrong-token-wrong-token"):
            resp = server.request(method, path, {"records": []}, token=token)
            assert resp.status == 401, (method, path, token)
            assert "Bearer" in resp.body["error"]
    assert server.token not in server.output()


def test_register_is_idempotent_and_listed(server: ServerProcess, model: str) -> None:
    again = server.request(
        "PUT",
        f"/api/v1/models/{model}",
        {"task": "binary", "positive_class": 1, "features": FEATURES},
    )
    assert again.status == 200 and again.body["features"] == FEATURES
    listed = server.request("GET", "/api/v1/models").body["models"]
    assert [m["name"] for m in listed] == [model]
    assert listed[0]["features"] == FEATURES
    assert listed[0]["predictions"] == 0 and listed[0]["labels"] == 0


def test_predictions_duplicates_and_late_labels(server: ServerProcess, model: str) -> None:
    batch = [record(i) for i in range(500)]
    first = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": batch})
    assert first.status == 200 and first.body == {"accepted": 500, "duplicates": 0}
    retry = server.request(
        "POST",
        f"/api/v1/models/{model}/predictions",
        {"records": batch[:100] + [record(i) for i in range(500, 550)]},
    )
    assert retry.body == {"accepted": 50, "duplicates": 100}
    labels = [{"event_id": f"e{i}", "label": i % 3 == 0} for i in range(10)]
    labels = [{"event_id": f"e{i}", "label": int(i % 3 == 0)} for i in range(10)]
    early = [{"event_id": "e900", "label": 1, "timestamp": "2026-11-25T10:00:00Z"}]
    resp = server.request("POST", f"/api/v1/models/{model}/labels", {"records": labels + early})
    assert resp.status == 200 and resp.body == {"accepted": 11, "unmatched": 1}
    # The early label joins once its prediction arrives.
    server.request("POST", f"/api/v1/models/{model}/predictions", {"records": [record(900)]})
    listed = server.request("GET", "/api/v1/models").body["models"][0]
    assert listed["predictions"] == 551 and listed["labels"] == 11
    assert listed["versions"] == ["1"]
    server.stop()
    con = duckdb.connect(str(server.db), read_only=True)
    joined = con.execute(
        "SELECT count(*) FROM predictions_1 p JOIN labels l ON l.event_id = p.event_id"
    ).fetchall()[0][0]
    assert joined == 11


def test_new_feature_adds_a_column(server: ServerProcess, model: str) -> None:
    rec = record(1)
    rec["features"] = {**rec["features"], "tenure_months": 12}  # type: ignore[dict-item]
    resp = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": [rec]})
    assert resp.status == 200
    features = server.request("GET", "/api/v1/models").body["models"][0]["features"]
    assert features["tenure_months"] == "numeric"


def test_arrow_ipc_body(server: ServerProcess, model: str) -> None:
    table = pa.table(
        {
            "event_id": ["a1", "a2"],
            "timestamp": ["2026-11-25T10:00:00Z", "2026-11-25T10:00:01Z"],
            "prediction": [1, 0],
            "score": [0.9, 0.1],
            "age": [31.0, 42.0],
            "region": ["east", "west"],
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    resp = server.request(
        "POST",
        f"/api/v1/models/{model}/predictions",
        raw=sink.getvalue().to_pybytes(),
        content_type="application/vnd.apache.arrow.stream",
    )
    assert resp.status == 200 and resp.body == {"accepted": 2, "duplicates": 0}
    bad = server.request(
        "POST",
        f"/api/v1/models/{model}/predictions",
        raw=b"not arrow",
        content_type="application/vnd.apache.arrow.stream",
    )
    assert bad.status == 400 and "Arrow" in bad.body["error"]


def test_bad_inputs_are_refused_and_nothing_else_is_lost(server: ServerProcess, model: str) -> None:
    path = f"/api/v1/models/{model}/predictions"
    assert server.request("POST", path, {"records": [record(1)]}).status == 200
    malformed = server.request("POST", path, raw=b'{"records": [', content_type="application/json")
    assert malformed.status == 400 and "JSON" in malformed.body["error"]
    not_records = server.request("POST", path, {"rows": []})
    assert not_records.status == 400 and "records" in not_records.body["error"]
    unknown = server.request("POST", "/api/v1/models/nope/predictions", {"records": [record(2)]})
    assert unknown.status == 404 and "PUT /api/v1/models/nope" in unknown.body["error"]
    bad_batch = [
        record(10),
        {**record(11), "event_id": None},
        {**record(12), "features": {"age": "old", "income": 1.0, "region": "north"}},
        {**record(13), "score": 1.5},
        {**record(14), "timestamp": "last tuesday"},
        {**record(15), "features": {"age": 1, "income": 2.0, "region": 7}},
    ]
    resp = server.request("POST", path, {"records": bad_batch})
    assert resp.status == 422
    found = {(d["index"], d["field"]) for d in resp.body["details"]}
    assert found == {
        (1, "event_id"),
        (2, "features.age"),
        (3, "score"),
        (4, "timestamp"),
        (5, "features.region"),
    }
    assert all(d["reason"] for d in resp.body["details"])
    # NaN and Infinity are valid for Python's json module but never valid values here.
    nan_body = b'{"records": [{"event_id": "n1", "prediction": 1, "features": {"income": NaN}}]}'
    nan = server.request("POST", path, raw=nan_body)
    assert nan.status == 422 and nan.body["details"][0]["field"] == "features.income"
    listed = server.request("GET", "/api/v1/models").body["models"][0]
    assert listed["predictions"] == 1  # the good record of the rejected batch was not stored
    bad_model = server.request("PUT", "/api/v1/models/bad%20name", {"task": "binary"})
    assert bad_model.status == 422 and "model name" in bad_model.body["error"]
    bad_task = server.request("PUT", "/api/v1/models/other", {"task": "ranking"})
    assert bad_task.status == 422 and "binary" in bad_task.body["error"]
    conflict = server.request(
        "PUT", f"/api/v1/models/{model}", {"task": "binary", "features": {"age": "categorical"}}
    )
    assert conflict.status == 422 and "age" in conflict.body["error"]
    assert server.request("GET", "/api/v1/health", token=None).status == 200


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    config = tmp_path / "vigil.toml"
    config.write_text("[server]\nmax_body_bytes = 2000\n")
    srv = start_server(tmp_path / "vigil.duckdb", config=config)
    try:
        srv.request("PUT", "/api/v1/models/m", {"task": "regression"})
        big = {"records": [record(i, prediction=1.5) for i in range(100)]}
        resp = srv.request("POST", "/api/v1/models/m/predictions", big)
        assert resp.status == 413 and "2,000" in resp.body["error"]
        small = srv.request(
            "POST",
            "/api/v1/models/m/predictions",
            {"records": [record(1, prediction=2.5, features={})]},
        )
        assert small.status == 200
    finally:
        srv.stop()


def test_metrics_count_ingest(server: ServerProcess, model: str) -> None:
    server.request(
        "POST", f"/api/v1/models/{model}/predictions", {"records": [record(1), record(2)]}
    )
    server.request("POST", f"/api/v1/models/{model}/predictions", {"records": [record(1)]})
    server.request("POST", f"/api/v1/models/{model}/predictions", {"records": [{"event_id": 5}]})
    text = server.request("GET", "/metrics", token=None).body
    assert 'vigil_ingest_accepted_total{kind="prediction",model="credit"} 2.0' in text
    assert 'vigil_ingest_duplicates_total{model="credit"} 1.0' in text
    assert 'vigil_ingest_rejected_total{reason="invalid_records"} 1.0' in text
    assert 'vigil_model_predictions{model="credit"} 2.0' in text
    assert "vigil_write_queue_depth" in text
    assert 'metric="cpu_percent"' in text and 'metric="mem_used_bytes"' in text


def test_first_start_without_token_prints_one(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "vigil.duckdb", token=None)
    try:
        out = srv.output()
        line = next(ln for ln in out.splitlines() if "API token" in ln)
        srv.token = line.rsplit(" ", 1)[1]
        assert srv.request("GET", "/api/v1/models").status == 200
    finally:
        srv.stop()
    again = start_server(tmp_path / "vigil.duckdb", token=None)
    try:
        assert "API token" not in again.output()
        again.token = srv.token
        assert again.request("GET", "/api/v1/models").status == 200
    finally:
        again.stop()
    stored = (
        duckdb.connect(str(tmp_path / "vigil.duckdb"), read_only=True)
        .execute("SELECT token_hash FROM api_tokens")
        .fetchall()
    )
    assert len(stored) == 1 and srv.token not in json.dumps(stored)
