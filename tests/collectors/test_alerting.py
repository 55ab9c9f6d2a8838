"""The alerting service end to end: real DuckDB, a real HTTP receiver, a real SMTP server.

A binary model's generated predictions have a latency p95 of roughly 50 ms, so a rule on
latency_p95_ms decides by its threshold alone. The clock is passed in, so `for`, group_wait,
repeat intervals and retry backoff are exercised without waiting.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from collectors.alert_settings import AlertSettings
from collectors.alerting import Alerting
from collectors.ingest import IngestService
from monitoring.alert_rules import parse_rule
from monitoring.alert_rules import rule_to_table as rule_table
from monitoring.email_notifier import EmailChannel
from monitoring.webhook_notifier import WebhookChannel, verify_signature
from storage import Store
from storage import alerts as store_alerts
from storage.alert_definitions import save_rule
from tests.collectors.http_receiver import Answer, Receiver
from tests.storage.test_performance import T0, load

NOW = T0 + timedelta(days=2)  # inside the generated data, so a 1d window holds rows
SECRET = "hook-secret-0123456789"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _settings(receiver: Receiver, condition: str = "> 10", **rule: Any) -> AlertSettings:
    hook = WebhookChannel(name="hook", url=f"{receiver.url}/alerts", secret=SECRET)
    table = {
        "metric": "latency_p95_ms",
        "condition": condition,
        "model": "binary",
        "window": "1d",
        "for": "10m",
        "severity": "critical",
        "channels": ["hook"],
        "description": "p95 latency above target",
        "runbook_url": "https://runbooks.example.com/latency",
        **rule,
    }
    parsed = parse_rule("slow", table, models=None, channels={"hook": hook})
    return AlertSettings(
        group_wait_s=30,
        repeat_interval_s=3600,
        dashboard_url="https://vigil.example.com",
        channels={"hook": hook},
        rules=(parsed,),
    )


def _alerting(ingest: IngestService, settings: AlertSettings, clock: Clock) -> Alerting:
    return Alerting(ingest, settings, clock=clock)


def _instance(store: Store) -> dict[str, Any]:
    (row,) = store_alerts.load_instances(store.cursor())
    return row


def test_pending_then_firing_after_for_then_one_message_after_group_wait(
    ingest: IngestService, store: Store, receiver: Receiver
) -> None:
    load(ingest, "binary")
    clock = Clock(NOW)
    alerting = _alerting(ingest, _settings(receiver), clock)
    alerting.evaluate()
    assert _instance(store)["state"] == "pending"
    clock.advance(minutes=5)
    alerting.evaluate()
    assert _instance(store)["state"] == "pending"  # `for` is 10 minutes
    clock.advance(minutes=5)
    result = alerting.evaluate()
    assert _instance(store)["state"] == "firing" and result.queued == 1
    assert alerting.deliver() == 0 and receiver.seen("/alerts") == []  # within group_wait
    clock.advance(seconds=30)
    assert alerting.deliver() == 1
    (request,) = receiver.seen("/alerts")
    body = request.body
    assert body["status"] == "firing" and body["group_key"] == "slow/binary"
    (alert,) = body["alerts"]
    assert (
        alert["rule"] == "slow"
        and alert["model"] == "binary"
        and alert["metric"] == ("latency_p95_ms")
    )
    assert alert["threshold"] == 10 and alert["comparison"] == ">" and alert["value"] > 10
    assert alert["dashboard_url"] == "https://vigil.example.com/alerts"
    assert verify_signature(SECRET, request.raw, request.headers["X-Vigil-Signature"])
    assert not verify_signature("another-secret", request.raw, request.headers["X-Vigil-Signature"])
    assert alerting.deliver() == 0  # nothing left to send
    states = store_alerts.transitions(store.cursor(), T0, clock() + timedelta(seconds=1))
    assert sorted(zip(states["from_state"], states["to_state"], strict=True)) == [
        ("inactive", "pending"),
        ("pending", "firing"),
    ]


def test_resolved_once_repeat_while_firing_and_no_duplicate_after_restart(
    ingest: IngestService, store: Store, receiver: Receiver
) -> None:
    load(ingest, "binary")
    clock = Clock(NOW)
    alerting = _alerting(ingest, _settings(receiver, **{"for": "0s"}), clock)
    alerting.evaluate()
    clock.advance(seconds=30)
    assert alerting.deliver() == 1
    # A new Alerting on the same database (a restart): the firing was announced already.
    again = _alerting(ingest, _settings(receiver, **{"for": "0s"}), clock)
    clock.advance(minutes=1)
    assert again.evaluate().queued == 0
    clock.advance(hours=1)  # the repeat interval
    assert again.evaluate().queued == 1
    clock.advance(seconds=30)
    assert again.deliver() == 1
    # The condition clears (the threshold is raised in the config): resolved, once.
    cleared = _alerting(ingest, _settings(receiver, "> 100000", **{"for": "0s"}), clock)
    clock.advance(minutes=1)
    assert cleared.evaluate().queued == 1
    clock.advance(seconds=30)
    assert cleared.deliver() == 1
    clock.advance(minutes=1)
    assert cleared.evaluate().queued == 0
    statuses = [r.body["status"] for r in receiver.seen("/alerts")]
    assert statuses == ["firing", "firing", "resolved"]
    assert receiver.seen("/alerts")[-1].body["alerts"][0]["ends_at"] is not None


def test_a_blip_resolved_within_group_wait_sends_nothing(
    ingest: IngestService, store: Store, receiver: Receiver
) -> None:
    load(ingest, "binary")
    clock = Clock(NOW)
    _alerting(ingest, _settings(receiver, **{"for": "0s"}), clock).evaluate()
    clock.advance(seconds=10)
    cleared = _alerting(ingest, _settings(receiver, "> 100000", **{"for": "0s"}), clock)
    cleared.evaluate()
    clock.advance(minutes=5)
    assert cleared.deliver() == 0 and receiver.seen("/alerts") == []
    outcomes = store_alerts.outbox(store.cursor(), include_done=True)["outcome"].tolist()
    assert outcomes == ["superseded"]


def test_silenced_alert_changes_state_but_sends_nothing(
    ingest: IngestService, store: Store, receiver: Receiver
) -> None:
    load(ingest, "binary")
    clock = Clock(NOW)
    silence = {
        "rule": "slow",
        "model": None,
        "labels": {},
        "starts_at": NOW - timedelta(minutes=1),
        "ends_at": NOW + timedelta(hours=1),
        "author": "ana",
        "comment": "deploying a fix",
        "created_at": NOW,
    }
    ingest.writer.run(lambda con: store_alerts.add_silence(con, silence))
    alerting = _alerting(ingest, _settings(receiver, **{"for": "0s"}), clock)
    assert alerting.evaluate().queued == 0
    assert _instance(store)["state"] == "firing"
    states = store_alerts.transitions(store.cursor(), T0, clock() + timedelta(seconds=1))
    assert states["silenced"].tolist() == [True]
    clock.advance(hours=2)  # the silence has ended and the alert still fires: announce it
    assert alerting.evaluate().queued == 1


def test_receiver_down_for_two_attempts_gets_it_once_with_attempts_logged(
    ingest: IngestService, store: Store, receiver: Receiver
) -> None:
    load(ingest, "binary")
    receiver.script("/alerts", Answer(status=500), Answer(status=503))
    clock = Clock(NOW)
    alerting = _alerting(ingest, _settings(receiver, **{"for": "0s"}), clock)
    alerting.evaluate()
    clock.advance(seconds=30)
    assert alerting.deliver() == 0  # 500
    clock.advance(seconds=5)
    assert alerting.deliver() == 0 and len(receiver.seen("/alerts")) == 1  # backing off
    clock.advance(seconds=6)
    assert alerting.deliver() == 0  # 503, the second attempt
    clock.advance(seconds=20)
    assert alerting.deliver() == 1
    clock.advance(minutes=10)
    assert alerting.deliver() == 0
    assert [r.status for r in receiver.seen("/alerts")] == [500, 503, 200]
    log = store_alerts.deliveries(store.cursor(), T0, clock() + timedelta(seconds=1))
    assert sorted(log["attempt"].tolist()) == [1, 2, 3]
    assert sorted(log["ok"].tolist()) == [False, False, True]
    assert any("500" in str(e) for e in log["error"])


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, list[Message]]]:
    received: list[Message] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # a free port: aiosmtpd checks readiness by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, received
    controller.stop()


def test_email_channel_delivers_through_a_real_smtp_server(
    ingest: IngestService,
    store: Store,
    receiver: Receiver,
    smtp: tuple[Controller, list[Message]],
) -> None:
    load(ingest, "binary")
    controller, received = smtp
    mail = EmailChannel(
        name="oncall",
        host="127.0.0.1",
        port=controller.port,
        security="none",
        sender="vigil@example.com",
        recipients=("oncall@example.com",),
    )
    base = _settings(receiver, **{"for": "0s"})
    rule = parse_rule(
        "slow",
        {"metric": "latency_p95_ms", "condition": "> 10", "window": "1d", "channels": ["oncall"]},
        models=None,
        channels={"oncall": mail},
    )
    settings = AlertSettings(
        group_wait_s=30,
        dashboard_url=base.dashboard_url,
        channels={"oncall": mail},
        rules=(rule,),
    )
    clock = Clock(NOW)
    alerting = _alerting(ingest, settings, clock)
    alerting.evaluate()
    clock.advance(seconds=30)
    assert alerting.deliver() == 1
    (message,) = received
    assert "FIRING" in message["Subject"] and "slow" in message["Subject"]
    text = message.get_payload()[0].get_payload(decode=True).decode()  # type: ignore[index,union-attr]
    assert "latency_p95_ms" in text and "https://vigil.example.com/alerts" in text
    alerting.send_test("oncall")
    assert len(received) == 2 and "vigil_test_notification" in received[1]["Subject"]


def test_label_based_rules_wait_for_labels_unless_told_otherwise(
    ingest: IngestService, store: Store
) -> None:
    from collectors.alert_metrics import model_value
    from storage.models import get_model

    load(ingest, "binary", label_share=0.3)  # every window provisional at coverage 0.8
    model = get_model(store.cursor(), "binary")
    assert model is not None
    table = {"metric": "accuracy", "condition": "< 0.99", "window": "1d"}
    strict = parse_rule("acc", table, models=None, channels=())
    lenient = parse_rule("acc", {**table, "include_provisional": True}, models=None, channels=())
    assert model_value(store.cursor(), strict, model, NOW, provisional_coverage=0.8) is None
    value = model_value(store.cursor(), lenient, model, NOW, provisional_coverage=0.8)
    assert value is not None and 0 < value < 1
    assert model_value(store.cursor(), strict, model, NOW, provisional_coverage=0.2) == value
    few = parse_rule("acc", {**table, "min_count": 10**6}, models=None, channels=())
    assert model_value(store.cursor(), few, model, NOW, provisional_coverage=0.0) is None


def test_system_rules_read_the_worst_host_over_the_window(
    store: Store, ingest: IngestService
) -> None:
    from collectors.alert_metrics import system_value
    from storage.system import write_samples

    rows = [
        {
            "ts": NOW - timedelta(minutes=m),
            "host": host,
            "cpu_percent": cpu,
            "disk_percent": 40.0,
            "mem_used_bytes": 3 * 2**30,
            "mem_available_bytes": 1 * 2**30,
        }
        for m in (1, 2, 3)
        for host, cpu in (("a", 20.0), ("b", 80.0 + m))
    ]
    gpus = [
        {
            "ts": NOW - timedelta(minutes=1),
            "host": "a",
            "gpu_index": i,
            "util_percent": u,
            "mem_used_bytes": 2**30,
            "mem_total_bytes": 4 * 2**30,
        }
        for i, u in ((0, 10.0), (1, 90.0))
    ]
    ingest.writer.run(lambda con: write_samples(con, rows, gpus))
    con = store.cursor()

    def value(metric: str) -> float | None:
        rule = parse_rule(
            "sys", {"metric": metric, "condition": "> 1", "window": "5m"}, models=None, channels=()
        )
        return system_value(con, rule, NOW)

    assert value("cpu_percent") == pytest.approx(82.0)  # host b's mean over the window
    assert value("memory_percent") == pytest.approx(75.0)
    assert value("disk_percent") == pytest.approx(40.0)
    assert value("gpu_util_percent") == pytest.approx(90.0)
    assert value("gpu_memory_percent") == pytest.approx(25.0)
    later = parse_rule(
        "sys",
        {"metric": "cpu_percent", "condition": "> 1", "window": "5m"},
        models=None,
        channels=(),
    )
    assert system_value(con, later, NOW + timedelta(hours=1)) is None  # no samples: no data


def test_a_dashboard_channel_delivers_and_a_config_channel_of_that_name_wins(
    ingest: IngestService, store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.alert_definitions import save_channel

    load(ingest, "binary")
    monkeypatch.setenv("VIGIL_TEST_TEAM_SECRET", "team-secret")
    team = {
        "type": "webhook",
        "url": f"{receiver.url}/team",
        "secret_env": "VIGIL_TEST_TEAM_SECRET",
    }
    shadow = {"type": "webhook", "url": f"{receiver.url}/shadow"}
    broken = {"type": "webhook", "url": f"{receiver.url}/x", "secret_env": "VIGIL_TEST_UNSET"}
    for name, table in (("team", team), ("hook", shadow), ("broken", broken)):
        ingest.writer.run(lambda con, n=name, t=table: save_channel(con, n, t, "ana", NOW))
    settings = _settings(receiver, **{"for": "0s"})
    saved = parse_rule(
        "slow_team",
        {"metric": "latency_p95_ms", "condition": "> 10", "window": "1d", "channels": ["team"]},
        models=None,
        channels={"team": None},
    )
    ingest.writer.run(lambda con: save_rule(con, "slow_team", rule_table(saved), "ana", NOW))
    clock = Clock(NOW)
    alerting = _alerting(ingest, settings, clock)
    channels = alerting.channels()
    assert set(channels) == {"team", "hook"}  # "broken" names an unset variable: skipped
    assert "/alerts" in channels["hook"].url  # type: ignore[union-attr]  # the config wins
    alerting.evaluate()
    clock.advance(seconds=30)
    assert alerting.deliver() == 2
    (request,) = receiver.seen("/team")
    assert verify_signature("team-secret", request.raw, request.headers["X-Vigil-Signature"])
    assert receiver.seen("/shadow") == []
