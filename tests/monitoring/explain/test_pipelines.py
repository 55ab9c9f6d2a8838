"""Pipelines: attributions of one-hot and other derived columns summed onto their inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sample_data
from monitoring.explain import build_explainer
from monitoring.explain.columns import compose
from sample_data.model import build_pipeline, reference_frame
from tests.monitoring.explain.data import (
    CATEGORICAL,
    MIXED,
    NUMERIC,
    binary_labels,
    frame,
    multiclass_labels,
    own_output,
)

TRAIN = frame(300, seed=1)
ROWS = frame(40, seed=2)
BACKGROUND = frame(30, seed=3)


def _encoder(numeric: Any = "passthrough", sparse: bool = False) -> ColumnTransformer:
    return ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=sparse),
                list(CATEGORICAL),
            ),
            ("num", numeric, list(NUMERIC)),
        ],
        verbose_feature_names_out=False,
        sparse_threshold=1.0 if sparse else 0.0,  # sparse: keep the output a sparse matrix
    )


def _grouped(values: np.ndarray, names: list[str]) -> np.ndarray:
    """shap's values on one-hot columns summed by hand: column "region_north" -> "region"."""
    out = np.zeros((len(values), len(MIXED)))
    for j, name in enumerate(names):
        source = name if name in NUMERIC else next(c for c in CATEGORICAL if name.startswith(c))
        out[:, MIXED.index(source)] += values[:, j]
    return out


def _check(result: Any, model: Any, rows: pd.DataFrame, units: str, task: str) -> None:
    np.testing.assert_allclose(
        result.base_values + result.values.sum(axis=1), result.output, rtol=0, atol=1e-6
    )
    expected = own_output(model, rows[list(MIXED)], units, task)
    np.testing.assert_allclose(result.output, expected, rtol=0, atol=1e-9)


def test_demo_pipeline_matches_shap_on_the_encoded_columns() -> None:
    """The demo's ColumnTransformer(OneHot) + GradientBoosting, on fewer training rows."""
    train = reference_frame(n=3000)
    features = list(sample_data.FEATURES)
    model = build_pipeline().fit(train[features], train[sample_data.LABEL_COLUMN])
    rows = reference_frame(seed=7, n=300)
    explainer = build_explainer(model, features, "binary", "1")
    assert (explainer.kind, explainer.units) == ("tree", "log-odds")
    assert explainer.estimator == "Pipeline(ColumnTransformer, GradientBoostingClassifier)"
    result = explainer.explain(rows)  # the label column is ignored
    assert result.features == tuple(features)
    np.testing.assert_allclose(result.output, model.decision_function(rows[features]), atol=1e-9)
    np.testing.assert_allclose(
        result.base_values + result.values.sum(axis=1), result.output, atol=1e-6
    )
    encoded = model[:-1].transform(rows[features])
    direct = shap.TreeExplainer(model[-1]).shap_values(encoded, check_additivity=False)
    names = list(model[:-1].get_feature_names_out())
    for i, feature in enumerate(features):
        columns = [j for j, n in enumerate(names) if n == feature or n.startswith(feature + "_")]
        np.testing.assert_allclose(result.values[:, i], direct[:, columns].sum(axis=1), atol=1e-12)
    assert result.explained_class == ["1"] * len(rows)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_onehot_gradient_boosting_pipeline(task: str) -> None:
    labels = binary_labels(TRAIN) if task == "binary" else multiclass_labels(TRAIN)
    model = Pipeline(
        [("encode", _encoder()), ("model", GradientBoostingClassifier(n_estimators=10))]
    ).fit(TRAIN[list(MIXED)], labels)
    result = build_explainer(model, MIXED, task).explain(ROWS)
    assert result.units == "log-odds"
    _check(result, model, ROWS, "log-odds", task)
    if task == "binary":
        encoded = model[:-1].transform(ROWS[list(MIXED)])
        direct = shap.TreeExplainer(model[-1]).shap_values(encoded, check_additivity=False)
        want = _grouped(direct, list(model[:-1].get_feature_names_out()))
        np.testing.assert_allclose(result.values, want, atol=1e-12)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_scaled_onehot_logistic_pipeline_matches_shap(task: str) -> None:
    labels = binary_labels(TRAIN) if task == "binary" else multiclass_labels(TRAIN)
    model = Pipeline(
        [("encode", _encoder(StandardScaler(), sparse=True)), ("model", LogisticRegression())]
    ).fit(TRAIN[list(MIXED)], labels)
    explainer = build_explainer(model, MIXED, task, background=BACKGROUND)
    assert (explainer.kind, explainer.units) == ("linear", "log-odds")
    result = explainer.explain(ROWS)
    _check(result, model, ROWS, "log-odds", task)
    encode = model[:-1]
    data = encode.transform(BACKGROUND[list(MIXED)]).toarray()
    direct = shap.LinearExplainer(model[-1], shap.maskers.Independent(data)).shap_values(
        encode.transform(ROWS[list(MIXED)]).toarray()
    )
    direct = np.asarray(direct)
    if task == "multiclass":
        predicted = np.argmax(model.decision_function(ROWS[list(MIXED)]), axis=1)
        direct = direct[np.arange(len(ROWS)), :, predicted]
    want = _grouped(direct, list(encode.get_feature_names_out()))
    np.testing.assert_allclose(result.values, want, atol=1e-12)


def test_nan_numbers_and_unseen_categories_are_tolerated() -> None:
    """A model that takes NaN explains those rows; unseen categories and None one-hot to 0."""
    model = Pipeline(
        [("encode", _encoder()), ("model", HistGradientBoostingClassifier(max_iter=15))]
    ).fit(TRAIN[list(MIXED)], binary_labels(TRAIN))
    rows = ROWS.copy()
    rows.loc[::3, "a"] = np.nan
    rows.loc[1::4, "region"] = "islands"
    rows.loc[2::5, "plan"] = None
    result = build_explainer(model, MIXED, "binary").explain(rows)
    assert np.isfinite(result.values).all()
    _check(result, model, rows, "log-odds", "binary")


def test_rows_a_model_refuses_come_back_nan_and_the_rest_explained() -> None:
    """GradientBoosting refuses NaN: those rows are left out instead of failing the batch."""
    model = Pipeline(
        [("encode", _encoder()), ("model", GradientBoostingClassifier(n_estimators=10))]
    ).fit(TRAIN[list(MIXED)], binary_labels(TRAIN))
    rows = ROWS.copy()
    rows["b"] = rows["b"].astype("Float64")  # nullable numbers, as a reader might give
    rows.loc[[0, 5], "b"] = pd.NA
    result = build_explainer(model, MIXED, "binary").explain(rows)
    holes = np.zeros(len(rows), dtype=bool)
    holes[[0, 5]] = True
    assert np.isnan(result.values[holes]).all() and np.isnan(result.output[holes]).all()
    assert [result.explained_class[i] for i in (0, 5)] == [None, None]
    kept = rows[~holes].astype({"b": float})
    np.testing.assert_allclose(result.output[~holes], model.decision_function(kept[list(MIXED)]))
    np.testing.assert_allclose(
        result.base_values[~holes] + result.values[~holes].sum(axis=1), result.output[~holes]
    )


def test_imputer_pipeline_maps_indicators_back_to_their_feature() -> None:
    numeric = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler())
    model = Pipeline([("encode", _encoder(numeric)), ("model", LogisticRegression())])
    train = TRAIN.copy()
    train.loc[::7, "c"] = np.nan
    model.fit(train[list(MIXED)], binary_labels(TRAIN))
    explainer = build_explainer(model, MIXED, "binary", background=BACKGROUND)
    assert explainer.kind == "linear"
    rows = ROWS.copy()
    rows.loc[::2, "c"] = np.nan
    _check(explainer.explain(rows), model, rows, "log-odds", "binary")


def test_unmappable_pipeline_falls_back_to_permutation_with_categoricals() -> None:
    """PCA mixes columns: permute the raw inputs, categoricals coded and decoded as text."""
    model = Pipeline(
        [
            ("encode", _encoder()),
            ("pca", PCA(n_components=3)),
            ("model", GradientBoostingClassifier(n_estimators=10)),
        ]
    ).fit(TRAIN[list(MIXED)], binary_labels(TRAIN))
    with pytest.raises(ValueError, match="reference"):
        build_explainer(model, MIXED, "binary")
    explainer = build_explainer(model, MIXED, "binary", background=BACKGROUND)
    assert (explainer.kind, explainer.units) == ("permutation", "probability")
    rows = ROWS.iloc[:5].copy()
    rows.loc[0, "region"] = "islands"
    result = explainer.explain(rows)
    _check(result, model, rows, "probability", "binary")
    assert result.values[:, MIXED.index("region")].any()


def test_knn_pipeline_multiclass_permutation() -> None:
    model = Pipeline(
        [("encode", _encoder(StandardScaler())), ("model", KNeighborsClassifier(7))]
    ).fit(TRAIN[list(MIXED)], multiclass_labels(TRAIN))
    explainer = build_explainer(model, MIXED, "multiclass", background=BACKGROUND)
    assert explainer.kind == "permutation"
    rows = ROWS.iloc[:4]
    result = explainer.explain(rows)
    _check(result, model, rows, "probability", "multiclass")
    assert result.explained_class == [str(c) for c in model.predict(rows[list(MIXED)])]


def test_categorical_hist_gradient_boosting_is_not_explained_by_tree_shap() -> None:
    """shap reads HistGB's categorical bitsets as thresholds (wrong values): permute it."""
    x = TRAIN[list(NUMERIC)].assign(code=np.arange(len(TRAIN)) % 4)
    model = HistGradientBoostingClassifier(categorical_features=[4], max_iter=10)
    model.fit(x, binary_labels(TRAIN))
    features = (*NUMERIC, "code")
    background = BACKGROUND.assign(code=np.arange(len(BACKGROUND)) % 4)
    explainer = build_explainer(model, features, "binary", background=background)
    assert explainer.kind == "permutation"
    rows = ROWS.iloc[:3].assign(code=[0, 1, 2])
    result = explainer.explain(rows)
    np.testing.assert_allclose(result.output, model.predict_proba(rows[list(features)])[:, 1])


def test_frame_order_extra_columns_and_unused_features() -> None:
    model = Pipeline(
        [("encode", _encoder()), ("model", GradientBoostingClassifier(n_estimators=5))]
    ).fit(TRAIN[list(MIXED)], binary_labels(TRAIN))
    features = ("extra", *reversed(MIXED))
    rows = ROWS.assign(extra=1.0, event_id="e", version="1")[
        ["version", *reversed(list(MIXED)), "event_id", "extra"]
    ]
    result = build_explainer(model, features, "binary").explain(rows)
    assert result.features == features
    assert (result.values[:, 0] == 0).all()
    plain = build_explainer(model, MIXED, "binary").explain(ROWS)
    np.testing.assert_array_equal(result.values[:, 1:], plain.values[:, ::-1])
    with pytest.raises(ValueError, match="lacks"):
        build_explainer(model, MIXED, "binary").explain(ROWS.drop(columns="plan"))
    with pytest.raises(ValueError, match="registration lacks"):
        build_explainer(model, NUMERIC, "binary")
    empty = build_explainer(model, MIXED, "binary").explain(ROWS.iloc[:0])
    assert empty.values.shape == (0, len(MIXED)) and empty.explained_class == []


def test_column_map_of_nested_transformers() -> None:
    encode = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                ["plan"],
            ),
            ("num", StandardScaler(), [0, 2]),
        ],
        remainder="passthrough",
    ).fit(TRAIN[["a", "plan", "c", "d"]])
    # plan -> 2 one-hot columns, then a and c scaled, then the remainder d.
    assert compose([encode], ["a", "plan", "c", "d"]) == [1, 1, 0, 2, 3]
