"""shap's tree, linear and permutation explainers behind one call: inputs -> Raw.

Every engine returns attributions on the model's input columns for every output (class
column) plus the model's own output, computed by the model and not by shap, so callers
can check additivity instead of trusting it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.explain.estimators import Units, model_output

# Permutation rounds (each a forward and a backward pass over the features); shap's own
# default of 500 evaluations gives about this many for 10-20 features.
PERMUTATION_ROUNDS = 10
PERMUTATION_MAX_EVALS = 500
_SEED = 0


@dataclass(frozen=True)
class Raw:
    """Attributions per input and output column, base values and the model's output."""

    values: np.ndarray  # (n, inputs, k)
    base: np.ndarray  # (n, k)
    output: np.ndarray  # (n, k)


Engine = Callable[[pd.DataFrame], Raw]


def _dense(matrix: Any) -> np.ndarray:
    """A float64 ndarray from a DataFrame, sparse matrix or array (shap wants dense)."""
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=np.float64)


def _as_raw(values: Any, expected: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """shap's (n, m) / (n, m, k) / list-of-(n, m) values and base as (n, m, k), (n, k)."""
    if isinstance(values, list):
        values = np.stack(values, axis=-1)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    k = array.shape[2]
    base = np.asarray(expected, dtype=np.float64)
    if base.ndim == 2:  # per row and output already
        return array, np.array(base.reshape(n, k))
    flat = base.reshape(-1)
    if k == 1 and flat.size == n:  # per row, one output
        return array, flat[:, None].copy()
    return array, np.array(np.broadcast_to(flat, (n, k)))


class _Transform:
    """A pipeline's preprocessing, and the (outputs, inputs) matrix summing columns back."""

    def __init__(self, prefix: Any | None, groups: np.ndarray | None, named: bool) -> None:
        self.prefix = prefix
        self.groups = groups
        self.named = named  # fitted on a DataFrame; else it gets a positional array

    def __call__(self, inputs: pd.DataFrame) -> Any:
        data = inputs if self.named else inputs.to_numpy()
        return data if self.prefix is None else self.prefix.transform(data)

    def regroup(self, values: np.ndarray) -> np.ndarray:
        """(n, outputs, k) attributions summed onto (n, inputs, k)."""
        if self.groups is None:
            return values
        summed: np.ndarray = np.einsum("nmk,mi->nik", values, self.groups, optimize=True)
        return summed


def _gb_multiclass(model: Any) -> Any:
    """shap's tree dict for a multiclass GradientBoostingClassifier, which shap refuses.

    Class j's margin is a constant start plus learning_rate times the sum of its trees;
    each tree becomes a tree with k outputs that are zero except for its class.
    """
    import shap

    if model.init not in (None, "zero"):
        raise ValueError("a custom init estimator makes the start margin vary by row")
    k = model.estimators_.shape[1]
    trees = []
    for stage in model.estimators_:
        for j, regressor in enumerate(stage):
            tree = regressor.tree_
            values = np.zeros((tree.node_count, k))
            values[:, j] = tree.value.reshape(-1) * model.learning_rate
            left, right = tree.children_left, tree.children_right
            trees.append(
                {
                    "children_left": left,
                    "children_right": right,
                    "children_default": np.where(tree.missing_go_to_left.astype(bool), left, right),
                    "features": tree.feature,
                    "thresholds": tree.threshold.astype(np.float64),
                    "values": values,
                    "node_sample_weight": tree.weighted_n_node_samples.astype(np.float64),
                }
            )
    # The start margin, read off one row: the decision minus what the trees add.
    zero = np.zeros((1, model.n_features_in_), dtype=np.float32)
    added = np.array([sum(r.predict(zero)[0] for r in model.estimators_[:, j]) for j in range(k)])
    with warnings.catch_warnings():  # a model fitted on a DataFrame warns about the bare row
        warnings.simplefilter("ignore", UserWarning)
        start = model.decision_function(zero)[0] - added * model.learning_rate
    return shap.TreeExplainer(
        {
            "trees": trees,
            "base_offset": start,
            "tree_output": "raw_value",
            "input_dtype": np.float32,  # sklearn compares float32 inputs with the thresholds
            "internal_dtype": np.float64,
        }
    )


def tree_engine(final: Any, transform: _Transform, units: Units, regression: bool) -> Engine:
    """shap's TreeExplainer (path-dependent: no background needed) on the final estimator."""
    import shap

    multiclass_gb = (
        type(final).__name__ == "GradientBoostingClassifier" and final.estimators_.shape[1] > 1
    )
    explainer = _gb_multiclass(final) if multiclass_gb else shap.TreeExplainer(final)

    def run(inputs: pd.DataFrame) -> Raw:
        matrix = transform(inputs)
        values = explainer.shap_values(_dense(matrix), check_additivity=False)
        array, base = _as_raw(values, explainer.expected_value, len(inputs))
        output = model_output(final, matrix, units, regression)
        return Raw(transform.regroup(array), base, output)

    return run


def linear_engine(
    final: Any,
    transform: _Transform,
    units: Units,
    regression: bool,
    background: pd.DataFrame | None,
) -> Engine:
    """shap's LinearExplainer: attribution = coef * (x - mean of the background).

    Without a background the baseline is the zero vector: attribution = coef * x.
    """
    import shap

    if background is not None and len(background):
        data = _dense(transform(background))
    else:
        data = np.zeros((1, int(final.n_features_in_)))
    explainer = shap.LinearExplainer(final, shap.maskers.Independent(data, max_samples=len(data)))

    def run(inputs: pd.DataFrame) -> Raw:
        matrix = transform(inputs)
        values = explainer.shap_values(_dense(matrix))
        array, base = _as_raw(values, explainer.expected_value, len(inputs))
        output = model_output(final, matrix, units, regression)
        return Raw(transform.regroup(array), base, output)

    return run


class _Codes:
    """Categorical columns as integer codes for shap's numeric masker, and back."""

    def __init__(self, frames: Sequence[pd.DataFrame], names: Sequence[str]) -> None:
        self.names = list(names)
        self.vocab: dict[int, np.ndarray] = {}
        for i, name in enumerate(self.names):
            columns = [frame[name] for frame in frames]
            if all(
                pd.api.types.is_numeric_dtype(c) and not pd.api.types.is_bool_dtype(c)
                for c in columns
            ):
                continue
            seen = pd.unique(np.concatenate([c.dropna().to_numpy(dtype=object) for c in columns]))
            # The last slot is the missing value: code -1 indexes it.
            self.vocab[i] = np.array([*seen, None], dtype=object)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.names)), dtype=np.float64)
        for i, name in enumerate(self.names):
            column = frame[name]
            if i in self.vocab:
                out[:, i] = pd.Categorical(column, categories=self.vocab[i][:-1]).codes
            else:
                out[:, i] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            if i in self.vocab:
                columns[name] = self.vocab[i][np.rint(codes[:, i]).astype(np.intp)]
            else:
                columns[name] = codes[:, i]
        return pd.DataFrame(columns)


def permutation_engine(
    model: Any,
    names: Sequence[str],
    units: Units,
    regression: bool,
    background: pd.DataFrame,
    named: bool,
) -> Engine:
    """shap's PermutationExplainer on the whole model, masking with the background rows.

    named: the model was fitted on a DataFrame (else it gets a positional array).
    """
    import shap

    def run(inputs: pd.DataFrame) -> Raw:
        codes = _Codes([background, inputs], names)

        def predict(matrix: np.ndarray) -> np.ndarray:
            frame = codes.decode(matrix)
            out = model_output(model, frame if named else frame.to_numpy(), units, regression)
            return out[:, 0] if out.shape[1] == 1 else out

        rounds = 2 * len(names) + 1
        max_evals = max(rounds, min(PERMUTATION_MAX_EVALS, PERMUTATION_ROUNDS * rounds))
        masker = shap.maskers.Independent(codes.encode(background), max_samples=len(background))
        # shap seeds numpy's global generator: keep the caller's stream as it was.
        state = np.random.get_state()
        try:
            explainer = shap.explainers.Permutation(predict, masker, seed=_SEED)
            result = explainer(codes.encode(inputs), max_evals=max_evals, silent=True)
        finally:
            np.random.set_state(state)
        array, base = _as_raw(result.values, result.base_values, len(inputs))
        output = model_output(model, inputs if named else inputs.to_numpy(), units, regression)
        return Raw(array, base, output)

    return run


def transform_of(
    model: Any, steps: Sequence[Any], groups: np.ndarray | None, named: bool
) -> _Transform:
    """The preprocessing of a Pipeline (its steps but the last), or none for a bare model."""
    return _Transform(model[:-1] if steps else None, groups, named)
