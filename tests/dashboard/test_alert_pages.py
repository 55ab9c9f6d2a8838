"""The Alerts page under AppTest, with a real DuckDB store, a real Alerting and a real webhook
receiver on loopback.

The fixture stores an hour of predictions whose latency is 231.5 ms, configures two rules on
p95 latency (> 200 fires at once; > 100 waits 10 minutes, so it is pending) and evaluates them
once with a fixed clock. The page reads "now" from the same clock.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.alert_settings import AlertSettings
from collectors.alerting import Alerting
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import alert_data
from dashboard.runtime import Runtime, set_runtime
from monitoring.alert_rules import parse_rule
from monitoring.webhook_notifier import WebhookChannel
from storage import Store, Writer
from storage import alerts as store_alerts
from storage.alert_definitions import list_rules
from tests.collectors.http_receiver import Receiver
from tests.dashboard.apptest import errors, rerun, run_page, successes
from tests.dashboard.test_pages import MODEL

PAGE = "views/alerts.py"
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LATENCY = 231.5


@dataclass
class World:
    store: Store
    writer: Writer
    alerting: Alerting
    receiver: Receiver
    clock: list[datetime]

    def silences(self) -> list[dict[str, Any]]:
        return store_alerts.list_silences(self.store.cursor(), self.clock[0])

    def saved_rules(self) -> dict[str, dict[str, Any]]:
        return list_rules(self.store.cursor())


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def records() -> list[dict[str, Any]]:
    """One prediction a minute over the hour before T0, each taking LATENCY ms."""
    return [
        {
            "event_id": f"e{i}",
            "timestamp": (T0 - timedelta(minutes=60 - i)).isoformat(),
            "prediction": i % 2,
            "score": 0.7,
            "latency_ms": LATENCY,
            "features": {"x": float(i)},
        }
        for i in range(60)
    ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    receiver = Receiver()
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    ingest.register(MODEL, {"task": "binary", "positive_class": 1, "features": {"x": "numeric"}})
    ingest.predictions(MODEL, records())
    channels = {
        "ops": WebhookChannel("ops", url=f"{receiver.url}/hook/secret-path"),
        "down": WebhookChannel("down", url=f"http://127.0.0.1:{closed_port()}/x", timeout_s=2),
    }
    tables = {
        "latency_high": {
            "metric": "latency_p95_ms",
            "condition": "> 200",
            "model": MODEL,
            "severity": "critical",
            "labels": {"team": "risk"},
            "channels": ["ops"],
        },
        "latency_slow": {"metric": "latency_p95_ms", "condition": "> 100", "for": "10m"},
    }
    rules = tuple(parse_rule(n, t, models=None, channels=channels) for n, t in tables.items())
    settings = AlertSettings(group_wait_s=30.0, channels=channels, rules=rules)
    clock = [T0]
    alerting = Alerting(ingest, settings, clock=lambda: clock[0])
    set_runtime(Runtime(store, Settings(db=store.path, alerting=settings), alerting=alerting))
    st.cache_data.clear()
    alerting.evaluate()
    yield World(store, writer, alerting, receiver, clock)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()
    receiver.close()


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def fill_silence(at: AppTest, author: str, labels: str = "") -> None:
    at.selectbox(key="alerts_sil_rule").set_value("latency_high")
    at.selectbox(key="alerts_sil_duration").set_value("4 h")
    at.text_input(key="alerts_sil_labels").set_value(labels)
    at.text_input(key="alerts_sil_author").set_value(author)
    at.text_area(key="alerts_sil_comment").set_value("deploying the fix")
    at.button(key="alerts_sil_submit").click()


def fill_rule(at: AppTest, name: str, channels: list[str]) -> None:
    at.text_input(key="alerts_rule_name").set_value(name)
    at.selectbox(key="alerts_rule_metric").set_value("accuracy")
    at.selectbox(key="alerts_rule_comparison").set_value("<")
    at.number_input(key="alerts_rule_threshold").set_value(0.9)
    at.selectbox(key="alerts_rule_model").set_value(MODEL)
    at.text_input(key="alerts_rule_for").set_value("5m")
    at.text_input(key="alerts_rule_labels").set_value("team=risk")
    at.multiselect(key="alerts_rule_channels").set_value(channels)
    at.button(key="alerts_rule_submit").click()


def test_firing_and_pending_alerts_are_listed(world: World) -> None:
    at = run_page(PAGE)
    assert at.title[0].value == "Alerts"
    assert tiles(at) == {"Firing": "1", "Pending": "1", "Silenced": "0"}
    table = frame_with(at, "value vs threshold").set_index("rule")
    assert list(table.index) == ["latency_high", "latency_slow"]  # firing first
    high = table.loc["latency_high"]
    assert (high["model"], high["severity"], high["metric"]) == (
        MODEL,
        "critical",
        "latency_p95_ms",
    )
    assert high["state"] == "firing"
    assert high["value vs threshold"] == "231.5 > 200"
    assert pd.Timestamp(high["since"]) == pd.Timestamp(T0)
    assert not high["silenced"]
    assert table.loc["latency_slow", "value vs threshold"] == "231.5 > 100"
    assert table.loc["latency_slow", "state"] == "pending"


def test_without_alerting_the_page_says_it_runs_in_vigil_serve(world: World) -> None:
    set_runtime(Runtime(world.store, Settings(db=world.store.path)))
    at = run_page(PAGE)
    assert at.title[0].value == "Alerts"
    assert "vigil serve" in at.info[0].value
    assert not at.metric and not at.dataframe


def test_history_timeline_and_transitions(world: World) -> None:
    world.clock[0] = T0 + timedelta(minutes=30)
    at = run_page(PAGE)
    chart = next(c for c in at.get("plotly_chart") if '"Alert timeline"' in c.proto.spec)
    assert '"firing"' in chart.proto.spec and '"pending"' in chart.proto.spec
    changes = frame_with(at, "to_state")
    assert sorted(zip(changes["rule"], changes["to_state"], strict=True)) == [
        ("latency_high", "firing"),
        ("latency_slow", "pending"),
    ]
    at.segmented_control(key="alerts_range").set_value("Last 7 days")
    rerun(at)
    assert len(frame_with(at, "to_state")) == 2
    # Every table has its CSV download.
    buttons = at.get("download_button")
    assert len(buttons) == len(at.dataframe)
    assert {b.proto.label for b in buttons} == {"Download CSV"}


def test_silence_form_refuses_a_missing_author_then_stores_the_silence(world: World) -> None:
    at = run_page(PAGE)
    fill_silence(at, author="  ")
    rerun(at)
    assert any("Silence not created" in e and "author is required" in e for e in errors(at))
    assert world.silences() == []
    fill_silence(at, author="ana", labels="team")
    rerun(at)
    assert any("labels: 'team' is not name=value" in e for e in errors(at))
    assert world.silences() == []
    fill_silence(at, author="ana", labels="team=risk")
    rerun(at)
    assert not errors(at)
    [stored] = world.silences()
    assert (stored["rule"], stored["model"], stored["labels"]) == (
        "latency_high",
        None,
        {"team": "risk"},
    )
    assert (stored["author"], stored["comment"]) == ("ana", "deploying the fix")
    assert stored["ends_at"] == T0 + timedelta(hours=4) and stored["active"]
    assert any(f"Silence {stored['id']} created" in s for s in successes(at))
    assert tiles(at)["Silenced"] == "1"
    active = frame_with(at, "author")
    assert list(active["id"]) == [stored["id"]]


def test_expire_ends_an_active_silence(world: World) -> None:
    at = run_page(PAGE)
    fill_silence(at, author="ana")
    rerun(at)
    [stored] = world.silences()
    at.button(key=f"alerts_expire_{stored['id']}").click()
    rerun(at)
    [expired] = world.silences()
    assert expired["expired_at"] == T0 and not expired["active"]
    assert tiles(at)["Silenced"] == "0"
    assert list(frame_with(at, "expired_at")["id"]) == [stored["id"]]


def test_rule_editor_refuses_an_unknown_channel_and_saves_a_valid_rule(world: World) -> None:
    at = run_page(PAGE)
    # A client can send any value for the multiselect: the server checks it.
    fill_rule(at, "accuracy_low", ["nope"])
    rerun(at)
    assert any("Rule not saved" in e and "unknown channel 'nope'" in e for e in errors(at))
    assert world.saved_rules() == {}
    fill_rule(at, "latency_high", ["ops"])
    rerun(at)
    assert any("config file" in e for e in errors(at))  # config rules are read-only
    assert world.saved_rules() == {}
    fill_rule(at, "accuracy_low", ["ops"])
    rerun(at)
    assert not errors(at)
    assert world.saved_rules() == {
        "accuracy_low": {
            "metric": "accuracy",
            "condition": "< 0.9",
            "model": MODEL,
            "window": "1h",
            "for": "5m",
            "severity": "warning",
            "labels": {"team": "risk"},
            "channels": ["ops"],
        }
    }
    assert "accuracy_low" in {r.name for r in world.alerting.rules()}
    rules = frame_with(at, "source").set_index("name")
    assert rules.loc["accuracy_low", "source"] == "dashboard"
    assert rules.loc["latency_high", "source"] == "config"
    assert not any(b.key == "alerts_delete_latency_high" for b in at.button)
    at.button(key="alerts_delete_accuracy_low").click()
    rerun(at)
    assert world.saved_rules() == {}


def test_rule_check_refuses_an_unknown_model(world: World) -> None:
    table = {"metric": "accuracy", "condition": "< 0.9", "model": "ghost"}
    with pytest.raises(ValueError, match="unknown model 'ghost'; known models: churn"):
        alert_data.save_rule("ghost_rule", table)
    assert world.saved_rules() == {}


def test_send_test_notification_reaches_the_receiver(world: World) -> None:
    at = run_page(PAGE)
    channels = frame_with(at, "destination").set_index("name")
    assert channels.loc["ops", "destination"] == world.receiver.url  # no path: it may hold a token
    at.button(key="alerts_test_ops").click()
    rerun(at)
    [request] = world.receiver.seen("/hook/secret-path")
    assert request.body["alerts"][0]["rule"] == "vigil_test_notification"
    assert successes(at) == ["Test notification sent to ops."]
    at.button(key="alerts_test_down").click()
    rerun(at)
    [error] = errors(at)
    assert error.startswith("Test to down failed: ")
    assert "secret-path" not in error


def test_delivery_log_shows_queued_then_delivered_notifications(world: World) -> None:
    at = run_page(PAGE)
    queued = frame_with(at, "next_attempt_at")
    assert list(zip(queued["rule"], queued["channel"], strict=True)) == [("latency_high", "ops")]
    world.clock[0] = T0 + timedelta(seconds=31)  # past group_wait
    assert world.alerting.deliver() == 1
    st.cache_data.clear()
    at = run_page(PAGE)
    log = frame_with(at, "attempt")
    assert list(log.columns) == [
        "at",
        "rule",
        "model",
        "channel",
        "status",
        "attempt",
        "ok",
        "error",
    ]
    assert log.iloc[0][["rule", "channel", "status", "attempt", "ok"]].tolist() == [
        "latency_high", "ops", "firing", 1, True,
    ]  # fmt: skip
    assert frame_with(at, "next_attempt_at").empty
    [request] = world.receiver.seen("/hook/secret-path")
    assert request.body["alerts"][0]["value"] == LATENCY


def test_reruns_reuse_query_cursors(world: World) -> None:
    """Every rerun is a new thread; the page must borrow pooled cursors, not store.cursor()."""
    run_page(PAGE)
    before = len(world.store._cursors)
    for _ in range(3):
        st.cache_data.clear()
        run_page(PAGE)
    assert len(world.store._cursors) == before


def fill_channel(at: AppTest, name: str, url: str, secret_env: str = "") -> None:
    at.text_input(key="alerts_channel_name").set_value(name)
    at.selectbox(key="alerts_channel_type").set_value("webhook")
    at.text_input(key="alerts_channel_url").set_value(url)
    at.text_input(key="alerts_channel_secret_env").set_value(secret_env)
    at.button(key="alerts_channel_submit").click()


def test_channel_editor_saves_checks_tests_and_deletes_a_channel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.alert_definitions import list_channels

    at = run_page(PAGE)
    fill_channel(at, "ops", f"{world.receiver.url}/other")
    rerun(at)
    assert any("'ops' is a config-file channel" in e for e in errors(at))
    fill_channel(at, "team", "ftp://example.com/hook")
    rerun(at)
    assert any("Channel not saved" in e and "url" in e for e in errors(at))
    fill_channel(at, "team", f"{world.receiver.url}/team", secret_env="VIGIL_TEST_UNSET")
    rerun(at)
    assert any("'VIGIL_TEST_UNSET', which is not set" in e for e in errors(at))
    assert list_channels(world.store.cursor()) == {}
    monkeypatch.setenv("VIGIL_TEST_HOOK_SECRET", "team-signing-secret")
    fill_channel(at, "team", f"{world.receiver.url}/team", secret_env="VIGIL_TEST_HOOK_SECRET")
    rerun(at)
    assert "Channel team saved." in successes(at)
    stored = list_channels(world.store.cursor())
    assert stored == {
        "team": {
            "type": "webhook",
            "url": f"{world.receiver.url}/team",
            "secret_env": "VIGIL_TEST_HOOK_SECRET",
        }
    }  # the variable's name, never the secret
    channels = frame_with(at, "destination")
    assert dict(zip(channels["name"], channels["source"], strict=True))["team"] == "dashboard"
    at.button(key="alerts_test_team").click()
    rerun(at)
    (request,) = world.receiver.seen("/team")
    assert request.body["alerts"][0]["rule"] == "vigil_test_notification"
    assert "X-Vigil-Signature" in request.headers
    at.button(key="alerts_channel_delete_team").click()
    rerun(at)
    assert list_channels(world.store.cursor()) == {}
