"""Role checks of the existing pages' actions (Alerts and Drift) under AppTest, with a real
DuckDB store, real Alerting, DriftService and AccessService, and sign-in on.

AppTest has no HTTP request or cookie, so the tests monkeypatch `dashboard.auth.principal`
to say who is at the dashboard, and `dashboard.auth.source` to give the client address a
request would carry (AppTest's `st.context.ip_address` is a MagicMock). Nothing else is a
stand-in. A viewer never sees the controls; to check the server-side guard too, a test
renders a control as an editor (or admin), then clicks it as the lesser role: the callback
runs as that person, like a forged widget event, and must be refused and audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.access import AccessService
from collectors.alert_settings import AlertSettings
from collectors.alerting import Alerting
from collectors.drift_service import DriftService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import auth
from dashboard.runtime import Runtime, set_runtime
from monitoring.access import Principal, Role
from monitoring.alert_rules import parse_rule
from monitoring.webhook_notifier import WebhookChannel
from storage import Store, Writer
from storage import alerts as store_alerts
from storage.alert_definitions import list_channels, list_rules
from storage.references import list_references
from tests.dashboard.apptest import errors, rerun, run_page, successes
from tests.dashboard.test_pages import MODEL

ALERTS, DRIFT = "views/alerts.py", "views/drift.py"
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CLIENT = "10.9.8.7"
VIEWER = Principal("vic", "user", role=Role.VIEWER)
EDITOR = Principal("eda", "user", role=Role.EDITOR)
ADMIN = Principal("root", "user", role=Role.ADMIN)
REFUSED_EDIT = "Not allowed: this needs the editor role; vic is a viewer."


@dataclass
class World:
    store: Store
    ingest: IngestService
    access: AccessService
    who: list[Principal]  # who[0] is the person at the dashboard

    def rules(self) -> dict[str, Any]:
        return list_rules(self.store.cursor())

    def silences(self) -> list[dict[str, Any]]:
        return store_alerts.list_silences(self.store.cursor(), T0)

    def references(self) -> list[Any]:
        return list_references(self.store.cursor(), self.ingest.model(MODEL))

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        entries = self.access.audit_entries(action=action).to_dict("records")
        return [{**e, "detail": json.loads(e["detail"])} for e in entries]


def records() -> list[dict[str, Any]]:
    """One prediction a minute over the hour before T0."""
    return [
        {
            "event_id": f"e{i}",
            "timestamp": (T0 - timedelta(minutes=60 - i)).isoformat(),
            "prediction": i % 2,
            "score": 0.7,
            "latency_ms": 20.0,
            "features": {"x": float(i)},
        }
        for i in range(60)
    ]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    ingest.register(MODEL, {"task": "binary", "positive_class": 1, "features": {"x": "numeric"}})
    ingest.predictions(MODEL, records())
    channels = {"ops": WebhookChannel("ops", url="http://127.0.0.1:9/hook")}
    table = {"metric": "latency_p95_ms", "condition": "> 200", "channels": ["ops"]}
    rules = (parse_rule("latency_high", table, models=None, channels=channels),)
    alert_settings = AlertSettings(channels=channels, rules=rules)
    settings = Settings(db=store.path, alerting=alert_settings, login="always")
    alerting = Alerting(ingest, alert_settings, clock=lambda: T0)
    drift = DriftService(ingest, settings)
    access = AccessService(store, writer, settings)
    set_runtime(Runtime(store, settings, alerting=alerting, drift=drift, access=access))
    st.cache_data.clear()
    who = [EDITOR]
    monkeypatch.setattr(auth, "principal", lambda: who[0])  # identity only: see the docstring
    monkeypatch.setattr(auth, "source", lambda: CLIENT)
    yield World(store, ingest, access, who)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def keys(at: AppTest) -> set[str]:
    """Keys of every widget on the page."""
    widgets = (at.button, at.text_input, at.selectbox, at.text_area, at.checkbox)
    return {w.key for kind in widgets for w in kind if w.key}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def as_lesser(world: World, at: AppTest, shown_to: Principal, act: Callable[[], None]) -> None:
    """Render as `shown_to`, then do `act` (fill and click) as the viewer-or-editor in
    world.who[0] before the call: the callback runs as that lesser person."""
    lesser = world.who[0]
    world.who[0] = shown_to
    rerun(at)
    world.who[0] = lesser
    act()
    rerun(at)


def fill_rule(at: AppTest, name: str) -> None:
    at.text_input(key="alerts_rule_name").set_value(name)
    at.selectbox(key="alerts_rule_metric").set_value("accuracy")
    at.selectbox(key="alerts_rule_comparison").set_value("<")
    at.number_input(key="alerts_rule_threshold").set_value(0.9)
    at.button(key="alerts_rule_submit").click()


def fill_silence(at: AppTest) -> None:
    at.selectbox(key="alerts_sil_rule").set_value("latency_high")
    at.text_input(key="alerts_sil_author").set_value("eda")
    at.text_area(key="alerts_sil_comment").set_value("deploying the fix")
    at.button(key="alerts_sil_submit").click()


def fill_channel(at: AppTest, name: str) -> None:
    at.text_input(key="alerts_channel_name").set_value(name)
    at.selectbox(key="alerts_channel_type").set_value("webhook")
    at.text_input(key="alerts_channel_url").set_value("http://127.0.0.1:9/team-secret-path")
    at.button(key="alerts_channel_submit").click()


def test_a_viewer_sees_the_alerts_page_read_only(world: World) -> None:
    world.who[0] = VIEWER
    at = run_page(ALERTS)
    assert any(
        "latency_high" in str(d.value.get("name", pd.Series()).tolist()) for d in at.dataframe
    )
    controls = {
        "alerts_rule_submit",
        "alerts_sil_submit",
        "alerts_channel_submit",
        "alerts_test_ops",
    }
    assert not controls & keys(at)
    shown = captions(at)
    assert "Editors and admins can create and expire silences here." in shown
    assert "Editors and admins can add, change and delete dashboard rules here." in shown
    assert "Admins can send test notifications and add or delete channels here." in shown


def test_an_editor_changes_rules_and_silences_and_each_change_is_audited(world: World) -> None:
    at = run_page(ALERTS)
    assert {"alerts_rule_submit", "alerts_sil_submit"} <= keys(at)
    assert not {"alerts_channel_submit", "alerts_test_ops"} & keys(at)  # admins only
    fill_rule(at, "accuracy_low")
    rerun(at)
    assert successes(at) == ["Rule accuracy_low saved: < 0.9."]
    assert list(world.rules()) == ["accuracy_low"]
    saved_by = world.store.cursor().execute("SELECT updated_by FROM alert_rules").fetchall()
    assert saved_by == [("eda",)]
    fill_silence(at)
    rerun(at)
    [silence] = world.silences()
    at.button(key=f"alerts_expire_{silence['id']}").click()
    rerun(at)
    assert not world.silences()[0]["active"]
    at.button(key="alerts_delete_accuracy_low").click()
    rerun(at)
    assert world.rules() == {}
    done = [(e["action"], e["target"], e["actor"], e["source"]) for e in world.audit()]
    assert done == [
        ("rule.delete", "accuracy_low", "eda", CLIENT),
        ("silence.expire", silence["id"], "eda", CLIENT),
        ("silence.create", silence["id"], "eda", CLIENT),
        ("rule.save", "accuracy_low", "eda", CLIENT),
    ]
    saved = world.audit("rule.save")[0]["detail"]
    assert saved == {
        "metric": "accuracy",
        "condition": "< 0.9",
        "model": None,
        "replaced": False,
    }
    assert world.audit("silence.create")[0]["detail"]["rule"] == "latency_high"


def test_a_viewers_rule_and_silence_actions_are_refused_and_audited(world: World) -> None:
    at = run_page(ALERTS)
    fill_rule(at, "accuracy_low")
    fill_silence(at)
    rerun(at)
    [silence] = world.silences()
    world.who[0] = VIEWER
    as_lesser(world, at, EDITOR, lambda: fill_rule(at, "viewer_rule"))
    assert errors(at) == [REFUSED_EDIT]
    as_lesser(world, at, EDITOR, lambda: at.button(key="alerts_delete_accuracy_low").click())
    assert errors(at) == [REFUSED_EDIT]
    as_lesser(world, at, EDITOR, lambda: fill_silence(at))
    assert errors(at) == [REFUSED_EDIT]
    expire = f"alerts_expire_{silence['id']}"
    as_lesser(world, at, EDITOR, lambda: at.button(key=expire).click())
    assert errors(at) == [REFUSED_EDIT]
    assert list(world.rules()) == ["accuracy_low"]
    assert [s["id"] for s in world.silences()] == [silence["id"]]
    assert world.silences()[0]["active"]
    denied = world.audit("denied")
    assert len(denied) == 4
    assert {(e["actor"], e["outcome"], e["source"]) for e in denied} == {("vic", "denied", CLIENT)}
    assert all(e["detail"] == {"action": "edit"} for e in denied)


def test_channels_are_for_admins_only(world: World) -> None:
    world.who[0] = ADMIN
    at = run_page(ALERTS)
    fill_channel(at, "team")
    rerun(at)
    assert "Channel team saved." in successes(at)
    [saved] = world.audit("channel.save")
    assert (saved["actor"], saved["target"], saved["detail"]) == (
        "root",
        "team",
        {"type": "webhook"},
    )
    assert "secret-path" not in json.dumps(saved["detail"])
    world.who[0] = EDITOR
    as_lesser(world, at, ADMIN, lambda: fill_channel(at, "editors"))
    refused = "Not allowed: this needs the admin role; eda is a"  # "… an editor."
    assert any(e.startswith(refused) for e in errors(at))
    as_lesser(world, at, ADMIN, lambda: at.button(key="alerts_channel_delete_team").click())
    assert any(e.startswith(refused) for e in errors(at))
    assert list(list_channels(world.store.cursor())) == ["team"]
    denied = world.audit("denied")
    assert [(e["actor"], e["detail"]) for e in denied] == [("eda", {"action": "admin"})] * 2
    world.who[0] = ADMIN
    rerun(at)
    at.button(key="alerts_channel_delete_team").click()
    rerun(at)
    assert list_channels(world.store.cursor()) == {}
    assert [e["target"] for e in world.audit("channel.delete")] == ["team"]


def test_references_are_set_by_editors_and_refused_to_viewers(world: World) -> None:
    world.who[0] = VIEWER
    at = run_page(DRIFT)
    assert not {f"drift_ref_range_{MODEL}", f"drift_ref_upload_{MODEL}"} & keys(at)
    assert "Editors and admins can upload a reference or use logged predictions." in captions(at)
    as_lesser(world, at, EDITOR, lambda: at.button(key=f"drift_ref_range_{MODEL}").click())
    refused = "Not allowed: this needs the editor role; vic is a viewer."
    assert refused in errors(at)
    as_lesser(world, at, EDITOR, lambda: at.button(key=f"drift_ref_upload_{MODEL}").click())
    assert refused in errors(at)  # refused before it looks for a file
    assert world.references() == []
    denied = world.audit("denied")
    assert [(e["actor"], e["target"]) for e in denied] == [("vic", MODEL)] * 2
    world.who[0] = EDITOR
    rerun(at)
    at.button(key=f"drift_ref_range_{MODEL}").click()
    rerun(at)
    [reference] = world.references()
    assert any(s.startswith(f"Reference {reference.id} stored: 60 logged") for s in successes(at))
    [entry] = world.audit("reference.set")
    assert (entry["actor"], entry["target"], entry["source"]) == ("eda", MODEL, CLIENT)
    assert entry["detail"] == {"id": reference.id, "source": "range", "version": None, "rows": 60}
