"""The alert lifecycle (Alertmanager's model), silences, grouping and retry backoff; pure code.

inactive -> pending (condition true, ``for`` not yet elapsed) -> firing -> resolved. pending ->
inactive when the condition turns false before ``for`` elapsed, and nothing is sent. resolved
behaves as inactive: a new breach starts a new pending/firing episode. Notifications go out on
firing and on resolved, and again every repeat interval while firing. A silenced alert still
changes state but sends nothing; the caller skips sending and does not mark it notified, so
when the silence ends a still-firing alert is announced then (as Alertmanager does).

Every time is an aware datetime passed in by the caller; nothing here reads the clock or does
I/O, so the server's loop stores ``AlertInstance`` rows and replays them after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from monitoring.alert_rules import AlertRule, Labels

State = Literal["inactive", "pending", "firing", "resolved"]
NotifyStatus = Literal["firing", "resolved"]
STATES: tuple[State, ...] = ("inactive", "pending", "firing", "resolved")
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
DEFAULT_GROUP_WAIT_S = 30.0


@dataclass(frozen=True)
class AlertInstance:
    """One rule's alert for one model (None: a system rule), as stored between evaluations.

    ``active_since``: when the condition became true (None while it is false);
    ``fired_at``/``resolved_at``: the current or last episode; ``last_change``: the last state
    change; ``last_notified_*``: the last notification queued for it.
    """

    rule: str
    model: str | None
    state: State
    value: float | None
    active_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    last_change: datetime
    last_notified_at: datetime | None = None
    last_notified_status: NotifyStatus | None = None


@dataclass(frozen=True)
class Transition:
    """A state change of one alert, for the history table."""

    rule: str
    model: str | None
    from_state: State
    to_state: State
    at: datetime
    value: float | None


def _aware(when: datetime, what: str = "now") -> datetime:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (UTC), got {when!r}")
    return when


def step(
    instance: AlertInstance | None,
    rule: AlertRule,
    model: str | None,
    breached: bool | None,
    value: float | None,
    now: datetime,
) -> tuple[AlertInstance, list[Transition]]:
    """Advance one alert by one evaluation; returns the new instance and its transitions.

    ``breached`` None means no data (no window, too few predictions, a provisional window):
    the alert keeps its state, value and times, as Alertmanager keeps alerts as they are
    while a rule cannot be evaluated; a firing alert neither resolves nor re-fires on a gap.
    ``instance`` None is a never-seen alert (inactive).
    """
    _aware(now)
    if rule.scope == "system" and model is not None:
        raise ValueError(f"rule {rule.name!r} is a system rule: call step with model None")
    if rule.model is not None and model != rule.model:
        raise ValueError(f"rule {rule.name!r} is for model {rule.model!r}, not {model!r}")
    if instance is None:
        instance = AlertInstance(rule.name, model, "inactive", None, None, None, None, now)
    elif (instance.rule, instance.model) != (rule.name, model):
        raise ValueError(
            f"instance of ({instance.rule!r}, {instance.model!r}) given for "
            f"({rule.name!r}, {model!r})"
        )
    if breached is None:
        return instance, []
    state = instance.state
    if breached:
        if state in ("inactive", "resolved"):
            # A new episode: the previous firing's times no longer describe this one.
            start = replace(instance, active_since=now, fired_at=None, resolved_at=None)
            target: State = "firing" if rule.for_s <= 0 else "pending"
            return _move(start, target, value, now)
        since = instance.active_since or instance.last_change
        if state == "pending" and (now - since).total_seconds() >= rule.for_s:
            return _move(instance, "firing", value, now)
        return replace(instance, value=value), []
    if state == "pending":
        return _move(replace(instance, active_since=None), "inactive", value, now)
    if state == "firing":
        return _move(replace(instance, active_since=None), "resolved", value, now)
    return replace(instance, value=value), []


def _move(
    instance: AlertInstance, to: State, value: float | None, now: datetime
) -> tuple[AlertInstance, list[Transition]]:
    changed = replace(instance, state=to, value=value, last_change=now)
    if to == "firing":
        changed = replace(changed, fired_at=now)
    elif to == "resolved":
        changed = replace(changed, resolved_at=now)
    move = Transition(instance.rule, instance.model, instance.state, to, now, value)
    return changed, [move]


def notification_due(
    instance: AlertInstance,
    now: datetime,
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S,
) -> NotifyStatus | None:
    """What to send for this alert now, if anything.

    "firing" when it fires and this firing was not announced yet, or the last announcement
    is ``repeat_interval_s`` old; "resolved" when it resolved after its firing was announced
    and the resolution was not (an alert silenced all along resolves silently); else None.
    """
    _aware(now)
    if not repeat_interval_s > 0 or not math.isfinite(repeat_interval_s):
        raise ValueError(f"repeat_interval_s must be a positive number, got {repeat_interval_s}")
    status, at, fired = instance.last_notified_status, instance.last_notified_at, instance.fired_at
    announced = status == "firing" and at is not None and fired is not None and at >= fired
    if instance.state == "firing":
        if not announced:
            return "firing"
        assert at is not None  # implied by announced
        return "firing" if (now - at).total_seconds() >= repeat_interval_s else None
    if instance.state == "resolved" and announced:
        return "resolved"
    return None


def mark_notified(instance: AlertInstance, status: NotifyStatus, now: datetime) -> AlertInstance:
    """The instance after a ``status`` notification for it was queued at ``now``."""
    _aware(now)
    if status != instance.state:
        raise ValueError(
            f"alert ({instance.rule!r}, {instance.model!r}) is {instance.state}: "
            f"it cannot be notified as {status}"
        )
    return replace(instance, last_notified_at=now, last_notified_status=status)


def instance_to_row(instance: AlertInstance) -> dict[str, Any]:
    """A storage row: the fields, with model '' for a system rule (the key cannot be null)."""
    row = {name: getattr(instance, name) for name in AlertInstance.__dataclass_fields__}
    row["model"] = "" if instance.model is None else instance.model
    return row


def instance_from_row(row: Mapping[str, Any]) -> AlertInstance:
    """The instance of a storage row (model '' -> None, times converted to UTC)."""
    state = row["state"]
    if state not in STATES:
        raise ValueError(f"stored alert state {state!r} is not one of {', '.join(STATES)}")
    notified = row.get("last_notified_status")
    if notified not in (None, "firing", "resolved"):
        raise ValueError(f"stored last_notified_status {notified!r} is not firing or resolved")

    def when(key: str) -> datetime | None:
        value = row.get(key)
        return None if value is None else _aware(value, key).astimezone(UTC)

    value = row.get("value")
    last_change = when("last_change")
    if last_change is None:
        raise ValueError("stored alert has no last_change")
    return AlertInstance(
        rule=str(row["rule"]),
        model=row["model"] or None,
        state=cast(State, state),
        value=None if value is None or math.isnan(value) else float(value),
        active_since=when("active_since"),
        fired_at=when("fired_at"),
        resolved_at=when("resolved_at"),
        last_change=last_change,
        last_notified_at=when("last_notified_at"),
        last_notified_status=cast(NotifyStatus | None, notified),
    )


def notification_payload(
    rule: AlertRule,
    instance: AlertInstance,
    status: NotifyStatus,
    dashboard_url: str | None = None,
) -> dict[str, Any]:
    """One alert's notification as the contract's JSON object.

    ``starts_at`` is when the alert fired (Prometheus sends FiredAt as startsAt); ``ends_at``
    is when it resolved, null while firing.
    """
    starts = instance.fired_at or instance.active_since or instance.last_change
    ends = instance.resolved_at if status == "resolved" else None
    return {
        "status": status,
        "rule": rule.name,
        "model": instance.model,
        "version": rule.version,
        "severity": rule.severity,
        "labels": dict(rule.labels),
        "metric": rule.metric,
        "value": instance.value,
        "threshold": rule.threshold,
        "comparison": rule.comparison,
        "starts_at": starts.astimezone(UTC).isoformat(),
        "ends_at": None if ends is None else ends.astimezone(UTC).isoformat(),
        "description": rule.description,
        "runbook_url": rule.runbook_url,
        "dashboard_url": dashboard_url,
    }


@dataclass(frozen=True)
class Silence:
    """Mutes notifications of matching alerts from ``starts_at`` until ``ends_at``.

    Matchers: ``rule`` and ``model`` (None matches any) and ``labels``, all of which the
    rule's labels must carry with the same values.
    """

    id: str
    rule: str | None
    model: str | None
    labels: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Mapping):
            raise ValueError(f"silence {self.id!r}: labels must be a mapping of str to str")
        object.__setattr__(self, "labels", Labels(self.labels))

    def active(self, now: datetime) -> bool:
        """Whether it mutes at ``now`` (start inclusive, end exclusive)."""
        return self.starts_at <= _aware(now) < self.ends_at

    def matches(self, rule: AlertRule, model: str | None) -> bool:
        """Whether it covers this rule's alert for ``model`` (ignoring time)."""
        return (
            (self.rule is None or self.rule == rule.name)
            and (self.model is None or self.model == model)
            and all(rule.labels.get(key) == value for key, value in self.labels.items())
        )


def silence_from_row(row: Mapping[str, Any]) -> Silence:
    """The silence of a storage row (extra columns such as created_at are ignored)."""
    return Silence(
        id=str(row["id"]),
        rule=row.get("rule") or None,
        model=row.get("model") or None,
        labels=row.get("labels") or {},
        starts_at=_aware(row["starts_at"], "starts_at").astimezone(UTC),
        ends_at=_aware(row["ends_at"], "ends_at").astimezone(UTC),
        author=str(row.get("author") or ""),
        comment=str(row.get("comment") or ""),
    )


def silenced(
    rule: AlertRule, model: str | None, silences: Sequence[Silence], now: datetime
) -> Silence | None:
    """The active silence covering the alert that ends last, or None."""
    covering = [s for s in silences if s.active(now) and s.matches(rule, model)]
    return max(covering, key=lambda s: s.ends_at, default=None)


def validate_silence(
    silence: Silence,
    now: datetime | None = None,
    *,
    rules: Collection[str] | None = None,
) -> None:
    """Refuse a silence a person should not create; ValueError names what is wrong.

    With ``now`` it must end in the future; with ``rules`` its rule must exist.
    """
    who = f"silence {silence.id!r}"
    if not isinstance(silence.id, str) or not silence.id.strip():
        raise ValueError("silence id must be a non-empty string")
    _aware(silence.starts_at, f"{who}: starts_at")
    _aware(silence.ends_at, f"{who}: ends_at")
    if silence.ends_at <= silence.starts_at:
        raise ValueError(f"{who}: ends_at must be after starts_at")
    if now is not None and silence.ends_at <= _aware(now):
        raise ValueError(f"{who}: ends_at is already past; a silence must end in the future")
    for key in ("author", "comment"):
        text = getattr(silence, key)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{who}: {key} is required (say who silences and why)")
    if silence.rule is None and silence.model is None and not silence.labels:
        raise ValueError(
            f"{who}: give at least one matcher (rule, model or labels); "
            "a silence of everything is not allowed"
        )
    if silence.rule is not None and rules is not None and silence.rule not in rules:
        raise ValueError(
            f"{who}: unknown rule {silence.rule!r}; rules: {', '.join(sorted(rules)) or 'none'}"
        )
    for key in ("rule", "model"):
        value = getattr(silence, key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{who}: {key} must be a non-empty string or left out")
    for key, value in silence.labels.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise ValueError(f"{who}: label matchers map names to strings, got {key!r}: {value!r}")


def group_key(rule_name: str, model: str | None) -> str:
    """The notification group of an alert: ``rule`` or ``rule/model``.

    Rule names cannot contain '/', so the key splits back unambiguously at the first '/'.
    """
    return rule_name if model is None else f"{rule_name}/{model}"


def ready_groups(
    pending: Sequence[tuple[str, datetime]],
    now: datetime,
    group_wait_s: float = DEFAULT_GROUP_WAIT_S,
) -> set[str]:
    """Groups to send now: those whose oldest queued notification is ``group_wait_s`` old.

    Like Alertmanager's group_wait, the wait lets alerts that change together go in one
    message; ``pending`` holds (group_key, queued_at) pairs, one or more per group.
    """
    _aware(now)
    if not group_wait_s >= 0:
        raise ValueError(f"group_wait_s must be >= 0, got {group_wait_s}")
    oldest: dict[str, datetime] = {}
    for key, queued_at in pending:
        _aware(queued_at, f"queued_at of group {key!r}")
        oldest[key] = min(queued_at, oldest.get(key, queued_at))
    return {key for key, at in oldest.items() if (now - at).total_seconds() >= group_wait_s}


def next_attempt_delay(attempt: int, base_s: float = 10.0, cap_s: float = 600.0) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): base * 2**(n-1), capped.

    No jitter: one server sends to each receiver, so there is no herd of clients to spread
    out, and a deterministic schedule is easy to show and test.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt!r}")
    if not 0 < base_s <= cap_s:
        raise ValueError(f"need 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}")
    # Cap the exponent too: 2**attempt for a huge attempt count would overflow a float.
    return float(min(cap_s, base_s * 2 ** min(attempt - 1, 64)))
