"""`vigil demo`: load the demo model's history through the ingest path, then send live traffic."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import duckdb
import joblib

from collectors.client import Monitor
from collectors.ingest import IngestService
from collectors.reference_input import reference_table
from collectors.settings import ModelSettings, Settings
from dashboard.server import Services
from monitoring.alert_rules import parse_rule
from sample_data import (
    MODEL_NAME,
    LiveSimulator,
    build_history,
    load_or_train_model,
    model_registration,
    reference_sample,
)
from storage.models import get_model
from storage.references import create_reference
from storage.tokens import list_tokens, new_token, revoke_token, store_token

log = logging.getLogger("vigil.demo")
CHUNK = 20_000


def load_history(
    ingest: IngestService, progress: Callable[[str], None] = print
) -> list[dict[str, object]]:
    """Register the demo model and load its 30 days unless already there; the pending labels."""
    if get_model(ingest.store.cursor(), MODEL_NAME) is not None:
        progress(f"demo: {MODEL_NAME} is already loaded; sending live traffic only")
        return []
    started = time.perf_counter()
    progress("demo: building 30 days of credit-risk history (first run trains the model)...")
    history = build_history()
    ingest.register(MODEL_NAME, model_registration())
    total = len(history.predictions)
    for start in range(0, total, CHUNK):
        ingest.predictions(MODEL_NAME, history.predictions[start : start + CHUNK])
        done = min(start + CHUNK, total)
        progress(f"demo: predictions {done:,}/{total:,} ({done / total:.0%})")
    for start in range(0, len(history.labels), CHUNK):
        ingest.labels(MODEL_NAME, history.labels[start : start + CHUNK])
    load_reference(ingest)
    progress(
        f"demo: loaded {total:,} predictions, {len(history.labels):,} labels and the "
        f"training sample as drift reference in {time.perf_counter() - started:.1f} s"
    )
    return history.pending_labels


def load_reference(ingest: IngestService) -> None:
    """Store the demo model's training sample as its reference for drift."""
    model = ingest.model(MODEL_NAME)
    table = reference_table(reference_sample(load_or_train_model()), model)
    ingest.writer.run(
        lambda con: create_reference(
            con, model, table, version=None, description="training sample (sample_data)"
        )
    )


def live_traffic(
    monitor: Monitor, simulator: LiveSimulator, stop: threading.Event, tick: float = 1.0
) -> None:
    """Send what the simulator produces each tick until `stop` is set."""
    while not stop.wait(tick):
        batch = simulator.step(datetime.now(UTC))
        for rec in batch.predictions:
            monitor.log_prediction(
                rec["features"],  # type: ignore[arg-type]
                rec["prediction"],
                event_id=str(rec["event_id"]),
                score=rec.get("score"),  # type: ignore[arg-type]
                latency_ms=rec.get("latency_ms"),  # type: ignore[arg-type]
                version=str(rec["version"]),
                tags=rec.get("tags"),  # type: ignore[arg-type]
                timestamp=str(rec["timestamp"]),
            )
        for rec in batch.labels:
            monitor.log_label(str(rec["event_id"]), rec["label"], timestamp=None)


def _replace_demo_token(con: duckdb.DuckDBPyConnection, token: str) -> None:
    """The demo's admin token: a fresh one each start, the previous one revoked."""
    now = datetime.now(UTC)
    for record in list_tokens(con):
        if record.name == "demo" and record.active:
            revoke_token(con, record.id, now)
    store_token(con, token, "demo", "admin", None, "vigil demo", now)


def demo_preparer(rate: float = 2.0, live: bool = True) -> Callable[[Services], None]:
    """Prepare a server for the demo: a printed token, history loading and live traffic."""

    def prepare(services: Services) -> None:
        token = services.new_token or new_token()
        if services.new_token is None:
            services.writer.run(lambda con: _replace_demo_token(con, token))
            services.access.reload_tokens()
            services.new_token = token
        url = f"http://127.0.0.1:{services.settings.port}"
        services.background.append(lambda: start_demo(services, url, token, rate, live))

    return prepare


def start_demo(
    services: Services, url: str, token: str, rate: float, live: bool
) -> Callable[[], None]:
    """Start the demo thread; return its stopper."""
    stop = threading.Event()
    monitor_box: list[Monitor] = []

    def run() -> None:
        try:
            pending = load_history(services.ingest)
        except Exception:
            log.exception("demo: loading the history failed")
            return
        try:
            register_demo_artifacts(url, token)
        except OSError:
            log.exception("demo: registering the model artifact failed; explanations are off")
        if not live or stop.is_set():
            return
        monitor = Monitor(url, token, MODEL_NAME, **_registration_kwargs())
        monitor_box.append(monitor)
        simulator = LiveSimulator(
            42,
            load_or_train_model(),
            datetime.now(UTC),
            pending_labels=pending,
            per_day=rate * 86_400,
        )
        print(f"demo: sending live traffic, about {rate:g} predictions/s", flush=True)
        live_traffic(monitor, simulator, stop)

    thread = threading.Thread(target=run, name="vigil-demo", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=10)
        for monitor in monitor_box:
            monitor.close(timeout=1)

    return stopper


def register_demo_artifacts(url: str, token: str, versions: tuple[str, ...] = ("1", "2")) -> None:
    """Register the demo model for both versions through the API, as a user would, unless
    it already is; waits up to 30 s for the server to answer."""
    base = f"{url}/api/v1/models/{MODEL_NAME}"
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(f"{base}/artifacts", headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (loopback)
                have = {a["version"] for a in json.loads(reply.read())["artifacts"]}
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    data = joblib_bytes(load_or_train_model())
    for version in versions:
        if version in have:
            continue
        request = urllib.request.Request(  # noqa: S310 (the demo's own loopback server)
            f"{base}/versions/{version}/artifact",
            data=data,
            method="PUT",
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310 (loopback)
            info = json.loads(reply.read())["artifact"]
        print(
            f"demo: registered the model for version {version} ({info['explainer']} explainer)",
            flush=True,
        )


def joblib_bytes(model: object) -> bytes:
    """A model as joblib.dump writes it."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def _registration_kwargs() -> dict[str, object]:
    reg = model_registration()
    return {
        "task": reg["task"],
        "positive_class": reg.get("positive_class"),
        "features": reg.get("features"),
    }


DEMO_RULES = {
    "credit_risk_slow": {
        "metric": "latency_p95_ms",
        "condition": "> 120",
        "model": MODEL_NAME,
        "window": "1h",
        "for": "2m",
        "severity": "warning",
        "description": "Version 2 answers slower than the 120 ms p95 target.",
    },
    "credit_risk_inaccurate": {
        "metric": "accuracy",
        "condition": "< 0.75",
        "model": MODEL_NAME,
        "window": "1d",
        "severity": "critical",
        "include_provisional": True,
        "description": "Accuracy fell below 75% over the last day.",
    },
    "credit_risk_drifting": {
        "metric": "drift_share",
        "condition": ">= 0.3",
        "model": MODEL_NAME,
        "window": "1d",
        "severity": "warning",
        "description": "At least 30% of the features drifted from the training sample.",
    },
    "host_cpu_busy": {
        "metric": "cpu_percent",
        "condition": "> 90",
        "window": "5m",
        "for": "5m",
        "description": "The host's CPU has been above 90% for five minutes.",
    },
}


def with_demo_alerts(settings: Settings) -> Settings:
    """The demo's settings: example alert rules (no channels) when the config has none."""
    if settings.alerting.rules:
        return settings
    rules = tuple(
        parse_rule(name, table, models=None, channels=()) for name, table in DEMO_RULES.items()
    )
    models = {MODEL_NAME: ModelSettings(), **settings.models}
    return replace(settings, alerting=replace(settings.alerting, rules=rules), models=models)
