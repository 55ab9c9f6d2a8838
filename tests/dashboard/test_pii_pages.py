"""PII features on the pages under AppTest, reading a real DuckDB store: model `credit`
with customer_id marked `pii = true` (the records, model and reference of
tests/collectors/test_pii.py), every prediction explained and the daily drift stored.

Who is looking: AppTest has no HTTP request, so no session cookie and no proxy header, and
with the default settings (login off on loopback) dashboard.auth.principal() is the local
admin. The role tests therefore replace dashboard.auth.principal with one returning a viewer
or an editor (monkeypatch); the real cookie path is covered by the lead's browser test.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import joblib
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService
from collectors.explain_service import ExplainService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from dashboard import auth, report_page_data
from dashboard.runtime import Runtime, set_runtime
from monitoring.access import MASK, Principal
from storage import Store, Writer
from storage.explanations import unexplained
from tests.collectors.test_pii import (
    ADMIN,
    DAYS,
    EDITOR,
    MODEL,
    PII,
    PII_VALUE,
    SCHEMA,
    T0,
    VIEWER,
    fitted_model,
    labels,
    pii_settings,
    records,
    reference,
)
from tests.dashboard.test_pages import APP, TIMEOUT

EXPLAIN = "views/explanations.py"
DRIFT = "views/drift.py"
PERFORMANCE = "views/performance.py"
REPORTS = "views/reports.py"
EVENT = "p3"  # customer_id CUST-9f3a-XYZ
DISTRIBUTION = "Distribution: reference vs current"
WATERFALL = "Contributions to this prediction"
BEESWARM = "SHAP values of each prediction"


@dataclass
class World:
    store: Store
    ingest: IngestService


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("pii_pages")
    store = Store(folder / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    settings = pii_settings(db=store.path)
    drift = DriftService(ingest, settings)
    explain = ExplainService(ingest, settings, drift)
    set_runtime(Runtime(store, settings, drift=drift, explain=explain))
    st.cache_data.clear()
    ingest.register(MODEL, SCHEMA)
    recs = records()
    ingest.predictions(MODEL, recs)
    ingest.labels(MODEL, labels(recs))
    drift.upload_reference(MODEL, reference(), None, "train")
    buffer = folder / "model.joblib"
    joblib.dump(fitted_model(), buffer)
    explain.register_artifact(MODEL, "1", buffer.read_bytes())
    model = ingest.model(MODEL)
    rows = unexplained(store.cursor(), model, T0, T0 + timedelta(days=DAYS), limit=10_000)
    assert explain.explain_rows(model, rows) == len(recs)
    DriftJob(drift, granularities=("1d",)).run_once(T0 + timedelta(days=DAYS, hours=1))
    yield World(store, ingest)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


@pytest.fixture
def as_who(monkeypatch: pytest.MonkeyPatch) -> Callable[[Principal], None]:
    """Make dashboard.auth see `who` (AppTest has no cookie: see the module docstring)."""

    def use(who: Principal) -> None:
        monkeypatch.setattr(auth, "principal", lambda: who)

    return use


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def specs(at: AppTest) -> dict[str, dict[str, Any]]:
    return {
        s["layout"]["title"]["text"]: s
        for s in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    }


def plain(elements: Any) -> list[str]:
    """Markdown-escaped page text (fmt.markdown_text) back as written."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def everything(at: AppTest) -> str:
    """Every chart, table and text of the page, as one string to search for a value."""
    kinds = (at.markdown, at.caption, at.info, at.warning, at.error, at.success)
    parts = [e.value for kind in kinds for e in kind]
    parts += [c.proto.spec for c in at.get("plotly_chart")]
    parts += [d.value.to_json() for d in at.dataframe]
    parts += [str(s.options) for s in at.selectbox]
    return "\n".join(parts)


def explained(at: AppTest) -> AppTest:
    at.text_input(key=f"explain_event_{MODEL}").set_value(EVENT).run()
    ok(at)
    return at


def test_a_viewer_sees_explanations_with_customer_id_masked(
    world: World, as_who: Callable[[Principal], None]
) -> None:
    as_who(VIEWER)
    at = explained(run_page(EXPLAIN))
    charts = specs(at)
    assert f"{PII} = {MASK}" in charts[WATERFALL]["data"][0]["y"]
    values = next(d.value for d in at.dataframe if "attribution" in d.value.columns)
    assert values.set_index("feature").loc[PII, "value"] == MASK
    swarm = next(t for t in charts[BEESWARM]["data"] if t.get("name") == PII)
    assert {point[1] for point in swarm["customdata"]} == {MASK}
    assert any("customer_id is marked PII" in c for c in plain(at.caption))
    at.selectbox(key=f"explain_segment_{MODEL}").set_value(PII).run()
    ok(at)
    assert any("customer_id is marked PII" in i for i in plain(at.info))
    assert not [s for s in at.selectbox if s.key == f"explain_segment_value_{MODEL}_{PII}"]
    assert PII_VALUE not in everything(at)


def test_an_editor_sees_the_values(world: World, as_who: Callable[[Principal], None]) -> None:
    as_who(EDITOR)
    at = explained(run_page(EXPLAIN))
    assert f"{PII} = {PII_VALUE}" in specs(at)[WATERFALL]["data"][0]["y"]
    values = next(d.value for d in at.dataframe if "attribution" in d.value.columns)
    assert values.set_index("feature").loc[PII, "value"] == PII_VALUE
    swarm = next(t for t in specs(at)[BEESWARM]["data"] if t.get("name") == PII)
    assert PII_VALUE in {point[1] for point in swarm["customdata"]}
    at.selectbox(key=f"explain_segment_{MODEL}").set_value(PII).run()
    ok(at)
    assert PII_VALUE in at.selectbox(key=f"explain_segment_value_{MODEL}_{PII}").options


def test_drift_drill_down_hides_the_distribution_for_a_viewer(
    world: World, as_who: Callable[[Principal], None]
) -> None:
    as_who(VIEWER)
    at = run_page(DRIFT)
    at.selectbox(key=f"drift_feature_{MODEL}").set_value(PII).run()
    ok(at)
    assert DISTRIBUTION not in specs(at)
    assert "customer_id is marked PII: its values are hidden for viewers." in plain(at.caption)
    assert PII_VALUE not in everything(at)
    at.selectbox(key=f"drift_feature_{MODEL}").set_value("income").run()
    ok(at)
    assert DISTRIBUTION in specs(at)  # other features keep their chart
    as_who(EDITOR)
    at = run_page(DRIFT)
    at.selectbox(key=f"drift_feature_{MODEL}").set_value(PII).run()
    ok(at)
    assert PII_VALUE in json.dumps(specs(at)[DISTRIBUTION]["data"])


def test_performance_segments_by_pii_are_refused_for_a_viewer(
    world: World, as_who: Callable[[Principal], None]
) -> None:
    as_who(EDITOR)
    at = run_page(PERFORMANCE)
    worst = next(d.value for d in at.dataframe if "dimension" in d.value.columns)
    assert PII_VALUE in set(worst["value"])  # the oracle: customer_id segments do rank
    as_who(VIEWER)
    at = run_page(PERFORMANCE)
    assert PII_VALUE not in everything(at)
    assert any("Segments by customer_id are left out" in c for c in plain(at.caption))
    at.selectbox(key=f"perf_segment_{MODEL}").set_value(PII).run()
    ok(at)
    assert any("customer_id is marked PII" in i for i in plain(at.info))
    assert PII_VALUE not in everything(at)


def test_reports_page_exports_by_role(world: World, as_who: Callable[[Principal], None]) -> None:
    as_who(VIEWER)
    at = run_page(REPORTS)
    assert "Parquet" not in at.segmented_control(key="reports_format").options
    as_who(EDITOR)
    at = run_page(REPORTS)
    at.segmented_control(key="reports_format").set_value("Parquet").run()
    ok(at)
    assert not [c for c in at.checkbox if c.key == "reports_include_pii"]
    assert any("only admins may export PII" in c.value for c in at.caption)
    assert PII not in built(at).column_names
    as_who(ADMIN)
    at = run_page(REPORTS)
    at.segmented_control(key="reports_format").set_value("Parquet").run()
    assert PII not in built(at).column_names  # unticked: left out for admins too
    at.checkbox(key="reports_include_pii").check().run()
    assert PII_VALUE in set(built(at).column(PII).to_pylist())


def built(at: AppTest) -> pa.Table:
    """Click Build; the Parquet file the page offers for download."""
    at.button(key="reports_build").click().run()
    ok(at)
    return pq.read_table(io.BytesIO(at.session_state[report_page_data.BUILT][1]))
