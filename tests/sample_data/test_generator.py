"""The demo history: determinism, API record format, label timing and the drift/deploy story."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline

from sample_data import (
    FEATURES,
    LABEL_COLUMN,
    History,
    build_history,
    model_registration,
    positive_scores,
    reference_frame,
)
from tests.sample_data.conftest import END, SEED

PREDICTION_FIELDS = {
    "event_id",
    "timestamp",
    "version",
    "features",
    "prediction",
    "score",
    "latency_ms",
    "tags",
}
DAY = pd.Timedelta(days=1)


def _predictions(history: History) -> pd.DataFrame:
    """Predictions as a frame with parsed timestamps, day index, features and their label."""
    frame = pd.json_normalize(history.predictions)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["day"] = (frame["timestamp"] - pd.Timestamp(history.start)) // DAY
    labels = pd.DataFrame(history.labels).rename(columns={"timestamp": "label_timestamp"})
    return frame.merge(labels, on="event_id", how="left")


@pytest.fixture(scope="module")
def story(story_history: History) -> pd.DataFrame:
    """The story history's predictions as a frame."""
    return _predictions(story_history)


def test_same_seed_and_end_give_identical_history(model: Pipeline) -> None:
    first = build_history(SEED, days=10, per_day=200, end=END, model=model)
    second = build_history(SEED, days=10, per_day=200, end=END, model=model)
    other_seed = build_history(SEED + 1, days=10, per_day=200, end=END, model=model)
    assert first == second
    assert first.predictions and first.labels and first.pending_labels
    assert first.predictions != other_seed.predictions


def test_end_defaults_to_this_hour_in_utc(model: Pipeline) -> None:
    history = build_history(SEED, days=1, per_day=50, model=model)
    now = datetime.now(UTC)
    assert history.end.tzinfo is not None
    assert (history.end.minute, history.end.second, history.end.microsecond) == (0, 0, 0)
    assert timedelta(0) <= now - history.end < timedelta(hours=1, minutes=1)


def test_prediction_records_match_the_api_format(small_history: History) -> None:
    for record in small_history.predictions:
        assert set(record) == PREDICTION_FIELDS
        assert isinstance(record["event_id"], str) and record["event_id"]
        assert type(record["timestamp"]) is str and record["timestamp"].endswith("Z")
        assert record["version"] in {"1", "2"}
        assert set(record["features"]) == set(FEATURES)
        assert record["prediction"] in (0, 1) and type(record["prediction"]) is int
        assert type(record["score"]) is float and 0.0 <= record["score"] <= 1.0
        assert record["prediction"] == int(record["score"] >= 0.5)
        assert type(record["latency_ms"]) is float and record["latency_ms"] > 0
        assert record["tags"]["channel"] in {"web", "mobile", "branch"}
        for name, kind in FEATURES.items():
            value = record["features"][name]
            expected = str if kind == "categorical" else (int, float)
            assert isinstance(value, expected), (name, value)


def test_timestamps_are_utc_in_range_and_sorted_and_ids_unique(small_history: History) -> None:
    timestamps = [datetime.fromisoformat(r["timestamp"]) for r in small_history.predictions]
    assert small_history.end - small_history.start == timedelta(days=30)
    assert all(t.utcoffset() == timedelta(0) for t in timestamps)
    assert small_history.start <= min(timestamps) and max(timestamps) < small_history.end
    assert timestamps == sorted(timestamps)
    ids = [r["event_id"] for r in small_history.predictions]
    assert len(set(ids)) == len(ids)
    assert 0.9 * 30 * 300 < len(ids) < 1.1 * 30 * 300


def test_traffic_follows_a_daily_cycle(story: pd.DataFrame) -> None:
    hours = story["timestamp"].dt.hour.value_counts()
    assert hours[14] > 3 * hours[2]


def test_every_prediction_gets_one_label_one_to_seven_days_later(small_history: History) -> None:
    predicted = {
        r["event_id"]: datetime.fromisoformat(r["timestamp"]) for r in small_history.predictions
    }
    labels = small_history.labels + small_history.pending_labels
    assert sorted(r["event_id"] for r in labels) == sorted(predicted)
    for record in labels:
        assert set(record) == {"event_id", "label", "timestamp"}
        assert record["label"] in (0, 1) and type(record["label"]) is int
        delay = datetime.fromisoformat(record["timestamp"]) - predicted[record["event_id"]]
        assert timedelta(days=1) <= delay <= timedelta(days=7)


def test_labels_after_the_end_are_pending_not_delivered(small_history: History) -> None:
    arrived = [datetime.fromisoformat(r["timestamp"]) for r in small_history.labels]
    pending = [datetime.fromisoformat(r["timestamp"]) for r in small_history.pending_labels]
    assert max(arrived) <= small_history.end < min(pending)
    assert arrived == sorted(arrived) and pending == sorted(pending)


def test_income_drops_from_day_20(story: pd.DataFrame) -> None:
    before = story.loc[story["day"] < 20, "features.income"].mean()
    after = story.loc[story["day"] >= 20, "features.income"].mean()
    assert after < 0.85 * before


def test_islands_region_appears_only_from_day_20(story: pd.DataFrame) -> None:
    islands = story["features.region"] == "islands"
    assert not islands[story["day"] < 20].any()
    share = islands[story["day"] >= 20].mean()
    assert 0.07 < share < 0.13


def test_accuracy_sags_after_the_drift(story: pd.DataFrame) -> None:
    labelled = story.dropna(subset=[LABEL_COLUMN])
    early = labelled[labelled["day"] < 20]
    late = labelled[labelled["day"] >= 20]
    assert len(late) > 1000
    early_accuracy = accuracy_score(early[LABEL_COLUMN].astype(int), early["prediction"])
    late_accuracy = accuracy_score(late[LABEL_COLUMN].astype(int), late["prediction"])
    assert late_accuracy < early_accuracy - 0.04


def test_version_2_serves_everything_from_day_25(story: pd.DataFrame) -> None:
    assert set(story.loc[story["day"] < 25, "version"]) == {"1"}
    assert set(story.loc[story["day"] >= 25, "version"]) == {"2"}


def test_version_2_p95_latency_is_about_double(story: pd.DataFrame) -> None:
    p95 = story.groupby("version")["latency_ms"].quantile(0.95)
    assert 60 < p95["1"] < 100
    assert 1.6 < p95["2"] / p95["1"] < 2.4


def test_model_beats_the_majority_baseline_on_reference_data(model: Pipeline) -> None:
    reference = reference_frame(seed=SEED + 100, n=5000)
    truth = reference[LABEL_COLUMN]
    scores = positive_scores(model, reference)
    majority = max(truth.mean(), 1 - truth.mean())
    assert roc_auc_score(truth, scores) > 0.7
    assert accuracy_score(truth, (scores >= 0.5).astype(int)) > majority
    assert 0.05 < truth.mean() < 0.25


def test_reference_frame_has_the_schema_and_is_deterministic() -> None:
    first = reference_frame(seed=3, n=500)
    assert list(first.columns) == [*FEATURES, LABEL_COLUMN]
    pd.testing.assert_frame_equal(first, reference_frame(seed=3, n=500))
    assert set(first["region"]) <= {"north", "south", "east", "west", "central"}
    assert np.all(first["age"].between(18, 85))


def test_registration_body_lists_every_feature() -> None:
    body = model_registration()
    assert body["task"] == "binary" and body["positive_class"] == 1
    assert body["features"] == FEATURES


@pytest.mark.parametrize(("days", "per_day", "named"), [(0, 100, "days"), (3, -5, "per_day")])
def test_bad_sizes_are_rejected_by_name(
    model: Pipeline, days: int, per_day: int, named: str
) -> None:
    with pytest.raises(ValueError, match=f"^{named} must be a positive integer"):
        build_history(SEED, days=days, per_day=per_day, model=model, end=END)
