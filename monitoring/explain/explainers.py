"""SHAP explanations of a fitted model's predictions, per input feature.

build_explainer picks shap's TreeExplainer for tree ensembles, LinearExplainer for linear
models (both on the final estimator of a Pipeline, with one-hot and other one-to-one
columns summed back onto the feature they came from) and the PermutationExplainer on the
whole model otherwise. Attributions always add up: base + sum(values) == output.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitoring.explain import engines
from monitoring.explain.columns import Unmapped, compose, group_matrix
from monitoring.explain.estimators import (
    Classes,
    Units,
    classes_of,
    describe,
    family,
    final_estimator,
    has_categorical_splits,
    input_names,
    linear_units,
    tree_units,
)

log = logging.getLogger(__name__)

Kind = Literal["tree", "linear", "permutation"]
# |base + sum(values) - output| allowed, relative to max(1, |output|).
ADDITIVITY_TOLERANCE = 1e-6

__all__ = ["Explanations", "Kind", "ModelExplainer", "Units", "build_explainer"]


@dataclass(frozen=True)
class Explanations:
    """Attributions of n rows: base_values + values.sum(1) == output, row by row.

    Rows the model cannot score (NaN inputs a model refuses) hold NaN and class None.
    """

    features: tuple[str, ...]
    values: np.ndarray  # (n, len(features)), float64
    base_values: np.ndarray  # (n,)
    output: np.ndarray  # (n,) in `units`
    units: Units
    explained_class: list[str | None]

    def frame(self) -> pd.DataFrame:
        """One row per explanation: base_value, output, explained_class, then the features."""
        head = pd.DataFrame(
            {
                "base_value": self.base_values,
                "output": self.output,
                "explained_class": pd.Series(self.explained_class, dtype=object),
            }
        )
        body = pd.DataFrame(self.values, columns=list(self.features))
        return pd.concat([head, body], axis=1)


def _align(frame: pd.DataFrame, names: Sequence[str], what: str) -> pd.DataFrame:
    """The model's input columns: numbers as float64 (NaN), the rest as objects (None)."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the model's features {missing}")
    columns: dict[str, Any] = {}
    for name in names:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            columns[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.array(column.to_numpy(dtype=object), dtype=object)  # a writable copy
            values[pd.isna(values)] = None  # pd.NA and NaN break sklearn's encoders
            columns[name] = values
    return pd.DataFrame(columns)


def _nan_rows(inputs: pd.DataFrame) -> np.ndarray:
    """Rows with a missing number: the ones a model without NaN support refuses."""
    numeric = [c for c in inputs.columns if inputs[c].dtype == np.float64]
    if not numeric:
        return np.zeros(len(inputs), dtype=bool)
    return np.asarray(np.isnan(inputs[numeric].to_numpy()).any(axis=1))


def _select(raw: engines.Raw, classes: Classes) -> tuple[np.ndarray, ...]:
    """Per row the explained output column and its sign, as (values, base, output, class)."""
    n, _, k = raw.values.shape
    if raw.output.shape != (n, k) or raw.base.shape != (n, k):
        raise RuntimeError(f"shap gave {k} outputs but the model {raw.output.shape[1]}")
    rows = np.arange(n)
    sign = np.ones(n)
    if classes.regression:
        column = np.zeros(n, dtype=np.intp)
        label = np.full(n, -1)
    elif k == 1:  # a binary margin: the log-odds of classes_[1]
        column = np.zeros(n, dtype=np.intp)
        if classes.positive is not None:
            label = np.full(n, classes.positive)
        else:  # multiclass task on a 2-class model: the predicted class
            label = (raw.output[:, 0] > 0).astype(int)
        sign = np.where(label == 1, 1.0, -1.0)
    else:
        column = (
            np.full(n, classes.positive, dtype=np.intp)
            if classes.positive is not None
            else np.argmax(raw.output, axis=1)
        )
        label = column
    values = raw.values[rows, :, column] * sign[:, None]
    base = raw.base[rows, column] * sign
    output = raw.output[rows, column] * sign
    return values, base, output, label


@dataclass(frozen=True)
class Setup:
    """What an explainer needs besides its public description (built by build_explainer)."""

    features: tuple[str, ...]  # the registered features, the order of Explanations
    inputs: tuple[str, ...]  # the columns the model reads, in its order
    classes: Classes
    engine: engines.Engine
    model: Any
    named: bool  # fitted on a DataFrame (else it reads a positional array)


@dataclass(frozen=True)
class ModelExplainer:
    """A model's explainer, ready to explain explain-frames (build with build_explainer)."""

    kind: Kind
    units: Units
    estimator: str
    setup: Setup | None = field(default=None, repr=False, compare=False)

    def explain(self, frame: pd.DataFrame) -> Explanations:
        """Attributions of every row of `frame` (other columns such as event_id are ignored)."""
        if self.setup is None:
            raise RuntimeError("build a ModelExplainer with build_explainer()")
        setup = self.setup
        inputs = _align(frame, setup.inputs, "the frame")
        n = len(inputs)
        values = np.full((n, len(setup.features)), np.nan)
        base = np.full(n, np.nan)
        output = np.full(n, np.nan)
        label = np.full(n, -1)
        done = _explainable(setup, inputs)
        if done.any():
            raw = setup.engine(inputs if done.all() else inputs[done].reset_index(drop=True))
            picked, base[done], output[done], label[done] = _select(raw, setup.classes)
            where = np.array([setup.features.index(name) for name in setup.inputs], np.intp)
            values[np.ix_(done, where)] = picked
            # Features the model never reads have no effect: exactly zero.
            unused = np.array(
                [i for i, name in enumerate(setup.features) if name not in setup.inputs], np.intp
            )
            values[np.ix_(done, unused)] = 0.0
        self._check_additivity(values, base, output)
        classes = [None if i < 0 else setup.classes.labels[i] for i in label]
        return Explanations(setup.features, values, base, output, self.units, classes)

    def _check_additivity(self, values: np.ndarray, base: np.ndarray, output: np.ndarray) -> None:
        """Refuse to return attributions that do not add up (an explainer shap gets wrong)."""
        error = np.abs(base + values.sum(axis=1) - output)
        bad = error > ADDITIVITY_TOLERANCE * np.maximum(1.0, np.abs(output))  # NaN: False
        if bad.any():
            raise RuntimeError(
                f"{self.estimator}: attributions miss the model output by up to "
                f"{float(np.nanmax(error)):.3g} {self.units}; shap does not explain it exactly"
            )


def _explainable(setup: Setup, inputs: pd.DataFrame) -> np.ndarray:
    """Rows to explain: all, or those without NaN numbers when the model refuses NaN."""
    holes = _nan_rows(inputs)
    if not holes.any():
        return np.ones(len(inputs), dtype=bool)
    sample = inputs[holes].reset_index(drop=True)
    try:  # the model's own answer decides whether it takes NaN
        setup.model.predict(sample if setup.named else sample.to_numpy())
    except ValueError:
        log.debug("the model refuses NaN: %d rows left unexplained", int(holes.sum()))
        return ~holes
    return np.ones(len(inputs), dtype=bool)


def _sample(
    model: Any, background: pd.DataFrame | None, names: Sequence[str], max_rows: int
) -> pd.DataFrame | None:
    """Up to max_rows background rows (a fixed choice), those the model can score."""
    if background is None or len(background) == 0:
        return None
    rows = _align(background, names, "the background")
    if len(rows) > max_rows:
        keep = np.sort(np.random.default_rng(0).choice(len(rows), max_rows, replace=False))
        rows = rows.iloc[keep].reset_index(drop=True)
    holes = _nan_rows(rows)
    if holes.any():
        try:
            model.predict(rows if hasattr(model, "feature_names_in_") else rows.to_numpy())
        except ValueError:  # a model that refuses NaN cannot be masked with them either
            rows = rows[~holes].reset_index(drop=True)
    return rows if len(rows) else None


def _mapped_engine(
    model: Any,
    names: list[str],
    classes: Classes,
    background: pd.DataFrame | None,
    named: bool,
) -> tuple[Kind, Units, engines.Engine] | None:
    """The tree or linear engine on the final estimator, or None when only permutation fits."""
    steps, final = final_estimator(model)
    regression = classes.regression
    kind = family(final, regression)
    if kind == "other" or (kind == "tree" and has_categorical_splits(final)):
        return None
    try:
        groups = None
        if steps:
            mapping = compose(steps, names)
            width = getattr(final, "n_features_in_", len(mapping))
            if len(mapping) != int(width):
                raise Unmapped(f"mapped {len(mapping)} columns, the estimator reads {width}")
            groups = group_matrix(mapping, len(names))
        transform = engines.transform_of(model, steps, groups, named)
        if kind == "tree":
            units = tree_units(final, regression)
            return "tree", units, engines.tree_engine(final, transform, units, regression)
        units = linear_units(final, regression)
        engine = engines.linear_engine(final, transform, units, regression, background)
        return "linear", units, engine
    except Exception as exc:  # shap refuses the model, or the columns cannot be traced
        log.warning("explaining %s by permutation (slow): %s", describe(model), exc)
        return None


def _permutation(
    model: Any, names: list[str], classes: Classes, sample: pd.DataFrame, named: bool
) -> tuple[Kind, Units, engines.Engine]:
    """The permutation engine on the whole model: probabilities when it has them."""
    regression = classes.regression
    units: Units = "raw" if regression or not hasattr(model, "predict_proba") else "probability"
    engine = engines.permutation_engine(model, names, units, regression, sample, named)
    return "permutation", units, engine


def build_explainer(
    model: object,
    features: Sequence[str],
    task: str,
    positive_class: str | None = None,
    background: pd.DataFrame | None = None,
    max_background: int = 100,
) -> ModelExplainer:
    """The explainer for a fitted model whose registered features are `features`.

    background: reference rows (an explain frame), needed by the permutation explainer and
    the baseline of linear models (without it their baseline is the zero vector).
    """
    names_all = tuple(str(f) for f in features)
    if not names_all or len(set(names_all)) != len(names_all):
        raise ValueError("features must be distinct names, at least one")
    if (
        isinstance(max_background, bool)
        or not isinstance(max_background, int)
        or (max_background < 1)
    ):
        raise ValueError(f"max_background must be a positive integer, got {max_background!r}")
    classes = classes_of(model, task, positive_class)
    names = input_names(model, names_all)
    named = getattr(model, "feature_names_in_", None) is not None
    sample = _sample(model, background, names, max_background)
    chosen = _mapped_engine(model, names, classes, sample, named)
    if chosen is None:
        if sample is None:
            raise ValueError(
                f"{describe(model)} is explained by permutation, which needs a reference "
                "sample as background: set the model's drift reference first"
            )
        chosen = _permutation(model, names, classes, sample, named)
    kind, units, engine = chosen
    setup = Setup(names_all, tuple(names), classes, engine, model, named)
    return ModelExplainer(kind, units, describe(model), setup)
