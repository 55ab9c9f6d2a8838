"""The demo's example alert rules: added only when the config has none, all valid."""

from __future__ import annotations

from collectors.alert_settings import AlertSettings
from collectors.settings import Settings
from dashboard.demo import DEMO_RULES, with_demo_alerts
from monitoring.alert_rules import parse_rule
from sample_data import MODEL_NAME


def test_demo_adds_its_rules_and_declares_its_model() -> None:
    settings = with_demo_alerts(Settings())
    assert [r.name for r in settings.alerting.rules] == list(DEMO_RULES)
    assert MODEL_NAME in settings.models  # a rule may name it before the history is loaded
    assert all(r.channels == () for r in settings.alerting.rules)  # record, notify nobody


def test_configured_rules_win_over_the_demo_rules() -> None:
    own = parse_rule("mine", {"metric": "count", "condition": "< 1"}, models=None, channels=())
    configured = Settings(alerting=AlertSettings(rules=(own,)))
    assert with_demo_alerts(configured).alerting.rules == (own,)
