"""Artifacts, on-demand explanations, the explanation job and attribution drift on a real
DuckDB file, with the demo pipeline; the model's own decision_function is the oracle."""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from collectors.drift_service import DriftService
from collectors.explain_job import ExplainJob
from collectors.explain_service import (
    ArtifactInvalid,
    ExplainService,
    NoArtifact,
    UnknownEvent,
)
from collectors.ingest import IngestService
from collectors.reference_input import reference_table
from collectors.settings import Settings
from sample_data import FEATURES, MODEL_NAME, build_history, model_registration, reference_sample
from storage.explanations import get_explanation
from storage.references import create_reference


@pytest.fixture(scope="module")
def history():
    return build_history(per_day=40)


@pytest.fixture
def service(ingest: IngestService, tmp_path: Path, history) -> ExplainService:
    ingest.register(MODEL_NAME, model_registration())
    ingest.predictions(MODEL_NAME, history.predictions)
    settings = replace(
        Settings(db=tmp_path / "v.duckdb"),
        explain_rate=1.0,
        explain_cap=100,
        explain_lookback_days=60,
    )
    return ExplainService(ingest, settings, DriftService(ingest, settings))


def _bytes(model: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def test_register_stores_the_file_by_sha256(service: ExplainService, history) -> None:
    data = _bytes(history.model)
    info = service.register_artifact(MODEL_NAME, "1", data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    stored = service.settings.data_dir / info.path
    assert stored.read_bytes() == data
    assert stored.name == f"1-{info.sha256}.joblib"
    assert info.explainer == "tree" and info.units == "log-odds"
    assert [a.version for a in service.artifacts(MODEL_NAME)] == ["1"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not a pickle at all", "cannot be loaded with joblib"),
        (pickle.dumps({"weights": [1, 2]}), "is a dict, not a model"),
    ],
)
def test_bad_artifacts_are_refused(service: ExplainService, data: bytes, message: str) -> None:
    with pytest.raises(ArtifactInvalid, match=message):
        service.register_artifact(MODEL_NAME, "1", data)
    assert service.artifacts(MODEL_NAME) == []


def test_explain_event_is_additive_and_matches_the_model(
    service: ExplainService,
    history,
) -> None:
    service.register_artifact(MODEL_NAME, "1", _bytes(history.model))
    record = next(r for r in history.predictions if r["version"] == "1")
    first = service.explain_event(MODEL_NAME, str(record["event_id"]))
    assert first["computed"] is True and first["units"] == "log-odds"
    assert set(first["attributions"]) == set(FEATURES)
    total = first["base_value"] + sum(first["attributions"].values())
    assert total == pytest.approx(first["output"], abs=1e-6)
    row = pd.DataFrame([{f: record["features"][f] for f in FEATURES}])
    margin = float(history.model.decision_function(row)[0])
    assert first["output"] == pytest.approx(margin, abs=1e-6)
    assert first["features"]["region"] == record["features"]["region"]
    again = service.explain_event(MODEL_NAME, str(record["event_id"]))
    assert again["computed"] is False and again["output"] == first["output"]


def test_unknown_events_and_versions_without_an_artifact(
    service: ExplainService,
    history,
) -> None:
    with pytest.raises(UnknownEvent, match="no prediction with event_id 'nope'"):
        service.explain_event(MODEL_NAME, "nope")
    record = next(r for r in history.predictions if r["version"] == "2")
    with pytest.raises(NoArtifact, match="vigil model register FILE --model credit-risk"):
        service.explain_event(MODEL_NAME, str(record["event_id"]))


def test_the_job_explains_newest_first_up_to_the_cap(
    service: ExplainService,
    history,
) -> None:
    data = _bytes(history.model)
    for version in ("1", "2"):
        service.register_artifact(MODEL_NAME, version, data)
    job = ExplainJob(service)
    now = history.end + timedelta(minutes=1)
    assert job.run_once(now) == 200  # the cap per version
    model = service.ingest.model(MODEL_NAME)
    con = service.ingest.store.cursor()
    newest = max(history.predictions, key=lambda r: str(r["timestamp"]))
    assert get_explanation(con, model, str(newest["event_id"])) is not None
    per_version = {v: sum(r["version"] == v for r in history.predictions) for v in ("1", "2")}
    second = sum(min(100, n - 100) for n in per_version.values())
    assert job.run_once(now) == second
    explained = service.importance(MODEL_NAME, history.start, history.end)["explained"]
    assert explained == 200 + second


def test_importance_is_mean_absolute_attribution(
    service: ExplainService,
    history,
) -> None:
    service.register_artifact(MODEL_NAME, "2", _bytes(history.model))
    ExplainJob(replace_cap(service, 60)).run_once(history.end + timedelta(minutes=1))
    model = service.ingest.model(MODEL_NAME)
    con = service.ingest.store.cursor()
    ids = con.execute(f"SELECT event_id FROM explanations_{model.id}").fetchall()
    attributions = pd.DataFrame(
        [get_explanation(con, model, i)["attributions"] for (i,) in ids]  # type: ignore[index]
    )
    expected = attributions.abs().mean().sort_values(ascending=False)
    got = service.importance(MODEL_NAME, history.start, history.end + timedelta(days=1))
    assert got["explained"] == 60 and got["units"] == "log-odds"
    assert [f["feature"] for f in got["features"]] == list(expected.index)
    for feature in got["features"]:
        assert feature["mean_abs"] == pytest.approx(expected[feature["feature"]])
    assert sum(f["share"] for f in got["features"]) == pytest.approx(1.0)


def replace_cap(service: ExplainService, cap: int) -> ExplainService:
    service.settings = replace(service.settings, explain_cap=cap)
    return service


def test_attribution_drift_against_the_reference_ranking(
    service: ExplainService,
    history,
) -> None:
    model = service.ingest.model(MODEL_NAME)
    table = reference_table(reference_sample(history.model, n=400), model)
    service.ingest.writer.run(
        lambda con: create_reference(con, model, table, version=None, description="train")
    )
    service.register_artifact(MODEL_NAME, "2", _bytes(history.model))
    ExplainJob(service).run_once(history.end + timedelta(minutes=1))
    drift = service.attribution_drift(MODEL_NAME, history.start, history.end, "1d")
    reference = drift["reference"]
    assert reference is not None and set(reference["feature"]) == set(FEATURES)
    assert reference["share"].sum() == pytest.approx(1.0)
    assert not drift["ndcg"].empty
    assert drift["ndcg"]["ndcg"].between(0, 1).all()
    assert not drift["changes"].empty
    # The baseline is stored, so a second call reads it instead of explaining again.
    again = service.reference_importance(MODEL_NAME, "2")
    assert again is not None
    assert np.allclose(again["mean_abs"].to_numpy(), reference["mean_abs"].to_numpy())


def test_attribution_ndcg_alert_value(service: ExplainService, history) -> None:
    from collectors.alert_metrics import model_value
    from collectors.explain_service import ranked
    from monitoring.alert_rules import parse_rule
    from monitoring.explain.attribution_drift import ndcg
    from storage.explanations import importance

    model = service.ingest.model(MODEL_NAME)
    con = service.ingest.store.cursor()
    rule = parse_rule(
        "reasons",
        {"metric": "attribution_ndcg", "condition": "< 0.9", "model": MODEL_NAME, "window": "1d"},
        models=None,
        channels=(),
    )
    now = history.end
    assert model_value(con, rule, model, now, 0.8) is None  # no reference ranking yet
    table = reference_table(reference_sample(history.model, n=300), model)
    service.ingest.writer.run(
        lambda w: create_reference(w, model, table, version=None, description="train")
    )
    service.register_artifact(MODEL_NAME, "2", _bytes(history.model))
    ExplainJob(service).run_once(now + timedelta(minutes=1))  # also stores the baseline
    value = model_value(con, rule, model, now, 0.8)
    reference = service.reference_importance(MODEL_NAME, "2")
    current = importance(con, model, now - timedelta(days=1), now)
    assert value is not None and 0 < value <= 1
    assert value == pytest.approx(ndcg(reference, ranked(current)))
