"""Cached reads and the writes behind the Alerts page.

Reads follow dashboard.data: cached on plain values plus the store key, through the pooled
cursors of data.connection(). (Alerting.rules() and collectors.alert_api take
store.cursor(), which keeps a cursor per thread, and every rerun is a new thread.) "Now" is
the Alerting's clock, the one evaluation uses. Writes run on the server's writer
(alerting.ingest.writer.run) and clear the cached reads they change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from collectors.alert_settings import Channel
from collectors.alerting import Alerting
from dashboard import data
from dashboard import format as fmt
from monitoring.alert_lifecycle import Silence, silence_from_row, silenced
from monitoring.alert_rules import AlertRule, parse_rule, rule_to_table
from monitoring.email_notifier import EmailChannel
from storage import alert_definitions as store_definitions
from storage import alerts as store_alerts

HISTORY_RANGES = {
    "Last 24 h": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
}
HISTORY_LIMIT = 10_000
LOG_LIMIT = 1_000
CURRENT_COLUMNS = (
    "rule", "model", "state", "severity", "metric", "value", "comparison", "threshold", "since",
    "silenced",
)  # fmt: skip
_LABEL_PAIR = re.compile(r"\s*([^=,\s][^=,]*?)\s*=\s*([^,]*?)\s*")


@dataclass(frozen=True)
class RuleEntry:
    """A rule as the page lists it: from the config file or saved from the dashboard."""

    name: str
    source: str  # "config" or "dashboard"
    table: dict[str, Any]
    rule: AlertRule | None  # None: a saved definition that no longer parses
    problem: str | None = None  # why a saved rule is not evaluated


def alerting() -> Alerting | None:
    """The server's alerting service; None when the page runs without one."""
    return data.runtime().alerting


def service() -> Alerting:
    """The alerting service; a clear error where there is none."""
    found = alerting()
    if found is None:
        raise RuntimeError("alerting runs inside `vigil serve`; this server has none")
    return found


def now() -> datetime:
    """The time evaluation uses (the Alerting's clock)."""
    return service().clock()


def history_range(label: str, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a history range that holds every change up to `at`.

    The end is `at` rounded up to the cache lifetime, so reruns within it share cached reads.
    """
    step = int(data.TTL_S * 1_000_000)
    micros = int(at.timestamp() * 1_000_000) // step * step + step
    end = datetime.fromtimestamp(micros / 1_000_000, UTC)
    return end - HISTORY_RANGES[label], end


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _instances(store: str) -> list[dict[str, Any]]:
    with data.connection() as con:
        return store_alerts.load_instances(con)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _silences(store: str) -> list[dict[str, Any]]:
    with data.connection() as con:
        return store_alerts.list_silences(con)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _saved_rules(store: str) -> dict[str, dict[str, Any]]:
    with data.connection() as con:
        return store_definitions.list_rules(con)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _transitions(store: str, start: datetime, end: datetime) -> pd.DataFrame:
    with data.connection() as con:
        return store_alerts.transitions(con, start, end, limit=HISTORY_LIMIT)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _deliveries(store: str, start: datetime, end: datetime) -> pd.DataFrame:
    with data.connection() as con:
        return store_alerts.deliveries(con, start, end, limit=LOG_LIMIT)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _outbox(store: str) -> pd.DataFrame:
    with data.connection() as con:
        return store_alerts.outbox(con, limit=LOG_LIMIT)


def clear() -> None:
    """Forget the cached alert reads (after a write)."""
    for cached in (_instances, _silences, _saved_rules, _transitions, _deliveries, _outbox):
        cached.clear()


def model_names() -> list[str]:
    """The registered models, as rules may name them."""
    return [str(m["name"]) for m in data.model_summaries()]


def channels() -> dict[str, Channel]:
    """The notification channels by name: the config file's and those added here."""
    with data.connection() as con:
        return service().channels(con)


def rule_entries() -> list[RuleEntry]:
    """Config rules, then the dashboard's; like Alerting.rules(), a config rule wins a name."""
    settings = service().settings
    entries = [RuleEntry(r.name, "config", rule_to_table(r), r) for r in settings.rules]
    names = {r.name for r in settings.rules}
    for name, table in _saved_rules(data.store_key()).items():
        if name in names:
            problem = "not evaluated: a config rule has the same name"
            entries.append(RuleEntry(name, "dashboard", table, None, problem))
            continue
        try:
            rule = parse_rule(name, table, models=None, channels=settings.channels)
        except ValueError as exc:  # e.g. its channel was removed from the config since
            entries.append(RuleEntry(name, "dashboard", table, None, f"not evaluated: {exc}"))
            continue
        entries.append(RuleEntry(name, "dashboard", table, rule))
    return entries


def rules() -> dict[str, AlertRule]:
    """The rules evaluation uses, by name."""
    return {e.name: e.rule for e in rule_entries() if e.rule is not None and e.problem is None}


def _silence_objects(at: datetime) -> list[Silence]:
    rows = _silences(data.store_key())
    return [silence_from_row(r) for r in rows if r["expired_at"] is None and r["ends_at"] > at]


def current_alerts(at: datetime) -> pd.DataFrame:
    """Pending and firing alerts, firing first, with their rule's metric and threshold."""
    known = rules()
    silences = _silence_objects(at)
    rows = []
    for row in _instances(data.store_key()):
        if row["state"] not in ("pending", "firing"):
            continue
        rule, model = known.get(row["rule"]), row["model"] or None
        muted = rule is not None and silenced(rule, model, silences, at) is not None
        rows.append(
            {
                "rule": row["rule"],
                "model": row["model"] or "",
                "state": row["state"],
                "severity": None if rule is None else rule.severity,
                "metric": None if rule is None else rule.metric,
                "value": row["value"],
                "comparison": None if rule is None else rule.comparison,
                "threshold": None if rule is None else rule.threshold,
                "since": row["fired_at"] if row["state"] == "firing" else row["active_since"],
                "silenced": muted,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CURRENT_COLUMNS))
    if frame.empty:
        return frame
    frame = frame.assign(_order=frame["state"] != "firing")
    return frame.sort_values(["_order", "since", "rule"]).drop(columns="_order")


def number(value: object) -> str:
    """A metric value or threshold: 231.5, 200, 0.9 (a dash for none)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return fmt.MISSING
    return fmt.MISSING if math.isnan(value) else f"{value:.6g}"


def condition_text(value: object, comparison: object, threshold: object) -> str:
    """The value against the rule: "231.5 > 200"."""
    if comparison is None:
        return number(value)
    return f"{number(value)} {comparison} {number(threshold)}"


def transitions(start: datetime, end: datetime) -> pd.DataFrame:
    """State changes in [start, end), newest first."""
    return _transitions(data.store_key(), start, end)


def deliveries(start: datetime, end: datetime) -> pd.DataFrame:
    """Delivery attempts in [start, end), newest first."""
    frame = _deliveries(data.store_key(), start, end)
    columns = ["at", "rule", "model", "channel", "status", "attempt", "ok", "error"]
    return frame[columns]


def queued() -> pd.DataFrame:
    """Notifications not delivered yet, newest first, with their retry bookkeeping."""
    frame = _outbox(data.store_key())
    columns = ["queued_at", "rule", "model", "channel", "status", "next_attempt_at", "attempts"]
    return frame[[*columns, "last_error"]]


def silences(at: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(active, expired) silences at `at`, newest first; labels as "k=v" text."""
    rows = []
    for row in _silences(data.store_key()):
        active = row["expired_at"] is None and row["starts_at"] <= at < row["ends_at"]
        rows.append(
            {
                "id": row["id"],
                "rule": row["rule"] or "any",
                "model": row["model"] or "any",
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(row["labels"].items())),
                "starts_at": row["starts_at"],
                "ends_at": row["ends_at"],
                "author": row["author"],
                "comment": row["comment"],
                "expired_at": row["expired_at"],
                # Not started yet counts as active: it is still to come, not over.
                "_active": active or (row["expired_at"] is None and at < row["starts_at"]),
            }
        )
    columns = ["id", "rule", "model", "labels", "starts_at", "ends_at", "author", "comment"]
    frame = pd.DataFrame(rows, columns=[*columns, "expired_at", "_active"])
    active = frame[frame["_active"].astype(bool)][columns]
    expired = frame[~frame["_active"].astype(bool)][[*columns, "expired_at"]]
    return active.reset_index(drop=True), expired.reset_index(drop=True)


def parse_labels(text: str, field: str = "labels") -> dict[str, str]:
    """{"team": "risk", "tier": "1"} from "team=risk, tier=1"; ValueError names the field."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        found = _LABEL_PAIR.fullmatch(part)
        if found is None:
            raise ValueError(f"{field}: {part!r} is not name=value; write e.g. team=risk, tier=1")
        key, value = found.group(1), found.group(2)
        if key in labels:
            raise ValueError(f"{field}: {key!r} is given twice")
        labels[key] = value
    return labels


def rule_table(
    *,
    metric: str,
    comparison: str,
    threshold: float,
    model: str | None,
    version: str,
    window: str,
    for_: str,
    severity: str,
    labels: str,
    channels: list[str],
    description: str,
    runbook_url: str,
    include_provisional: bool,
) -> dict[str, Any]:
    """A rule's TOML table from the editor's fields (empty text fields left out)."""
    table: dict[str, Any] = {
        "metric": metric,
        "comparison": comparison,
        "threshold": float(threshold),
        "window": window,
        "severity": severity,
        "channels": list(channels),
    }
    texts = {"version": version, "description": description, "runbook_url": runbook_url}
    table.update({key: value.strip() for key, value in texts.items() if value.strip()})
    if model:
        table["model"] = model
    if for_.strip():
        text = for_.strip()
        # "300" means seconds, as in the config file; "5m" is parsed by the rule.
        table["for"] = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else text
    if labels.strip():
        table["labels"] = parse_labels(labels)
    if include_provisional:
        table["include_provisional"] = True
    return table


def check_rule(name: str, table: Mapping[str, Any]) -> AlertRule:
    """The rule, checked against registered models and configured channels (ValueError)."""
    name = name.strip()
    if not name:
        raise ValueError("name: give the rule a name (letters, digits, '_', '-' or '.')")
    if any(r.name == name for r in service().settings.rules):
        raise ValueError(
            f"name: {name!r} is a rule of the config file, which the dashboard cannot change; "
            "pick another name or edit the config file"
        )
    return parse_rule(name, dict(table), models=model_names(), channels=channels())


def save_rule(name: str, table: Mapping[str, Any], by: str | None = None) -> tuple[AlertRule, bool]:
    """Check and store a dashboard rule (saved by `by`); returns it and whether it replaced one."""
    rule = check_rule(name, table)
    replaced = rule.name in _saved_rules(data.store_key())
    definition, at = rule_to_table(rule), now()
    service().ingest.writer.run(
        lambda con: store_definitions.save_rule(con, rule.name, definition, by, at)
    )
    clear()
    return rule, replaced


def delete_rule(name: str) -> bool:
    """Delete a dashboard rule; its alert goes at the next evaluation."""
    done = service().ingest.writer.run(lambda con: store_definitions.delete_rule(con, name))
    clear()
    return done


def channel_rows() -> pd.DataFrame:
    """Every channel's name, type and destination, without secrets or URL paths."""
    rows = []
    for name, channel in channels().items():
        if isinstance(channel, EmailChannel):
            kind = "email"
            where = f"{channel.host}:{channel.port} to {', '.join(channel.recipients)}"
        else:
            kind, where = ("slack" if channel.kind == "slack" else "webhook"), channel.destination
        source = "config" if name in service().settings.channels else "dashboard"
        rows.append({"name": name, "type": kind, "destination": where, "source": source})
    return pd.DataFrame(rows, columns=["name", "type", "destination", "source"])


def send_test(name: str) -> None:
    """A test notification through one channel (raises DeliveryError)."""
    with data.connection() as con:
        service().send_test(name, con)
