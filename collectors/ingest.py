"""The ingest service: validates records and hands batches to the single writer.

HTTP handlers, the spool directory and the demo all come through here.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from collectors.arrow_batch import arrow_prediction_batch
from collectors.metrics import ServerMetrics
from collectors.records import RecordError, RecordsInvalid, label_batch, prediction_batch
from storage import ModelInfo, UnknownModelError, WriteQueueFullError, Writer
from storage.drift_store import record_rejections
from storage.identifiers import check_model_name
from storage.models import add_features, check_features, get_model, register_model
from storage.predictions import (
    LabelResult,
    PredictionResult,
    StoredDuplicates,
    insert_labels,
    insert_predictions,
)
from storage.store import Store

log = logging.getLogger(__name__)


def rejection_reasons(exc: RecordsInvalid, prefix: str) -> Counter[str]:
    """Rejected records by reason: the first field each record failed on."""
    first: dict[int, str] = {}
    for err in exc.errors:
        first.setdefault(err.index, err.field)
    return Counter(f"{prefix}:{field}" for field in first.values())


class IngestService:
    """Registers models and stores prediction and label batches, all-or-nothing."""

    def __init__(self, store: Store, writer: Writer, metrics: ServerMetrics) -> None:
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self._models: dict[str, ModelInfo] = {}
        self._lock = threading.Lock()

    def model(self, name: str) -> ModelInfo:
        """The registered model, from cache; UnknownModelError says how to register it."""
        check_model_name(name)
        with self._lock:
            cached = self._models.get(name)
        if cached is not None:
            return cached
        found = get_model(self.store.cursor(), name)
        if found is None:
            raise UnknownModelError(
                f"model {name!r} is not registered: PUT /api/v1/models/{name} with "
                '{"task": "binary" | "multiclass" | "regression"} first'
            )
        return self._remember(found)

    def _remember(self, model: ModelInfo) -> ModelInfo:
        with self._lock:
            self._models[model.name] = model
        return model

    def register(self, name: str, body: Mapping[str, Any]) -> ModelInfo:
        """Create or update a model from a registration body (idempotent)."""
        check_model_name(name)
        features = body.get("features") or {}
        if not isinstance(features, Mapping):
            raise RecordsInvalid([RecordError(-1, "features", "must be an object of name -> kind")])
        check_features(features)
        model = self.writer.run(
            lambda con: register_model(
                con, name, body.get("task", ""), body.get("positive_class"), features
            )
        )
        return self._remember(model)

    def predictions(self, name: str, records: object | pa.Table) -> PredictionResult:
        """Validate and store prediction records (JSON list or an Arrow table)."""
        model = self.model(name)
        try:
            if isinstance(records, pa.Table):
                batch = arrow_prediction_batch(records, model)
            else:
                batch = prediction_batch(records, model)
        except RecordsInvalid as exc:
            self.metrics.rejected.labels("invalid_records").inc()
            self._count_rejected(name, rejection_reasons(exc, "invalid"))
            raise

        def job(con: Any, skip_duplicates: bool) -> tuple[ModelInfo, PredictionResult]:
            current = model
            if batch.new_features:
                # Re-read inside the transaction: another batch may have added them already.
                current = get_model(con, name) or model
                current = add_features(con, current, batch.new_features)
            result = insert_predictions(con, current, batch.table, skip_duplicates=skip_duplicates)
            return current, result

        try:
            updated, result = self.writer.run(lambda con: job(con, False))
        except StoredDuplicates:  # a retried batch: redo it, skipping what is stored
            updated, result = self.writer.run(lambda con: job(con, True))
        if batch.new_features:
            self._remember(updated)
        self.metrics.accepted.labels(name, "prediction").inc(result.accepted)
        self.metrics.duplicates.labels(name).inc(result.duplicates)
        if result.duplicates:
            self._count_rejected(name, {"duplicate_event_id": result.duplicates})
        return result

    def labels(self, name: str, records: object) -> LabelResult:
        """Validate and store label records."""
        model = self.model(name)
        try:
            table = label_batch(records, model)
        except RecordsInvalid as exc:
            self.metrics.rejected.labels("invalid_records").inc()
            self._count_rejected(name, rejection_reasons(exc, "invalid_label"))
            raise
        result = self.writer.run(lambda con: insert_labels(con, model, table))
        self.metrics.accepted.labels(name, "label").inc(result.accepted)
        return result

    def _count_rejected(self, name: str, counts: Mapping[str, int]) -> None:
        """Add rejected records to this hour's counts (best effort: never fails the request)."""
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        try:
            self.writer.submit(lambda con: record_rejections(con, name, hour, counts))
        except (WriteQueueFullError, RuntimeError):
            log.warning("rejection counts of %s dropped: the write queue is full", name)
