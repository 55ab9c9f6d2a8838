"""Thirty days of demo traffic for the credit-risk model, with a drift and a slow deploy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from sample_data import traffic
from sample_data.features import FEATURES
from sample_data.model import load_or_train_model
from sample_data.records import Record, label_records, prediction_records, simulate_requests

# The story, in days from the start of the history.
DRIFT_DAY = 20
DEPLOY_DAY = 25
_HISTORY_STREAM = 2


@dataclass(frozen=True)
class History:
    """Generated predictions and labels; `frame` is the same data as one row per request."""

    predictions: list[Record]
    labels: list[Record]
    pending_labels: list[Record]
    model: Pipeline = field(compare=False, repr=False)
    features: dict[str, str]
    start: datetime
    end: datetime
    frame: pd.DataFrame = field(compare=False, repr=False)


def default_end() -> datetime:
    """Now in UTC, rounded down to the hour."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def build_history(
    seed: int = 42,
    days: int = 30,
    per_day: int = 3000,
    end: datetime | None = None,
    *,
    model: Pipeline | None = None,
    drift_day: int = DRIFT_DAY,
    deploy_day: int = DEPLOY_DAY,
    cache_dir: str | Path | None = None,
) -> History:
    """Generate `days` of traffic ending at `end` (default: this hour, UTC); same seed, same data.

    From `drift_day` incomes are reported ~25% lower, region "islands" appears and the true
    risk shifts; from `deploy_day` all traffic is served by version "2", twice as slow at p95.
    Labels arrive 1-7 days after their prediction; those not due by `end` are `pending_labels`.
    `model` defaults to `load_or_train_model(cache_dir, seed)`.
    """
    _check_positive(days=days, per_day=per_day)
    end = default_end() if end is None else end
    end_ms = traffic.to_ms(end)
    start_ms = end_ms - days * traffic.DAY_MS
    model = load_or_train_model(cache_dir, seed) if model is None else model

    # The end goes into the stream so histories built at different times get distinct event ids.
    rng = np.random.default_rng([seed, _HISTORY_STREAM, end_ms])
    times = traffic.arrival_times(rng, start_ms, end_ms, per_day)
    drifted = times >= start_ms + drift_day * traffic.DAY_MS
    versions = np.where(times >= start_ms + deploy_day * traffic.DAY_MS, "2", "1").astype(object)
    frame = simulate_requests(rng, model, times, drifted, versions)

    arrived = frame["label_timestamp_ms"].to_numpy() <= end_ms
    return History(
        predictions=prediction_records(frame),
        labels=label_records(frame[arrived]),
        pending_labels=label_records(frame[~arrived]),
        model=model,
        features=dict(FEATURES),
        start=traffic.from_ms(start_ms),
        end=traffic.from_ms(end_ms),
        frame=frame,
    )


def _check_positive(**values: int) -> None:
    """Reject non-positive sizes with a message naming the argument."""
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
