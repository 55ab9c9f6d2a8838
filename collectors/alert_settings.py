"""Alerting settings: the [alerts] table, [channels.<name>] and [rules.<name>] of the TOML file.

Secrets (SMTP passwords, webhook signing secrets) come only from the environment or from
secret files: a channel names the variable (`password_env`, `secret_env`) or the file
(`password_file`, `secret_file`), and a plain secret in the file is refused.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring.alert_rules import AlertRule, parse_rule
from monitoring.email_notifier import EmailChannel
from monitoring.notifiers import DeliveryError, check_destination
from monitoring.webhook_notifier import WebhookChannel

Channel = EmailChannel | WebhookChannel
ALERT_KEYS = {
    "evaluation_interval_s": 30.0,
    "group_wait_s": 30.0,
    "repeat_interval_s": 4 * 3600.0,
    "dashboard_url": None,
    "allowed_hosts": (),
}
_EMAIL_KEYS = (
    "type",
    "host",
    "port",
    "security",
    "sender",
    "recipients",
    "username",
    "password_env",
    "password_file",
    "timeout_s",
)
_WEBHOOK_KEYS = ("type", "url", "secret_env", "secret_file", "timeout_s", "headers")


class AlertSettingsError(ValueError):
    """A problem in the alerting part of the config file; the message names it."""


@dataclass(frozen=True)
class AlertSettings:
    """How and how often alert rules are evaluated and delivered, and where to."""

    evaluation_interval_s: float = 30.0
    group_wait_s: float = 30.0
    repeat_interval_s: float = 4 * 3600.0
    dashboard_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    channels: dict[str, Channel] = field(default_factory=dict, hash=False)
    rules: tuple[AlertRule, ...] = ()


def parse_alerting(data: Mapping[str, Any], config: Path, env: Mapping[str, str]) -> AlertSettings:
    """AlertSettings from a parsed TOML document (its [alerts], [channels.*], [rules.*])."""
    table = _table(data.get("alerts", {}), f"[alerts] in {config}")
    unknown = sorted(set(table) - set(ALERT_KEYS))
    if unknown:
        raise AlertSettingsError(
            f"unknown key {unknown[0]!r} in {config} [alerts]; known: {', '.join(ALERT_KEYS)}"
        )
    where = f"{config} [alerts]"
    numbers = {
        key: _seconds(table.get(key, default), f"{where} {key}")
        for key, default in ALERT_KEYS.items()
        if key.endswith("_s")
    }
    allowed = _strings(table.get("allowed_hosts", []), f"{where} allowed_hosts")
    url = table.get("dashboard_url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise AlertSettingsError(f"{where} dashboard_url must be an http(s) URL, got {url!r}")
    channels = {
        name: channel_from_table(name, spec, env, allowed, f"{config} [channels.{name}]")
        for name, spec in _table(data.get("channels", {}), f"[channels] in {config}").items()
    }
    rules = tuple(
        _rule(name, spec, config, channels)
        for name, spec in _table(data.get("rules", {}), f"[rules] in {config}").items()
    )
    return AlertSettings(
        evaluation_interval_s=numbers["evaluation_interval_s"],
        group_wait_s=numbers["group_wait_s"],
        repeat_interval_s=numbers["repeat_interval_s"],
        dashboard_url=url,
        allowed_hosts=allowed,
        channels=channels,
        rules=rules,
    )


def check_rule_models(rules: Collection[AlertRule], known: Collection[str]) -> None:
    """Refuse a rule naming a model that is neither registered nor configured."""
    for rule in rules:
        if rule.model is not None and rule.model not in known:
            names = ", ".join(sorted(known)) or "none yet"
            raise AlertSettingsError(
                f"rule {rule.name!r} names model {rule.model!r}, which is neither registered "
                f"nor configured under [models]; known models: {names}. Fix the name, or "
                f"declare a model that is not registered yet with a [models.{rule.model}] table"
            )


def _rule(name: str, spec: object, config: Path, channels: Mapping[str, Channel]) -> AlertRule:
    try:
        return parse_rule(name, _table(spec, f"[rules.{name}]"), models=None, channels=channels)
    except ValueError as exc:
        raise AlertSettingsError(f"{config} [rules.{name}]: {exc}") from None


def channel_from_table(
    name: str,
    spec: object,
    env: Mapping[str, str],
    allowed: tuple[str, ...],
    where: str | None = None,
) -> Channel:
    """A checked channel from its TOML table (the config file's, or one saved from the
    dashboard); secrets are read from the variables or files it names."""
    where = where or f"channel {name!r}"
    table = _table(spec, where)
    kind = table.get("type")
    if kind == "email":
        _known_keys(table, _EMAIL_KEYS, where)
        channel: Channel = EmailChannel(
            name=name,
            host=str(table.get("host", "")),
            port=_int(table.get("port", 587), f"{where} port"),
            security=str(table.get("security", "starttls")),
            sender=str(table.get("sender", "")),
            recipients=_strings(table.get("recipients", []), f"{where} recipients"),
            username=_optional_str(table.get("username"), f"{where} username"),
            password=_secret(table, "password", env, where),
            timeout_s=_seconds(table.get("timeout_s", 10.0), f"{where} timeout_s"),
            allowed_hosts=allowed,
        )
    elif kind in ("webhook", "slack"):
        _known_keys(table, _WEBHOOK_KEYS, where)
        headers = table.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise AlertSettingsError(f"{where} headers must be a table of strings")
        channel = WebhookChannel(
            name=name,
            url=str(table.get("url", "")),
            kind="slack" if kind == "slack" else "json",
            secret=_secret(table, "secret", env, where),
            timeout_s=_seconds(table.get("timeout_s", 5.0), f"{where} timeout_s"),
            allowed_hosts=allowed,
            headers=dict(headers),
        )
    else:
        raise AlertSettingsError(f"{where} type must be email, webhook or slack, got {kind!r}")
    try:
        channel.validate()
        check_destination(
            channel.host if isinstance(channel, EmailChannel) else channel.url, allowed
        )
    except (ValueError, DeliveryError) as exc:
        raise AlertSettingsError(f"{where}: {exc}") from None
    return channel


def _secret(table: Mapping[str, Any], key: str, env: Mapping[str, str], where: str) -> str | None:
    """A secret from the variable `<key>_env` names or the file `<key>_file` names."""
    if key in table:
        raise AlertSettingsError(
            f"{where} holds a plain {key}: secrets stay out of config files. Name an "
            f"environment variable with {key}_env or a file with {key}_file"
        )
    variable, path = table.get(f"{key}_env"), table.get(f"{key}_file")
    if variable is not None:
        if not isinstance(variable, str) or not env.get(variable):
            raise AlertSettingsError(
                f"{where} {key}_env names {variable!r}, which is not set in the environment"
            )
        return env[variable]
    if path is not None:
        try:
            return Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AlertSettingsError(
                f"{where} {key}_file {path} cannot be read: {exc.strerror}"
            ) from None
    return None


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AlertSettingsError(f"{where} must be a table")
    return value


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known and key not in ("password", "secret"):
            raise AlertSettingsError(f"unknown key {key!r} in {where}; known: {', '.join(known)}")


def _seconds(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AlertSettingsError(f"{where} must be a number of seconds, got {value!r}")
    if value <= 0:
        raise AlertSettingsError(f"{where} must be positive, got {value}")
    return float(value)


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlertSettingsError(f"{where} must be an integer, got {value!r}")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise AlertSettingsError(f"{where} must be a list of strings, got {value!r}")
    return tuple(value)


def _optional_str(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise AlertSettingsError(f"{where} must be a string, got {value!r}")
    return value
