"""Drift and quality alert metrics read the newest stored window within the rule's look-back."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from collectors.alert_metrics import model_value
from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService
from monitoring.alert_rules import parse_rule
from storage.drift_store import drift_results, drift_windows, quality_results
from tests.collectors.test_drift_job import DAYS, NOW, SHIFTED_DAY, T0
from tests.collectors.test_drift_job import service as service


def _rule(metric: str, condition: str = "> 0.3", window: str = "1d", **extra: object):
    table = {"metric": metric, "condition": condition, "model": "credit", "window": window}
    return parse_rule("r", {**table, **extra}, models=None, channels=())


def test_values_come_from_the_newest_stored_window(service: DriftService) -> None:
    DriftJob(service, granularities=("1d",)).run_once(NOW)
    con = service.ingest.store.cursor()
    model = service.ingest.model("credit")
    shifted = T0 + timedelta(days=SHIFTED_DAY)
    at = shifted + timedelta(days=1, hours=2)  # the shifted day is the newest closed one
    window = drift_windows(con, model, "1d", shifted, shifted + timedelta(days=1))
    assert window["dataset_drift"].tolist() == [True]
    value = model_value(con, _rule("drift_share"), model, at, 0.8)
    assert value == pytest.approx(float(window["drift_share"].iloc[0]))
    drifted = model_value(con, _rule("drifted_features", "> 1"), model, at, 0.8)
    assert drifted == float(window["n_drifted"].iloc[0]) == 2.0
    auc = model_value(con, _rule("multivariate_auc", "> 0.6"), model, at, 0.8)
    assert auc == pytest.approx(float(window["multivariate_auc"].iloc[0]))
    prediction = drift_results(
        con, model, "1d", shifted, shifted + timedelta(days=1), role="prediction"
    )
    expected = float(bool(prediction["drifted"].iloc[0]))
    assert model_value(con, _rule("prediction_drifted", "> 0.5"), model, at, 0.8) == expected
    quality = quality_results(con, model, "1d", shifted, shifted + timedelta(days=1))
    unseen = (quality["unseen"] / quality["rows"]).max()
    rate = model_value(con, _rule("unseen_category_rate", "> 0.1"), model, at, 0.8)
    assert rate == pytest.approx(unseen) and rate > 0
    assert model_value(con, _rule("missing_rate", "> 0.1"), model, at, 0.8) == 0.0


def test_no_stored_window_in_the_look_back_is_no_data(service: DriftService) -> None:
    DriftJob(service, granularities=("1d",)).run_once(NOW)
    con = service.ingest.store.cursor()
    model = service.ingest.model("credit")
    far = T0 + timedelta(days=DAYS + 3)
    assert model_value(con, _rule("drift_share"), model, far, 0.8) is None
    # Hourly windows were not computed: a 1h rule has no data.
    assert model_value(con, _rule("drift_share", window="1h"), model, NOW, 0.8) is None
    # min_count applies to the window's rows.
    big = _rule("drift_share", min_count=10_000)
    assert model_value(con, big, model, NOW, 0.8) is None


def test_rules_on_drift_metrics_are_checked_like_the_others() -> None:
    with pytest.raises(ValueError, match="drift_share"):
        _rule("drift_share", "> 30")
    assert _rule("drifted_features", "> 3").metric == "drifted_features"
    assert np.isfinite(_rule("multivariate_auc", "> 0.7").threshold)
