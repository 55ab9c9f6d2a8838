"""The Explanations page under AppTest, reading a real DuckDB store with the demo pipeline.

One store per module: model `credit` has ~300 demo predictions over 30 days (version 2 from
day 25), a drift reference, the demo pipeline registered for both versions and every
prediction explained. The fixture keeps the explainer's own attributions (computed without
storage) as the oracle for the page's charts, and the pipeline's decision_function as the
oracle of a prediction's output. Model `lazy` has the same predictions and artifact but no
stored explanation; `fresh` has no artifact.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.drift_service import DriftService
from collectors.explain_service import ExplainService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import explain_data
from dashboard.runtime import Runtime, set_runtime
from sample_data import FEATURES, History, build_history, model_registration, reference_sample
from storage import Store, Writer
from storage.explanations import count_explained, unexplained
from tests.dashboard.test_pages import APP, TIMEOUT, chart_titles

PAGE = "views/explanations.py"
MODEL = "credit"
END = datetime(2026, 1, 31, tzinfo=UTC)
HOSTILE = "<script>x</script>"
WATERFALL = "Contributions to this prediction"


@dataclass
class World:
    store: Store
    writer: Writer
    ingest: IngestService
    explain: ExplainService
    history: History
    attributions: pd.DataFrame  # event_id, ts, version and one column per feature

    @property
    def settings(self) -> Settings:
        return self.explain.settings


def joblib_bytes(model: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def all_rows(world_store: Store, ingest: IngestService, name: str) -> pd.DataFrame:
    model = ingest.model(name)
    return unexplained(
        world_store.cursor(),
        model,
        END - timedelta(days=31),
        END + timedelta(days=1),
        limit=100_000,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("explain_pages")
    store = Store(folder / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    settings = Settings(db=store.path)
    drift = DriftService(ingest, settings)
    explain = ExplainService(ingest, settings, drift)
    set_runtime(Runtime(store, settings, drift=drift, explain=explain))
    st.cache_data.clear()
    history = build_history(per_day=10, end=END)
    artifact = joblib_bytes(history.model)
    for name in (MODEL, "lazy"):
        ingest.register(name, model_registration())
        ingest.predictions(name, history.predictions)
        ingest.labels(name, history.labels)
        drift.upload_reference(name, reference_sample(history.model, n=300), None, "train")
        for version in ("1", "2"):
            explain.register_artifact(name, version, artifact)
    rows = all_rows(store, ingest, MODEL)
    assert explain.explain_rows(ingest.model(MODEL), rows) == len(rows) == len(history.predictions)
    # The oracle: the same explainer on the same rows, with no storage in between.
    _, explainer = explain.explainer(ingest.model(MODEL), "1")
    explained = explainer.explain(rows[list(FEATURES)].reset_index(drop=True))
    attributions = pd.DataFrame(explained.values, columns=list(explained.features))
    attributions.insert(0, "event_id", rows["event_id"].to_numpy())
    attributions.insert(1, "ts", pd.to_datetime(rows["ts"], utc=True).to_numpy())
    attributions.insert(2, "version", rows["version"].astype(str).to_numpy())
    for feature in FEATURES:
        attributions[f"value:{feature}"] = rows[feature].to_numpy()
    yield World(store, writer, ingest, explain, history, attributions)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def run_page(model: str | None = None, version: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    if model is not None:
        at.selectbox(key="explain_model").set_value(model).run()
    if version is not None:
        at.selectbox(key=f"explain_version_{model}").set_value(version).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest, title: str) -> dict[str, Any]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"] == title)


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def plain(text: str) -> str:
    """Markdown-escaped page text (fmt.markdown_text) back as written."""
    return re.sub(r"\\(.)", r"\1", text)


def raw_tag(text: str) -> bool:
    """Whether markdown holds a "<" that is not escaped (it could open an HTML tag)."""
    return re.search(r"(?<!\\)<", text) is not None


def texts(at: AppTest) -> list[str]:
    kinds = (at.markdown, at.caption, at.info, at.warning, at.error, at.success)
    return [e.value for kind in kinds for e in kind]


def explain_event(at: AppTest, model: str, event_id: str) -> AppTest:
    at.text_input(key=f"explain_event_{model}").set_value(event_id).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def mean_abs(frame: pd.DataFrame) -> pd.Series:
    """Mean |attribution| per feature, largest first (ties by name)."""
    means = frame[list(FEATURES)].abs().mean()
    return means.loc[sorted(means.index, key=lambda f: (-means[f], f))]


def ndcg_by_hand(reference: pd.Series, current: pd.Series) -> float:
    """Relevance = reference share; DCG of the current order over the reference's own DCG."""
    share = reference / reference.sum()
    order = sorted(current.index, key=lambda f: (-current[f], f))
    dcg = sum(share.get(f, 0.0) / math.log2(i + 2) for i, f in enumerate(order))
    ideal = sum(s / math.log2(i + 2) for i, s in enumerate(sorted(share, reverse=True)))
    return float(dcg / ideal)


def test_model_without_an_artifact_says_how_to_register_one(world: World) -> None:
    world.ingest.register("fresh", model_registration())
    world.ingest.predictions("fresh", world.history.predictions[:20])
    st.cache_data.clear()
    at = run_page("fresh")
    assert at.title[0].value == "Explanations"
    info = at.info[0].value
    assert "vigil model register FILE --model fresh --version V" in info
    assert "PUT /api/v1/models/fresh/versions/V/artifact" in info
    assert not at.get("plotly_chart")


def test_version_without_an_artifact_says_so(world: World) -> None:
    world.ingest.register("partial", model_registration())
    world.ingest.predictions("partial", world.history.predictions[:20])
    world.explain.register_artifact("partial", "2", joblib_bytes(world.history.model))
    st.cache_data.clear()
    at = run_page("partial", "1")
    assert "--model partial --version V" in at.info[0].value
    at = run_page("partial")  # all versions: version 2 has one, so the page goes on
    assert any("Versions without an artifact" in c.value for c in at.caption)


def test_page_shows_importance_beeswarm_and_attribution_drift(world: World) -> None:
    at = run_page(MODEL)
    assert chart_titles(at) == [
        "Mean |SHAP value| per feature",
        "SHAP values of each prediction",
        "Share of attribution per day",
        "Attribution drift (NDCG vs the reference) per day",
        "Importance rank: reference vs current",
        "Mean |SHAP value| per feature",
    ]
    expected = mean_abs(world.attributions)
    bars = chart(at, "Mean |SHAP value| per feature")["data"][0]
    assert bars["y"] == list(expected.index)
    np.testing.assert_allclose(bars["x"], expected.to_numpy(), rtol=1e-9)
    assert (
        "log-odds" in chart(at, "Mean |SHAP value| per feature")["layout"]["xaxis"]["title"]["text"]
    )
    assert any(f"{len(world.attributions):,} explained predictions" in c.value for c in at.caption)


def test_one_version_counts_only_its_explanations(world: World) -> None:
    at = run_page(MODEL, "2")
    second = world.attributions[world.attributions["version"] == "2"]
    assert 0 < len(second) < len(world.attributions)
    expected = mean_abs(second)
    bars = chart(at, "Mean |SHAP value| per feature")["data"][0]
    assert bars["y"] == list(expected.index)
    np.testing.assert_allclose(bars["x"], expected.to_numpy(), rtol=1e-9)
    assert any(f"{len(second):,} explained predictions" in c.value for c in at.caption)
    recent = next(d.value for d in at.dataframe if "explained" in d.value.columns)
    assert set(recent["version"]) == {"2"}


def test_beeswarm_has_one_row_per_feature_in_importance_order(world: World) -> None:
    at = run_page(MODEL)
    spec = chart(at, "SHAP values of each prediction")
    order = list(mean_abs(world.attributions).index)
    names = next(t for t in spec["data"] if t.get("name") == "features")
    assert names["y"] == order
    for position, feature in enumerate(order):
        points = next(t for t in spec["data"] if t.get("name") == feature)
        assert len(points["x"]) == len(world.attributions)
        assert sorted(points["x"]) == pytest.approx(sorted(world.attributions[feature]))
        assert np.all(np.abs(np.asarray(points["y"]) - position) <= 0.4 + 1e-9)


def test_waterfall_of_one_prediction_matches_the_model(world: World) -> None:
    row = world.history.frame.iloc[7]
    at = explain_event(run_page(MODEL), MODEL, str(row["event_id"]))
    spec = chart(at, WATERFALL)
    bars = spec["data"][0]
    margin = float(world.history.model.decision_function(pd.DataFrame([row[list(FEATURES)]]))[0])
    assert bars["base"] + sum(bars["x"]) == pytest.approx(margin, abs=1e-6)
    assert len(bars["y"]) == len(FEATURES)
    expected = world.attributions.set_index("event_id").loc[row["event_id"], list(FEATURES)]
    top = max(FEATURES, key=lambda f: abs(expected[f]))
    assert bars["y"][-1].startswith(f"{top} = ")  # the largest contribution on top
    assert bars["x"][-1] == pytest.approx(expected[top])
    shown = tiles(at)
    assert shown["Output f(x)"] == f"{margin:.4g}"
    assert shown["Explained class"] == "1"
    values = next(d.value for d in at.dataframe if "attribution" in d.value.columns)
    assert values["feature"].iloc[0] == top
    assert set(values["feature"]) == set(FEATURES)
    assert any("explanation stored" in plain(c.value) for c in at.caption)


def test_tables_list_recent_predictions_and_worst_errors(world: World) -> None:
    at = run_page(MODEL)
    recent = next(d.value for d in at.dataframe if "explained" in d.value.columns)
    frame = world.history.frame.sort_values("timestamp_ms", ascending=False)
    assert list(recent["event_id"]) == list(frame["event_id"].iloc[: explain_data.TABLE_ROWS])
    assert recent["explained"].all()
    worst = [d.value for d in at.dataframe if "explained" in d.value.columns][1]
    assert (worst["prediction"].astype(str) != worst["label"].astype(str)).all()
    scores = worst["score"].to_numpy()
    truth = (worst["label"].astype(str) == "1").to_numpy(dtype=float)
    distance = np.abs(scores - truth)
    assert list(distance) == sorted(distance, reverse=True)


def test_unknown_event_warns(world: World) -> None:
    at = explain_event(run_page(MODEL), MODEL, "no-such-event")
    assert any("no prediction with event_id" in plain(w.value) for w in at.warning)
    assert WATERFALL not in chart_titles(at)


def test_attribution_drift_tile_is_ndcg_of_the_newest_day(world: World) -> None:
    at = run_page(MODEL)
    reference = world.explain.reference_importance(MODEL, None)
    assert reference is not None
    days = world.attributions["ts"].dt.floor("D")
    newest = world.attributions[days == days.max()]
    expected = ndcg_by_hand(
        reference.set_index("feature")["mean_abs"], newest[list(FEATURES)].abs().mean()
    )
    assert tiles(at)["NDCG, newest day"] == f"{expected:.3f}"
    ndcg = chart(at, "Attribution drift (NDCG vs the reference) per day")
    assert [s["y0"] for s in ndcg["layout"]["shapes"]] == [0.9]
    points = [y for t in ndcg["data"] if t.get("mode") == "markers" for y in t["y"]]
    assert len(points) == days.nunique()
    shares = chart(at, "Share of attribution per day")
    stacked = np.sum([t["y"] for t in shares["data"]], axis=0)
    np.testing.assert_allclose(stacked, 1.0)
    ranks = next(d.value for d in at.dataframe if "current_rank" in d.value.columns)
    assert ranks["current_rank"].dropna().iloc[0] == 1


def test_segment_view_shows_importance_within_the_segment(world: World) -> None:
    at = run_page(MODEL)
    at.selectbox(key=f"explain_segment_{MODEL}").set_value("region").run()
    at.selectbox(key=f"explain_segment_value_{MODEL}_region").set_value("north").run()
    assert not at.exception
    north = world.attributions[world.attributions["value:region"] == "north"]
    expected = mean_abs(north)
    table = next(d.value for d in at.dataframe if "share in segment" in d.value.columns)
    assert list(table["feature"]) == list(expected.index)
    np.testing.assert_allclose(table["share in segment"], expected / expected.sum())
    overall = mean_abs(world.attributions)
    np.testing.assert_allclose(
        table["share overall"].astype(float), (overall / overall.sum()).loc[expected.index]
    )
    bars = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][-1]["data"][0]
    np.testing.assert_allclose(bars["x"], expected.to_numpy(), rtol=1e-9)
    assert any(f"{len(north):,} explained predictions" in plain(c.value) for c in at.caption)


def test_explains_on_demand_and_explain_more(world: World) -> None:
    model = world.ingest.model("lazy")
    at = run_page("lazy")
    assert any("No prediction of this range is explained yet" in i.value for i in at.info)
    event_id = str(world.history.frame["event_id"].iloc[3])
    at = explain_event(at, "lazy", event_id)
    assert WATERFALL in chart_titles(at)
    assert any("computed now and stored" in plain(c.value) for c in at.caption)
    assert count_explained(world.store.cursor(), model, END - timedelta(days=40), END) == 1
    at.run()  # the same id again: read back, not computed
    assert any("explanation stored" in plain(c.value) for c in at.caption)
    at.button(key="explain_more_lazy").click().run()
    assert not at.exception
    total = len(world.history.predictions)
    assert any(f"{total - 1:,} more predictions" in s.value for s in at.success)
    assert count_explained(world.store.cursor(), model, END - timedelta(days=40), END) == total
    assert "Mean |SHAP value| per feature" in chart_titles(at)


def test_hostile_text_is_rendered_as_text(world: World) -> None:
    world.ingest.register("hostile", model_registration())
    records = [
        {
            **r,
            "event_id": f"{HOSTILE}{i}",
            "version": HOSTILE,
            "features": {**r["features"], "region": HOSTILE},
        }
        for i, r in enumerate(world.history.predictions[:30])
    ]
    world.ingest.predictions("hostile", records)
    world.explain.register_artifact("hostile", HOSTILE, joblib_bytes(world.history.model))
    st.cache_data.clear()
    at = explain_event(run_page("hostile", HOSTILE), "hostile", f"{HOSTILE}0")
    bodies = texts(at)
    assert not any(raw_tag(b) for b in bodies)
    assert any(HOSTILE in plain(b) for b in bodies)  # the artifact line and the event caption
    waterfall = json.dumps(chart(at, WATERFALL)["data"])
    assert HOSTILE not in waterfall and "&lt;script&gt;" in waterfall
    for spec in (json.loads(c.proto.spec) for c in at.get("plotly_chart")):
        assert HOSTILE not in json.dumps(spec)
    values = next(d.value for d in at.dataframe if "attribution" in d.value.columns)
    assert HOSTILE in set(values["value"])  # a dataframe cell is plain text


def test_without_the_explain_service_the_page_says_so(world: World) -> None:
    set_runtime(Runtime(world.store, world.settings, drift=world.explain.drift))
    try:
        at = run_page()
        assert "vigil serve" in at.info[0].value
        assert not at.get("plotly_chart")
    finally:
        set_runtime(
            Runtime(world.store, world.settings, drift=world.explain.drift, explain=world.explain)
        )


def test_rank_change_table() -> None:
    changes = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d", "e"],
            "reference_rank": [1, 2, 3, np.nan, 4],
            "current_rank": [2, 1, 3, 4, np.nan],
            "change": [-1, 1, 0, np.nan, np.nan],
            "reference_share": [0.4, 0.3, 0.2, np.nan, 0.1],
            "current_share": [0.3, 0.5, 0.15, 0.05, np.nan],
        }
    )
    table = explain_data.rank_change_table(changes)
    assert list(table["feature"]) == ["b", "a", "c", "d", "e"]  # by current rank, gone last
    assert list(table["change"]) == ["▲ 1", "▼ 1", "=", "new", "gone"]
    assert explain_data.rank_change_table(pd.DataFrame()).empty
