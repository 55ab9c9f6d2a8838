"""Pearson chi-square test of the current counts against the reference proportions."""

from __future__ import annotations

import numpy as np
from scipy import stats

from monitoring.drift.binning import category_counts
from monitoring.drift.registry import DriftMethod, Kind


def chisquare_p_value(reference: np.ndarray, current: np.ndarray, kind: Kind) -> float:
    """P-value of current counts against reference counts scaled to the current size.

    A value never seen in the reference has an expected count of 0: the statistic is
    infinite and the p-value 0 (drift), as in Evidently. A single value overall: 1.
    """
    _, ref_counts, cur_counts = category_counts(reference, current)
    if ref_counts.size < 2:
        return 1.0
    expected = ref_counts * (current.size / reference.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (cur_counts - expected) ** 2 / expected
    statistic = float(terms.sum())
    return float(stats.chi2.sf(statistic, ref_counts.size - 1))


METHOD = DriftMethod(
    name="chisquare",
    kinds=frozenset({"numeric", "categorical"}),
    default_threshold=0.05,
    p_value=True,
    drift_at_threshold=False,
    compute=chisquare_p_value,
)
