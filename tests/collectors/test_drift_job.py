"""The drift job on a real DuckDB file: which windows it computes, what it stores, and that
the stored decisions are Evidently's on the same window (the oracle)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService, NoReference
from collectors.ingest import IngestService
from collectors.settings import Settings
from monitoring.drift.evidently_report import evidently_drift
from storage.drift_store import ALL_VERSIONS, drift_results, drift_windows, quality_results
from storage.models import get_model

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday 00:00
DAYS = 4
SHIFTED_DAY = 2
NOW = T0 + timedelta(days=DAYS, hours=5, minutes=30)


def _records(
    day: int, n: int, rng: np.random.Generator, version: str = "1"
) -> list[dict[str, Any]]:
    shift = 1.5 if day == SHIFTED_DAY else 0.0
    regions = ["north", "south", "islands"] if day == SHIFTED_DAY else ["north", "south"]
    out = []
    for i in range(n):
        ts = T0 + timedelta(days=day, seconds=float(rng.uniform(0, 86_399)))
        out.append(
            {
                "event_id": f"d{day}-{version}-{i}",
                "timestamp": ts.isoformat(),
                "version": version,
                "features": {
                    "income": float(rng.normal(50 + 10 * shift, 10)),
                    "age": float(rng.normal(40, 8)),
                    "region": str(rng.choice(regions)),
                },
                "prediction": int(rng.random() < 0.3),
            }
        )
    return out


@pytest.fixture
def service(ingest: IngestService) -> DriftService:
    rng = np.random.default_rng(0)
    ingest.register(
        "credit",
        {
            "task": "binary",
            "features": {"income": "numeric", "age": "numeric", "region": "categorical"},
        },
    )
    for day in range(DAYS + 1):
        ingest.predictions("credit", _records(day, 1500, rng))
    drift = DriftService(ingest, Settings())
    reference = pd.DataFrame(
        {
            "income": rng.normal(50, 10, 3000),
            "age": rng.normal(40, 8, 3000),
            "region": rng.choice(["north", "south"], 3000),
            "prediction": (rng.random(3000) < 0.3).astype(int),
        }
    )
    drift.upload_reference("credit", reference, None, "train.parquet")
    return drift


def _daily(service: DriftService) -> pd.DataFrame:
    model = service.ingest.model("credit")
    con = service.ingest.store.cursor()
    return drift_windows(con, model, "1d", T0, NOW, ALL_VERSIONS)


def test_closed_windows_are_stored_and_match_evidently(service: DriftService) -> None:
    job = DriftJob(service, granularities=("1d",))
    assert job.run_once(NOW) == DAYS  # day 4 is still open at NOW
    daily = _daily(service)
    assert [ts.day for ts in daily["window_start"]] == [2, 3, 4, 5]
    assert daily["dataset_drift"].tolist() == [False, False, True, False]
    assert (daily["rows"] == 1500).all()
    model = service.ingest.model("credit")
    con = service.ingest.store.cursor()
    day = T0 + timedelta(days=SHIFTED_DAY)
    stored = drift_results(con, model, "1d", day, day + timedelta(days=1), role="feature")
    reference = service.reference_data(con, model, service.reference(con, model, None))
    from storage.drift_store import window_frame

    current = window_frame(con, model, day, day + timedelta(days=1))
    theirs, _ = evidently_drift(
        reference[["income", "age", "region"]], current[["income", "age", "region"]]
    )
    for row in stored.itertuples():
        method, score, drifted = theirs[row.feature]
        assert row.method == method
        assert row.score == pytest.approx(score, rel=1e-6)
        assert row.drifted == drifted
    assert set(stored.loc[stored["drifted"], "feature"]) == {"income", "region"}
    quality = quality_results(con, model, "1d", day, day + timedelta(days=1))
    unseen = quality.set_index("feature")["unseen"]
    assert unseen["region"] > 0 and unseen["income"] == 0


def test_a_second_run_computes_nothing_until_data_or_reference_change(
    service: DriftService,
) -> None:
    job = DriftJob(service, granularities=("1d",))
    job.run_once(NOW)
    assert job.run_once(NOW) == 0
    # A late prediction lands in day 1: only that window is redone.
    late = _records(1, 1, np.random.default_rng(5))
    late[0]["event_id"] = "late"
    service.ingest.predictions("credit", late)
    assert [w.start.day for w in job.pending(NOW)] == [3]
    assert job.run_once(NOW) == 1
    # A new reference makes every window stale.
    frame = pd.DataFrame({"income": [50.0] * 50, "age": [40.0] * 50, "region": ["north"] * 50})
    service.upload_reference("credit", frame, None, "other")
    assert len(job.pending(NOW)) == DAYS


def test_versions_get_rows_of_their_own_only_where_a_window_mixes_them(
    service: DriftService,
) -> None:
    service.ingest.predictions("credit", _records(3, 200, np.random.default_rng(7), "2"))
    DriftJob(service, granularities=("1d",)).run_once(NOW)
    model = service.ingest.model("credit")
    con = service.ingest.store.cursor()
    day3 = T0 + timedelta(days=3)
    for version, rows in (("1", 1500), ("2", 200), (ALL_VERSIONS, 1700)):
        stored = drift_windows(con, model, "1d", day3, day3 + timedelta(days=1), version)
        assert stored["rows"].tolist() == [rows]
    assert drift_windows(con, model, "1d", T0, day3, "2").empty


def test_hourly_windows_and_the_budget(service: DriftService) -> None:
    job = DriftJob(service, granularities=("1h",), budget_s=0.0)
    assert job.run_once(NOW) == 1  # the budget is checked after each window
    newest = drift_windows(
        service.ingest.store.cursor(), service.ingest.model("credit"), "1h", T0, NOW
    )
    assert newest["window_start"].tolist() == [pd.Timestamp(T0 + timedelta(days=4, hours=4))]


def test_models_without_a_reference_are_skipped(ingest: IngestService) -> None:
    ingest.register("plain", {"task": "binary", "features": {"x": "numeric"}})
    ingest.predictions(
        "plain",
        [{"event_id": "a", "timestamp": T0.isoformat(), "prediction": 1, "features": {"x": 1.0}}],
    )
    service = DriftService(ingest, Settings())
    assert DriftJob(service).run_once(NOW) == 0
    with pytest.raises(NoReference, match="vigil reference upload FILE --model plain"):
        service.range_drift("plain", T0, NOW)


def test_range_drift_samples_above_drift_max_rows(service: DriftService) -> None:
    service.settings = replace(service.settings, drift_max_rows=1000)
    result = service.range_drift("credit", T0, T0 + timedelta(days=DAYS + 1))
    payload = result.as_api()
    assert payload["rows_in_range"] == 1500 * (DAYS + 1)
    assert payload["sampled"] is True
    assert 800 < payload["rows"] < 1200
    assert payload["reference"]["description"] == "train.parquet"
    assert {f["feature"] for f in payload["features"]} == {"income", "age", "region"}
    assert payload["prediction"]["feature"] == "prediction"
    model = get_model(service.ingest.store.cursor(), "credit")
    assert model is not None


def test_a_version_with_its_own_reference_is_judged_against_it(service: DriftService) -> None:
    frame = pd.DataFrame({"income": np.linspace(40, 60, 200), "age": 40.0, "region": "north"})
    own = service.upload_reference("credit", frame, "1", "version 1 sample")
    DriftJob(service, granularities=("1d",)).run_once(NOW)
    model = service.ingest.model("credit")
    con = service.ingest.store.cursor()
    mine = drift_windows(con, model, "1d", T0, NOW, "1")
    shared = drift_windows(con, model, "1d", T0, NOW, ALL_VERSIONS)
    assert len(mine) == len(shared) == DAYS
    assert set(mine["reference_id"]) == {own.id}
    assert own.id not in set(shared["reference_id"])
