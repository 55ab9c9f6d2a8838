"""GET /api/v1/alerts and /api/v1/alerts/history over a real store, through Starlette."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from collectors.alert_api import alert_routes
from collectors.alerting import Alerting
from collectors.http_api import ApiContext
from collectors.ingest import IngestService
from storage.tokens import hash_token
from tests.collectors.http_receiver import Receiver
from tests.collectors.test_alerting import NOW, Clock, _settings
from tests.storage.test_performance import load

TOKEN = "alerts-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(ingest: IngestService) -> Iterator[TestClient]:
    load(ingest, "binary")
    receiver = Receiver()
    alerting = Alerting(ingest, _settings(receiver), clock=Clock(NOW))
    alerting.evaluate()  # pending: `for` is 10 minutes
    alerting.clock = Clock(NOW + timedelta(minutes=10))
    alerting.evaluate()  # firing
    ctx = ApiContext(ingest, "test", 1 << 20, {hash_token(TOKEN)})
    yield TestClient(Starlette(routes=alert_routes(ctx, alerting)))
    receiver.close()


def test_current_alerts_need_the_token_and_list_the_firing_one(client: TestClient) -> None:
    assert client.get("/api/v1/alerts").status_code == 401
    (alert,) = client.get("/api/v1/alerts", headers=AUTH).json()["alerts"]
    assert alert["rule"] == "slow" and alert["model"] == "binary" and alert["state"] == "firing"
    assert alert["severity"] == "critical" and alert["threshold"] == 10
    assert alert["value"] > 10 and alert["silenced"] is False
    assert alert["since"].startswith((NOW + timedelta(minutes=10)).date().isoformat())


def test_history_lists_state_changes_in_the_range(client: TestClient) -> None:
    start = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    end = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body = client.get(f"/api/v1/alerts/history?start={start}&end={end}", headers=AUTH).json()
    moves = sorted((t["from_state"], t["to_state"]) for t in body["transitions"])
    assert moves == [("inactive", "pending"), ("pending", "firing")]
    empty = client.get(f"/api/v1/alerts/history?start={end}&end={end}", headers=AUTH)
    assert empty.status_code == 400 and "must be after start" in empty.json()["error"]
    bad = client.get("/api/v1/alerts/history?start=yesterday", headers=AUTH)
    assert (
        bad.status_code == 400
        and "start='yesterday' is not an ISO-8601 time" in bad.json()["error"]
    )
