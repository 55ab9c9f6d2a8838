"""Synthetic ReportData for the report tests, with hostile user text in every free field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from monitoring.report import Headline, ReportData

HOSTILE = "<script>alert(1)</script>"
HOSTILE_RULE = '"><img src=x onerror=alert(2)>'
HOSTILE_HOST = "host<b>1</b>&co"
FORMULA = '=HYPERLINK("http://evil")'
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 8, tzinfo=UTC)
DAYS = [START + timedelta(days=i) for i in range(7)]
FEATURES = ["age", "income", HOSTILE, FORMULA]


def headline() -> list[Headline]:
    """Accuracy down (bad), latency down (good), count up (neutral), drift unknown."""
    return [
        Headline("count", "Predictions", 7000.0, 6000.0, None),
        Headline("accuracy", "Accuracy", 0.88, 0.93, True),
        Headline("latency_p95_ms", "Latency p95 (ms)", 120.0, 150.0, False),
        Headline("label_coverage", "Label coverage", 0.8, 0.8, True),
        Headline("drift_share", "Drifted features (share)", 0.5, None, False),
    ]


def performance() -> pd.DataFrame:
    """Seven daily windows, the last two provisional."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "window_start": DAYS,
            "count": [1000] * 7,
            "labelled": [950, 940, 960, 930, 900, 300, 100],
            "label_coverage": [0.95, 0.94, 0.96, 0.93, 0.9, 0.3, 0.1],
            "provisional": [False] * 5 + [True] * 2,
            "accuracy": rng.uniform(0.85, 0.95, 7),
            "f1": rng.uniform(0.7, 0.9, 7),
            "roc_auc": [0.9, 0.91, 0.9, 0.89, 0.88, None, 0.8],
            "precision": rng.uniform(0.7, 0.9, 7),
        }
    )


def drift_features() -> pd.DataFrame:
    """Four features by seven days; the hostile one drifts from day 3."""
    rows = []
    for day_index, day in enumerate(DAYS):
        for feature in FEATURES:
            drifted = feature == HOSTILE and day_index >= 3
            method = "ks" if feature != "income" else "wasserstein"
            if method == "ks":
                score, threshold = (0.001 if drifted else 0.4), 0.05
            else:
                score, threshold = 0.05, 0.1
            rows.append(
                {
                    "window_start": day,
                    "feature": feature,
                    "method": method,
                    "score": score,
                    "threshold": threshold,
                    "drifted": drifted,
                }
            )
    return pd.DataFrame(rows)


def sample_data(**changes: Any) -> ReportData:
    """A full report for a binary model over one week; `changes` replace fields."""
    data = ReportData(
        model="fraud" + HOSTILE,
        task="binary",
        version="v2" + HOSTILE,
        start=START,
        end=END,
        generated_at=datetime(2026, 11, 8, 9, 30, tzinfo=UTC),
        generated_by="vigil report (CLI)",
        headline=headline(),
        objectives=pd.DataFrame(
            {
                "objective": ["accuracy >= 0.9", "latency_p95_ms <= 200", "f1 >= 0.5"],
                "value": [0.88, 120.0, None],
                "met": [False, True, None],
                "target": [0.9, 200.0, 0.5],
            }
        ),
        performance=performance(),
        latency=pd.DataFrame(
            {
                "window_start": DAYS,
                "latency_p50_ms": np.linspace(20, 30, 7),
                "latency_p95_ms": np.linspace(100, 140, 7),
                "latency_p99_ms": np.linspace(200, 260, 7),
            }
        ),
        drift_windows=pd.DataFrame(
            {
                "window_start": DAYS,
                "drift_share": [0, 0, 0, 0.25, 0.25, 0.5, 0.5],
                "dataset_drift": [False] * 5 + [True] * 2,
                "n_drifted": [0, 0, 0, 1, 1, 2, 2],
                "n_tested": [4] * 7,
                "multivariate_auc": [0.5, 0.52, 0.55, 0.6, 0.62, 0.7, 0.71],
            }
        ),
        drift_features=drift_features(),
        quality=pd.DataFrame(
            {
                "feature": [HOSTILE, "age"],
                "rows": [7000, 7000],
                "missing_rate": [0.2, 0.01],
                "out_of_range_rate": [0.05, 0.0],
                "unseen_rate": [0.0, 0.0],
            }
        ),
        alerts=pd.DataFrame(
            {
                "rule": [HOSTILE_RULE, "accuracy_low"],
                "severity": ["critical", "warning"],
                "fired_at": [START + timedelta(days=2), START + timedelta(days=5)],
                "resolved_at": [START + timedelta(days=2, hours=3), pd.NaT],
                "duration_s": [3 * 3600.0, 2 * 86400.0],
            }
        ),
        importance=pd.DataFrame(
            {
                "feature": [HOSTILE, "income", "age", FORMULA],
                "mean_abs": [0.3, 0.2, 0.1, 0.05],
                "share": [0.46, 0.31, 0.15, 0.08],
                "rank": [1, 2, 3, 4],
            }
        ),
        attribution_ndcg=0.8,
        system=pd.DataFrame(
            {
                "host": [HOSTILE_HOST],
                "cpu_peak_percent": [93.5],
                "cpu_mean_percent": [40.2],
                "memory_peak_percent": [71.0],
            }
        ),
        reference={
            "id": 3,
            "model": "fraud",
            "version": None,
            "source": "range",
            "description": HOSTILE,
            "rows": 50000,
            "labelled": 48000,
            "created_at": "2026-10-01T00:00:00+00:00",
            "range_start": "2026-09-01T00:00:00+00:00",
            "range_end": "2026-10-01T00:00:00+00:00",
            "range_version": None,
        },
        units="probability",
    )
    return dataclasses.replace(data, **changes)


def empty_data(**changes: Any) -> ReportData:
    """A report with nothing in it: every frame empty (some without columns)."""
    empty = pd.DataFrame()
    return sample_data(
        headline=[],
        objectives=empty,
        performance=empty,
        latency=empty,
        drift_windows=pd.DataFrame(columns=["window_start", "drift_share", "dataset_drift"]),
        drift_features=empty,
        quality=empty,
        alerts=pd.DataFrame(columns=["rule", "severity", "fired_at", "resolved_at", "duration_s"]),
        importance=empty,
        attribution_ndcg=None,
        system=empty,
        reference=None,
        units=None,
        **changes,
    )
