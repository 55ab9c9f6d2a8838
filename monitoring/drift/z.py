"""Two-proportion Z-test, for columns with at most two distinct values."""

from __future__ import annotations

import numpy as np
from scipy import stats

from monitoring.drift.binning import category_counts
from monitoring.drift.registry import DriftMethod, Kind


def z_p_value(reference: np.ndarray, current: np.ndarray, kind: Kind) -> float:
    """Two-sided p-value for equal shares of "not the smallest value" in both windows.

    The smallest distinct value is the one tracked, as in Evidently; with more than two
    values the others are pooled. Both windows holding the same single value: 1.
    """
    keys, ref_counts, cur_counts = category_counts(reference, current)
    first = int(np.argmin(keys.to_numpy())) if keys.size > 1 else 0
    n1, n2 = reference.size, current.size
    p1 = (n1 - ref_counts[first]) / n1
    p2 = (n2 - cur_counts[first]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * stats.norm.sf(abs(z)))


METHOD = DriftMethod(
    name="z",
    kinds=frozenset({"numeric", "categorical"}),
    default_threshold=0.05,
    p_value=True,
    drift_at_threshold=False,
    compute=z_p_value,
)
