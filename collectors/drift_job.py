"""The drift job: drift and data quality of every closed hourly and daily window, stored.

A window is (re)computed when it has no stored result, when its reference changed, or when
its row or label count moved since (late predictions, late labels). Newest windows go first
and one run stops after its time budget, so a first start on a long history fills in over a
few runs without holding the writer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd

from collectors.drift_service import DriftService
from monitoring.windows import window_floor
from storage import ModelInfo
from storage.drift_store import (
    ALL_VERSIONS,
    save_window,
    stored_windows,
    window_counts,
    window_frame,
)
from storage.models import list_models
from storage.references import ReferenceInfo, active_reference
from storage.time_windows import WINDOW_WIDTHS

log = logging.getLogger(__name__)
GRANULARITIES = ("1h", "1d")
BUDGET_S = 20.0


@dataclass(frozen=True)
class PendingWindow:
    """A closed window whose stored result is missing or out of date."""

    model: ModelInfo
    version: str
    granularity: str
    start: datetime
    rows: int
    labelled: int
    reference: ReferenceInfo


class DriftJob:
    """Computes and stores per-window drift; call it from the scheduler."""

    def __init__(
        self,
        service: DriftService,
        granularities: Sequence[str] = GRANULARITIES,
        budget_s: float = BUDGET_S,
    ) -> None:
        self.service = service
        self.granularities = tuple(granularities)
        self.budget_s = budget_s

    def __call__(self) -> None:
        self.run_once()

    def pending(self, now: datetime | None = None) -> list[PendingWindow]:
        """Every window to compute, newest first."""
        now = now or datetime.now(UTC)
        con = self.service.ingest.store.cursor()
        lookback = timedelta(days=self.service.settings.drift_lookback_days)
        found: list[PendingWindow] = []
        for model in list_models(con):
            if not model.features:
                continue
            for granularity in self.granularities:
                found += self._model_pending(con, model, granularity, now - lookback, now)
        found.sort(key=lambda w: (w.start, w.granularity == "1h"), reverse=True)
        return found

    def _model_pending(
        self,
        con: duckdb.DuckDBPyConnection,
        model: ModelInfo,
        granularity: str,
        since: datetime,
        now: datetime,
    ) -> list[PendingWindow]:
        width = WINDOW_WIDTHS[granularity]
        since = window_floor(since, granularity)
        closed_before = window_floor(now, granularity)  # the open window is not judged yet
        if closed_before <= since:
            return []
        counts = window_counts(con, model, granularity, since, closed_before)
        if counts.empty:
            return []
        stored = stored_windows(con, model, granularity, since)
        references: dict[str, ReferenceInfo | None] = {}
        # A version gets rows of its own where the window holds several versions, or where
        # it has a reference of its own; otherwise the every-version row says it all.
        versions_per_window = (
            counts[counts["version"] != ALL_VERSIONS].groupby("window_start").size()
        )
        out = []
        shared = references[ALL_VERSIONS] = active_reference(con, model, None)
        for row in counts.itertuples(index=False):
            start = _as_datetime(row.window_start)
            if start + width > closed_before:
                continue
            if row.version not in references:
                references[row.version] = active_reference(con, model, str(row.version))
            reference = references[row.version]
            if reference is None:
                continue
            alone = versions_per_window.get(row.window_start, 0) < 2
            if row.version != ALL_VERSIONS and alone and _same(reference, shared):
                continue
            fingerprint = (reference.id, int(row.rows), int(row.labelled))
            if stored.get((str(row.version), start)) == fingerprint:
                continue
            out.append(
                PendingWindow(
                    model,
                    str(row.version),
                    granularity,
                    start,
                    int(row.rows),
                    int(row.labelled),
                    reference,
                )
            )
        return out

    def run_once(self, now: datetime | None = None) -> int:
        """Compute pending windows until the budget is spent; the number computed."""
        started = time.monotonic()
        done = 0
        for window in self.pending(now):
            self.compute(window)
            done += 1
            if time.monotonic() - started > self.budget_s:
                break
        if done:
            log.info("drift: %d window(s) computed in %.1f s", done, time.monotonic() - started)
        return done

    def compute(self, window: PendingWindow) -> None:
        """Compute one window and store it (replacing what was stored)."""
        con = self.service.ingest.store.cursor()
        model = window.model
        end = window.start + WINDOW_WIDTHS[window.granularity]
        version = None if window.version == ALL_VERSIONS else window.version
        current = window_frame(
            con, model, window.start, end, version, max_rows=self.service.settings.drift_max_rows
        )
        result = self.service.compute(con, model, current, window.reference)
        summary = {**result.summary(), "rows": window.rows, "labelled": window.labelled}
        drift_rows, quality_rows = result.drift_rows(), result.quality
        self.service.ingest.writer.run(
            lambda w: save_window(
                w,
                model,
                window.version,
                window.granularity,
                window.start,
                end,
                window.reference.id,
                summary,
                drift_rows,
                quality_rows,
            )
        )


def _same(one: ReferenceInfo | None, other: ReferenceInfo | None) -> bool:
    return one is not None and other is not None and one.id == other.id


def _as_datetime(value: object) -> datetime:
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    return stamp.to_pydatetime()
