"""Demo data for Vigil: a credit-risk classifier and 30 days of its traffic.

The story: from day 20 reported incomes fall ~25%, a new region "islands" appears and
accuracy sags; on day 25 version "2" is deployed with twice the p95 latency.
"""

from sample_data.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LABEL_COLUMN,
    MODEL_NAME,
    NUMERIC_FEATURES,
    POSITIVE_CLASS,
    TASK,
    model_registration,
)
from sample_data.history import DEPLOY_DAY, DRIFT_DAY, History, build_history, default_end
from sample_data.live import LiveBatch, LiveSimulator
from sample_data.model import (
    DEFAULT_CACHE_DIR,
    load_or_train_model,
    positive_scores,
    reference_frame,
    train_model,
)
from sample_data.records import reference_sample
from sample_data.spool import write_spool_files

__all__ = [
    "CATEGORICAL_FEATURES",
    "DEFAULT_CACHE_DIR",
    "DEPLOY_DAY",
    "DRIFT_DAY",
    "FEATURES",
    "LABEL_COLUMN",
    "MODEL_NAME",
    "NUMERIC_FEATURES",
    "POSITIVE_CLASS",
    "TASK",
    "History",
    "LiveBatch",
    "LiveSimulator",
    "build_history",
    "default_end",
    "load_or_train_model",
    "model_registration",
    "positive_scores",
    "reference_frame",
    "reference_sample",
    "train_model",
    "write_spool_files",
]
