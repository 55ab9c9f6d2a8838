"""Alert evaluation and delivery: the two scheduler jobs behind the alert lifecycle.

evaluate(): every rule, for every model it covers (or the host), gets its metric's value;
monitoring.alert_lifecycle moves the alert instance; a notification that falls due is queued
in DuckDB's outbox for each of the rule's channels in the same transaction that marks the
instance notified. A restart therefore never notifies twice for one state change, and never
loses a queued notification.

deliver(): outbox rows whose group has waited group_wait are sent, one message per group and
channel; a failure is retried with capped exponential backoff until it goes through or the
alert moves on (its undelivered rows are then superseded).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.alert_metrics import model_value, system_value
from collectors.alert_settings import (
    AlertSettings,
    AlertSettingsError,
    Channel,
    channel_from_table,
)
from collectors.ingest import IngestService
from collectors.window_parts import PartCache
from monitoring.alert_catalog import METRICS
from monitoring.alert_lifecycle import (
    AlertInstance,
    Silence,
    Transition,
    group_key,
    instance_from_row,
    instance_to_row,
    mark_notified,
    next_attempt_delay,
    notification_due,
    ready_groups,
    silence_from_row,
    silenced,
    step,
)
from monitoring.alert_rules import AlertRule, parse_rule
from monitoring.notifiers import DeliveryError, Notification, NotificationGroup
from storage import alerts as store_alerts
from storage.alert_definitions import list_channels, list_rules
from storage.models import list_models

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation pass did (for logs and tests)."""

    transitions: list[Transition]
    queued: int


class Alerting:
    """Evaluates rules and delivers notifications; both are safe to call from jobs."""

    def __init__(
        self,
        ingest: IngestService,
        settings: AlertSettings,
        coverage: Callable[[str], float] = lambda model: 0.8,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        cache: PartCache | None = None,
    ) -> None:
        self.ingest, self.settings, self.coverage = ingest, settings, coverage
        self.clock, self.cache = clock, cache

    def channels(self, con: Any | None = None) -> dict[str, Channel]:
        """Config-file channels, and those added in the dashboard (a config channel wins).

        con: a cursor to read with (pages pass their pooled one); default this thread's.
        """
        found: dict[str, Channel] = {}
        saved = list_channels(con if con is not None else self.ingest.store.cursor())
        for name, table in saved.items():
            if name in self.settings.channels:
                continue
            try:
                found[name] = channel_from_table(
                    name, table, os.environ, self.settings.allowed_hosts
                )
            except AlertSettingsError as exc:  # e.g. its secret's variable is gone
                log.warning("saved alert channel %r is skipped: %s", name, exc)
        return {**found, **self.settings.channels}

    def rules(self) -> tuple[AlertRule, ...]:
        """Config-file rules, then the ones saved from the dashboard (a config rule wins)."""
        con = self.ingest.store.cursor()
        saved = list_rules(con)
        names = {r.name for r in self.settings.rules}
        channels = self.channels()
        extra = []
        for name, table in saved.items():
            if name in names:
                continue
            try:
                extra.append(parse_rule(name, table, models=None, channels=channels))
            except ValueError as exc:  # e.g. its channel was removed from the config since
                log.warning("saved alert rule %r is skipped: %s", name, exc)
        return (*self.settings.rules, *extra)

    def evaluate(self) -> Evaluation:
        """One pass over every rule; state, transitions and notifications stored together."""
        now = self.clock()
        con = self.ingest.store.cursor()
        rows = store_alerts.load_instances(con)
        known = {(r["rule"], r["model"]): instance_from_row(r) for r in rows}
        active = store_alerts.list_silences(con, now, active_only=True)
        silences = [silence_from_row(s) for s in active]
        models = {m.name: m for m in list_models(con)}
        rules = self.rules()
        changed: list[AlertInstance] = []
        transitions: list[Transition] = []
        outbox: list[dict[str, Any]] = []
        for rule in rules:
            for model_name in _targets(rule, models):
                value = self._value(con, rule, models.get(model_name or ""), now)
                key = (rule.name, model_name or "")
                before = known.get(key)
                instance, moved = step(before, rule, model_name, rule.breached(value), value, now)
                muted = silenced(rule, model_name, silences, now) is not None
                transitions += moved
                due = notification_due(instance, now, self.settings.repeat_interval_s)
                if due is not None and not muted:
                    outbox += self._queue(rule, instance, due, now)
                    instance = mark_notified(instance, due, now)
                if instance != before:
                    changed.append(instance)
        live = {(r.name, m or "") for r in rules for m in _targets(r, models)}

        def write(wcon: Any) -> None:
            store_alerts.save_instances(wcon, [instance_to_row(i) for i in changed])
            store_alerts.add_transitions(
                wcon, [_transition_row(t, silences, rules) for t in transitions]
            )
            store_alerts.enqueue(wcon, _unblipped(wcon, outbox, now))
            store_alerts.delete_instances(wcon, live)

        self.ingest.writer.run(write)
        return Evaluation(transitions, len(outbox))

    def _value(self, con: Any, rule: AlertRule, model: Any, now: datetime) -> float | None:
        if METRICS[rule.metric][0] == "system":
            return system_value(con, rule, now)
        if model is None:
            return None
        return model_value(con, rule, model, now, self.coverage(model.name), self.cache)

    def _queue(
        self, rule: AlertRule, instance: AlertInstance, status: str, now: datetime
    ) -> list[dict[str, Any]]:
        note = self.notification(rule, instance, status)
        payload = json.dumps(note.to_json())
        return [
            {
                "group_key": group_key(rule.name, instance.model),
                "channel": channel,
                "rule": rule.name,
                "model": instance.model or "",
                "status": status,
                "payload": payload,
                "fired_at": instance.fired_at,
                "queued_at": now,
                "next_attempt_at": now,
            }
            for channel in rule.channels
        ]

    def notification(self, rule: AlertRule, instance: AlertInstance, status: str) -> Notification:
        """The message for one alert of `rule` in `status`."""
        return Notification(
            status=status,
            rule=rule.name,
            model=instance.model,
            version=rule.version,
            severity=rule.severity,
            labels=dict(rule.labels),
            metric=rule.metric,
            value=instance.value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            starts_at=instance.fired_at or instance.last_change,
            ends_at=instance.resolved_at if status == "resolved" else None,
            description=rule.description,
            runbook_url=rule.runbook_url,
            dashboard_url=self._link(instance.model),
        )

    def _link(self, model: str | None) -> str | None:
        base = self.settings.dashboard_url
        return None if base is None else f"{base.rstrip('/')}/alerts"

    def deliver(self) -> int:
        """Send every outbox group that is ready; returns the messages delivered."""
        now = self.clock()
        con = self.ingest.store.cursor()
        ready = ready_groups(store_alerts.pending_groups(con), now, self.settings.group_wait_s)
        rows = [r for r in store_alerts.due(con, now) if r["group_key"] in ready]
        batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            batches[(row["group_key"], row["channel"])].append(row)
        channels = self.channels(con) if batches else {}  # read once per pass
        sent = 0
        for (key, channel_name), batch in batches.items():
            channel = channels.get(channel_name)
            ok, error = self._send(key, channel_name, channel, batch)
            sent += ok
            self._record(batch, ok, error, now, gone=channel is None)
        return sent

    def _send(
        self, key: str, channel_name: str, channel: Channel | None, batch: list[dict[str, Any]]
    ) -> tuple[bool, str | None]:
        if channel is None:
            return False, f"channel {channel_name!r} is no longer configured"
        group = NotificationGroup(key, tuple(_from_json(r["payload"]) for r in batch))
        try:
            channel.send(group)
        except DeliveryError as exc:
            log.warning("alert delivery to %s failed: %s", channel_name, exc)
            return False, str(exc)
        return True, None

    def _record(
        self, batch: list[dict[str, Any]], ok: bool, error: str | None, now: datetime, gone: bool
    ) -> None:
        # Retried until delivered or superseded (the receiver may be down for a while); only
        # a channel that no longer exists drops its rows.
        def write(wcon: Any) -> None:
            for row in batch:
                delay = next_attempt_delay(int(row["attempts"]) + 1)
                retry = None if ok or gone else now + timedelta(seconds=delay)
                store_alerts.record_attempt(
                    wcon, row["id"], ok=ok, error=error, at=now, next_attempt_at=retry
                )

        self.ingest.writer.run(write)

    def send_test(self, channel_name: str, con: Any | None = None) -> None:
        """Send a test notification through one channel now (raises DeliveryError)."""
        channel = self.channels(con).get(channel_name)
        if channel is None:
            raise DeliveryError(f"no channel named {channel_name!r} is configured")
        now = self.clock()
        note = Notification(
            status="firing",
            rule="vigil_test_notification",
            model=None,
            version=None,
            severity="info",
            labels={},
            metric="test",
            value=None,
            threshold=0.0,
            comparison=">",
            starts_at=now,
            ends_at=None,
            description=f"A test notification sent from Vigil to the channel {channel_name!r}.",
            runbook_url=None,
            dashboard_url=self._link(None),
        )
        channel.send(NotificationGroup(f"test:{channel_name}", (note,)))


def _targets(rule: AlertRule, models: Mapping[str, Any]) -> Iterable[str | None]:
    if METRICS[rule.metric][0] == "system":
        return [None]
    if rule.model is not None:
        return [rule.model]
    return sorted(models)


def _unblipped(con: Any, outbox: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The rows to queue, once undelivered notifications of each alert's previous state are
    superseded. A resolution whose firing never went out on a channel is not sent there
    either: an alert that cleared within group_wait (or while its receiver was down) never
    reached that receiver, so there is nothing to resolve."""
    if not outbox:
        return []
    waiting = store_alerts.outbox(con)
    unsent = {
        (r["rule"], r["model"], r["channel"])
        for r in waiting.to_dict("records")
        if r["status"] == "firing"
    }
    keep = [
        row
        for row in outbox
        if row["status"] != "resolved" or (row["rule"], row["model"], row["channel"]) not in unsent
    ]
    for rule, model, status in {(r["rule"], r["model"], r["status"]) for r in outbox}:
        store_alerts.supersede(con, rule, model, status, now)
    return keep


def _transition_row(
    t: Transition, silences: list[Silence], rules: Iterable[AlertRule]
) -> dict[str, Any]:
    rule = next((r for r in rules if r.name == t.rule), None)
    muted = rule is not None and silenced(rule, t.model, silences, t.at) is not None
    return {
        "at": t.at,
        "rule": t.rule,
        "model": t.model or "",
        "from_state": t.from_state,
        "to_state": t.to_state,
        "value": t.value,
        "silenced": muted,
    }


def _from_json(payload: str) -> Notification:
    data = json.loads(payload)
    for key in ("starts_at", "ends_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    return Notification(**data)
