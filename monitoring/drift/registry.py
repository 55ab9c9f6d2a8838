"""Drift methods by name, and the default choice of method Evidently makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from monitoring.drift.binning import more_unique_than

Kind = Literal["numeric", "categorical"]
Compute = Callable[[np.ndarray, np.ndarray, Kind], float]

# Evidently switches from p-value tests to distances above this many reference rows.
SMALL_REFERENCE_ROWS = 1000


@dataclass(frozen=True)
class DriftMethod:
    """A drift test: a p-value (small means drift) or a distance (large means drift)."""

    name: str
    kinds: frozenset[Kind]
    default_threshold: float
    p_value: bool
    # Whether a score exactly at the threshold is drift. Evidently uses `p <= t` for KS but
    # `p < t` for chi-square and Z, and `d >= t` for every distance.
    drift_at_threshold: bool
    # compute(reference, current, kind): both arrays non-empty, nulls and infinities removed.
    compute: Compute

    def drifted(self, score: float, threshold: float) -> bool:
        """The decision for a score against a threshold, the way Evidently makes it."""
        if np.isnan(score):
            return False
        if score == threshold:
            return self.drift_at_threshold
        return score < threshold if self.p_value else score > threshold


METHODS: dict[str, DriftMethod] = {}


def register(method: DriftMethod, *, replace: bool = False) -> DriftMethod:
    """Add a method under its name; a name already taken needs `replace=True`."""
    if method.name in METHODS and not replace:
        raise ValueError(f"drift method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> DriftMethod:
    """The registered method called `name`, or a ValueError naming the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown drift method {name!r}; known methods: {known}") from None


def default_method(kind: Kind, reference: np.ndarray, current: np.ndarray) -> str:
    """Evidently's default test for a column (its `_get_default_stattest`), by name.

    Up to 1000 reference rows: KS for numeric columns with more than 5 distinct values
    (reference and current together), else chi-square (3 or more values) or Z (1-2 values).
    Above 1000: normed Wasserstein for numeric columns with more than 5 values, else
    Jensen-Shannon. Arrays are the cleaned windows (no nulls).
    """
    both = (reference, current)
    if reference.size <= SMALL_REFERENCE_ROWS:
        if kind == "numeric" and more_unique_than(both, 5):
            return "ks"
        return "chisquare" if more_unique_than(both, 2) else "z"
    if kind == "numeric" and more_unique_than(both, 5):
        return "wasserstein"
    return "jensenshannon"
