"""The background jobs of the server, run by APScheduler 3 in its own threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from collectors.alerting import Alerting
from collectors.drift_job import DriftJob
from collectors.explain_job import ExplainJob
from collectors.ingest import IngestService
from collectors.settings import Settings
from collectors.spool import SpoolWatcher
from collectors.system import SystemSample, SystemSampler
from storage import WriteQueueFullError
from storage.system import apply_retention, rollup, write_samples

log = logging.getLogger(__name__)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
DELIVERY_INTERVAL_S = 5.0  # how often queued alert notifications are looked at


class SystemJob:
    """Samples the host and queues the sample for the writer; keeps the latest for /metrics."""

    def __init__(self, sampler: SystemSampler, ingest: IngestService) -> None:
        self.sampler = sampler
        self.ingest = ingest
        self.latest: SystemSample | None = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        sample = self.sampler.sample()
        with self._lock:
            self.latest = sample
        row, gpus = sample.to_row(), sample.gpu_rows()
        try:
            self.ingest.writer.submit(lambda con: write_samples(con, [row], gpus))
        except WriteQueueFullError:
            log.warning("system sample at %s dropped: the write queue is full", sample.ts)

    def publish(self) -> None:
        """Copy the latest sample into the Prometheus gauges."""
        with self._lock:
            sample = self.latest
        if sample is None:
            return
        gauges = self.ingest.metrics
        for key, value in sample.to_row().items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                gauges.system.labels(sample.host, key).set(value)
        for gpu in sample.gpu_rows():
            for key in (
                "util_percent",
                "mem_used_bytes",
                "mem_total_bytes",
                "temperature_c",
                "power_w",
            ):
                value = gpu.get(key)
                if isinstance(value, int | float):
                    gauges.gpu.labels(sample.host, str(gpu["gpu_index"]), key).set(value)


def maintenance(ingest: IngestService, settings: Settings) -> Callable[[], None]:
    """Roll complete minutes up and drop data past its retention."""

    def run() -> None:
        now = datetime.now(UTC)
        ingest.writer.run(
            lambda con: (
                rollup(con, now),
                apply_retention(
                    con, now, settings.raw_retention_days, settings.rollup_retention_days
                ),
            )
        )

    return run


def build_scheduler(
    settings: Settings,
    ingest: IngestService,
    system_job: SystemJob,
    spool: SpoolWatcher,
    alerting: Alerting | None = None,
    drift: DriftJob | None = None,
    explain: ExplainJob | None = None,
) -> BackgroundScheduler:
    """A scheduler with every job added (not started)."""
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    scheduler.add_job(
        system_job,
        "interval",
        seconds=settings.sample_interval_s,
        id="system",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        spool.run_once,
        "interval",
        seconds=settings.spool_interval_s,
        id="spool",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        maintenance(ingest, settings),
        "interval",
        seconds=60,
        id="maintenance",
        replace_existing=True,
    )
    if alerting is not None:
        scheduler.add_job(
            _logged(alerting.evaluate, "alert evaluation"),
            "interval",
            seconds=settings.alerting.evaluation_interval_s,
            id="alerts-evaluate",
            replace_existing=True,
        )
        scheduler.add_job(
            _logged(alerting.deliver, "alert delivery"),
            "interval",
            seconds=DELIVERY_INTERVAL_S,
            id="alerts-deliver",
            replace_existing=True,
        )
    if drift is not None:
        scheduler.add_job(
            _logged(drift.run_once, "drift job"),
            "interval",
            seconds=settings.drift_interval_s,
            id="drift",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
    if explain is not None:
        scheduler.add_job(
            _logged(explain.run_once, "explanation job"),
            "interval",
            seconds=settings.explain_interval_s,
            id="explain",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
    return scheduler


def _logged(job: Callable[[], object], what: str) -> Callable[[], None]:
    """A job whose failure is logged and retried at its next run, not lost in the scheduler."""

    def run() -> None:
        try:
            job()
        except WriteQueueFullError:
            log.warning("%s skipped: the write queue is full; it runs again shortly", what)
        except Exception:
            log.exception("%s failed; it runs again at its next interval", what)

    return run
