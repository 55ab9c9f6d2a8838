"""Scheduled reports: the [reports.<name>] tables of the config file.

```toml
[reports.weekly_credit]
model = "credit-risk"
channel = "ops-email"            # an email channel of [channels]
schedule = "mon 08:00"           # daily | weekdays | mon,thu ... and a 24 h time
timezone = "Europe/Paris"        # the schedule's time zone (default UTC)
period_days = 7                  # the report covers the days before the send
recipients = ["risk@example.com"]  # default: the channel's recipients
version = "2"                    # default: every version
paper = "a4"                     # or "letter"
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitoring.email_notifier import EmailChannel

REPORT_KEYS = (
    "model",
    "channel",
    "schedule",
    "timezone",
    "period_days",
    "recipients",
    "version",
    "paper",
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SCHEDULE = re.compile(r"^\s*(\S+)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$")
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


class ReportSettingsError(ValueError):
    """A wrong [reports.<name>] table; the message names the key and what is allowed."""


@dataclass(frozen=True)
class ReportSchedule:
    """One scheduled report."""

    name: str
    model: str
    channel: str
    schedule: str
    day_of_week: str  # APScheduler cron field: "*", "mon-fri" or "mon,thu"
    hour: int
    minute: int
    timezone: str = "UTC"
    period_days: float = 7.0
    recipients: tuple[str, ...] = ()
    version: str | None = None
    paper: str = "a4"

    def describe(self) -> str:
        """When it runs, for people: e.g. 'mon 08:00 Europe/Paris, the last 7 days'."""
        return f"{self.schedule} {self.timezone}, the last {self.period_days:g} days"

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_schedule(text: object, where: str) -> tuple[str, int, int]:
    """(day_of_week, hour, minute) from 'daily 08:00', 'weekdays 07:30' or 'mon,thu 09:00'."""
    match = _SCHEDULE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ReportSettingsError(
            f'{where} schedule {text!r}: write the days and a 24 h time, e.g. "mon 08:00", '
            '"daily 07:30", "weekdays 09:00" or "mon,thu 18:00"'
        )
    days, hour, minute = match.group(1).lower(), int(match.group(2)), int(match.group(3))
    if days == "daily":
        return "*", hour, minute
    if days == "weekdays":
        return "mon-fri", hour, minute
    names = days.split(",")
    unknown = [d for d in names if d not in DAYS]
    if unknown:
        raise ReportSettingsError(
            f"{where} schedule {text!r}: unknown day {unknown[0]!r}; use daily, weekdays or "
            f"{', '.join(DAYS)}"
        )
    return ",".join(dict.fromkeys(names)), hour, minute


def _text(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ReportSettingsError(f"{where} {key} must be a non-empty string, got {value!r}")
    return value


def parse_report(
    name: str, table: object, channels: Mapping[str, object], where: str
) -> ReportSchedule:
    """One [reports.<name>] table, checked against the configured channels."""
    if not isinstance(table, dict):
        raise ReportSettingsError(f"{where} must be a table")
    unknown = sorted(set(table) - set(REPORT_KEYS))
    if unknown:
        raise ReportSettingsError(
            f"unknown key {unknown[0]!r} in {where}; known: {', '.join(REPORT_KEYS)}"
        )
    channel = _text(table, "channel", where)
    found = channels.get(channel)
    if not isinstance(found, EmailChannel):
        emails = sorted(n for n, c in channels.items() if isinstance(c, EmailChannel))
        raise ReportSettingsError(
            f"{where} channel {channel!r} is not an email channel of [channels]; "
            f"email channels: {', '.join(emails) or 'none (add a [channels.<name>] type = email)'}"
        )
    day_of_week, hour, minute = parse_schedule(table.get("schedule"), where)
    zone = _text(table, "timezone", where, "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportSettingsError(
            f"{where} timezone {zone!r} is unknown: use an IANA name such as Europe/Paris"
        ) from None
    period = table.get("period_days", 7)
    if isinstance(period, bool) or not isinstance(period, int | float) or not 0 < period <= 366:
        raise ReportSettingsError(
            f"{where} period_days must be a number of days 1-366, got {period!r}"
        )
    recipients = table.get("recipients", list(found.recipients))
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and _ADDRESS.fullmatch(r) for r in recipients)
    ):
        raise ReportSettingsError(
            f"{where} recipients must be a list of addresses like risk@example.com, "
            f"got {recipients!r}"
        )
    paper = table.get("paper", "a4")
    if paper not in ("a4", "letter"):
        raise ReportSettingsError(f"{where} paper must be a4 or letter, got {paper!r}")
    version = table.get("version")
    return ReportSchedule(
        name=name,
        model=_text(table, "model", where),
        channel=channel,
        schedule=str(table["schedule"]).strip(),
        day_of_week=day_of_week,
        hour=hour,
        minute=minute,
        timezone=zone,
        period_days=float(period),
        recipients=tuple(recipients),
        version=None if version is None else str(version),
        paper=str(paper),
    )


def parse_reports(
    tables: object, channels: Mapping[str, object], config: object
) -> dict[str, ReportSchedule]:
    """Every [reports.<name>] table of the config file."""
    if not isinstance(tables, dict):
        raise ReportSettingsError(
            f"[reports] in {config} must hold tables such as [reports.weekly]"
        )
    return {
        name: parse_report(name, table, channels, f"{config} [reports.{name}]")
        for name, table in tables.items()
    }
