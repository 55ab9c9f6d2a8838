"""What a fitted model is, for explaining it: its final estimator, family, units and classes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from storage.models import TASKS, normalize_class

Units = Literal["log-odds", "probability", "raw"]
Family = Literal["tree", "linear", "other"]

# Tree ensembles whose classifiers shap explains in the margin (the decision_function).
_MARGIN_TREES = {
    "sklearn": {"GradientBoostingClassifier", "HistGradientBoostingClassifier"},
    "xgboost": {"XGBClassifier", "XGBRFClassifier"},
    "lightgbm": {"LGBMClassifier"},
}
# Tree classifiers whose leaves hold class probabilities (shap explains predict_proba).
_PROBABILITY_TREES = {
    "sklearn": {
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
    },
}
_REGRESSION_TREES = {
    "sklearn": {
        "GradientBoostingRegressor",
        "HistGradientBoostingRegressor",
        "RandomForestRegressor",
        "ExtraTreesRegressor",
        "DecisionTreeRegressor",
        "ExtraTreeRegressor",
    },
    "xgboost": {"XGBRegressor", "XGBRFRegressor"},
    "lightgbm": {"LGBMRegressor"},
}
# Linear models: output = coef @ x + intercept (classifiers: the decision_function).
_LINEAR_CLASSIFIERS = {
    "LogisticRegression",
    "LogisticRegressionCV",
    "SGDClassifier",
    "RidgeClassifier",
    "RidgeClassifierCV",
    "LinearSVC",
    "Perceptron",
    "PassiveAggressiveClassifier",
}
_LINEAR_REGRESSORS = {
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "Lars",
    "LarsCV",
    "LassoLars",
    "LassoLarsCV",
    "LassoLarsIC",
    "SGDRegressor",
    "LinearSVR",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "QuantileRegressor",
    "TheilSenRegressor",
    "OrthogonalMatchingPursuit",
}
# HistGradientBoostingRegressor losses whose prediction is the raw sum of the trees.
_IDENTITY_LOSSES = {"squared_error", "absolute_error", "quantile"}


def _library_class(model: object) -> tuple[str, str] | None:
    """(library, class name) of the nearest known base class, so user subclasses count too."""
    for cls in type(model).__mro__:
        library = cls.__module__.split(".")[0]
        if library in ("sklearn", "xgboost", "lightgbm"):
            return library, cls.__name__
    return None


def _in(table: dict[str, set[str]], found: tuple[str, str] | None) -> bool:
    return found is not None and found[1] in table.get(found[0], set())


def family(model: object, regression: bool) -> Family:
    """tree, linear, or other (explained by permutation) for a final estimator."""
    found = _library_class(model)
    if regression:
        if _in(_REGRESSION_TREES, found):
            loss = getattr(model, "loss", "squared_error")
            # A Poisson/gamma HistGB predicts exp(sum of trees): shap's sum is not the output.
            if found == ("sklearn", "HistGradientBoostingRegressor") and loss not in (
                _IDENTITY_LOSSES
            ):
                return "other"
            return "tree"
        if found is not None and found[0] == "sklearn" and found[1] in _LINEAR_REGRESSORS:
            return "linear"
        return "other"
    if _in(_MARGIN_TREES, found) or _in(_PROBABILITY_TREES, found):
        return "tree"
    if found is not None and found[0] == "sklearn" and found[1] in _LINEAR_CLASSIFIERS:
        return "linear"
    return "other"


def tree_units(model: object, regression: bool) -> Units:
    """Units shap's TreeExplainer explains a tree model in."""
    if regression:
        return "raw"
    return "log-odds" if _in(_MARGIN_TREES, _library_class(model)) else "probability"


def linear_units(model: object, regression: bool) -> Units:
    """Logistic margins are log-odds; other linear classifiers' margins are raw scores."""
    if regression:
        return "raw"
    name = type(model).__name__
    logistic = name.startswith("LogisticRegression") or (
        name == "SGDClassifier" and getattr(model, "loss", None) == "log_loss"
    )
    return "log-odds" if logistic else "raw"


def has_categorical_splits(model: object) -> bool:
    """HistGB's native categorical splits are bitsets shap reads as thresholds: wrong values."""
    flags = getattr(model, "is_categorical_", None)
    return flags is not None and bool(np.any(flags))


def margin(model: Any, x: Any) -> np.ndarray:
    """The raw margin of a tree or linear classifier: what shap explains in log-odds."""
    library = (_library_class(model) or ("", ""))[0]
    if library == "xgboost":
        return np.asarray(model.predict(x, output_margin=True), dtype=np.float64)
    if library == "lightgbm":
        return np.asarray(model.predict(x, raw_score=True), dtype=np.float64)
    return np.asarray(model.decision_function(x), dtype=np.float64)


def model_output(model: Any, x: Any, units: Units, regression: bool) -> np.ndarray:
    """The model's own output in `units`, as (n, k): k = 1 for regression and binary margins."""
    if regression:
        out = np.asarray(model.predict(x), dtype=np.float64)
    elif units == "probability":
        out = np.asarray(model.predict_proba(x), dtype=np.float64)
    else:
        out = margin(model, x)
    if out.ndim == 1:
        return out[:, None]
    if regression and out.shape[1] != 1:
        raise ValueError("multi-output regression models cannot be explained")
    return out


def final_estimator(model: object) -> tuple[list[object], object]:
    """A Pipeline's transforming steps and its last step; ([], model) for a bare estimator."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and hasattr(model, "named_steps"):
        return [step for _, step in steps[:-1]], steps[-1][1]
    return [], model


def describe(model: object) -> str:
    """A short text of the model, e.g. "Pipeline(ColumnTransformer, GradientBoostingClassifier)"."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and hasattr(model, "named_steps"):
        inner = ", ".join(step if isinstance(step, str) else describe(step) for _, step in steps)
        return f"{type(model).__name__}({inner})"
    return type(model).__name__


def input_names(model: object, features: Sequence[str]) -> list[str]:
    """The columns the model reads, in its order: feature_names_in_, else `features` by position."""
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        names = [str(name) for name in fitted]
        missing = [name for name in names if name not in features]
        if missing:
            raise ValueError(f"the model reads features the registration lacks: {missing}")
        return names
    count = getattr(model, "n_features_in_", None)
    if count is not None and int(count) != len(features):
        raise ValueError(
            f"the model was fitted on {int(count)} unnamed columns but {len(features)} "
            "features are registered; fit it on a DataFrame with the feature names"
        )
    return list(features)


@dataclass(frozen=True)
class Classes:
    """How rows pick the output explained: the task, class labels and the positive index."""

    task: str
    labels: tuple[str, ...]  # normalised class texts ("" for regression)
    positive: int | None  # binary: index into labels

    @property
    def regression(self) -> bool:
        return self.task == "regression"


def classes_of(model: object, task: str, positive_class: str | None) -> Classes:
    """The model's classes for `task`; binary finds `positive_class` (default classes_[1])."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    if task == "regression":
        return Classes(task, (), None)
    raw = getattr(model, "classes_", None)
    if raw is None:
        raise ValueError(f"a {task} model needs classes_ (is {describe(model)} a classifier?)")
    labels = tuple(normalize_class(c.item() if isinstance(c, np.generic) else c) for c in raw)
    if task == "multiclass":
        return Classes(task, labels, None)
    if len(labels) != 2:
        raise ValueError(f"a binary model needs 2 classes, this one has {len(labels)}")
    if positive_class is None:
        return Classes(task, labels, 1)
    wanted = normalize_class(positive_class)
    matches = [
        i for i, (label, c) in enumerate(zip(labels, raw, strict=True)) if wanted in (label, str(c))
    ]
    if not matches:
        raise ValueError(f"positive class {positive_class!r} is not one of the model's {labels}")
    return Classes(task, labels, matches[0])
