"""Alerting inside the real server: a config-file rule fires and its webhook arrives; an
unknown model in a rule stops the server at start with a message naming it."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitoring.webhook_notifier import verify_signature
from tests.collectors.http_receiver import Receiver, wait_for
from tests.integration.server import free_port, start_server

SECRET = "integration-hook-secret"


def _config(tmp_path: Path, receiver: Receiver, model: str = "churn") -> Path:
    secret = tmp_path / "hook.secret"
    secret.write_text(SECRET, encoding="utf-8")
    path = tmp_path / "vigil.toml"
    path.write_text(
        f"""
[models.churn]

[alerts]
evaluation_interval_s = 0.5
group_wait_s = 0.5
dashboard_url = "http://localhost:8501"

[channels.hook]
type = "webhook"
url = "{receiver.url}/hook"
secret_file = "{secret}"

[rules.slow]
metric = "latency_p95_ms"
condition = "> 100"
model = "{model}"
window = "5m"
severity = "critical"
channels = ["hook"]
""",
        encoding="utf-8",
    )
    return path


def test_a_rule_fires_in_the_running_server_and_the_webhook_arrives(tmp_path: Path) -> None:
    receiver = Receiver()
    server = start_server(tmp_path / "vigil.duckdb", config=_config(tmp_path, receiver))
    try:
        assert server.request("PUT", "/api/v1/models/churn", {"task": "regression"}).status == 200
        now = datetime.now(UTC).isoformat()
        records = [
            {"event_id": f"e{i}", "timestamp": now, "prediction": 1.0, "latency_ms": 250.0}
            for i in range(20)
        ]
        reply = server.request("POST", "/api/v1/models/churn/predictions", {"records": records})
        assert reply.status == 200
        wait_for(lambda: len(receiver.seen("/hook")) >= 1, "the firing webhook", timeout=30)
        (request,) = receiver.seen("/hook")[:1]
        assert request.body["status"] == "firing"
        assert request.body["alerts"][0]["rule"] == "slow"
        assert verify_signature(SECRET, request.raw, request.headers["X-Vigil-Signature"])
        alerts = server.request("GET", "/api/v1/alerts").body["alerts"]
        assert [(a["rule"], a["model"], a["state"]) for a in alerts] == [
            ("slow", "churn", "firing")
        ]
    finally:
        assert server.stop(signal.SIGTERM) == 0
        receiver.close()


def test_a_rule_on_an_unknown_model_stops_the_server_at_start(tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        config = _config(tmp_path, receiver, model="ghost")
        args = [sys.executable, "-m", "dashboard.cli", "serve", "--db", "v.duckdb"]
        args += ["--port", str(free_port()), "--config", str(config)]
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert "rule 'slow' names model 'ghost'" in done.stderr
    finally:
        receiver.close()
