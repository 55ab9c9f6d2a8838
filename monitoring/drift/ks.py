"""Two-sample Kolmogorov-Smirnov test (numeric): the two-sided p-value."""

from __future__ import annotations

import numpy as np
from scipy import stats

from monitoring.drift.registry import DriftMethod, Kind


def ks_p_value(reference: np.ndarray, current: np.ndarray, kind: Kind = "numeric") -> float:
    """Two-sided KS p-value; scipy picks the exact or asymptotic distribution by size."""
    return float(stats.ks_2samp(reference, current).pvalue)


METHOD = DriftMethod(
    name="ks",
    kinds=frozenset({"numeric"}),
    default_threshold=0.05,
    p_value=True,
    drift_at_threshold=True,
    compute=ks_p_value,
)
