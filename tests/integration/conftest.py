"""Fixtures that run the real server as a subprocess on a loopback port."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server import ServerProcess, start_server

FEATURES = {"age": "numeric", "income": "numeric", "region": "categorical"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "vigil.duckdb")
    yield srv
    if srv.proc.poll() is None:
        srv.stop(signal.SIGKILL)


@pytest.fixture
def model(server: ServerProcess) -> str:
    resp = server.request(
        "PUT",
        "/api/v1/models/credit",
        {"task": "binary", "positive_class": 1, "features": FEATURES},
    )
    assert resp.status == 200, resp.body
    return "credit"


def record(i: int, **overrides: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "event_id": f"e{i}",
        "timestamp": 1_764_000_000 + i,
        "version": "1",
        "features": {"age": 30 + i % 40, "income": 1000.0 * (i % 90), "region": "north"},
        "prediction": i % 2,
        "score": 0.25 if i % 2 == 0 else 0.75,
        "latency_ms": 10 + i % 7,
        "tags": {"channel": "web"},
    }
    rec.update(overrides)
    return rec
