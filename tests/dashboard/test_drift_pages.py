"""The Drift and Data quality pages under AppTest, reading a real DuckDB store.

One store per module: model `churn` has three hours of predictions and an uploaded reference,
and the real DriftJob stores its hourly windows. Feature x drifts from the second hour, y is
missing in 40 % of the rows (the worst quality) and plan meets an unseen category in the last
hour. Tests that change references use models of their own.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import drift_data
from dashboard.runtime import Runtime, set_runtime
from storage import Store, Writer
from storage.drift_store import drift_windows, record_rejections
from storage.references import list_references
from tests.dashboard.test_pages import APP, TIMEOUT, chart_titles

DRIFT = "views/drift.py"
QUALITY = "views/quality.py"
MODEL = "churn"
T0 = datetime(2026, 1, 10, tzinfo=UTC)
HOURS = 3
SCHEMA = {
    "task": "binary",
    "positive_class": 1,
    "features": {"x": "numeric", "y": "numeric", "plan": "categorical"},
}
HOSTILE = "<script>x</script>"


@dataclass
class World:
    store: Store
    writer: Writer
    ingest: IngestService
    service: DriftService

    def references(self, name: str) -> list[Any]:
        return list_references(self.store.cursor(), self.ingest.model(name))

    def add_model(self, name: str, version: str = "1", hours: int = 1) -> None:
        """A model with `hours` of calm predictions and no reference."""
        self.ingest.register(name, SCHEMA)
        self.ingest.predictions(name, records(hours, version, prefix=name))
        st.cache_data.clear()  # the pages' model list is cached for a few seconds


def records(hours: int, version: str = "1", prefix: str = "e") -> list[dict[str, Any]]:
    """One prediction a minute; x shifts by 2 from the second hour, y is 40 % missing and
    plan is 'enterprise' (not in the reference) in every 6th row of the third hour."""
    rng = np.random.default_rng(1)
    out = []
    for i in range(60 * hours):
        hour = i // 60
        plan = "enterprise" if hour == 2 and i % 6 == 0 else ("pro" if i % 3 else "basic")
        out.append(
            {
                "event_id": f"{prefix}{i}",
                "timestamp": (T0 + timedelta(minutes=i)).isoformat(),
                "version": version,
                "prediction": i % 2,
                "score": 0.5,
                "latency_ms": 3.0,
                "features": {
                    "x": float(rng.normal(2.0 if hour >= 1 else 0.0, 1.0)),
                    "y": None if i % 5 < 2 else float(rng.normal()),
                    "plan": plan,
                },
            }
        )
    return out


def reference_frame(rows: int = 300) -> pd.DataFrame:
    """The training sample: x and y standard normal (with wide bounds), plan pro/basic."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=rows), rng.normal(size=rows)
    x[:2], y[:2] = (-10.0, 10.0), (-10.0, 10.0)  # no current value is out of range
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "plan": ["pro" if i % 3 else "basic" for i in range(rows)],
            "prediction": [i % 2 for i in range(rows)],
        }
    )


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("drift_pages")
    store = Store(folder / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    settings = Settings(db=store.path)
    service = DriftService(ingest, settings)
    set_runtime(Runtime(store, settings, drift=service))
    st.cache_data.clear()
    ingest.register(MODEL, SCHEMA)
    ingest.predictions(MODEL, records(HOURS))
    service.upload_reference(MODEL, reference_frame(), None, "train.csv")
    assert DriftJob(service, ("1h",), budget_s=600).run_once(T0 + timedelta(days=1)) == HOURS
    writer.run(lambda con: record_rejections(con, MODEL, T0, {"invalid:features.x": 4}))
    yield World(store, writer, ingest, service)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def run_page(page: str, model: str | None = None, version: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    prefix = "drift" if page == DRIFT else "quality"
    if model is not None:
        at.selectbox(key=f"{prefix}_model").set_value(model).run()
    if version is not None:
        at.selectbox(key=f"{prefix}_version_{model}").set_value(version).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def plain(text: str) -> str:
    """Markdown-escaped page text (fmt.markdown_text) back as written."""
    return re.sub(r"\\(.)", r"\1", text)


def raw_tag(text: str) -> bool:
    """Whether markdown holds a "<" that is not escaped (it could open an HTML tag)."""
    return re.search(r"(?<!\\)<", text) is not None


def texts(at: AppTest) -> list[str]:
    """Every markdown-like body on the page (markdown, captions, alerts)."""
    kinds = (at.markdown, at.caption, at.info, at.warning, at.error, at.success)
    return [e.value for kind in kinds for e in kind]


def test_no_model_shows_getting_started(tmp_path: Path, world: World) -> None:
    store = Store(tmp_path / "empty.duckdb")
    writer = Writer(store)
    settings = Settings(db=store.path)
    drift = DriftService(IngestService(store, writer, ServerMetrics()), settings)
    set_runtime(Runtime(store, settings, drift=drift))
    try:
        for page in (DRIFT, QUALITY):
            at = run_page(page)
            assert "No models are registered yet" in at.info[0].value
            assert not at.get("plotly_chart")
    finally:
        set_runtime(Runtime(world.store, world.service.settings, drift=world.service))
        writer.stop()
        store.close()


def test_model_without_reference_explains_and_offers_the_forms(world: World) -> None:
    world.add_model("fresh")
    at = run_page(DRIFT, "fresh")
    assert at.title[0].value == "Drift"
    info = at.info[0].value
    assert "no reference data yet" in info
    assert "vigil reference upload FILE --model fresh" in info
    assert "PUT /api/v1/models/fresh/reference" in info
    assert str(Path("spool") / "fresh" / "reference") in info
    assert at.button(key="drift_ref_upload_fresh") is not None
    assert at.button(key="drift_ref_range_fresh") is not None
    assert not at.get("plotly_chart")  # nothing to compare yet


def test_drift_page_shows_the_stored_windows(world: World) -> None:
    at = run_page(DRIFT)
    model = world.ingest.model(MODEL)
    stored = drift_windows(world.store.cursor(), model, "1h", T0, T0 + timedelta(hours=HOURS))
    assert len(stored) == HOURS
    newest = stored.iloc[-1]
    shown = tiles(at)
    assert shown["Drifted features"] == f"{newest['n_drifted']} of {newest['n_tested']}"
    assert shown["Drift share"] == f"{newest['drift_share'] * 100:.1f} %"
    assert shown["Multivariate ROC AUC"] == f"{newest['multivariate_auc']:.3f}"
    assert shown["Prediction drift"] != "—"
    assert any("Reference 1" in m.value and "train.csv" in plain(m.value) for m in at.markdown)
    assert chart_titles(at) == [
        "Feature drift per hour",
        "Share of drifted features per hour",
        "Multivariate drift (domain classifier AUC) per hour",
        "Distribution: reference vs current",
        "Drift score per hour",
        "Features behind multivariate drift",
    ]
    # The drill-down starts at the worst feature, the heatmap's first row.
    heatmap = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert at.selectbox(key=f"drift_feature_{MODEL}").value == heatmap["y"][0]
    table = frame_with(at, "threshold").set_index("feature")
    assert table.loc["x", "drifted"]
    assert table.loc["prediction", "role"] == "prediction"
    assert set(table["role"]) == {"feature", "prediction"}  # no labels: no target row


def test_heatmap_marks_the_drifted_cells(world: World) -> None:
    at = run_page(DRIFT)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    heatmap = spec["data"][0]
    assert sorted(heatmap["y"]) == ["plan", "x", "y"]
    assert heatmap["y"][-1] == "y"  # y never drifts: the calmest row comes last
    results = drift_data.stored_results(MODEL, "1h", T0, T0 + timedelta(hours=HOURS), None)
    drifted = results[(results["role"] == "feature") & results["drifted"]]
    marks = next(t for t in spec["data"] if t.get("name") == "drifted")
    assert len(marks["x"]) == len(drifted)


def test_version_without_its_own_windows_borrows_the_every_version_ones(world: World) -> None:
    # One version only: the job stores the every-version row, which is this version's too.
    at = run_page(DRIFT, MODEL, "1")
    assert "Drifted features" in tiles(at)
    at.segmented_control(key=f"drift_granularity_{MODEL}").set_value("Daily").run()
    assert not at.exception
    assert any("No drift is stored for this range yet" in i.value for i in at.info)


def test_upload_action_stores_the_reference(world: World) -> None:
    world.add_model("uploaded", version="2")
    frame = reference_frame(50).drop(columns="prediction")
    info = drift_data.upload_reference("uploaded", csv_bytes(frame), "train.csv", "2")
    stored = world.references("uploaded")
    assert [(r.id, r.version, r.description, r.rows) for r in stored] == [
        (info.id, "2", "train.csv", 50)
    ]
    assert drift_data.reference("uploaded", "2") == info
    with pytest.raises(drift_data.ACTION_ERRORS):
        drift_data.upload_reference("uploaded", b"a,b\n1,2\n", "bad.csv", None)
    with pytest.raises(drift_data.ACTION_ERRORS):
        drift_data.upload_reference("uploaded", b"x\n1\n", "notes.txt", None)
    at = run_page(DRIFT, "uploaded")
    assert any("Reference" in m.value and "version 2" in m.value for m in at.markdown)


def test_range_action_uses_logged_predictions(world: World) -> None:
    world.add_model("ranged", hours=2)
    info = drift_data.use_range("ranged", T0, T0 + timedelta(hours=1), None, "1")
    assert (info.source, info.rows, info.range_version) == ("range", 60, "1")
    assert [r.id for r in world.references("ranged")] == [info.id]
    with pytest.raises(drift_data.ACTION_ERRORS, match="no predictions"):
        drift_data.use_range("ranged", T0 - timedelta(days=9), T0 - timedelta(days=8), None, None)
    at = run_page(DRIFT, "ranged")
    assert any("logged predictions" in plain(m.value) for m in at.markdown)


def test_evidently_report_builds_html(world: World) -> None:
    end = T0 + timedelta(hours=HOURS)
    html = drift_data.evidently_report(MODEL, T0, end, None)
    assert "Vigil drift report" in html
    assert drift_data.report_file_name(MODEL, T0, end) == (
        "churn-drift-20260110T0000Z-20260110T0300Z.html"
    )


def test_quality_page_lists_the_worst_feature_first(world: World) -> None:
    at = run_page(QUALITY)
    assert at.title[0].value == "Data quality"
    worst = frame_with(at, "missing_rate")
    assert list(worst["feature"]) == ["y", "plan", "x"]
    assert worst["missing_rate"].iloc[0] == pytest.approx(0.4)
    assert worst.set_index("feature").loc["plan", "unseen_rate"] == pytest.approx(10 / 180)
    assert chart_titles(at) == ["Missing rate per hour", "Rejected predictions per hour"]
    at.segmented_control(key="quality_check").set_value("unseen").run()
    assert not at.exception
    assert chart_titles(at)[0] == "Unseen category rate per hour"
    totals = frame_with(at, "reason")
    assert totals.to_dict("records") == [{"reason": "invalid:features.x", "count": 4}]


def test_hostile_text_is_rendered_as_text(world: World) -> None:
    world.add_model("hostile", version=HOSTILE)
    name = "<img src=x onerror=alert(1)>.csv"
    drift_data.upload_reference("hostile", csv_bytes(reference_frame(40)), name, HOSTILE)
    world.writer.run(lambda con: record_rejections(con, "hostile", T0, {HOSTILE: 2}))
    at = run_page(DRIFT, "hostile", HOSTILE)
    bodies = texts(at)
    assert not any(raw_tag(b) for b in bodies)
    panel = next(b for b in bodies if b.startswith("**Reference"))
    assert HOSTILE in plain(panel) and name in plain(panel)
    at = run_page(QUALITY, "hostile")
    assert frame_with(at, "reason")["reason"].tolist() == [HOSTILE]
    assert not any(raw_tag(b) for b in texts(at))


def test_without_the_drift_service_the_page_says_so(world: World) -> None:
    set_runtime(Runtime(world.store, world.service.settings))
    try:
        at = run_page(DRIFT)
        assert "vigil serve" in at.info[0].value
    finally:
        set_runtime(Runtime(world.store, world.service.settings, drift=world.service))
