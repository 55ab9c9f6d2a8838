"""The live simulator: fresh drifted version-2 traffic, and labels delivered when due."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sklearn.pipeline import Pipeline

from sample_data import FEATURES, History, LiveSimulator
from tests.sample_data.conftest import SEED


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def test_step_returns_predictions_made_since_the_last_step(
    model: Pipeline, small_history: History
) -> None:
    simulator = LiveSimulator(SEED, model, small_history.end, per_day=3000)
    batch = simulator.step(small_history.end + timedelta(hours=2))
    times = [_parse(r["timestamp"]) for r in batch.predictions]
    assert 100 < len(times) < 600
    assert all(small_history.end <= t < batch.end for t in times)
    assert {r["version"] for r in batch.predictions} == {"2"}
    assert all(set(r["features"]) == set(FEATURES) for r in batch.predictions)
    assert simulator.now == small_history.end + timedelta(hours=2)
    assert batch.labels == []


def test_live_traffic_looks_like_the_drifted_days(model: Pipeline, small_history: History) -> None:
    simulator = LiveSimulator(SEED, model, small_history.end, per_day=2000)
    records = simulator.step(small_history.end + timedelta(days=1)).predictions
    islands = sum(r["features"]["region"] == "islands" for r in records) / len(records)
    assert 0.06 < islands < 0.14


def test_pending_history_labels_arrive_when_due(model: Pipeline, small_history: History) -> None:
    pending = small_history.pending_labels
    simulator = LiveSimulator(SEED, model, small_history.end, pending_labels=pending, per_day=10)
    first_due = _parse(pending[0]["timestamp"])
    assert simulator.step(first_due - timedelta(milliseconds=1)).labels == []
    delivered = simulator.step(first_due).labels
    assert delivered[0] == pending[0]
    later = simulator.step(small_history.end + timedelta(days=7)).labels
    history_ids = {r["event_id"] for r in pending}
    assert [r for r in delivered + later if r["event_id"] in history_ids] == pending


def test_live_predictions_get_labels_one_to_seven_days_later(
    model: Pipeline, small_history: History
) -> None:
    simulator = LiveSimulator(SEED, model, small_history.end, per_day=500)
    batches = list(simulator.batches(timedelta(hours=6), count=4 * 9))
    predicted = {r["event_id"]: _parse(r["timestamp"]) for b in batches for r in b.predictions}
    first_day = {e for e, t in predicted.items() if t < small_history.end + timedelta(days=1)}
    labelled = {}
    for batch in batches:
        for label in batch.labels:
            assert _parse(label["timestamp"]) <= batch.end
            labelled[label["event_id"]] = _parse(label["timestamp"])
    assert first_day and first_day <= set(labelled)
    for event_id, arrived in labelled.items():
        assert timedelta(days=1) <= arrived - predicted[event_id] <= timedelta(days=7)


def test_same_seed_and_start_replay_the_same_traffic(
    model: Pipeline, small_history: History
) -> None:
    def run(start: datetime) -> list[list[dict[str, object]]]:
        simulator = LiveSimulator(SEED, model, start, per_day=1000)
        return [b.predictions for b in simulator.batches(timedelta(minutes=30), count=4)]

    assert run(small_history.end) == run(small_history.end)
    later = small_history.end + timedelta(hours=5)
    first_ids = {r["event_id"] for batch in run(small_history.end) for r in batch}
    assert first_ids.isdisjoint(r["event_id"] for batch in run(later) for r in batch)


def test_bad_arguments_are_rejected(model: Pipeline, small_history: History) -> None:
    with pytest.raises(ValueError, match="per_day"):
        LiveSimulator(SEED, model, small_history.end, per_day=0)
    simulator = LiveSimulator(SEED, model, small_history.end)
    with pytest.raises(ValueError, match="interval"):
        next(simulator.batches(timedelta(0)))
