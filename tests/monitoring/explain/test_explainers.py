"""Every supported model kind: additive attributions, the model's own output, shap's values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeClassifier

from monitoring.explain import build_explainer
from monitoring.explain.engines import PERMUTATION_MAX_EVALS, PERMUTATION_ROUNDS
from tests.monitoring.explain.data import (
    NUMERIC,
    binary_labels,
    frame,
    multiclass_labels,
    own_output,
    regression_target,
)

TRAIN = frame(300, seed=1)
ROWS = frame(40, seed=2)
BACKGROUND = frame(30, seed=3)
X = TRAIN[list(NUMERIC)]
TARGETS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "binary": binary_labels,
    "multiclass": multiclass_labels,
    "regression": regression_target,
}

# (model, task, kind, units)
CASES: list[tuple[Any, str, str, str]] = [
    (GradientBoostingClassifier(n_estimators=20, random_state=0), "binary", "tree", "log-odds"),
    (GradientBoostingClassifier(n_estimators=10, random_state=0), "multiclass", "tree", "log-odds"),
    (RandomForestClassifier(n_estimators=10, random_state=0), "binary", "tree", "probability"),
    (RandomForestClassifier(n_estimators=10, random_state=0), "multiclass", "tree", "probability"),
    (ExtraTreesClassifier(n_estimators=10, random_state=0), "binary", "tree", "probability"),
    (DecisionTreeClassifier(max_depth=5, random_state=0), "multiclass", "tree", "probability"),
    (HistGradientBoostingClassifier(max_iter=20), "binary", "tree", "log-odds"),
    (HistGradientBoostingClassifier(max_iter=10), "multiclass", "tree", "log-odds"),
    (GradientBoostingRegressor(n_estimators=20, random_state=0), "regression", "tree", "raw"),
    (RandomForestRegressor(n_estimators=10, random_state=0), "regression", "tree", "raw"),
    (HistGradientBoostingRegressor(max_iter=20), "regression", "tree", "raw"),
    (LogisticRegression(), "binary", "linear", "log-odds"),
    (LogisticRegression(), "multiclass", "linear", "log-odds"),
    (LinearRegression(), "regression", "linear", "raw"),
    (Ridge(alpha=2.0), "regression", "linear", "raw"),
    (KNeighborsClassifier(n_neighbors=7), "binary", "permutation", "probability"),
    (KNeighborsClassifier(n_neighbors=7), "multiclass", "permutation", "probability"),
    (SVR(), "regression", "permutation", "raw"),
]


def _id(case: tuple[Any, str, str, str]) -> str:
    return f"{type(case[0]).__name__}-{case[1]}"


def _fit(model: Any, task: str) -> Any:
    return model.fit(X, TARGETS[task](TRAIN))


def _rows(kind: str) -> pd.DataFrame:
    # The permutation explainer is slow: a few rows are enough to check it.
    return ROWS.iloc[:6] if kind == "permutation" else ROWS


def _shap_direct(model: Any, kind: str, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """shap called by hand on the same rows: (n, f[, k]) values and base values."""
    if kind == "tree":
        explainer = shap.TreeExplainer(model)
        values = explainer.shap_values(x.to_numpy(), check_additivity=False)
        return np.asarray(values), np.asarray(explainer.expected_value)
    data = BACKGROUND[list(NUMERIC)]
    if kind == "linear":
        explainer = shap.LinearExplainer(model, shap.maskers.Independent(data.to_numpy()))
        return np.asarray(explainer.shap_values(x.to_numpy())), np.asarray(explainer.expected_value)
    predict = model.predict if not hasattr(model, "predict_proba") else model.predict_proba
    explainer = shap.explainers.Permutation(
        lambda m: predict(pd.DataFrame(m, columns=list(NUMERIC))),
        shap.maskers.Independent(data.to_numpy(), max_samples=len(data)),
        seed=0,
    )
    evals = min(PERMUTATION_MAX_EVALS, PERMUTATION_ROUNDS * (2 * len(NUMERIC) + 1))
    result = explainer(x.to_numpy(), max_evals=evals, silent=True)
    return np.asarray(result.values), np.asarray(result.base_values)


def _pick(values: np.ndarray, base: np.ndarray, column: np.ndarray) -> tuple[np.ndarray, ...]:
    """The explained column of shap's per-class output; single-output values pass as is."""
    rows = np.arange(len(column))
    if values.ndim == 2:
        return values, np.broadcast_to(base.reshape(-1), (len(column),))
    base = np.broadcast_to(base, (len(column), values.shape[2])) if base.ndim < 2 else base
    return values[rows, :, column], base[rows, column]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_attributions_add_up_to_the_models_own_output(case: tuple[Any, str, str, str]) -> None:
    model, task, kind, units = case
    fitted = _fit(model, task)
    positive = "yes" if task == "binary" else None
    explainer = build_explainer(fitted, NUMERIC, task, positive, background=BACKGROUND)
    assert (explainer.kind, explainer.units) == (kind, units)
    rows = _rows(kind)
    result = explainer.explain(rows)

    assert result.features == NUMERIC
    assert result.values.shape == (len(rows), len(NUMERIC))
    assert result.values.dtype == np.float64
    np.testing.assert_allclose(
        result.base_values + result.values.sum(axis=1), result.output, rtol=0, atol=1e-6
    )
    x = rows[list(NUMERIC)]
    expected = own_output(fitted, x, units, task)
    np.testing.assert_allclose(result.output, expected, rtol=0, atol=1e-9)
    if task == "regression":
        assert result.explained_class == [None] * len(rows)
    elif task == "binary":
        assert result.explained_class == ["yes"] * len(rows)
    else:
        assert result.explained_class == [str(c) for c in fitted.predict(x)]

    if type(model).__name__ == "GradientBoostingClassifier" and task == "multiclass":
        return  # shap refuses it: checked against its trees in the next test
    values, base = _shap_direct(fitted, kind, x)
    classes = list(fitted.classes_) if task != "regression" else [0]
    if task == "binary":
        column = np.full(len(rows), classes.index("yes") if values.ndim == 3 else 0)
    elif task == "multiclass":
        column = np.array([classes.index(c) for c in fitted.predict(x)])
    else:
        column = np.zeros(len(rows), dtype=int)
    want_values, want_base = _pick(values, base, column)
    np.testing.assert_allclose(result.values, want_values, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.base_values, want_base, rtol=1e-9, atol=1e-12)


def test_multiclass_gradient_boosting_is_the_sum_of_its_trees_shap_values() -> None:
    """shap refuses multiclass GB; TreeSHAP is linear in the trees, so sum them by class."""
    model = _fit(
        GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0), "multiclass"
    )
    x = ROWS[list(NUMERIC)]
    result = build_explainer(model, NUMERIC, "multiclass").explain(ROWS)
    predicted = np.argmax(model.decision_function(x), axis=1)
    per_class = [
        sum(
            shap.TreeExplainer(tree).shap_values(x.to_numpy(dtype=np.float32))
            for tree in model.estimators_[:, j]
        )
        * model.learning_rate
        for j in range(model.n_classes_)
    ]
    want = np.stack(per_class, axis=-1)[np.arange(len(x)), :, predicted]
    np.testing.assert_allclose(result.values, want, rtol=1e-9, atol=1e-12)


def test_binary_negative_class_flips_the_margin() -> None:
    model = _fit(GradientBoostingClassifier(n_estimators=10, random_state=0), "binary")
    assert list(model.classes_) == ["no", "yes"]
    x = ROWS[list(NUMERIC)]
    result = build_explainer(model, NUMERIC, "binary", positive_class="no").explain(ROWS)
    np.testing.assert_allclose(result.output, -model.decision_function(x), atol=1e-12)
    np.testing.assert_allclose(
        result.base_values + result.values.sum(axis=1), result.output, atol=1e-9
    )
    assert set(result.explained_class) == {"no"}


def test_binary_default_positive_is_the_second_class_and_matches_as_text() -> None:
    labels = (binary_labels(TRAIN) == "yes").astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, labels)
    default = build_explainer(model, NUMERIC, "binary").explain(ROWS)
    as_text = build_explainer(model, NUMERIC, "binary", positive_class="1").explain(ROWS)
    np.testing.assert_array_equal(default.values, as_text.values)
    np.testing.assert_allclose(default.output, model.predict_proba(X=ROWS[list(NUMERIC)])[:, 1])
    assert default.explained_class[0] == "1"
    with pytest.raises(ValueError, match="positive class"):
        build_explainer(model, NUMERIC, "binary", positive_class="maybe")


def test_permutation_needs_a_background() -> None:
    model = _fit(KNeighborsClassifier(), "binary")
    with pytest.raises(ValueError, match="reference"):
        build_explainer(model, NUMERIC, "binary")


def test_permutation_keeps_numpys_global_random_stream() -> None:
    model = _fit(KNeighborsClassifier(), "binary")
    explainer = build_explainer(model, NUMERIC, "binary", background=BACKGROUND)
    np.random.seed(123)
    want = np.random.random()
    np.random.seed(123)
    explainer.explain(ROWS.iloc[:2])
    assert np.random.random() == want


def test_background_is_capped_at_max_background_by_a_fixed_choice() -> None:
    model = _fit(LinearRegression(), "regression")
    capped = [
        build_explainer(model, NUMERIC, "regression", background=TRAIN, max_background=10)
        for _ in range(2)
    ]
    full = build_explainer(model, NUMERIC, "regression", background=TRAIN, max_background=300)
    first, again = (e.explain(ROWS.iloc[:3]) for e in capped)
    np.testing.assert_array_equal(first.values, again.values)
    # The linear baseline is the model at the background mean: all 300 rows, or 10 of them.
    want_full = model.predict(TRAIN[list(NUMERIC)]).mean()
    assert full.explain(ROWS.iloc[:1]).base_values[0] == pytest.approx(want_full)
    assert first.base_values[0] != pytest.approx(want_full)
    with pytest.raises(ValueError, match="max_background"):
        build_explainer(model, NUMERIC, "regression", background=TRAIN, max_background=0)


def test_linear_without_background_uses_a_zero_baseline() -> None:
    model = _fit(Ridge(), "regression")
    result = build_explainer(model, NUMERIC, "regression").explain(ROWS)
    np.testing.assert_allclose(result.base_values, model.intercept_)
    np.testing.assert_allclose(result.values, ROWS[list(NUMERIC)].to_numpy() * model.coef_)


def test_task_checks() -> None:
    model = _fit(GradientBoostingClassifier(n_estimators=5), "multiclass")
    with pytest.raises(ValueError, match="2 classes"):
        build_explainer(model, NUMERIC, "binary")
    with pytest.raises(ValueError, match="task"):
        build_explainer(model, NUMERIC, "ranking")
    regressor = _fit(Ridge(), "regression")
    with pytest.raises(ValueError, match="classes_"):
        build_explainer(regressor, NUMERIC, "binary")


def test_explanations_frame_has_one_row_per_explanation() -> None:
    model = _fit(RandomForestClassifier(n_estimators=5, random_state=0), "multiclass")
    result = build_explainer(model, NUMERIC, "multiclass").explain(ROWS.iloc[:3])
    table = result.frame()
    assert list(table.columns) == ["base_value", "output", "explained_class", *NUMERIC]
    np.testing.assert_array_equal(table[list(NUMERIC)].to_numpy(), result.values)
    assert table["explained_class"].tolist() == result.explained_class
