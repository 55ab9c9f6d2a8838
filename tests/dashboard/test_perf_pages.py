"""The Performance and Latency & traffic pages under AppTest, reading a real DuckDB store.

Data goes in through IngestService (the fixture rows of test_pages.py: a binary model whose
version 2 takes every other request from day 2); expected values come from scikit-learn
and numpy on the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sklearn.metrics import accuracy_score, mean_absolute_error
from streamlit.testing.v1 import AppTest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import ModelSettings, Settings
from dashboard import perf_data
from dashboard.runtime import Runtime, set_runtime
from monitoring.metrics import METRICS_BY_TASK
from monitoring.slo import parse_objective
from storage import Store, Writer
from tests.dashboard.test_pages import (
    APP,
    MODEL,
    STEP,
    T0,
    TIMEOUT,
    chart_titles,
    label_records,
    prediction_records,
)

PERFORMANCE = "views/performance.py"
LATENCY = "views/latency.py"
OBJECTIVES = ("accuracy >= 0.99", "latency_p95_ms <= 1000")


def configure(store: Store, provisional_coverage: float) -> None:
    """Serve `store` with the two objectives: accuracy (missed) and p95 latency (met)."""
    objectives = tuple(parse_objective(text) for text in OBJECTIVES)
    model = ModelSettings(objectives=objectives, provisional_coverage=provisional_coverage)
    set_runtime(Runtime(store, Settings(db=store.path, models={MODEL: model})))
    st.cache_data.clear()


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[IngestService, pd.DataFrame, pd.DataFrame, Store]]:
    """The churn fixture; two thirds of each window are labelled, over the 0.5 threshold."""
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store)
    configure(store, 0.5)
    st.cache_data.clear()
    ingest = IngestService(store, writer, ServerMetrics())
    ingest.register(
        MODEL,
        {
            "task": "binary",
            "positive_class": 1,
            "features": {"x": "numeric", "plan": "categorical"},
        },
    )
    records, labels = prediction_records(), label_records()
    ingest.predictions(MODEL, records)
    ingest.labels(MODEL, labels)
    yield ingest, pd.DataFrame(records), pd.DataFrame(labels), store
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiles(at: AppTest) -> dict[str, Any]:
    return {m.label: m for m in at.metric}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def joined(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    return predictions.merge(labels, on="event_id")


def test_performance_kpis_match_sklearn(loaded: Any) -> None:
    _, predictions, labels, _ = loaded
    at = run_page(PERFORMANCE)
    assert at.title[0].value == "Performance"
    rows = joined(predictions, labels)
    accuracy = accuracy_score(rows["label"].astype(str), rows["prediction"].astype(str))
    shown = tiles(at)
    assert shown["Accuracy"].value == f"{accuracy:.3f}"
    assert shown["Labelled"].proto.delta == f"{len(labels):,} of {len(predictions):,}"
    # The accuracy objective (>= 0.99) is missed and said so on the tile.
    assert shown["Accuracy"].proto.delta == "missed: >= 0.99"


def test_objectives_table_shows_the_missed_objective(loaded: Any) -> None:
    at = run_page(PERFORMANCE)
    table = frame_with(at, "objective").set_index("objective")
    assert list(table.index) == list(OBJECTIVES)
    assert table.loc["accuracy >= 0.99", "status now"] == "missed"
    assert table.loc["accuracy >= 0.99", "error budget remaining"] < 0
    assert table.loc["latency_p95_ms <= 1000", "status now"] == "met"
    assert table.loc["latency_p95_ms <= 1000", "compliance"] == 100.0  # shown in percent


def test_every_table_has_a_csv_download(loaded: Any) -> None:
    at = run_page(PERFORMANCE)
    buttons = at.get("download_button")
    # Objectives, per-window rows, worst segments and the version comparison.
    assert len(buttons) == len(at.dataframe) == 4
    assert {b.proto.label for b in buttons} == {"Download CSV"}


def test_charts_mark_provisional_windows(loaded: Any) -> None:
    configure(loaded[3], 0.8)
    at = run_page(PERFORMANCE)
    titles = chart_titles(at)
    assert titles == [
        "Accuracy per day",
        "Label coverage and delay",
        "Confusion matrix",
        "Calibration",
    ]
    # A third of the predictions have no label: every window is below the 80 % threshold.
    table = frame_with(at, "objective").set_index("objective")
    assert table.loc["accuracy >= 0.99", "status now"] == "provisional only"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in spec["data"]]
    assert "provisional: label coverage < 80%" in names
    assert spec["layout"]["shapes"]  # the shaded provisional band


def test_version_comparison_table(loaded: Any) -> None:
    _, predictions, labels, _ = loaded
    at = run_page(PERFORMANCE)
    table = frame_with(at, "p_value")
    assert len(table) == len(METRICS_BY_TASK["binary"])
    rows = joined(predictions, labels)
    v1, v2 = (rows[rows["version"] == v] for v in ("1", "2"))
    expected = [
        accuracy_score(r["label"].astype(str), r["prediction"].astype(str)) for r in (v1, v2)
    ]
    accuracy = table[table["metric"] == "Accuracy"].iloc[0]
    assert accuracy["a"] == pytest.approx(expected[0])
    assert accuracy["b"] == pytest.approx(expected[1])
    assert accuracy["ci"].startswith("[")
    assert 0 <= accuracy["p_value"] <= 1


def test_segment_picker_filters_the_page(loaded: Any) -> None:
    _, predictions, labels, _ = loaded
    at = run_page(PERFORMANCE)
    at.selectbox(key=f"perf_segment_{MODEL}").set_value("plan").run()
    at.selectbox(key=f"perf_segment_value_{MODEL}_plan").set_value("pro").run()
    assert not at.exception
    pro = predictions[predictions["features"].map(lambda f: f["plan"]) == "pro"]
    rows = joined(pro, labels)
    accuracy = accuracy_score(rows["label"].astype(str), rows["prediction"].astype(str))
    assert tiles(at)["Accuracy"].value == f"{accuracy:.3f}"
    # Plan "pro" is every prediction with i % 3 != 0: exactly the labelled ones.
    assert tiles(at)["Labelled"].proto.delta == f"{len(rows):,} of {len(pro):,}"
    assert len(rows) < len(predictions)


def test_regression_model_shows_residuals(loaded: Any) -> None:
    ingest, _, _, _ = loaded
    ingest.register("price", {"task": "regression"})
    n = 200
    truth = [10.0 + i % 13 for i in range(n)]
    ingest.predictions(
        "price",
        [
            {
                "event_id": f"p{i}",
                "timestamp": (T0 + i * STEP).isoformat(),
                "prediction": truth[i] + (i % 5 - 2),
                "latency_ms": 3.0,
            }
            for i in range(n)
        ],
    )
    ingest.labels("price", [{"event_id": f"p{i}", "label": truth[i]} for i in range(n)])
    at = run_page(PERFORMANCE)
    at.selectbox(key="perf_model").set_value("price").run()
    assert not at.exception
    assert "Residuals (label - prediction)" in chart_titles(at)
    mae = mean_absolute_error(truth, [truth[i] + (i % 5 - 2) for i in range(n)])
    assert tiles(at)["MAE"].value == f"{mae:,.4g}"


def test_model_without_labels_or_predictions_explains(loaded: Any) -> None:
    ingest, _, _, _ = loaded
    ingest.register("fresh", {"task": "multiclass"})
    ingest.register("unlabelled", {"task": "multiclass"})
    ingest.predictions(
        "unlabelled",
        [{"event_id": "u1", "timestamp": T0.isoformat(), "prediction": "a", "latency_ms": 1.0}],
    )
    for name, text in (("fresh", "no predictions yet"), ("unlabelled", "No labelled predictions")):
        at = run_page(PERFORMANCE)
        at.selectbox(key="perf_model").set_value(name).run()
        assert not at.exception
        assert any(text in i.value for i in at.info), [i.value for i in at.info]
        at.switch_page(LATENCY).run()
        assert not at.exception


def test_latency_page_charts_and_p95(loaded: Any) -> None:
    _, predictions, _, _ = loaded
    at = run_page(LATENCY)
    assert at.title[0].value == "Latency & traffic"
    assert chart_titles(at) == [
        "Latency percentiles per day",
        "Latency distribution",
        "Throughput (mean per day)",
        "Predictions per hour",
    ]
    p95 = float(np.quantile(predictions["latency_ms"], 0.95))
    assert tiles(at)["Latency p95"].value == f"{p95:.1f} ms"
    assert tiles(at)["Predictions"].value == f"{len(predictions):,}"
    histogram = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert sum(histogram["y"]) == len(predictions)
    assert [b.proto.label for b in at.get("download_button")] == ["Download CSV"]


def test_latency_window_picker(loaded: Any) -> None:
    at = run_page(LATENCY)
    at.segmented_control(key="latency_window").set_value("1h").run()
    assert not at.exception
    assert chart_titles(at)[0] == "Latency percentiles per hour"
    table = frame_with(at, "throughput_per_min")
    assert table["count"].sum() == len(prediction_records())


def test_csv_download_quotes_formula_text() -> None:
    frame = pd.DataFrame({"value": ["=HYPERLINK(1)", "web"], "n": [1, 2]})
    text = perf_data.csv_bytes(frame).decode()
    assert "'=HYPERLINK(1)" in text
    assert "web" in text
