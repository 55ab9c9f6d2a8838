"""Jensen-Shannon distance (natural log) between the two windows' binned distributions."""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

from monitoring.drift.binning import shares
from monitoring.drift.registry import DriftMethod, Kind


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Square root of the JS divergence of two (unnormalised) distributions."""
    p = p / p.sum()
    q = q / q.sum()
    mid = (p + q) / 2.0
    divergence = (rel_entr(p, mid).sum() + rel_entr(q, mid).sum()) / 2.0
    # Rounding can leave a tiny negative divergence for identical inputs.
    return float(np.sqrt(max(divergence, 0.0)))


def jensenshannon(reference: np.ndarray, current: np.ndarray, kind: Kind) -> float:
    """JS distance over shared bins (histogram or one bin per value, as for PSI)."""
    ref_share, cur_share = shares(reference, current, kind)
    return js_distance(ref_share, cur_share)


METHOD = DriftMethod(
    name="jensenshannon",
    kinds=frozenset({"numeric", "categorical"}),
    default_threshold=0.1,
    p_value=False,
    drift_at_threshold=True,
    compute=jensenshannon,
)
