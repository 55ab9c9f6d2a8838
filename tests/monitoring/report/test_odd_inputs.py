"""Reports from awkward but legal data: one window, naive times, gaps and unknown values."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from monitoring.report import csv_zip, render_html, report_figures, summary_paragraph
from monitoring.report.chart_style import is_empty
from tests.monitoring.report.sample import sample_data

NAIVE = datetime(2026, 11, 3)


def test_one_window_with_naive_times_and_missing_values() -> None:
    data = sample_data(
        task="multiclass",
        start=datetime(2026, 11, 3),
        end=datetime(2026, 11, 4),
        generated_at=datetime(2026, 11, 4, 8),
        performance=pd.DataFrame(
            {
                "window_start": [NAIVE],
                "count": [10],
                "labelled": [0],
                "label_coverage": [0.0],
                "provisional": [None],
                "accuracy": [np.nan],
                "f1_macro": [0.5],
            }
        ),
        latency=pd.DataFrame({"window_start": [NAIVE], "latency_p95_ms": [np.nan]}),
        drift_windows=pd.DataFrame(
            {"window_start": [NAIVE], "drift_share": [None], "dataset_drift": [None]}
        ),
        drift_features=pd.DataFrame(
            {
                "window_start": [NAIVE, NAIVE],
                "feature": ["a", "b"],
                "method": ["no_such_method", None],
                "score": [0.3, np.nan],
                "threshold": [0.1, np.nan],
                "drifted": [True, None],
            }
        ),
        alerts=pd.DataFrame(
            {
                "rule": ["r"],
                "severity": [None],
                "fired_at": [NAIVE],
                "resolved_at": [None],
                "duration_s": [np.nan],
            }
        ),
        importance=pd.DataFrame({"feature": ["a"], "mean_abs": [0.0], "share": [np.nan]}),
        reference={"id": 1, "created_at": "not a time", "extra": [1, 2]},
    )
    figures = report_figures(data)
    assert not is_empty(figures["performance"])  # F1 macro has a value
    assert is_empty(figures["latency"]) and is_empty(figures["drift_share"])
    assert not is_empty(figures["drift_heatmap"])
    text = summary_paragraph(data)
    assert "No dataset drift was detected in 1 window" in text
    assert "1 alert fired (1 of unknown severity), 1 still firing" in text
    html = render_html(data)
    assert "2026-11-03 to 2026-11-04 (UTC)" in html
    assert "not a time" in html
    assert csv_zip(data)


def test_long_hourly_range_sends_windows_to_the_csv() -> None:
    starts = pd.date_range("2026-11-01", periods=48, freq="h", tz="UTC")
    performance = pd.DataFrame(
        {
            "window_start": starts,
            "count": 100,
            "labelled": 90,
            "label_coverage": 0.9,
            "provisional": False,
            "accuracy": 0.9,
        }
    )
    html = render_html(sample_data(performance=performance))
    assert "The 48 windows&#x27; values are in the CSV export (performance.csv)." in html
    assert "Performance per hour" in html
