"""Data and actions for the Reports page: build a report, list schedules and past sends.

A report is built by collectors.report_api.report_bytes, the code the report API and
`vigil report` use, on the pages' long-lived service threads (dashboard.data) with a cursor
taken there. The schedules come from the settings' [reports.<name>] tables, read
defensively (getattr) so the page works with settings that have none.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from collectors.report_api import FORMATS as MIME_TYPES
from collectors.report_api import SUFFIXES, report_bytes
from dashboard import data
from storage import StorageError
from storage.models import get_model
from storage.report_sends import last_send, recent_sends

FORMATS = {"HTML": "html", "PDF": "pdf", "CSV": "csv", "Parquet": "parquet"}
FORMAT_HELP = {
    "html": "one self-contained page with interactive charts, to open in any browser",
    "pdf": "the same report printed by headless Chromium: a title page and numbered pages",
    "csv": "a zip of the report's tables as CSV (headline.csv, performance.csv, drift, "
    "quality, alerts, ...) with summary.txt",
    "parquet": "the range's raw predictions, one row each, features and labels included "
    "(features marked PII only when an admin asks)",
}
PAPERS = {"A4": "a4", "Letter": "letter"}
DEFAULT_DAYS = 7
SENT_LIMIT = 50
GENERATED_BY = "the Vigil dashboard"
BUILT = "reports_built"  # session state: (what was built, its bytes)
# What a build can fail with besides a missing Chromium; the message says what is wrong.
BUILD_ERRORS = (LookupError, ValueError, StorageError)
SCHEDULE_COLUMNS = [
    "name",
    "model",
    "version",
    "when",
    "timezone",
    "period",
    "channel",
    "recipients",
    "paper",
    "last sent",
]
SENT_COLUMNS = [
    "sent_at",
    "schedule",
    "model",
    "version",
    "range",
    "recipients",
    "status",
    "error",
]
TOML_EXAMPLE = """[reports.weekly]
model = "credit-risk"
channel = "ops-email"          # an email channel of [channels]
schedule = "mon 08:00"         # daily | weekdays | mon,thu ... and a 24 h time
timezone = "Europe/Paris"
period_days = 7                # the report covers the days before the send
recipients = ["risk@example.com"]  # default: the channel's recipients
paper = "a4"                   # PDF paper: a4 or letter
"""


def utc_day(value: datetime) -> date:
    """The UTC calendar day of a stored time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).date()


def default_days(summary: dict[str, Any], today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_DAYS UTC days ending on the model's last prediction (today without
    predictions); never starting before its first prediction."""
    last_seen, first_seen = summary.get("last_seen"), summary.get("first_seen")
    if not isinstance(last_seen, datetime):
        last = today or datetime.now(UTC).date()
        return last - timedelta(days=DEFAULT_DAYS - 1), last
    last = utc_day(last_seen)
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    if isinstance(first_seen, datetime):
        first = max(first, utc_day(first_seen))
    return first, last


def day_range(days: object) -> tuple[datetime, datetime] | None:
    """[first day 00:00 UTC, the day after the last day 00:00 UTC) of a date-range pick;
    None while only one day is picked."""
    if not isinstance(days, tuple | list) or len(days) != 2:
        return None
    first, last = days
    if not isinstance(first, date) or not isinstance(last, date):
        return None
    first, last = min(first, last), max(first, last)
    return (
        datetime.combine(first, time(), UTC),
        datetime.combine(last + timedelta(days=1), time(), UTC),
    )


def file_name(name: str, start: datetime, end: datetime, data_format: str) -> str:
    """<model>-report-<start>-<end>.<ext>, days in UTC as the report API names them (the
    end is exclusive: the day after the last day)."""
    first, after = start.astimezone(UTC), end.astimezone(UTC)
    return f"{name}-report-{first:%Y%m%d}-{after:%Y%m%d}.{SUFFIXES[data_format]}"


def mime_type(data_format: str) -> str:
    """The download's media type."""
    return MIME_TYPES[data_format]


def _build(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    data_format: str,
    paper: str,
    hidden: Collection[str] | None,
) -> bytes:
    # Runs on a service thread: Store.cursor() is that thread's own, kept for the store's life.
    runtime = data.runtime()
    con = runtime.store.cursor()
    model = get_model(con, name)
    if model is None:
        raise LookupError(f"model {name!r} is not registered")
    return report_bytes(
        con,
        runtime.settings,
        model,
        start,
        end,
        version,
        data_format,
        GENERATED_BY,
        paper,
        hidden,
    )


def build(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    data_format: str,
    paper: str = "a4",
    hidden: Collection[str] | None = None,
) -> bytes:
    """The report of [start, end) in one format; PdfUnavailable when PDF has no Chromium.

    hidden: PII features masked in the report or left out of a Parquet export (None: every
    one the model marks PII).
    """
    if data_format not in FORMATS.values():
        raise ValueError(f"format {data_format!r}: use html, pdf, csv or parquet")
    if paper not in PAPERS.values():
        raise ValueError(f"paper {paper!r}: use a4 or letter")
    if end <= start:
        raise ValueError("the range is empty: pick a last day on or after the first")
    return data.on_service_thread(_build, name, start, end, version, data_format, paper, hidden)


def configured() -> dict[str, Any]:
    """The settings' scheduled reports, name -> schedule ({} when there are none)."""
    found = getattr(data.runtime().settings, "reports", None)
    return dict(found) if isinstance(found, dict) else {}


def _recipients(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _period(days: object) -> str | None:
    try:
        number = float(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f"{number:g} day" + ("" if number == 1 else "s")


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _last_sends(store: str, names: tuple[str, ...]) -> dict[str, datetime | None]:
    with data.connection() as con:
        return {name: last_send(con, name) for name in names}


def schedules() -> pd.DataFrame:
    """One row per scheduled report: what, when, to whom, and its last successful send."""
    found = configured()
    last = _last_sends(data.store_key(), tuple(found)) if found else {}
    rows = []
    for key, schedule in found.items():
        name = str(getattr(schedule, "name", key) or key)
        version = getattr(schedule, "version", None)
        rows.append(
            {
                "name": name,
                "model": getattr(schedule, "model", None),
                "version": "all" if version is None else str(version),
                "when": getattr(schedule, "schedule", None),
                "timezone": getattr(schedule, "timezone", "UTC"),
                "period": _period(getattr(schedule, "period_days", None)),
                "channel": getattr(schedule, "channel", None),
                "recipients": _recipients(getattr(schedule, "recipients", ())),
                "paper": getattr(schedule, "paper", None),
                "last sent": last.get(str(key)),
            }
        )
    frame = pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)
    frame["last sent"] = pd.to_datetime(frame["last sent"], utc=True)
    return frame


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _sends(store: str, limit: int) -> pd.DataFrame:
    with data.connection() as con:
        return recent_sends(con, limit)


def _span(start: Any, end: Any) -> str:
    if pd.isna(start) or pd.isna(end):
        return ""
    first, after = pd.Timestamp(start).tz_convert(UTC), pd.Timestamp(end).tz_convert(UTC)
    return f"{first:%Y-%m-%d %H:%M} → {after:%Y-%m-%d %H:%M} UTC"


def sends(limit: int = SENT_LIMIT) -> pd.DataFrame:
    """The newest scheduled sends first: when, which schedule, range, recipients, outcome."""
    raw = _sends(data.store_key(), limit)
    frame = pd.DataFrame(
        {
            "sent_at": pd.to_datetime(raw["sent_at"], utc=True),
            "schedule": raw["schedule"],
            "model": raw["model"],
            "version": raw["version"].fillna("all"),
            "range": [
                _span(s, e) for s, e in zip(raw["range_start"], raw["range_end"], strict=True)
            ],
            "recipients": raw["recipients"],
            "status": raw["status"],
            "error": raw["error"],
        },
        columns=SENT_COLUMNS,
    )
    return frame.reset_index(drop=True)
