"""The report's data gathered from a real store: headline numbers against the previous
period checked with scikit-learn, alert spans, quality and system summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from collectors.ingest import IngestService
from collectors.report_data import alert_spans, gather, quality_summary
from collectors.settings import ModelSettings, Settings
from monitoring.slo import parse_objective
from storage import alerts as stored_alerts

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _load(ingest: IngestService, days: int = 4, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ingest.register("credit", {"task": "binary", "positive_class": 1, "features": {"x": "numeric"}})
    rows = []
    for day in range(days):
        for i in range(n):
            truth = int(rng.random() < 0.4)
            # Day 3 is worse: the prediction is right only 60% of the time.
            right = rng.random() < (0.6 if day == 3 else 0.9)
            rows.append(
                {
                    "event_id": f"{day}-{i}",
                    "timestamp": (T0 + timedelta(days=day, seconds=i * 60)).isoformat(),
                    "prediction": truth if right else 1 - truth,
                    "score": float(rng.random()),
                    "latency_ms": float(rng.uniform(5, 50)),
                    "features": {"x": float(rng.normal())},
                    "label": truth,
                    "day": day,
                }
            )
    ingest.predictions(
        "credit", [{k: v for k, v in r.items() if k not in ("label", "day")} for r in rows]
    )
    ingest.labels(
        "credit",
        [
            {"event_id": r["event_id"], "label": r["label"], "timestamp": r["timestamp"]}
            for r in rows
        ],
    )
    return pd.DataFrame(rows)


def test_headline_against_the_previous_period(ingest: IngestService) -> None:
    frame = _load(ingest)
    settings = Settings(
        models={"credit": ModelSettings(objectives=(parse_objective("accuracy >= 0.8"),))}
    )
    model = ingest.model("credit")
    start, end = T0 + timedelta(days=3), T0 + timedelta(days=4)
    data = gather(ingest.store.cursor(), settings, model, start, end)
    by_name = {h.name: h for h in data.headline}
    now, before = frame[frame["day"] == 3], frame[frame["day"] == 2]
    assert by_name["accuracy"].current == pytest.approx(
        accuracy_score(now["label"], now["prediction"])
    )
    assert by_name["accuracy"].previous == pytest.approx(
        accuracy_score(before["label"], before["prediction"])
    )
    assert by_name["f1"].current == pytest.approx(f1_score(now["label"], now["prediction"]))
    assert by_name["count"].current == 200 and by_name["count"].higher_is_better is None
    assert by_name["latency_p95_ms"].higher_is_better is False
    assert data.objectives["met"].tolist() == [False]  # ~0.6 accuracy against >= 0.8
    assert len(data.performance) == 24  # hourly windows for a one-day range
    assert data.reference is None and data.importance.empty


def test_alert_spans_pair_firing_with_resolution(ingest: IngestService) -> None:
    rows = [
        {
            "at": T0,
            "rule": "slow",
            "model": "credit",
            "from_state": "pending",
            "to_state": "firing",
            "value": 1.0,
            "silenced": False,
        },
        {
            "at": T0 + timedelta(minutes=30),
            "rule": "slow",
            "model": "credit",
            "from_state": "firing",
            "to_state": "resolved",
            "value": 0.0,
            "silenced": False,
        },
        {
            "at": T0 + timedelta(hours=2),
            "rule": "slow",
            "model": "credit",
            "from_state": "pending",
            "to_state": "firing",
            "value": 1.0,
            "silenced": False,
        },
    ]
    ingest.writer.run(lambda con: stored_alerts.add_transitions(con, rows))
    spans = alert_spans(
        ingest.store.cursor(), "credit", T0, T0 + timedelta(hours=3), {"slow": "warning"}
    )
    assert spans["duration_s"].tolist() == [1800.0, 3600.0]  # the second still firing at the end
    assert spans["severity"].tolist() == ["warning", "warning"]
    assert pd.isna(spans["resolved_at"].iloc[1])


def test_quality_summary_is_worst_first() -> None:
    quality = pd.DataFrame(
        {
            "feature": ["a", "a", "b"],
            "rows": [10, 10, 5],
            "missing": [1, 1, 0],
            "out_of_range": [0, 0, 4],
            "unseen": [0, 0, 0],
        }
    )
    summary = quality_summary(quality)
    assert summary["feature"].tolist() == ["b", "a"]
    assert summary["out_of_range_rate"].iloc[0] == pytest.approx(0.8)
    assert summary["missing_rate"].iloc[1] == pytest.approx(0.1)
