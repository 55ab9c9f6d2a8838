"""The alert lifecycle: transitions, `for`, notifications without duplicates, silences,
grouping and backoff."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitoring.alert_lifecycle import (
    AlertInstance,
    NotifyStatus,
    Silence,
    State,
    Transition,
    group_key,
    instance_from_row,
    instance_to_row,
    mark_notified,
    next_attempt_delay,
    notification_due,
    notification_payload,
    ready_groups,
    silence_from_row,
    silenced,
    step,
    validate_silence,
)
from monitoring.alert_rules import AlertRule

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATENCY = AlertRule(
    "high_latency",
    "latency_p95_ms",
    ">",
    200,
    model="churn",
    for_s=300,
    severity="critical",
    labels={"team": "risk", "tier": "1"},
    description="p95 is high",
    runbook_url="https://runbooks.example.com/latency",
)
INSTANT = replace(LATENCY, name="instant", for_s=0)
DISK = AlertRule("disk_full", "disk_percent", ">=", 90)
HOUR = 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def instance(state: State, since: float | None = 0.0, **fields: Any) -> AlertInstance:
    """An instance of LATENCY in `state`, its condition true since `since` seconds after T0."""
    active = None if since is None else at(since)
    fired = at(since or 0) if state in ("firing", "resolved") else None
    base = AlertInstance("high_latency", "churn", state, 250.0, active, fired, None, active or T0)
    return replace(base, **fields)


def run(
    rule: AlertRule,
    values: Sequence[float | None],
    every_s: float = 60.0,
    start: AlertInstance | None = None,
) -> tuple[AlertInstance, list[Transition], list[tuple[float, NotifyStatus]]]:
    """Evaluate `values` one per `every_s`, queueing due notifications as a server would."""
    current, moves, sent = start, [], []
    model = rule.model
    for i, value in enumerate(values):
        now = at(i * every_s)
        current, changes = step(current, rule, model, rule.breached(value), value, now)
        moves += changes
        due = notification_due(current, now)
        if due is not None:
            sent.append((i * every_s, due))
            current = mark_notified(current, due, now)
    assert current is not None
    return current, moves, sent


# (from state, breached, for_s, seconds since the condition became true, to state, moved)
TRANSITIONS: list[tuple[State, bool | None, float, float, State, bool]] = [
    ("inactive", True, 0, 0, "firing", True),
    ("inactive", True, 300, 0, "pending", True),
    ("inactive", False, 300, 0, "inactive", False),
    ("inactive", None, 300, 0, "inactive", False),
    ("pending", True, 300, 299, "pending", False),
    ("pending", True, 300, 300, "firing", True),
    ("pending", True, 300, 1000, "firing", True),
    ("pending", False, 300, 100, "inactive", True),
    ("pending", None, 300, 1000, "pending", False),
    ("firing", True, 300, 1000, "firing", False),
    ("firing", False, 300, 1000, "resolved", True),
    ("firing", None, 300, 1000, "firing", False),
    ("resolved", False, 300, 1000, "resolved", False),
    ("resolved", None, 300, 1000, "resolved", False),
    ("resolved", True, 300, 1000, "pending", True),
    ("resolved", True, 0, 1000, "firing", True),
]


@pytest.mark.parametrize(("src", "breached", "for_s", "elapsed", "dst", "moved"), TRANSITIONS)
def test_every_transition(
    src: State, breached: bool | None, for_s: float, elapsed: float, dst: State, moved: bool
) -> None:
    rule = replace(LATENCY, for_s=for_s)
    active = src in ("pending", "firing")
    before = instance(src, since=0.0 if active else None, last_change=T0)
    if src == "resolved":
        before = replace(before, resolved_at=T0)
    now = at(elapsed)
    after, moves = step(before, rule, "churn", breached, 321.0, now)
    assert after.state == dst
    expected = [Transition("high_latency", "churn", src, dst, now, 321.0)] if moved else []
    assert moves == expected
    assert after.last_change == (now if moved else before.last_change)
    if breached is None:
        assert after == before  # no data: the alert stays exactly as it was
    else:
        assert after.value == 321.0
    if dst == "firing" and moved:
        assert after.fired_at == now
        assert after.resolved_at is None
    if dst == "pending" and moved:
        assert (after.active_since, after.fired_at, after.resolved_at) == (now, None, None)
    if dst == "resolved" and moved:
        assert (after.resolved_at, after.fired_at, after.active_since) == (now, T0, None)
    if dst == "inactive" and moved:
        assert after.active_since is None


def test_new_alert_starts_inactive() -> None:
    created, moves = step(None, LATENCY, "churn", False, 10.0, T0)
    assert (created.state, created.value, created.last_change, moves) == ("inactive", 10.0, T0, [])
    fired, moves = step(None, INSTANT, "churn", True, 300.0, T0)
    assert (fired.state, fired.fired_at, fired.active_since) == ("firing", T0, T0)
    assert moves == [Transition("instant", "churn", "inactive", "firing", T0, 300.0)]


def test_for_is_respected() -> None:
    # Breached every minute: pending for 5 minutes, firing at exactly 300 s, not before.
    current, moves, sent = run(LATENCY, [250.0] * 8)
    assert [(m.from_state, m.to_state, m.at) for m in moves] == [
        ("inactive", "pending", at(0)),
        ("pending", "firing", at(300)),
    ]
    assert sent == [(300.0, "firing")]
    assert current.fired_at == at(300) and current.active_since == at(0)


def test_pending_then_clear_sends_nothing() -> None:
    current, moves, sent = run(LATENCY, [250.0, 250.0, 250.0, 150.0, 250.0, 150.0])
    assert [(m.from_state, m.to_state) for m in moves] == [
        ("inactive", "pending"),
        ("pending", "inactive"),
        ("inactive", "pending"),
        ("pending", "inactive"),
    ]
    assert sent == []
    assert current.state == "inactive" and current.fired_at is None


def test_a_gap_in_data_neither_resolves_nor_restarts_for() -> None:
    # The condition held at 0, 60, ... with no data at 120-240: `for` still counts from 0.
    _, moves, sent = run(LATENCY, [250.0, 250.0, None, None, None, 250.0])
    assert moves[-1].to_state == "firing" and moves[-1].at == at(300)
    current, moves, sent = run(INSTANT, [250.0, None, None, None])
    assert current.state == "firing" and [m.to_state for m in moves] == ["firing"]
    assert sent == [(0.0, "firing")]


def test_repeat_interval() -> None:
    fired, _ = step(None, INSTANT, "churn", True, 250.0, T0)
    assert notification_due(fired, T0) == "firing"
    fired = mark_notified(fired, "firing", T0)
    assert notification_due(fired, T0) is None
    assert notification_due(fired, T0 + timedelta(hours=4) - timedelta(seconds=1)) is None
    later = T0 + timedelta(hours=4)
    assert notification_due(fired, later) == "firing"
    fired = mark_notified(fired, "firing", later)
    assert notification_due(fired, later + timedelta(hours=1)) is None
    assert notification_due(fired, later + timedelta(hours=1), repeat_interval_s=HOUR) == "firing"


def test_a_whole_episode_notifies_firing_repeat_and_resolved_once_each() -> None:
    hours = [250.0] * 10 + [150.0] * 3  # evaluated hourly: fires at once (for 0), resolves at 10 h
    current, moves, sent = run(INSTANT, hours, every_s=HOUR)
    repeats = [(0.0, "firing"), (4 * HOUR, "firing"), (8 * HOUR, "firing")]
    assert sent == [*repeats, (10 * HOUR, "resolved")]
    assert [m.to_state for m in moves] == ["firing", "resolved"]
    assert current.state == "resolved" and current.last_notified_status == "resolved"


def restart(alert: AlertInstance) -> AlertInstance:
    """What a restarted server holds: the stored row, read back through JSON."""
    row = json.loads(json.dumps(instance_to_row(alert), default=str))
    for key in ("active_since", "fired_at", "resolved_at", "last_change", "last_notified_at"):
        row[key] = None if row[key] is None else datetime.fromisoformat(row[key])
    return instance_from_row(row)


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_no_duplicate_notification_after_a_restart(status: str) -> None:
    alert, _ = step(None, INSTANT, "churn", True, 250.0, T0)
    alert = mark_notified(alert, "firing", T0)
    if status == "resolved":
        alert, _ = step(alert, INSTANT, "churn", False, 150.0, at(60))
        assert notification_due(alert, at(60)) == "resolved"
        alert = mark_notified(alert, "resolved", at(60))
    for revived in (AlertInstance(**asdict(alert)), restart(alert)):
        assert revived == alert
        assert notification_due(revived, at(120)) is None
        # Evaluating again with the same condition changes nothing and sends nothing.
        again, moves = step(revived, INSTANT, "churn", status == "firing", 250.0, at(180))
        assert moves == [] and notification_due(again, at(180)) is None


def test_resolved_without_an_announced_firing_sends_nothing() -> None:
    # Silenced all along: the caller never marks it notified, so the resolution stays quiet.
    fired, _ = step(None, INSTANT, "churn", True, 250.0, T0)
    resolved, _ = step(fired, INSTANT, "churn", False, 150.0, at(60))
    assert notification_due(resolved, at(60)) is None
    # An earlier episode's announced firing does not count for this one.
    old = replace(fired, last_notified_status="firing", last_notified_at=T0 - timedelta(days=1))
    fired_again, _ = step(replace(old, state="resolved"), INSTANT, "churn", True, 250.0, T0)
    resolved, _ = step(fired_again, INSTANT, "churn", False, 150.0, at(60))
    assert notification_due(fired_again, T0) == "firing"
    assert notification_due(resolved, at(60)) is None


def test_a_new_episode_is_announced_again() -> None:
    current, _, sent = run(INSTANT, [250.0, 150.0, 250.0, 150.0])
    assert sent == [(0.0, "firing"), (60.0, "resolved"), (120.0, "firing"), (180.0, "resolved")]
    assert current.fired_at == at(120) and current.resolved_at == at(180)


def test_firing_announced_when_a_silence_ends() -> None:
    fired, _ = step(None, INSTANT, "churn", True, 250.0, T0)
    mute = Silence("s1", "instant", None, {}, T0, at(600), "ana", "deploy")
    for seconds in (0, 300):
        assert notification_due(fired, at(seconds)) == "firing"
        assert silenced(INSTANT, "churn", [mute], at(seconds)) is mute  # so the caller skips
    assert silenced(INSTANT, "churn", [mute], at(600)) is None
    assert notification_due(fired, at(600)) == "firing"


def test_mark_notified_refuses_the_wrong_status() -> None:
    fired, _ = step(None, INSTANT, "churn", True, 250.0, T0)
    with pytest.raises(ValueError, match="is firing: it cannot be notified as resolved"):
        mark_notified(fired, "resolved", T0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: step(None, LATENCY, "churn", True, 1.0, T0.replace(tzinfo=None)), "aware"),
        (lambda: step(None, LATENCY, "fraud", True, 1.0, T0), "is for model 'churn', not 'fraud'"),
        (lambda: step(None, DISK, "churn", True, 1.0, T0), "is a system rule: call step with mo"),
        (lambda: step(instance("firing"), INSTANT, "churn", True, 1.0, T0), "given for ('instan"),
        (lambda: notification_due(instance("firing"), T0, 0), "must be a positive number, got 0"),
        (lambda: instance_from_row({"state": "on"}), "stored alert state 'on' is not one of"),
    ],
)
def test_misuse_is_refused(call: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert message in str(caught.value)


def test_system_alerts_have_no_model() -> None:
    alert, moves = step(None, DISK, None, DISK.breached(95.0), 95.0, T0)
    assert (alert.state, alert.model, moves[0].model) == ("firing", None, None)
    row = instance_to_row(alert)
    assert row["model"] == ""
    assert instance_from_row(row) == alert


def test_stored_times_come_back_in_utc() -> None:
    row = instance_to_row(instance("firing"))
    plus_two = timezone(timedelta(hours=2))
    row |= {"last_change": T0.astimezone(plus_two), "value": float("nan")}
    back = instance_from_row(row)
    assert back.last_change == T0 and back.last_change.tzinfo is UTC and back.value is None


def test_notification_payload_follows_the_contract() -> None:
    firing = instance("firing", since=0.0)
    payload = notification_payload(LATENCY, firing, "firing", "http://vigil/alerts")
    assert payload == {
        "status": "firing",
        "rule": "high_latency",
        "model": "churn",
        "version": None,
        "severity": "critical",
        "labels": {"team": "risk", "tier": "1"},
        "metric": "latency_p95_ms",
        "value": 250.0,
        "threshold": 200.0,
        "comparison": ">",
        "starts_at": "2026-03-01T12:00:00+00:00",
        "ends_at": None,
        "description": "p95 is high",
        "runbook_url": "https://runbooks.example.com/latency",
        "dashboard_url": "http://vigil/alerts",
    }
    resolved, _ = step(firing, LATENCY, "churn", False, 150.0, at(90))
    payload = notification_payload(LATENCY, resolved, "resolved")
    assert payload["ends_at"] == "2026-03-01T12:01:30+00:00" and payload["value"] == 150.0
    assert json.loads(json.dumps(payload)) == payload


def silence(**fields: Any) -> Silence:
    base = Silence("s1", None, None, {"team": "risk"}, T0, at(3600), "ana", "maintenance")
    return replace(base, **fields)


@pytest.mark.parametrize(
    ("fields", "matches"),
    [
        ({}, True),
        ({"rule": "high_latency"}, True),
        ({"rule": "other"}, False),
        ({"model": "churn"}, True),
        ({"model": "fraud"}, False),
        ({"labels": {"team": "risk", "tier": "1"}}, True),
        ({"labels": {"team": "ops"}}, False),
        ({"labels": {"owner": "risk"}}, False),
        ({"rule": "high_latency", "model": "churn", "labels": {}}, True),
        ({"rule": "high_latency", "model": "fraud", "labels": {}}, False),
    ],
)
def test_silence_matching(fields: dict[str, Any], matches: bool) -> None:
    assert silence(**fields).matches(LATENCY, "churn") is matches


def test_silence_time_window_and_choice() -> None:
    short = silence(id="short", ends_at=at(600))
    long = silence(id="long", starts_at=at(300))
    other = silence(id="other", rule="disk_full", labels={})
    assert not short.active(at(-1)) and short.active(T0) and not short.active(at(600))
    assert silenced(LATENCY, "churn", [short, long, other], at(0)) is short
    assert silenced(LATENCY, "churn", [short, long, other], at(400)) is long  # ends last
    assert silenced(LATENCY, "churn", [short, long, other], at(3600)) is None  # all expired
    assert silenced(DISK, None, [short, long], at(400)) is None  # disk has no team label
    assert silenced(DISK, None, [short, long, other], at(400)) is other
    assert hash(long) != hash(short) and long.labels == {"team": "risk"}


def test_silence_from_row() -> None:
    row = {
        "id": "abc",
        "rule": None,
        "model": "",
        "labels": {"team": "risk"},
        "starts_at": T0.astimezone(timezone(timedelta(hours=-5))),
        "ends_at": at(60),
        "author": "ana",
        "comment": "deploy",
        "created_at": T0,
        "expired_at": None,
    }
    made = silence_from_row(row)
    assert made == Silence("abc", None, None, {"team": "risk"}, T0, at(60), "ana", "deploy")
    assert made.starts_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_at": T0}, "silence 's1': ends_at must be after starts_at"),
        ({"ends_at": at(-60)}, "ends_at must be after starts_at"),
        ({"starts_at": T0.replace(tzinfo=None)}, "starts_at must be a timezone-aware datetime"),
        ({"author": " "}, "silence 's1': author is required (say who silences and why)"),
        ({"comment": ""}, "silence 's1': comment is required"),
        ({"labels": {}}, "give at least one matcher (rule, model or labels)"),
        ({"rule": "nope"}, "silence 's1': unknown rule 'nope'; rules: disk_full, high_latency"),
        ({"model": ""}, "silence 's1': model must be a non-empty string or left out"),
        ({"id": ""}, "silence id must be a non-empty string"),
    ],
)
def test_validate_silence(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_silence(silence(**fields), rules=("high_latency", "disk_full"))
    assert message in str(caught.value)


def test_validate_silence_accepts_a_good_one_and_refuses_a_past_one() -> None:
    validate_silence(silence(rule="high_latency"), at(10), rules=("high_latency",))
    with pytest.raises(ValueError, match="ends_at is already past"):
        validate_silence(silence(), at(3600))


def test_group_key() -> None:
    assert group_key("high_latency", "churn") == "high_latency/churn"
    assert group_key("disk_full", None) == "disk_full"
    assert group_key("r", "team/model").split("/", 1) == ["r", "team/model"]


def test_ready_groups_wait_for_the_oldest_notification() -> None:
    pending = [
        ("a/churn", at(0)),
        ("a/churn", at(25)),  # joined the group while it waited
        ("b/fraud", at(10)),
        ("disk", at(29)),
    ]
    assert ready_groups(pending, at(29), group_wait_s=30) == set()
    assert ready_groups(pending, at(30), group_wait_s=30) == {"a/churn"}
    assert ready_groups(pending, at(40), group_wait_s=30) == {"a/churn", "b/fraud"}
    assert ready_groups(pending, at(59), group_wait_s=30) == {"a/churn", "b/fraud", "disk"}
    assert ready_groups(pending, at(0), group_wait_s=0) == {"a/churn"}
    assert ready_groups([], at(0)) == set()
    with pytest.raises(ValueError, match="group_wait_s must be >= 0"):
        ready_groups(pending, at(0), group_wait_s=-1)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 600.0), (8, 600.0), (10_000, 600.0)],
)
def test_backoff_doubles_then_caps(attempt: int, delay: float) -> None:
    assert next_attempt_delay(attempt) == delay


def test_backoff_arguments() -> None:
    assert next_attempt_delay(3, base_s=1, cap_s=3) == 3.0
    for bad in (0, -1):
        with pytest.raises(ValueError, match="attempt counts from 1"):
            next_attempt_delay(bad)
    with pytest.raises(ValueError, match="need 0 < base_s <= cap_s"):
        next_attempt_delay(1, base_s=60, cap_s=10)
