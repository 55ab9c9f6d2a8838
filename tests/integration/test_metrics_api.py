"""GET /api/v1/models/{model}/metrics on the real server: parameters, numbers and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.conftest import record
from tests.integration.server import ServerProcess

START = datetime.fromtimestamp(1_764_000_000, UTC)  # the first record's time, on the hour
RANGE = {"start": "2025-11-24T16:00:00Z", "end": "2025-11-24T18:00:00Z"}


def _records() -> list[dict[str, Any]]:
    out = []
    for i in range(600):
        rec = record(
            i * 10,  # one prediction every 10 s: 100 minutes, two hourly windows
            version="2" if i % 4 == 0 else "1",
            tags={"channel": "app" if i % 3 == 0 else "web"},
            prediction=i % 2,
            score=0.3 + 0.4 * (i % 2) + (i % 7) / 100,
        )
        rec["features"]["region"] = "south" if i % 2 else "north"  # type: ignore[index]
        out.append(rec)
    return out


def _path(model: str, **params: str) -> str:
    return f"/api/v1/models/{model}/metrics?{urlencode(params)}"


@pytest.fixture
def loaded(server: ServerProcess, model: str) -> list[dict[str, Any]]:
    records = _records()
    resp = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": records})
    assert resp.status == 200, resp.body
    # Labels for the first 400 predictions: the second window is only partly labelled.
    labels = [{"event_id": r["event_id"], "label": int(i % 5 != 0)} for i, r in enumerate(records)]
    resp = server.request("POST", f"/api/v1/models/{model}/labels", {"records": labels[:400]})
    assert resp.status == 200, resp.body
    return records


def test_metrics_with_every_parameter(
    server: ServerProcess, model: str, loaded: list[dict[str, Any]]
) -> None:
    resp = server.request(
        "GET",
        _path(model, **RANGE, window="1h", version="1", segment="tag:channel:web"),
    )
    assert resp.status == 200, resp.body
    body = resp.body
    assert (body["model"], body["task"], body["window"]) == (model, "binary", "1h")
    assert [r["window_start"] for r in body["rows"]] == [
        "2025-11-24T16:00:00+00:00",
        "2025-11-24T17:00:00+00:00",
    ]
    chosen = [
        (i, r)
        for i, r in enumerate(loaded)
        if r["version"] == "1" and r["tags"] == {"channel": "web"}
    ]
    first_hour = [(i, r) for i, r in chosen if r["timestamp"] < 1_764_003_600]  # type: ignore[operator]
    row = body["rows"][0]
    assert row["count"] == len(first_hour)
    assert row["labeled"] == row["count"] and row["provisional"] is False
    correct = sum(int(i % 5 != 0) == r["prediction"] for i, r in first_hour)
    assert row["accuracy"] == pytest.approx(correct / len(first_hour), rel=1e-12)
    assert row["latency_p95_ms"] is not None and row["roc_auc"] is not None
    second = body["rows"][1]
    assert second["count"] == len(chosen) - len(first_hour)
    assert 0 < second["label_coverage"] < 0.8 and second["provisional"] is True


def test_metrics_by_categorical_feature_with_the_window_chosen(
    server: ServerProcess, model: str, loaded: list[dict[str, Any]]
) -> None:
    resp = server.request("GET", _path(model, **RANGE, segment="region:south"))
    assert resp.status == 200, resp.body
    assert resp.body["window"] == "1h"
    south = [r for r in loaded if r["features"]["region"] == "south"]  # type: ignore[index]
    assert sum(r["count"] for r in resp.body["rows"]) == len(south)


def test_bad_parameters_are_400_unknown_model_404_no_token_401(
    server: ServerProcess, model: str
) -> None:
    cases = [
        (_path(model, **RANGE, window="2h"), 400, "unknown window '2h': use 1h, 1d or 1w"),
        (_path(model, start="yesterday", end=RANGE["end"]), 400, "start='yesterday' is not"),
        (_path(model, start=RANGE["end"], end=RANGE["start"]), 400, "must be after start"),
        (_path(model, end=RANGE["end"]), 400, "start is required"),
        (_path(model, **RANGE, segment="age:30"), 400, "feature 'age' of model 'credit' is"),
        (_path(model, **RANGE, segment="colour:red"), 400, "unknown segment dimension 'colour'"),
        (_path(model, **RANGE, bucket="1h"), 400, "unknown query parameter bucket"),
        (_path(model, start="2020-01-01", end="2025-01-01", window="1h"), 400, "windows of 1h"),
        (_path("nope", **RANGE), 404, "model 'nope' is not registered"),
    ]
    for path, status, message in cases:
        resp = server.request("GET", path)
        assert resp.status == status, (path, resp.body)
        assert message in resp.body["error"], (path, resp.body)
    for token in (None, "wrong-token-wrong-token"):
        resp = server.request("GET", _path(model, **RANGE), token=token)
        assert resp.status == 401 and "Bearer" in resp.body["error"]
    assert server.request("GET", _path(model, **RANGE)).status == 200  # still serving


def test_per_model_provisional_coverage_from_the_config(tmp_path: Any) -> None:
    from tests.integration.conftest import FEATURES
    from tests.integration.server import start_server

    config = tmp_path / "vigil.toml"
    config.write_text("[models.credit]\nprovisional_coverage = 0.1\n")
    srv = start_server(tmp_path / "vigil.duckdb", config=config)
    try:
        srv.request("PUT", "/api/v1/models/credit", {"task": "binary", "features": FEATURES})
        records = _records()
        srv.request("POST", "/api/v1/models/credit/predictions", {"records": records})
        labels = [{"event_id": r["event_id"], "label": 1} for r in records[:400]]
        srv.request("POST", "/api/v1/models/credit/labels", {"records": labels})
        rows = srv.request("GET", _path("credit", window="1h", **RANGE)).body["rows"]
        # The second hour is a sixth labelled: provisional at the default 0.8, not at 0.1.
        assert 0.1 < rows[1]["label_coverage"] < 0.8
        assert [r["provisional"] for r in rows] == [False, False]
    finally:
        srv.stop()
