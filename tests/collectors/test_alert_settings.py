"""Alerting in the config file: [alerts], [channels.*] and [rules.*], every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.alert_settings import AlertSettingsError, check_rule_models
from collectors.settings import SettingsError, load_settings
from monitoring.email_notifier import EmailChannel
from monitoring.webhook_notifier import WebhookChannel

CONFIG = """
[alerts]
evaluation_interval_s = 15
group_wait_s = 10
repeat_interval_s = 7200
dashboard_url = "https://vigil.example.com"
allowed_hosts = ["smtp.example.com", "hooks.example.com"]

[channels.oncall]
type = "email"
host = "smtp.example.com"
port = 587
security = "starttls"
sender = "vigil@example.com"
recipients = ["oncall@example.com"]
username = "vigil"
password_env = "SMTP_PASSWORD"

[channels.team]
type = "slack"
url = "https://hooks.example.com/services/T0/B0/xyz"
secret_file = "SECRET_PATH"

[rules.slow]
metric = "latency_p95_ms"
condition = "> 200"
model = "churn"
for = "5m"
severity = "critical"
channels = ["oncall", "team"]
"""
ENV = {"SMTP_PASSWORD": "pa55word-not-in-files"}


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    secret = tmp_path / "hook.secret"
    secret.write_text("hook-signing-secret\n", encoding="utf-8")
    path = tmp_path / "vigil.toml"
    path.write_text(text.replace("SECRET_PATH", str(secret)), encoding="utf-8")
    return path


def test_a_full_alerting_config_loads(tmp_path: Path) -> None:
    alerting = load_settings(_config(tmp_path), env=ENV).alerting
    assert (alerting.evaluation_interval_s, alerting.group_wait_s) == (15.0, 10.0)
    assert alerting.repeat_interval_s == 7200.0
    assert alerting.allowed_hosts == ("smtp.example.com", "hooks.example.com")
    mail, slack = alerting.channels["oncall"], alerting.channels["team"]
    assert isinstance(mail, EmailChannel) and mail.password == ENV["SMTP_PASSWORD"]
    assert mail.allowed_hosts == alerting.allowed_hosts
    assert isinstance(slack, WebhookChannel) and slack.kind == "slack"
    assert slack.secret == "hook-signing-secret"
    (rule,) = alerting.rules
    assert (rule.name, rule.metric, rule.threshold, rule.for_s) == (
        "slow",
        "latency_p95_ms",
        200,
        300,
    )
    assert "pa55word" not in repr(alerting) and "hook-signing" not in repr(alerting)


def test_defaults_without_alerting_tables(tmp_path: Path) -> None:
    alerting = load_settings(_config(tmp_path, "[server]\nport = 9000\n"), env={}).alerting
    assert alerting.evaluation_interval_s == 30.0 and alerting.group_wait_s == 30.0
    assert alerting.repeat_interval_s == 4 * 3600.0
    assert alerting.rules == () and alerting.channels == {}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('metric = "latency_p95_ms"', 'metric = "latency_p95"', "latency_p95"),
        ('channels = ["oncall", "team"]', 'channels = ["pager"]', "pager"),
        ('password_env = "SMTP_PASSWORD"', 'password = "plain"', "secrets stay out of config"),
        ('password_env = "SMTP_PASSWORD"', 'password_env = "NOT_SET"', "'NOT_SET', which is not"),
        ('type = "slack"', 'type = "pager"', "type must be email, webhook or slack"),
        ("group_wait_s = 10", "group_wait_s = -1", "group_wait_s must be positive"),
        ("group_wait_s = 10", "group_waits = 10", "unknown key 'group_waits'"),
        ('dashboard_url = "https://vigil.example.com"', 'dashboard_url = "vigil"', "http(s) URL"),
        ("port = 587", "port = 99999", "port"),
        ('secret_file = "SECRET_PATH"', 'secret_file = "/nonexistent/secret"', "cannot be read"),
    ],
)
def test_mistakes_are_refused_with_a_message_naming_them(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in CONFIG
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(_config(tmp_path, CONFIG.replace(old, new)), env=ENV)


def test_a_rule_on_an_unknown_model_is_refused_at_start(tmp_path: Path) -> None:
    rules = load_settings(_config(tmp_path), env=ENV).alerting.rules
    check_rule_models(rules, {"churn"})
    with pytest.raises(AlertSettingsError, match=r"names model 'churn'.*known models: fraud"):
        check_rule_models(rules, {"fraud"})
