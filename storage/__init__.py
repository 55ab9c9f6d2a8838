"""Vigil's storage layer: the DuckDB store, its schema, the single writer and read queries."""

from storage.errors import (
    InvalidIdentifierError,
    SchemaConflictError,
    SchemaTooNewError,
    StorageError,
    StoreLockedError,
    UnknownModelError,
    WriteQueueFullError,
)
from storage.models import FEATURE_KINDS, TASKS, ModelInfo, normalize_class
from storage.predictions import LabelResult, PredictionResult
from storage.store import Store
from storage.writer import Writer

__all__ = [
    "FEATURE_KINDS",
    "TASKS",
    "InvalidIdentifierError",
    "LabelResult",
    "ModelInfo",
    "PredictionResult",
    "SchemaConflictError",
    "SchemaTooNewError",
    "StorageError",
    "Store",
    "StoreLockedError",
    "UnknownModelError",
    "WriteQueueFullError",
    "Writer",
    "normalize_class",
]
