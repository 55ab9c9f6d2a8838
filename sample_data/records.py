"""Simulated requests as a columnar frame, and their conversion to API records."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from sample_data import traffic
from sample_data.features import (
    FEATURES,
    LABEL_COLUMN,
    default_probability,
    draw_labels,
    sample_applicants,
)
from sample_data.model import positive_scores

DECISION_THRESHOLD = 0.5
# Columns of a request frame besides the features.
META_COLUMNS = (
    "event_id",
    "timestamp_ms",
    "version",
    "prediction",
    "score",
    "latency_ms",
    "channel",
    LABEL_COLUMN,
    "label_timestamp_ms",
)

Record = dict[str, Any]


def simulate_requests(
    rng: np.random.Generator,
    model: Pipeline,
    times_ms: np.ndarray,
    drifted: np.ndarray,
    versions: np.ndarray,
) -> pd.DataFrame:
    """One row per request: features, the model's answer, latency, and the eventual outcome."""
    frame = sample_applicants(rng, drifted)
    outcome = draw_labels(rng, default_probability(frame, drifted))
    score = positive_scores(model, frame) if len(frame) else np.empty(0)
    frame["event_id"] = traffic.event_ids(rng, len(frame))
    frame["timestamp_ms"] = times_ms
    frame["version"] = versions
    frame["prediction"] = (score >= DECISION_THRESHOLD).astype(np.int64)
    frame["score"] = np.round(score, 6)
    frame["latency_ms"] = traffic.latencies(rng, versions)
    frame["channel"] = traffic.channels(rng, len(frame))
    frame[LABEL_COLUMN] = outcome
    frame["label_timestamp_ms"] = times_ms + traffic.label_delays(rng, len(frame))
    return frame


def prediction_records(frame: pd.DataFrame) -> list[Record]:
    """API prediction records (see the HTTP contract) for every row of a request frame."""
    names = list(FEATURES)
    # zip over plain lists: much faster than DataFrame.to_dict and yields Python scalars.
    feature_rows = zip(*(frame[name].tolist() for name in names), strict=True)
    columns = zip(
        frame["event_id"].tolist(),
        traffic.iso_timestamps(frame["timestamp_ms"].to_numpy()),
        frame["version"].tolist(),
        frame["prediction"].tolist(),
        frame["score"].tolist(),
        frame["latency_ms"].tolist(),
        frame["channel"].tolist(),
        feature_rows,
        strict=True,
    )
    return [
        {
            "event_id": event_id,
            "timestamp": timestamp,
            "version": version,
            "features": dict(zip(names, values, strict=True)),
            "prediction": prediction,
            "score": score,
            "latency_ms": latency,
            "tags": {"channel": channel},
        }
        for event_id, timestamp, version, prediction, score, latency, channel, values in columns
    ]


def label_records(frame: pd.DataFrame) -> list[Record]:
    """API label records for every row of a request frame, in order of arrival."""
    ordered = frame.sort_values("label_timestamp_ms", kind="stable")
    timestamps = traffic.iso_timestamps(ordered["label_timestamp_ms"].to_numpy())
    return [
        {"event_id": event_id, "label": label, "timestamp": timestamp}
        for event_id, label, timestamp in zip(
            ordered["event_id"].tolist(), ordered[LABEL_COLUMN].tolist(), timestamps, strict=True
        )
    ]


def reference_sample(model: Pipeline, seed: int = 42, n: int = 5_000) -> pd.DataFrame:
    """The demo model's reference: pre-drift applicants, its predictions and their outcomes
    (features by name, `prediction` and `label`), as a training sample would hold them."""
    from sample_data.model import reference_frame

    frame = reference_frame(seed, n)
    frame["prediction"] = (positive_scores(model, frame) >= DECISION_THRESHOLD).astype(np.int64)
    return frame[[*FEATURES, "prediction", LABEL_COLUMN]]
