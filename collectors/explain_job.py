"""The explanation job: SHAP values for a sample of recent predictions, stored.

Each run takes, per model version with an artifact, the predictions of the last
`explain_lookback_days` that fall in the sample (a stable `explain_rate` share chosen by a
hash of the event_id, so every window gets the same share) and are not explained yet, at
most `explain_cap` of them, newest first. A busy model therefore catches up over a few runs.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from collectors.explain_service import ExplainService
from storage.artifacts import list_artifacts
from storage.explanations import unexplained
from storage.models import list_models

log = logging.getLogger(__name__)


class ExplainJob:
    """Explains sampled recent predictions; call it from the scheduler."""

    def __init__(self, service: ExplainService) -> None:
        self.service = service

    def __call__(self) -> None:
        self.run_once()

    def run_once(self, now: datetime | None = None) -> int:
        """Explain and store this run's sample; the number of predictions explained."""
        settings = self.service.settings
        now = now or datetime.now(UTC)
        since = now - timedelta(days=settings.explain_lookback_days)
        con = self.service.ingest.store.cursor()
        started = time.monotonic()
        done = 0
        for model in list_models(con):
            for artifact in list_artifacts(con, model):
                rows = unexplained(
                    con,
                    model,
                    since,
                    now,
                    version=artifact.version,
                    sample_share=settings.explain_rate,
                    limit=settings.explain_cap,
                )
                if not rows.empty:
                    done += self.service.explain_rows(model, rows)
                # The baseline ranking for attribution drift (alerts read it from storage).
                self.service.reference_importance(model.name, artifact.version)
        if done:
            log.info(
                "explain: %d prediction(s) explained in %.1f s", done, time.monotonic() - started
            )
        return done
