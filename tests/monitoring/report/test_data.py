"""Headline arithmetic, arrows and tones; which metrics are better higher; the report window."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import pandas as pd
import pytest

from monitoring.metrics import METRICS_BY_TASK
from monitoring.report import Headline, higher_is_better, metric_label
from monitoring.report.data import report_window
from tests.monitoring.report.sample import DAYS, sample_data


@pytest.mark.parametrize(
    ("current", "previous", "better", "arrow", "tone"),
    [
        (0.88, 0.93, True, "↓", "bad"),
        (0.95, 0.93, True, "↑", "good"),
        (120.0, 150.0, False, "↓", "good"),
        (180.0, 150.0, False, "↑", "bad"),
        (7000.0, 6000.0, None, "↑", "neutral"),
        (5.0, 6.0, None, "↓", "neutral"),
        (0.8, 0.8, True, "→", "neutral"),
        (0.1 + 0.2, 0.3, True, "→", "neutral"),  # float noise is no move
        (0.5, None, False, "", ""),
        (None, 0.5, True, "", ""),
        (math.nan, 0.5, True, "", ""),
    ],
)
def test_headline_arrow_and_tone(
    current: float | None, previous: float | None, better: bool | None, arrow: str, tone: str
) -> None:
    item = Headline("m", "M", current, previous, better)
    assert item.arrow() == arrow
    assert item.tone() == tone


def test_headline_change_and_relative_change() -> None:
    item = Headline("accuracy", "Accuracy", 0.9, 0.8, True)
    assert item.change() == pytest.approx(0.1)
    assert item.relative_change() == pytest.approx(0.125)
    assert Headline("count", "n", 5.0, 0.0, None).relative_change() is None
    assert Headline("count", "n", None, 3.0, None).change() is None


def test_higher_is_better_covers_every_task_metric() -> None:
    assert higher_is_better("accuracy") is True
    assert higher_is_better("f1_macro") is True
    assert higher_is_better("r2") is True
    assert higher_is_better("mae") is False
    assert higher_is_better("log_loss") is False
    assert higher_is_better("latency_p95_ms") is False
    assert higher_is_better("count") is None
    assert higher_is_better("positive_rate_predicted") is None
    neutral = {"positive_rate_predicted", "positive_rate_actual"}
    for metrics in METRICS_BY_TASK.values():
        for metric in metrics:
            assert (higher_is_better(metric) is None) == (metric in neutral), metric


def test_metric_labels() -> None:
    assert metric_label("roc_auc") == "ROC AUC"
    assert metric_label("f1_macro") == "F1 macro"
    assert metric_label("mae") == "MAE"
    assert metric_label("latency_p95_ms") == "Latency p95 (ms)"


def test_report_window_from_the_series_spacing() -> None:
    assert report_window(sample_data()) == "1d"
    hours = [DAYS[0] + timedelta(hours=i) for i in range(5)]
    hourly = pd.DataFrame({"window_start": hours, "latency_p50_ms": 1.0})
    assert report_window(sample_data(latency=hourly, performance=pd.DataFrame())) == "1h"


def test_report_window_falls_back_to_the_range() -> None:
    data = sample_data(
        performance=pd.DataFrame(), latency=pd.DataFrame(), drift_windows=pd.DataFrame()
    )
    assert report_window(data) == "1d"  # seven days
    long = dataclasses.replace(data, end=data.start + timedelta(days=200))
    assert report_window(long) == "1w"
