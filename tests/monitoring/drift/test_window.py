"""window_drift: the same answers as the column tests, and a result for any window."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitoring.alert_catalog import BOUNDS, known_metrics
from monitoring.drift import column_drift, dataset_drift
from monitoring.drift.window import DRIFT_ROW_COLUMNS, DriftSpec, window_drift
from monitoring.quality import QUALITY_COLUMNS
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN

FEATURES: dict[str, Any] = {"age": "numeric", "income": "numeric", "city": "categorical"}
API_KEYS = {
    "rows",
    "labelled",
    "drift_share",
    "dataset_drift",
    "n_tested",
    "n_drifted",
    "features",
    "prediction",
    "target",
    "multivariate",
}
SUMMARY_KEYS = {
    "rows",
    "labelled",
    "n_tested",
    "n_drifted",
    "drift_share",
    "dataset_drift",
    "multivariate_auc",
    "multivariate_drifted",
    "multivariate_top",
}
COLUMN_KEYS = {"feature", "kind", "method", "score", "threshold", "drifted"}


def _frame(
    rng: np.random.Generator, n: int, shift: float = 0.0, labelled: bool = True
) -> pd.DataFrame:
    tilt = min(shift, 1.0) / 5  # the prediction and target move with the features
    target = rng.choice(["yes", "no"], n, p=[0.5 + tilt / 2, 0.5 - tilt / 2]).astype(object)
    if not labelled:
        target = np.full(n, None, dtype=object)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 5 * shift, 10, n),
            "income": rng.exponential(1000, n),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
            PREDICTION_COLUMN: rng.choice(["yes", "no"], n, p=[0.5 + tilt, 0.5 - tilt]),
            TARGET_COLUMN: target,
        }
    )


def _spec(**changes: Any) -> DriftSpec:
    base: dict[str, Any] = {
        "features": FEATURES,
        "prediction_kind": "categorical",
        "target_kind": "categorical",
    }
    return DriftSpec(**(base | changes))


def test_matches_dataset_drift_and_column_drift() -> None:
    rng = np.random.default_rng(1)
    reference, current = _frame(rng, 1500), _frame(rng, 400, shift=1.0)
    overrides = {"income": ("psi", 0.2), PREDICTION_COLUMN: ("jensenshannon", 0.05)}
    spec = _spec(overrides=overrides, drift_share=0.3, multivariate=False)
    result = window_drift(reference, current, spec)
    expected = dataset_drift(
        reference,
        current,
        columns=list(FEATURES),
        overrides={"income": ("psi", 0.2)},
        drift_share=0.3,
        kinds=FEATURES,
    )
    assert result.dataset == expected
    assert result.dataset.columns[1].method == "psi"
    prediction = column_drift(
        reference[PREDICTION_COLUMN],
        current[PREDICTION_COLUMN],
        method="jensenshannon",
        threshold=0.05,
        kind="categorical",
        column="prediction",
    )
    assert result.prediction == prediction
    target = column_drift(
        reference[TARGET_COLUMN], current[TARGET_COLUMN], kind="categorical", column="target"
    )
    assert result.target == target
    assert (result.rows, result.labelled) == (400, 400)
    assert result.multivariate is None
    assert result.dataset.columns[0].drifted  # age shifted by half a standard deviation


def test_kinds_come_from_the_spec() -> None:
    rng = np.random.default_rng(2)
    reference, current = _frame(rng, 200), _frame(rng, 200)
    # Integer codes would be inferred categorical; the spec says numeric.
    reference["code"], current["code"] = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    spec = _spec(features=FEATURES | {"code": "numeric"}, multivariate=False)
    kinds = {c.column: c.kind for c in window_drift(reference, current, spec).dataset.columns}
    assert kinds == FEATURES | {"code": "numeric"}


def test_prediction_and_target_need_values_on_both_sides() -> None:
    rng = np.random.default_rng(3)
    reference, current = _frame(rng, 300), _frame(rng, 300, labelled=False)
    result = window_drift(reference, current, _spec(multivariate=False))
    assert result.prediction is not None and result.target is None
    assert result.labelled == 0
    no_columns = window_drift(
        reference.drop(columns=[PREDICTION_COLUMN, TARGET_COLUMN]), current, _spec()
    )
    assert no_columns.prediction is None and no_columns.target is None
    not_asked = window_drift(reference, current, _spec(prediction_kind=None, target_kind=None))
    assert not_asked.prediction is None and not_asked.target is None


def test_regression_prediction_and_target_are_numeric() -> None:
    rng = np.random.default_rng(4)
    reference, current = _frame(rng, 300), _frame(rng, 300)
    for frame in (reference, current):
        frame[PREDICTION_COLUMN] = rng.normal(size=300)
        frame[TARGET_COLUMN] = rng.normal(size=300)
    spec = _spec(prediction_kind="numeric", target_kind="numeric", multivariate=False)
    result = window_drift(reference, current, spec)
    assert result.prediction is not None and result.prediction.method == "ks"
    assert result.target is not None and result.target.kind == "numeric"


def test_multivariate_runs_when_asked() -> None:
    rng = np.random.default_rng(5)
    reference, current = _frame(rng, 500), _frame(rng, 500, shift=3.0)
    result = window_drift(reference, current, _spec(multivariate_threshold=0.6))
    assert result.multivariate is not None and result.multivariate.threshold == 0.6
    assert result.multivariate.drifted and result.multivariate.top_features[0][0] == "age"
    summary = result.summary()
    assert summary["multivariate_auc"] == result.multivariate.roc_auc
    assert summary["multivariate_drifted"] is True
    top = json.loads(summary["multivariate_top"])
    assert top[0][0] == "age" and len(top[0]) == 2


def test_as_api_drift_rows_and_summary_shapes() -> None:
    rng = np.random.default_rng(6)
    reference, current = _frame(rng, 400), _frame(rng, 400, shift=1.0)
    result = window_drift(reference, current, _spec())
    api = result.as_api()
    assert set(api) == API_KEYS
    assert [f["feature"] for f in api["features"]] == list(FEATURES)
    assert all(set(f) == COLUMN_KEYS for f in api["features"])
    assert set(api["prediction"]) == COLUMN_KEYS and api["prediction"]["feature"] == "prediction"
    assert set(api["target"]) == COLUMN_KEYS and api["target"]["feature"] == "target"
    assert set(api["multivariate"]) >= {"roc_auc", "drifted", "top_features"}
    json.dumps(api, allow_nan=False)
    rows = result.drift_rows()
    assert tuple(rows.columns) == DRIFT_ROW_COLUMNS
    assert rows["role"].tolist() == ["feature"] * 3 + ["prediction", "target"]
    assert rows["feature"].tolist() == [*FEATURES, "prediction", "target"]
    summary = result.summary()
    assert set(summary) == SUMMARY_KEYS
    assert summary["drift_share"] == result.dataset.share == api["drift_share"]
    assert tuple(result.quality.columns) == QUALITY_COLUMNS
    assert result.quality["feature"].tolist() == list(FEATURES)


def _edge_frames(case: str, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = _frame(rng, 200)
    current = _frame(rng, 50)
    if case == "empty":
        current = current.iloc[:0]
    elif case == "one_row":
        current = current.iloc[:1]
    elif case == "all_null":
        current = current.assign(age=np.nan, city=None, **{PREDICTION_COLUMN: None})
    elif case == "constant":
        reference = reference.assign(age=7.0, city="paris")
        current = current.assign(age=7.0, city="paris")
    elif case == "unseen":
        current = current.assign(city="marseille")
    elif case == "missing_column":
        current = current.drop(columns=["income"])
    return reference, current


@pytest.mark.parametrize(
    "case", ["empty", "one_row", "all_null", "constant", "unseen", "missing_column"]
)
def test_edge_windows_give_a_result(case: str) -> None:
    reference, current = _edge_frames(case, np.random.default_rng(7))
    result = window_drift(reference, current, _spec())
    assert result.rows == len(current)
    json.dumps(result.as_api(), allow_nan=False)
    json.dumps(result.summary(), allow_nan=False)
    assert len(result.drift_rows()) >= 3
    assert len(result.quality) == 3
    if case == "unseen":
        assert result.quality.set_index("feature").loc["city", "unseen"] == len(current)
    if case == "all_null":
        assert result.prediction is None
        assert result.quality.set_index("feature").loc["age", "missing"] == len(current)


def test_an_empty_window_has_no_drift() -> None:
    reference, current = _edge_frames("empty", np.random.default_rng(8))
    result = window_drift(reference, current, _spec())
    assert (result.rows, result.labelled) == (0, 0)
    assert (result.dataset.share, result.dataset.dataset_drift) == (0.0, False)
    assert all(c.score is None and not c.drifted for c in result.dataset.columns)
    assert result.prediction is None and result.target is None
    summary = result.summary()
    assert summary["multivariate_auc"] is None and summary["multivariate_drifted"] is None
    assert summary["multivariate_top"] is None
    assert result.drift_rows()["score"].isna().all()
    assert result.quality["rows"].tolist() == [0, 0, 0]


def test_frames_are_not_mutated() -> None:
    rng = np.random.default_rng(9)
    reference, current = _frame(rng, 100), _frame(rng, 100).drop(columns=["city"])
    before = reference.copy(), current.copy()
    window_drift(reference, current, _spec())
    pd.testing.assert_frame_equal(reference, before[0])
    pd.testing.assert_frame_equal(current, before[1])


def test_bounds_reach_the_quality_checks() -> None:
    rng = np.random.default_rng(10)
    reference, current = _frame(rng, 100), _frame(rng, 100)
    result = window_drift(reference, current, _spec(bounds={"age": (0.0, 40.0)}))
    expected = int((current["age"] > 40.0).sum() + (current["age"] < 0.0).sum())
    assert result.quality.set_index("feature").loc["age", "out_of_range"] == expected


def test_alert_metrics_are_registered() -> None:
    metrics = set(known_metrics("model"))
    assert {
        "drift_share",
        "drifted_features",
        "multivariate_auc",
        "prediction_drifted",
        "missing_rate",
        "out_of_range_rate",
        "unseen_category_rate",
    } <= metrics
    assert BOUNDS["drift_share"] == (0.0, 1.0)
    assert BOUNDS["drifted_features"] == (0.0, None)
    assert BOUNDS["prediction_drifted"] == (0.0, 1.0)
