"""Which input feature each column of a preprocessing pipeline's output comes from.

Summing attributions over the columns one input produced keeps additivity, but only when
every output column depends on a single input: one-hot blocks, one-to-one transformers
(scalers, imputers, encoders that keep names), feature selection. Anything that mixes
columns (PCA, polynomial terms) has no such map: unmapped() makes callers fall back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Output name prefix SimpleImputer(add_indicator=True) gives each missing-value flag.
_INDICATOR_PREFIX = "missingindicator_"


class Unmapped(ValueError):
    """The preprocessing mixes or renames columns, so outputs cannot be traced to inputs."""


def _class_name(step: object) -> str:
    return type(step).__name__


def _names_in(step: Any, count: int) -> list[str]:
    """The names a fitted step saw, or sklearn's x0.. placeholders when it saw none."""
    fitted = getattr(step, "feature_names_in_", None)
    if fitted is not None and len(fitted) == count:
        return [str(name) for name in fitted]
    return [f"x{i}" for i in range(count)]


def _onehot_sizes(encoder: Any) -> list[int]:
    """Output columns per input of a fitted OneHotEncoder (dropped and infrequent counted)."""
    sizes = getattr(encoder, "_n_features_outs", None)
    if sizes is not None:
        return [int(size) for size in sizes]
    infrequent = getattr(encoder, "infrequent_categories_", None)
    drop = getattr(encoder, "drop_idx_", None)
    out = []
    for i, categories in enumerate(encoder.categories_):
        size = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            size -= len(infrequent[i]) - 1
        if drop is not None and drop[i] is not None:
            size -= 1
        out.append(size)
    return out


def _by_name(step: Any, names: list[str]) -> list[int]:
    """Outputs named like an input (or its missing-value flag) map to that input."""
    try:
        out = [str(name) for name in step.get_feature_names_out(names)]
    except Exception as exc:  # no names out (e.g. FunctionTransformer without them)
        raise Unmapped(f"{_class_name(step)} does not name its output columns") from exc
    index = {name: i for i, name in enumerate(names)}
    mapping = []
    for name in out:
        source = index.get(name, index.get(name.removeprefix(_INDICATOR_PREFIX)))
        if source is None:
            raise Unmapped(f"{_class_name(step)} output {name!r} mixes or renames inputs")
        mapping.append(source)
    return mapping


def _resolve_columns(columns: Any, names: list[str]) -> list[int]:
    """A ColumnTransformer's column selection as input indices."""
    positions = np.arange(len(names))
    if isinstance(columns, str):
        return [names.index(columns)]
    if isinstance(columns, int | np.integer):
        return [int(columns)]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            raise Unmapped("label slices of columns are not supported")
        return [int(i) for i in positions[columns]]
    if callable(columns):
        raise Unmapped("callable column selections are not supported")
    selected = list(columns)
    if not selected:
        return []
    if all(isinstance(c, bool | np.bool_) for c in selected):
        return [int(i) for i in positions[np.asarray(selected, dtype=bool)]]
    if all(isinstance(c, str) for c in selected):
        return [names.index(c) for c in selected]
    return [int(c) for c in selected]


def _column_transformer(ct: Any, names: list[str]) -> list[int]:
    mapping: list[int] = []
    for _, transformer, columns in ct.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        selected = _resolve_columns(columns, names)
        if not selected:
            continue  # ColumnTransformer skips empty selections in its output
        if isinstance(transformer, str) and transformer == "passthrough":
            mapping.extend(selected)
            continue
        inner = step_map(transformer, [names[i] for i in selected])
        mapping.extend(selected[i] for i in inner)
    return mapping


def step_map(step: Any, names: list[str]) -> list[int]:
    """For each output column of a fitted step, the index of the input it comes from."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return list(range(len(names)))
    kind = _class_name(step)
    if kind == "ColumnTransformer":
        return _column_transformer(step, _names_in(step, len(names)))
    if kind == "Pipeline":
        return compose([s for _, s in step.steps], names)
    if kind == "OneHotEncoder":
        sizes = _onehot_sizes(step)
        if len(sizes) != len(names):
            raise Unmapped("OneHotEncoder's inputs do not match its categories")
        return [i for i, size in enumerate(sizes) for _ in range(size)]
    return _by_name(step, _names_in(step, len(names)))


def compose(steps: Sequence[Any], names: list[str]) -> list[int]:
    """Input index of each output column after running `steps` in order."""
    mapping = list(range(len(names)))
    current = list(names)
    for step in steps:
        inner = step_map(step, current)
        mapping = [mapping[i] for i in inner]
        current = _names_out(step, current, len(inner))
    return mapping


def _names_out(step: Any, names: list[str], count: int) -> list[str]:
    """Names the next step sees; placeholders when a step cannot name its output."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return names
    try:
        out = [str(n) for n in step.get_feature_names_out(_names_in(step, len(names)))]
    except Exception:  # the next step then matches on x0.. placeholders
        return [f"x{i}" for i in range(count)]
    return out if len(out) == count else [f"x{i}" for i in range(count)]


def group_matrix(mapping: Sequence[int], n_inputs: int) -> np.ndarray:
    """(outputs, inputs) 0/1 matrix: attributions @ it sums each input's columns."""
    matrix = np.zeros((len(mapping), n_inputs), dtype=np.float64)
    matrix[np.arange(len(mapping)), np.asarray(mapping, dtype=np.intp)] = 1.0
    return matrix
