"""Population Stability Index between the two windows' binned distributions."""

from __future__ import annotations

import numpy as np

from monitoring.drift.binning import shares
from monitoring.drift.registry import DriftMethod, Kind

# Empty bins get a small share so the log stays finite: 1e-4, or a millionth of the
# smallest non-zero share when that is itself 1e-4 or less (Evidently's rule).
EMPTY_SHARE = 1e-4


def fill_empty(share: np.ndarray) -> np.ndarray:
    """`share` with its zero bins replaced by a small positive share."""
    nonzero = share[share > 0]
    if nonzero.size == share.size or nonzero.size == 0:
        return share
    smallest = float(nonzero.min())
    fill = smallest / 1e6 if smallest <= EMPTY_SHARE else EMPTY_SHARE
    return np.where(share > 0, share, fill)


def psi_value(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """PSI = sum over bins of (ref - cur) * ln(ref / cur), after filling empty bins."""
    ref, cur = fill_empty(ref_share), fill_empty(cur_share)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def psi(reference: np.ndarray, current: np.ndarray, kind: Kind) -> float:
    """PSI over shared bins (histogram for numeric columns, else one bin per value)."""
    return psi_value(*shares(reference, current, kind))


METHOD = DriftMethod(
    name="psi",
    kinds=frozenset({"numeric", "categorical"}),
    default_threshold=0.1,
    p_value=False,
    drift_at_threshold=True,
    compute=psi,
)
