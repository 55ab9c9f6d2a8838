"""Scheduled reports: the [reports.<name>] tables, their cron triggers, and a send to a real
SMTP server (aiosmtpd) with the HTML inline and the PDF attached; every send is logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from collectors.ingest import IngestService
from collectors.report_schedule import ReportSender, trigger
from collectors.report_settings import parse_schedule
from collectors.settings import SettingsError, load_settings
from storage.report_sends import recent_sends
from tests.collectors.test_report_data import T0, _load
from tests.monitoring.test_email_notifier import Recorder, free_port
from tests.pdf_pages import blank, pdf_pages


def _config(tmp_path: Path, port: int, report: str) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(
        f'[channels.ops]\ntype = "email"\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\nsender = "vigil@example.com"\nrecipients = ["ops@example.com"]\n\n'
        f"[reports.weekly]\n{report}",
        encoding="utf-8",
    )
    return path


WEEKLY = (
    'model = "credit"\nchannel = "ops"\nschedule = "mon 08:00"\ntimezone = "Europe/Paris"\n'
    'period_days = 4\nrecipients = ["risk@example.com", "owner@example.com"]\n'
)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Recorder]]:
    recorder, port = Recorder(), free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, recorder
    controller.stop()


def test_a_schedule_is_read_and_fires_mondays_at_eight_in_paris(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, 2525, WEEKLY), env={})
    schedule = settings.reports["weekly"]
    assert schedule.recipients == ("risk@example.com", "owner@example.com")
    assert schedule.describe() == "mon 08:00 Europe/Paris, the last 4 days"
    wednesday = datetime(2026, 11, 25, 12, tzinfo=UTC)
    fire = trigger(schedule).get_next_fire_time(None, wednesday)
    assert fire is not None and fire.astimezone(UTC) == datetime(2026, 11, 30, 7, tzinfo=UTC)
    summer = datetime(2026, 7, 1, tzinfo=UTC)  # Paris is UTC+2 in summer
    fire = trigger(schedule).get_next_fire_time(None, summer)
    assert fire is not None and fire.astimezone(UTC) == datetime(2026, 7, 6, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (WEEKLY.replace("mon 08:00", "monday 8am"), "write the days and a 24 h time"),
        (WEEKLY.replace("mon 08:00", "funday 08:00"), "unknown day 'funday'"),
        (WEEKLY.replace('"ops"', '"pager"'), "'pager' is not an email channel"),
        (WEEKLY.replace("Europe/Paris", "Mars/Olympus"), "timezone 'Mars/Olympus' is unknown"),
        (WEEKLY.replace("period_days = 4", "period_days = 0"), "period_days must be"),
        (WEEKLY + 'paper = "a3"\n', "paper must be a4 or letter"),
        (WEEKLY + "cc = []\n", "unknown key 'cc'"),
        (WEEKLY.replace('"risk@example.com", ', '"risk", '), "recipients must be a list"),
    ],
)
def test_bad_schedules_stop_the_server_with_the_reason(
    tmp_path: Path, report: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_config(tmp_path, 2525, report), env={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daily 07:30", ("*", 7, 30)),
        ("weekdays 9:05", ("mon-fri", 9, 5)),
        ("mon,thu 18:00", ("mon,thu", 18, 0)),
        ("sun 00:00", ("sun", 0, 0)),
    ],
)
def test_schedule_texts(text: str, expected: tuple[str, int, int]) -> None:
    assert parse_schedule(text, "w") == expected
    with pytest.raises(ValueError, match="24 h time"):
        parse_schedule(text.replace(":", "h"), "w")


def test_the_report_arrives_with_the_pdf_attached(
    ingest: IngestService, tmp_path: Path, smtp: tuple[int, Recorder]
) -> None:
    port, recorder = smtp
    _load(ingest)
    settings = load_settings(_config(tmp_path, port, WEEKLY), env={})
    sender = ReportSender(ingest, settings, clock=lambda: T0 + timedelta(days=4, seconds=42))
    assert sender.send(settings.reports["weekly"]) is True
    assert len(recorder.messages) == 1
    msg = recorder.messages[0]
    assert msg["Subject"] == "Vigil report: credit, 2026-03-02 to 2026-03-06"
    assert recorder.envelopes[0][1] == ["risk@example.com", "owner@example.com"]
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None
    body = text.get_content()
    assert body.startswith("Vigil report: credit, 2026-03-02 to 2026-03-06")
    assert "model credit served 800 predictions" in body  # the range ends at the minute
    assert html is not None and "<!DOCTYPE html>" in html.get_content()
    attachments = list(msg.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    pdf = attachments[0].get_content()
    pages = pdf_pages(pdf, tmp_path / "pdf", dpi=20)
    assert len(pages) >= 2
    assert not any(blank(page) for page in pages)
    log = recent_sends(ingest.store.cursor())
    assert log["status"].tolist() == ["sent"]
    assert log["recipients"].iloc[0] == "risk@example.com, owner@example.com"
    assert log["pdf_bytes"].iloc[0] == len(pdf)


def test_a_failed_send_is_logged_with_the_reason(ingest: IngestService, tmp_path: Path) -> None:
    _load(ingest)
    settings = load_settings(_config(tmp_path, free_port(), WEEKLY), env={})
    sender = ReportSender(ingest, settings, clock=lambda: T0 + timedelta(days=4))
    assert sender.send(settings.reports["weekly"]) is False
    log = recent_sends(ingest.store.cursor())
    assert log["status"].tolist() == ["failed"]
    assert "127.0.0.1" in log["error"].iloc[0]
