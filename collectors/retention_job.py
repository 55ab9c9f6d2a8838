"""The retention job: per model, delete predictions, labels and explanations older than
their configured number of days ([models.<m>.retention]), and expired sign-in sessions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from collectors.access import SYSTEM, AccessService
from storage.models import list_models
from storage.retention import Deleted, apply_retention

log = logging.getLogger(__name__)


class RetentionJob:
    """Enforces retention; call it from the scheduler."""

    def __init__(self, access: AccessService) -> None:
        self.access = access

    def __call__(self) -> None:
        self.run_once()

    def run_once(self, now: datetime | None = None) -> dict[str, Deleted]:
        """Delete what is older than each model's limits; the counts per model."""
        now = now or datetime.now(UTC)
        settings = self.access.settings
        done: dict[str, Deleted] = {}
        for model in list_models(self.access.store.cursor()):
            keep = settings.model(model.name).retention
            if not keep.any:
                continue
            deleted = self.access.writer.run(
                lambda con, m=model, k=keep: apply_retention(
                    con, m, now, k.predictions_days, k.labels_days, k.explanations_days
                )
            )
            done[model.name] = deleted
            if any(deleted.as_dict().values()):
                limits = {
                    "predictions_days": keep.predictions_days,
                    "labels_days": keep.labels_days,
                    "explanations_days": keep.explanations_days,
                }
                detail = {"deleted": deleted.as_dict(), "limits": limits}
                self.access.audit(SYSTEM, "retention", model.name, detail, "retention job")
                log.info("retention: %s deleted %s", model.name, deleted.as_dict())
        self.access.purge_sessions()
        return done
