"""Alert notifications: the payload, its renderings (subject, text, HTML, Slack) and channel rules.

Times in the JSON payload are ``datetime.isoformat()`` of aware datetimes converted to UTC, so
they end in ``+00:00`` (e.g. ``2026-11-25T10:00:00+00:00``): valid ISO-8601/RFC 3339, parsed by
``datetime.fromisoformat`` on every Python we support, unlike a ``Z`` suffix before 3.11.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

STATUSES = ("firing", "resolved")
SEVERITIES = ("info", "warning", "critical")
COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
PAYLOAD_VERSION = "1"
# Slack refuses a section text over 3000 characters and a message over 50 blocks.
_SLACK_TEXT_MAX = 2900
_SLACK_MAX_ALERTS = 40
_SUBJECT_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class DeliveryError(Exception):
    """A notification could not be delivered; the message never contains secrets."""


@dataclass(frozen=True)
class Notification:
    """One alert's state change, as the webhook JSON and the email describe it."""

    status: str
    rule: str
    model: str | None
    version: str | None
    severity: str
    labels: Mapping[str, str] = field(hash=False)
    metric: str
    value: float | None
    threshold: float
    comparison: str
    starts_at: datetime
    ends_at: datetime | None
    description: str = ""
    runbook_url: str | None = None
    dashboard_url: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("status", self.status, STATUSES),
            ("severity", self.severity, SEVERITIES),
            ("comparison", self.comparison, COMPARISONS),
        ):
            if value not in allowed:
                raise ValueError(f"notification {name} {value!r} is not one of {allowed}")
        for name, when in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if when is not None and when.utcoffset() is None:
                raise ValueError(f"notification {name} must be timezone-aware (UTC), got {when}")

    def to_json(self) -> dict[str, Any]:
        """The contract's payload; a non-finite value is sent as null (JSON has no NaN)."""
        value = self.value if self.value is not None and math.isfinite(self.value) else None
        return {
            "status": self.status,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "severity": self.severity,
            "labels": dict(self.labels),
            "metric": self.metric,
            "value": value,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at) if self.ends_at is not None else None,
            "description": self.description,
            "runbook_url": self.runbook_url,
            "dashboard_url": self.dashboard_url,
        }


@dataclass(frozen=True)
class NotificationGroup:
    """Alerts sent together in one message (one rule and model, see group_key)."""

    group_key: str
    alerts: tuple[Notification, ...]

    def __post_init__(self) -> None:
        if not self.alerts:
            raise ValueError(f"notification group {self.group_key!r} has no alerts")

    @property
    def status(self) -> str:
        """``firing`` if any alert in the group fires, else ``resolved``."""
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"

    def to_json(self) -> dict[str, Any]:
        """The webhook POST body of the contract."""
        return {
            "version": PAYLOAD_VERSION,
            "group_key": self.group_key,
            "status": self.status,
            "alerts": [a.to_json() for a in self.alerts],
        }


class Notifier(Protocol):
    """A configured channel; ``send`` raises DeliveryError when delivery fails."""

    @property
    def name(self) -> str: ...  # a property so frozen dataclasses satisfy it

    def send(self, group: NotificationGroup) -> None: ...


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "no data" if x is None else str(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _safe_link(url: str | None) -> str | None:
    """The URL if it is an http(s) URL with a host, else None (never a javascript: link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def value_line(n: Notification) -> str:
    """E.g. ``latency_p95_ms = 231.5 (threshold > 200)``."""
    return f"{n.metric} = {_num(n.value)} (threshold {n.comparison} {_num(n.threshold)})"


def _where(n: Notification) -> str:
    if n.model is None:
        return "system"
    return n.model if n.version is None else f"{n.model} version {n.version}"


def _highest_severity(group: NotificationGroup) -> str:
    return max((a.severity for a in group.alerts), key=SEVERITIES.index)


def subject(group: NotificationGroup) -> str:
    """E.g. ``[FIRING:2] latency_p95 high — churn (critical)`` (Alertmanager's style)."""
    firing = sum(a.status == "firing" for a in group.alerts)
    tag = f"[FIRING:{firing}]" if group.status == "firing" else "[RESOLVED]"
    rules = list(dict.fromkeys(a.rule for a in group.alerts))
    models = list(dict.fromkeys(a.model for a in group.alerts if a.model is not None))
    text = f"{tag} {', '.join(rules)}"
    if models:
        text += f" — {', '.join(models)}"
    text = _one_line(f"{text} ({_highest_severity(group)})")
    return text if len(text) <= _SUBJECT_MAX else text[: _SUBJECT_MAX - 1] + "…"


def _alert_lines(n: Notification) -> list[tuple[str, str]]:
    """(label, text) pairs shared by the text, HTML and Slack renderings."""
    rows = [("Model", _where(n)), ("Value", value_line(n)), ("Since", _utc_text(n.starts_at))]
    if n.ends_at is not None:
        rows.append(("Resolved at", _utc_text(n.ends_at)))
    if n.labels:
        rows.append(("Labels", ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items()))))
    if n.description:
        rows.append(("Description", n.description))
    return rows


def text_body(group: NotificationGroup) -> str:
    """Plain-text email body: what fired, value vs threshold, since when, links."""
    out = [subject(group), ""]
    for n in group.alerts:
        out.append(f"[{n.status.upper()}] {n.rule} ({n.severity})")
        out += [f"  {label}: {text}" for label, text in _alert_lines(n)]
        if n.dashboard_url:
            out.append(f"  Dashboard: {n.dashboard_url}")
        if n.runbook_url:
            out.append(f"  Runbook: {n.runbook_url}")
        out.append("")
    return "\n".join(out)


def _html_link(label: str, url: str | None) -> str:
    safe = _safe_link(url)
    if safe is None:  # not http(s): shown as text, never as a link
        return f"<li>{label}: {html.escape(url or '')}</li>"
    href = html.escape(safe, quote=True)
    return f'<li>{label}: <a href="{href}">{html.escape(safe)}</a></li>'


def html_body(group: NotificationGroup) -> str:
    """HTML email body; every piece of user text is escaped, links only for http(s) URLs."""
    parts = [
        '<!DOCTYPE html><html><body style="font-family: sans-serif">',
        f"<h2>{html.escape(subject(group))}</h2>",
    ]
    for n in group.alerts:
        colour = "#c0392b" if n.status == "firing" else "#27ae60"
        parts.append(
            f'<h3><span style="color:{colour}">[{n.status.upper()}]</span> '
            f"{html.escape(n.rule)} ({html.escape(n.severity)})</h3><ul>"
        )
        parts += [f"<li>{label}: {html.escape(text)}</li>" for label, text in _alert_lines(n)]
        if n.dashboard_url:
            parts.append(_html_link("Dashboard", n.dashboard_url))
        if n.runbook_url:
            parts.append(_html_link("Runbook", n.runbook_url))
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(label: str, url: str | None) -> str:
    safe = _safe_link(url)
    if safe is None:
        return f"*{label}:* {slack_escape(url or '')}"
    # "|" separates URL and label in <url|label>; percent-encode it so the URL stays whole.
    return f"*{label}:* <{slack_escape(safe.replace('|', '%7C'))}|{label.lower()}>"


def slack_body(group: NotificationGroup) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback ``text`` plus mrkdwn section ``blocks``."""
    title = slack_escape(subject(group))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}
    ]
    for n in group.alerts[:_SLACK_MAX_ALERTS]:
        lines = [f"*[{n.status.upper()}] {slack_escape(n.rule)}* ({n.severity})"]
        lines += [f"*{label}:* {slack_escape(text)}" for label, text in _alert_lines(n)]
        if n.dashboard_url:
            lines.append(_slack_link("Dashboard", n.dashboard_url))
        if n.runbook_url:
            lines.append(_slack_link("Runbook", n.runbook_url))
        text = "\n".join(lines)
        if len(text) > _SLACK_TEXT_MAX:
            text = text[: _SLACK_TEXT_MAX - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    hidden = len(group.alerts) - _SLACK_MAX_ALERTS
    if hidden > 0:
        more = f"…and {hidden} more alerts"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    return {"text": title, "blocks": blocks}


def destination_host(url_or_host: str) -> str:
    """The lower-cased host of a URL or a bare host name (no port, no trailing dot)."""
    text = url_or_host.strip()
    if "://" in text:
        try:
            host = urlsplit(text).hostname or ""
        except ValueError:
            host = ""
    else:
        host = text.strip("[]")
    return host.lower().rstrip(".")


def host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Exact, case-insensitive match; ``*.example.com`` matches any subdomain, not the apex."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def check_destination(url_or_host: str, allowed_hosts: tuple[str, ...]) -> None:
    """Raise DeliveryError unless the destination's host is in a non-empty allowed_hosts."""
    host = destination_host(url_or_host)
    if not host:
        raise DeliveryError("the destination has no host name; give a full http(s) URL or host")
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise DeliveryError(
            f"host {host!r} is not in the channel's allowed_hosts {list(allowed_hosts)}; "
            "add it to allowed_hosts or change the destination"
        )
