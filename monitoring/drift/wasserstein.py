"""First Wasserstein distance (numeric), divided by the reference's standard deviation."""

from __future__ import annotations

import numpy as np

from monitoring.drift.registry import DriftMethod, Kind

# Floor on the divisor so a constant reference gives a finite distance (Evidently's value).
MIN_NORM = 0.001


def wasserstein_1d(reference: np.ndarray, current: np.ndarray) -> float:
    """W1 between two samples: the area between their quantile functions."""
    a, b = np.sort(reference), np.sort(current)
    n, m = a.size, b.size
    if n == m:
        return float(np.mean(np.abs(a - b)))
    # Quantile functions step at i/n and j/m. In units of 1/(n*m) those steps are the
    # integers i*m and j*n; merging them (ties: a's first) gives every interval on which
    # both quantile functions are constant, without sorting anything again.
    i = np.arange(1, n + 1, dtype=np.int64)
    j = np.arange(1, m + 1, dtype=np.int64)
    steps = np.empty(n + m, dtype=np.int64)
    steps[i - 1 + (i * m - 1) // n] = i * m
    steps[j - 1 + (j * n) // m] = j * n
    widths = np.diff(steps, prepend=0)
    qa = a[(steps + m - 1) // m - 1]
    qb = b[(steps + n - 1) // n - 1]
    return float(np.dot(widths, np.abs(qa - qb)) / (n * m))


def wasserstein_normed(reference: np.ndarray, current: np.ndarray, kind: Kind = "numeric") -> float:
    """W1 divided by the reference's population standard deviation (at least 0.001)."""
    norm = max(float(np.std(reference)), MIN_NORM)
    return wasserstein_1d(reference, current) / norm


METHOD = DriftMethod(
    name="wasserstein",
    kinds=frozenset({"numeric"}),
    default_threshold=0.1,
    p_value=False,
    drift_at_threshold=True,
    compute=wasserstein_normed,
)
