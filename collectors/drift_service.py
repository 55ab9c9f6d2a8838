"""Drift and data quality for a model: its reference, on-demand ranges and stored windows.

The API, the dashboard pages, the background job and the alert rules all come through here,
so they share one cache of reference frames and one way of choosing a reference.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from collectors.ingest import IngestService
from collectors.reference_input import ReferenceInvalid, read_file, reference_table
from collectors.settings import Settings
from monitoring.drift.evidently_report import evidently_html
from monitoring.drift.window import DriftSpec, WindowDrift, window_drift
from storage import ModelInfo
from storage.drift_store import window_frame
from storage.performance import range_summary
from storage.references import (
    PREDICTION_COLUMN,
    TARGET_COLUMN,
    ReferenceInfo,
    active_reference,
    create_reference,
    reference_frame,
    reference_from_range,
)

CACHED_REFERENCES = 4  # frames kept in memory: a 1M-row, 20-feature reference is ~160 MB


class NoReference(LookupError):
    """The model has no reference yet; the message says how to give it one."""


@dataclass(frozen=True)
class RangeDrift:
    """Drift of one range against the reference in use."""

    model: str
    version: str | None
    start: datetime
    end: datetime
    reference: ReferenceInfo
    result: WindowDrift
    rows_in_range: int  # before sampling to drift_max_rows

    def as_api(self) -> dict[str, Any]:
        """The JSON of GET /api/v1/models/{model}/drift."""
        payload = self.result.as_api()
        quality = self.result.quality
        return {
            "model": self.model,
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reference": self.reference.as_dict(),
            "rows_in_range": self.rows_in_range,
            "sampled": self.rows_in_range > self.result.rows,
            **payload,
            "quality": quality.to_dict(orient="records") if not quality.empty else [],
        }


def no_reference_message(model: str) -> str:
    return (
        f"model {model!r} has no reference data: upload a training sample with "
        f"`vigil reference upload FILE --model {model}` (PUT /api/v1/models/{model}/reference) "
        "or choose a range of logged predictions on the Drift page"
    )


class DriftService:
    """References and drift computations over the server's store."""

    def __init__(self, ingest: IngestService, settings: Settings) -> None:
        self.ingest = ingest
        self.settings = settings
        self._frames: OrderedDict[tuple[int, tuple[str, ...]], pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def spec(self, model: ModelInfo) -> DriftSpec:
        """How the model's drift is judged: its schema and its [models.<name>.drift] table."""
        return self.settings.model(model.name).drift.spec(model.features, model.task)

    def reference(
        self, con: duckdb.DuckDBPyConnection, model: ModelInfo, version: str | None
    ) -> ReferenceInfo:
        """The reference in use for a version (None: every version); NoReference if none."""
        found = active_reference(con, model, version)
        if found is None:
            raise NoReference(no_reference_message(model.name))
        return found

    def reference_data(
        self, con: duckdb.DuckDBPyConnection, model: ModelInfo, reference: ReferenceInfo
    ) -> pd.DataFrame:
        """The reference as a drift frame, cached by reference id and feature list."""
        key = (reference.id, tuple(model.features))
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame
        frame = reference_frame(con, model, reference)
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > CACHED_REFERENCES:
                self._frames.popitem(last=False)
        return frame

    def compute(
        self,
        con: duckdb.DuckDBPyConnection,
        model: ModelInfo,
        current: pd.DataFrame,
        reference: ReferenceInfo,
    ) -> WindowDrift:
        """Drift and quality of a current frame against a reference."""
        return window_drift(self.reference_data(con, model, reference), current, self.spec(model))

    def range_drift(
        self, model_name: str, start: datetime, end: datetime, version: str | None = None
    ) -> RangeDrift:
        """Drift of [start, end) against the reference in use, computed now."""
        model = self.ingest.model(model_name)
        con = self.ingest.store.cursor()
        reference = self.reference(con, model, version)
        limit = self.settings.drift_max_rows
        current = window_frame(con, model, start, end, version, max_rows=limit)
        total = (
            len(current)
            if len(current) < limit * 0.9
            else self._count(con, model, start, end, version)
        )
        return RangeDrift(
            model.name,
            version,
            start,
            end,
            reference,
            self.compute(con, model, current, reference),
            total,
        )

    def _count(
        self,
        con: duckdb.DuckDBPyConnection,
        model: ModelInfo,
        start: datetime,
        end: datetime,
        version: str | None,
    ) -> int:
        summary = range_summary(con, model, start, end, version, labels=False)
        return int(summary.get("count") or 0)

    def upload_reference(
        self, model_name: str, frame: pd.DataFrame, version: str | None, description: str
    ) -> ReferenceInfo:
        """Store an uploaded training sample as the model's (or version's) reference."""
        model = self.ingest.model(model_name)
        table = reference_table(frame, model)
        return self.ingest.writer.run(
            lambda con: create_reference(
                con, model, table, version=version, description=description
            )
        )

    def range_reference(
        self,
        model_name: str,
        start: datetime,
        end: datetime,
        version: str | None,
        source_version: str | None = None,
    ) -> ReferenceInfo:
        """Make a range of logged predictions the reference."""
        model = self.ingest.model(model_name)
        try:
            return self.ingest.writer.run(
                lambda con: reference_from_range(
                    con,
                    model,
                    start,
                    end,
                    version=version,
                    source_version=source_version,
                    max_rows=self.settings.drift_max_rows,
                )
            )
        except ValueError as exc:
            raise ReferenceInvalid(str(exc)) from None

    def evidently_report(
        self,
        model_name: str,
        start: datetime,
        end: datetime,
        version: str | None = None,
        hidden: Collection[str] | None = None,
    ) -> str:
        """Evidently's HTML drift report of the range against the reference in use.

        hidden: PII features the reader must not see (None: every one the model marks PII).
        Evidently draws each column's values (histograms, top categories), so they are left
        out of the report rather than masked.
        """
        model = self.ingest.model(model_name)
        if hidden is None:
            hidden = self.settings.model(model.name).pii
        con = self.ingest.store.cursor()
        reference = self.reference(con, model, version)
        limit = self.settings.evidently_max_rows
        # Read a little more than the limit so the report can say how many rows it sampled.
        current = window_frame(
            con, model, start, end, version, max_rows=self.settings.drift_max_rows
        )
        if current.empty:
            raise ReferenceInvalid(
                f"no predictions of {model.name!r} between {start.isoformat()} and "
                f"{end.isoformat()}: choose a range with data"
            )
        columns = {c: n for c, n in _report_columns(model).items() if c not in hidden}
        left_out = sorted(f for f in model.features if f in hidden)
        title = (
            f"Vigil drift report: model {model.name}"
            + (f", version {version}" if version else "")
            + f", {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, against reference "
            f"#{reference.id} ({reference.description})"
            + (f"; left out as PII: {', '.join(left_out)}" if left_out else "")
        )
        ref_frame = self.reference_data(con, model, reference)
        # Evidently refuses a column present on one side only: keep those with values in both.
        kept = {
            c: n
            for c, n in columns.items()
            if _has_values(ref_frame, c) and _has_values(current, c)
        }
        return evidently_html(
            ref_frame[list(kept)].rename(columns=kept),
            current[list(kept)].rename(columns=kept),
            max_rows=limit,
            title=title,
        )


def _report_columns(model: ModelInfo) -> dict[str, str]:
    """Frame column -> report column: features by name, the outputs as prediction/target
    unless a feature already has that name."""
    columns = {name: name for name in model.features}
    for frame_col, label in ((PREDICTION_COLUMN, "prediction"), (TARGET_COLUMN, "target")):
        columns[frame_col] = label if label not in columns else f"{label}_"
    return columns


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def file_sink(service: DriftService) -> Callable[[str, Path, str | None], int]:
    """The spool's reference sink: store a reference file, return its row count."""

    def store(model: str, path: Path, version: str | None) -> int:
        return service.upload_reference(model, read_file(path), version, path.name).rows

    return store
