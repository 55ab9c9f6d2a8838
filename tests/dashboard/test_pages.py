"""The dashboard pages under Streamlit's AppTest, reading a real DuckDB store.

Data is loaded the real way (IngestService and the writer). The pages are reached through
the entry script: `AppTest.from_file("dashboard/app.py").run()` registers the st.navigation
pages, then `at.switch_page("views/system.py").run()` opens another one. No GPU exists on
the test machine: the GPU rows written in `test_system_page_with_gpu_rows_shows_gpu_charts`
are fixtures standing in for NVML samples.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sklearn.metrics import accuracy_score
from streamlit.testing.v1 import AppTest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import data
from dashboard.runtime import Runtime, set_runtime
from storage import Store, Writer
from storage.system import write_samples

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
MODEL = "churn"
T0 = datetime(2026, 1, 10, tzinfo=UTC)
N = 1200
STEP = timedelta(minutes=4)
GIB = 1024**3
TIMEOUT = 30


@dataclass
class Loaded:
    """The fixture's store and the rows it holds, for computing expected values."""

    store: Store
    writer: Writer
    predictions: pd.DataFrame
    labels: pd.DataFrame
    latest_cpu: float
    latest_mem: int


def prediction_records() -> list[dict[str, Any]]:
    """Three days of predictions; version 2 takes every other request from day 2."""
    records = []
    for i in range(N):
        records.append(
            {
                "event_id": f"e{i}",
                "timestamp": (T0 + i * STEP).isoformat(),
                "version": "2" if i >= N // 3 and i % 2 == 0 else "1",
                "prediction": i % 2,
                "score": 0.9 if i % 2 else 0.1,
                "latency_ms": 5 + (i * 37 % 100) / 2,
                "features": {"x": float(i % 17), "plan": "pro" if i % 3 else "basic"},
            }
        )
    return records


def label_records() -> list[dict[str, Any]]:
    """Two thirds of the predictions get a label; more disagree on the last day."""
    return [
        {"event_id": f"e{i}", "label": 1 - i % 2 if wrong(i) else i % 2}
        for i in range(N)
        if i % 3 != 0
    ]


def wrong(i: int) -> bool:
    return i % 5 == 0 or (i >= 2 * N // 3 and i % 7 == 0)


def system_row(ts: datetime, cpu: float, mem: int) -> dict[str, Any]:
    return {
        "ts": ts,
        "host": "test-host",
        "cpu_percent": cpu,
        "mem_used_bytes": mem,
        "mem_available_bytes": 6 * GIB,
        "disk_percent": 40.0,
        "disk_read_bps": 1000.0,
        "disk_write_bps": 2000.0,
        "net_sent_bps": 300.0,
        "net_recv_bps": 400.0,
        "proc_cpu_percent": 1.0,
        "proc_rss_bytes": 200 * 1024**2,
    }


def system_rows(now: datetime) -> list[dict[str, Any]]:
    """Newest first: 20 samples 30 s apart ending 1 s ago (10 % CPU and 2 GiB in the
    newest), then one every 15 minutes back to 20 hours ago."""
    recent = [
        system_row(now - timedelta(seconds=1 + 30 * k), 10.0 + k, 2 * GIB + k * 1024**2)
        for k in range(20)
    ]
    older = [system_row(now - timedelta(minutes=15 * k), 50.0, 3 * GIB) for k in range(1, 81)]
    return recent + older


def open_runtime(tmp_path: Path) -> tuple[Store, Writer, IngestService]:
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store)
    set_runtime(Runtime(store, Settings(db=store.path)))
    st.cache_data.clear()
    return store, writer, IngestService(store, writer, ServerMetrics())


def close_runtime(store: Store, writer: Writer) -> None:
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Store]:
    store, writer, _ = open_runtime(tmp_path)
    yield store
    close_runtime(store, writer)


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[Loaded]:
    store, writer, ingest = open_runtime(tmp_path)
    ingest.register(
        MODEL,
        {
            "task": "binary",
            "positive_class": 1,
            "features": {"x": "numeric", "plan": "categorical"},
        },
    )
    records = prediction_records()
    ingest.predictions(MODEL, records)
    labels = label_records()
    ingest.labels(MODEL, labels)
    rows = system_rows(datetime.now(UTC))
    writer.run(lambda con: write_samples(con, rows))
    frame = pd.DataFrame(records)
    frame["ts"] = pd.to_datetime(frame["timestamp"])
    yield Loaded(
        store,
        writer,
        frame,
        pd.DataFrame(labels),
        float(rows[0]["cpu_percent"]),
        int(rows[0]["mem_used_bytes"]),
    )
    close_runtime(store, writer)


def run_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def expected_kpis(loaded: Loaded, rows: pd.DataFrame) -> dict[str, str]:
    """KPI texts computed from the fixture rows with numpy and scikit-learn."""
    joined = rows.merge(loaded.labels, on="event_id")
    accuracy = accuracy_score(joined["label"].astype(str), joined["prediction"].astype(str))
    p95 = float(np.quantile(rows["latency_ms"], 0.95))
    return {
        "Predictions": f"{len(rows):,}",
        "Accuracy": f"{accuracy * 100:.1f} %",
        "Latency p95": f"{p95:.1f} ms",
        "CPU": f"{loaded.latest_cpu:.1f} %",
        "Memory used": f"{loaded.latest_mem / GIB:.1f} GiB",
    }


def test_overview_kpis_match_the_fixture(loaded: Loaded) -> None:
    at = run_app()
    shown = metrics(at)
    assert shown == expected_kpis(loaded, loaded.predictions)
    labelled = len(loaded.labels)
    accuracy_tile = next(m for m in at.metric if m.label == "Accuracy")
    assert accuracy_tile.proto.delta == f"{labelled:,} labelled"
    assert chart_titles(at) == [
        "Predictions per hour",
        "Latency percentiles",
        "Accuracy per day",
        "CPU",
        "Memory",
    ]


def test_overview_charts_carry_both_versions(loaded: Loaded) -> None:
    at = run_app()
    volume = json.loads(at.get("plotly_chart")[0].proto.spec)
    totals = {trace["name"]: sum(trace["y"]) for trace in volume["data"]}
    assert totals == loaded.predictions["version"].value_counts().to_dict()


def test_overview_version_picker_filters_kpis(loaded: Loaded) -> None:
    at = run_app()
    at.selectbox(key=f"overview_version_{MODEL}").set_value("2").run()
    assert not at.exception
    rows = loaded.predictions[loaded.predictions["version"] == "2"]
    assert metrics(at) == expected_kpis(loaded, rows)


def test_overview_range_ends_at_the_last_prediction(loaded: Loaded) -> None:
    at = run_app()
    at.segmented_control(key=f"overview_range_{MODEL}").set_value("Last 24 h").run()
    assert not at.exception
    last = loaded.predictions["ts"].max()
    rows = loaded.predictions[loaded.predictions["ts"] > last - timedelta(hours=24)]
    assert metrics(at)["Predictions"] == f"{len(rows):,}"
    assert metrics(at) == expected_kpis(loaded, rows)
    # 24 hours are drawn in 5-minute buckets and the accuracy per hour.
    assert chart_titles(at)[0] == "Predictions per 5 minutes"
    assert chart_titles(at)[2] == "Accuracy per hour"


def test_empty_database_shows_getting_started(empty_db: Store) -> None:
    at = run_app()
    assert at.title[0].value == "Send your first predictions"
    assert "No models are registered yet" in at.info[0].value
    text = " ".join(m.value for m in at.markdown)
    assert "make demo" in text
    assert "http://localhost:8501/api/v1/health" in text
    code = " ".join(c.value for c in at.code)
    assert "curl -X PUT http://localhost:8501/api/v1/models/churn" in code
    assert "Monitor(" in code
    assert not at.get("plotly_chart")


def test_getting_started_page_is_always_reachable(loaded: Loaded) -> None:
    at = run_app("views/getting_started.py")
    assert at.title[0].value == "Send your first predictions"
    assert not at.info  # models exist: no "empty database" note


def test_without_a_server_the_app_explains_how_to_start_it() -> None:
    set_runtime(None)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "vigil serve" in at.error[0].value
    assert not at.metric


def test_system_page_without_gpu_rows_says_no_gpu(loaded: Loaded) -> None:
    at = run_app("views/system.py")
    assert at.title[0].value == "System"
    shown = metrics(at)
    assert shown["CPU"] == f"{loaded.latest_cpu:.1f} %"
    assert shown["Memory used"] == "2.0 GiB"
    assert shown["Network"] == "700 B/s"
    network = next(m for m in at.metric if m.label == "Network")
    assert network.proto.delta == "↑ 300 B/s  ↓ 400 B/s"
    assert chart_titles(at) == ["CPU", "Memory", "Disk I/O", "Network"]
    assert any("No GPU found" in i.value for i in at.info)


def test_system_page_with_gpu_rows_shows_gpu_charts(loaded: Loaded) -> None:
    now = datetime.now(UTC)
    gpus = [
        {
            "ts": now - timedelta(seconds=1 + 30 * k),
            "host": "test-host",
            "gpu_index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "uuid": "GPU-fixture",
            "util_percent": 50.0,
            "mem_used_bytes": 10 * GIB,
            "mem_total_bytes": 80 * GIB,
            "temperature_c": 45.0,
            "power_w": 300.0,
        }
        for k in range(10)
    ]
    loaded.writer.run(lambda con: write_samples(con, [], gpus))
    at = run_app("views/system.py")
    assert not any("No GPU found" in i.value for i in at.info)
    titles = chart_titles(at)
    assert titles[4:] == ["GPU utilisation", "GPU memory used", "GPU temperature", "GPU power"]
    util = json.loads(at.get("plotly_chart")[4].proto.spec)["data"]
    assert [t["name"] for t in util] == ["GPU 0 NVIDIA H100 80GB HBM3"]
    assert set(util[0]["y"]) == {50.0}


def test_system_range_picker_changes_the_bucket(loaded: Loaded) -> None:
    at = run_app("views/system.py")
    assert any("per minute" in c.value for c in at.caption)
    cpu = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert len(cpu["x"]) <= 61  # the last hour in 1-minute buckets
    at.segmented_control(key="system_range").set_value("Last 24 h").run()
    assert not at.exception
    # Samples reach 20 hours back: 5-minute buckets keep the chart under 400 points.
    assert any("per 5 minutes" in c.value for c in at.caption)
    cpu = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert 80 <= len(cpu["x"]) <= 100


def test_reruns_reuse_query_cursors(loaded: Loaded) -> None:
    """Every Streamlit rerun runs in a new thread; Store.cursor() would keep one cursor per
    thread forever, so the pages borrow pooled cursors instead (Store._cursors is private:
    read here only to count them)."""
    run_app()
    before = len(loaded.store._cursors)
    for _ in range(3):
        st.cache_data.clear()  # force the queries to run again
        run_app("views/system.py")
    assert len(loaded.store._cursors) == before


@pytest.mark.parametrize(
    ("span", "choices", "bucket"),
    [
        (timedelta(hours=24), data.OVERVIEW_BUCKETS, "5m"),
        (timedelta(days=7), data.OVERVIEW_BUCKETS, "1h"),
        (timedelta(days=30), data.OVERVIEW_BUCKETS, "1d"),
        (timedelta(minutes=15), data.SYSTEM_BUCKETS, "1m"),
        (timedelta(hours=24), data.SYSTEM_BUCKETS, "5m"),
        (timedelta(days=7), data.SYSTEM_BUCKETS, "1h"),
    ],
)
def test_auto_bucket(span: timedelta, choices: tuple[str, ...], bucket: str) -> None:
    assert data.auto_bucket(span, choices) == bucket


def test_default_range_is_all_up_to_30_days_else_7_days() -> None:
    assert data.default_range(T0, T0 + timedelta(days=30)) == "All"
    assert data.default_range(T0, T0 + timedelta(days=31)) == "Last 7 days"
    start, end = data.model_range("Last 7 days", T0, T0 + timedelta(days=31))
    assert end is not None and end > T0 + timedelta(days=31)  # the last prediction is inside
    assert end - start == timedelta(days=7)
    assert data.model_range("All", T0, T0 + timedelta(days=1))[0] == T0
