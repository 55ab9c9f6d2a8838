"""The summary paragraph: objectives, big moves, drift, attributions and alerts."""

from __future__ import annotations

import pandas as pd

from monitoring.report import Headline, summary_paragraph
from tests.monitoring.report.sample import HOSTILE, empty_data, sample_data


def test_summary_names_missed_objectives_drift_and_alerts() -> None:
    text = summary_paragraph(sample_data())
    assert "\n" not in text
    assert "served 7,000 predictions" in text
    assert "missed 1 of 3 objectives: accuracy >= 0.9 (at 0.88)" in text
    assert "1 could not be evaluated" in text
    assert "Dataset drift was detected in 2 of 7 windows" in text
    assert f"{HOSTILE} (4 windows)" in text  # plain text: the renderer escapes it
    assert "2 windows of 7 are provisional" in text
    assert "NDCG 0.80" in text
    assert "2 alerts fired (1 critical, 1 warning), 1 still firing" in text
    assert "lasted 2 days" in text


def test_summary_biggest_moves_first_with_their_verdict() -> None:
    text = summary_paragraph(sample_data())
    latency = text.index("Latency p95 (ms) fell from 150 ms to 120 ms (better)")
    accuracy = text.index("Accuracy fell from 93.0 % to 88.0 % (worse)")
    assert latency < accuracy  # -20 % moves more than -5 %
    assert "Predictions" not in text.split("Against the previous period")[1].split(".")[0]


def test_summary_when_all_is_well() -> None:
    data = sample_data(
        objectives=pd.DataFrame(
            {"objective": ["accuracy >= 0.8"], "value": [0.9], "met": [True], "target": [0.8]}
        ),
        headline=[Headline("accuracy", "Accuracy", 0.9, 0.9, True)],
        drift_windows=pd.DataFrame(
            {"window_start": [pd.Timestamp("2026-11-01", tz="UTC")], "dataset_drift": [False]}
        ),
        drift_features=pd.DataFrame(
            {
                "window_start": [pd.Timestamp("2026-11-01", tz="UTC")],
                "feature": ["age"],
                "method": ["ks"],
                "score": [0.5],
                "threshold": [0.05],
                "drifted": [False],
            }
        ),
        alerts=pd.DataFrame(),
        attribution_ndcg=0.99,
    )
    text = summary_paragraph(data)
    assert "It met its objective." in text
    assert "held steady" in text
    assert "No dataset drift was detected in 1 window." in text
    assert "No alerts fired." in text
    assert "missed" not in text and "NDCG" not in text


def test_summary_of_an_empty_report() -> None:
    text = summary_paragraph(empty_data())
    assert "no prediction counts" in text
    assert "No objectives are set" in text
    assert "No drift was computed" in text
    assert "No alerts fired." in text
