"""Scheduled reports: build the report of the last `period_days`, email it (the HTML inline,
the PDF attached) through the configured email channel, and log the send."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from collectors.ingest import IngestService
from collectors.report_data import gather
from collectors.report_pdf import PdfUnavailable, html_to_pdf
from collectors.report_settings import ReportSchedule
from collectors.settings import Settings
from monitoring.email_notifier import EmailChannel
from monitoring.notifiers import DeliveryError
from monitoring.report import render_html, summary_paragraph
from storage.report_sends import record_send

log = logging.getLogger(__name__)


class ReportSender:
    """Sends one schedule's report now; the scheduler calls it at the schedule's times."""

    def __init__(
        self,
        ingest: IngestService,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ingest = ingest
        self.settings = settings
        self.clock = clock

    def channel(self, schedule: ReportSchedule) -> EmailChannel:
        found = self.settings.alerting.channels.get(schedule.channel)
        if not isinstance(found, EmailChannel):
            raise DeliveryError(
                f"report {schedule.name!r}: {schedule.channel!r} is not an email channel"
            )
        return found

    def message(
        self, schedule: ReportSchedule, channel: EmailChannel, now: datetime
    ) -> tuple[EmailMessage, datetime, datetime, int, int]:
        """The email, the range it covers, and the sizes of its HTML and PDF."""
        end = now.replace(second=0, microsecond=0)
        start = end - timedelta(days=schedule.period_days)
        model = self.ingest.model(schedule.model)
        con = self.ingest.store.cursor()
        data = gather(
            con, self.settings, model, start, end, schedule.version, f"schedule {schedule.name}"
        )
        html = render_html(data)
        scope = f" version {schedule.version}" if schedule.version else ""
        msg = EmailMessage()
        msg["Subject"] = f"Vigil report: {model.name}{scope}, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        msg["From"] = channel.sender
        msg["To"] = ", ".join(schedule.recipients)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2])
        msg["Auto-Submitted"] = "auto-generated"
        # A first line that starts with "From " would reach readers as ">From " (mbox quoting).
        text = f"{msg['Subject']}\n\n{summary_paragraph(data)}"
        pdf = b""
        try:
            pdf = html_to_pdf(html, schedule.paper)
        except PdfUnavailable as exc:
            log.error("report %r: sending without the PDF: %s", schedule.name, exc)
            text += f"\n\n(The PDF could not be made: {exc})"
        msg.set_content(text + f"\n\nSchedule {schedule.name}: {schedule.describe()}.\n")
        msg.add_alternative(html, subtype="html")
        if pdf:
            msg.add_attachment(
                pdf,
                maintype="application",
                subtype="pdf",
                filename=f"{model.name}-report-{start:%Y%m%d}-{end:%Y%m%d}.pdf",
            )
        return msg, start, end, len(html.encode("utf-8")), len(pdf)

    def send(self, schedule: ReportSchedule) -> bool:
        """Build and send the report, log the outcome; whether it was delivered."""
        now = self.clock()
        row: dict[str, object] = {
            "schedule": schedule.name,
            "model": schedule.model,
            "version": schedule.version,
            "range_start": now - timedelta(days=schedule.period_days),
            "range_end": now,
            "channel": schedule.channel,
        }
        try:
            channel = self.channel(schedule)
            msg, start, end, html_size, pdf_size = self.message(schedule, channel, now)
            row.update(range_start=start, range_end=end, html_bytes=html_size, pdf_bytes=pdf_size)
            channel.deliver(msg, schedule.recipients)
        except Exception as exc:
            log.error("report %r not sent: %s", schedule.name, exc)
            row.update(status="failed", error=str(exc)[:2000])
            self._log(row, schedule)
            return False
        log.info("report %r sent to %d recipient(s)", schedule.name, len(schedule.recipients))
        row.update(status="sent")
        self._log(row, schedule)
        return True

    def _log(self, row: dict[str, object], schedule: ReportSchedule) -> None:
        self.ingest.writer.run(lambda con: record_send(con, row, schedule.recipients))


def add_report_jobs(scheduler: BaseScheduler, sender: ReportSender) -> None:
    """One cron job per schedule, in the schedule's time zone."""
    for schedule in sender.settings.reports.values():
        scheduler.add_job(
            sender.send,
            trigger(schedule),
            args=[schedule],
            id=f"report-{schedule.name}",
            replace_existing=True,
            misfire_grace_time=3600,  # a server down at 08:00 still sends when back within the hour
        )


def trigger(schedule: ReportSchedule) -> CronTrigger:
    """The schedule's cron trigger: its days, hour and minute in its time zone."""
    return CronTrigger(
        day_of_week=schedule.day_of_week,
        hour=schedule.hour,
        minute=schedule.minute,
        timezone=schedule.zone(),
    )
