"""The Alerts page's silence form: labels and end time from its fields, creating and
expiring silences (validated by monitoring.alert_lifecycle.validate_silence)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from dashboard import alert_data
from monitoring.alert_lifecycle import Silence, validate_silence
from storage import alerts as store_alerts

SILENCE_DURATIONS = {
    "1 h": timedelta(hours=1),
    "4 h": timedelta(hours=4),
    "1 day": timedelta(days=1),
    "7 days": timedelta(days=7),
}
CUSTOM_END = "Custom end"


def silence_end(
    choice: str, end_date: date | None, end_time: time | None, at: datetime
) -> datetime:
    """When a silence chosen in the form ends: a duration from `at`, or the custom end (UTC)."""
    if choice in SILENCE_DURATIONS:
        return at + SILENCE_DURATIONS[choice]
    if choice != CUSTOM_END:
        raise ValueError(f"duration: {choice!r} is not one of {', '.join(SILENCE_DURATIONS)}")
    if end_date is None or end_time is None:
        raise ValueError("custom end: pick a date and a time (UTC)")
    return datetime.combine(end_date, end_time, tzinfo=UTC)


def create_silence(
    rule: str | None,
    model: str | None,
    labels: Mapping[str, str],
    ends_at: datetime,
    author: str,
    comment: str,
) -> str:
    """Validate and store a silence starting now; returns its id (ValueError names a field)."""
    at = alert_data.now()
    silence = Silence("new", rule, model, labels, at, ends_at, author.strip(), comment.strip())
    try:
        validate_silence(silence, at, rules=set(alert_data.rules()))
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("silence 'new': ")) from None
    row = {
        "rule": rule,
        "model": model,
        "labels": dict(labels),
        "starts_at": at,
        "ends_at": ends_at,
        "author": silence.author,
        "comment": silence.comment,
        "created_at": at,
    }
    silence_id = alert_data.service().ingest.writer.run(
        lambda con: store_alerts.add_silence(con, row)
    )
    alert_data.clear()
    return silence_id


def expire_silence(silence_id: str) -> bool:
    """End a silence now; False when it was already over."""
    at = alert_data.now()
    done = alert_data.service().ingest.writer.run(
        lambda con: store_alerts.expire_silence(con, silence_id, at)
    )
    alert_data.clear()
    return done
