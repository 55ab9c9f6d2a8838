"""Shared counting and binning for the drift methods that compare distributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# Evidently bins a numeric column into a histogram only when its reference has more than
# this many distinct values; otherwise each distinct value is its own bin.
HISTOGRAM_MIN_UNIQUE = 20


def more_unique_than(arrays: np.ndarray | Sequence[np.ndarray], k: int) -> bool:
    """Whether the arrays together hold more than `k` distinct values."""
    parts = [arrays] if isinstance(arrays, np.ndarray) else list(arrays)
    # A short prefix usually settles it: a continuous column shows k+1 values at once.
    for part in parts:
        if pd.unique(part[: 8 * (k + 1)]).size > k:
            return True
    uniques = [pd.unique(part) for part in parts]
    if any(u.size > k for u in uniques):
        return True
    return bool(pd.unique(np.concatenate(uniques)).size > k) if uniques else False


def category_counts(reference: np.ndarray, current: np.ndarray) -> tuple[pd.Index, Any, Any]:
    """Distinct values of both windows and each window's count of them, aligned."""
    ref = pd.Series(reference).value_counts(sort=False)
    cur = pd.Series(current).value_counts(sort=False)
    keys = ref.index.append(cur.index).unique()
    ref_counts = ref.reindex(keys, fill_value=0).to_numpy(dtype=np.float64)
    cur_counts = cur.reindex(keys, fill_value=0).to_numpy(dtype=np.float64)
    return keys, ref_counts, cur_counts


def sturges_bin_count(low: float, high: float, size: int) -> int:
    """Bins numpy's 'sturges' rule gives `size` values spanning [low, high]."""
    if high == low:
        return 1
    width = (high - low) / (np.log2(size) + 1.0)
    return int(np.ceil((high - low) / width))


def shares(reference: np.ndarray, current: np.ndarray, kind: str) -> tuple[Any, Any]:
    """Each window's share of rows per bin, over bins shared by both windows.

    Numeric columns whose reference has more than 20 distinct values get equal-width bins
    over both windows' range, their number by Sturges' rule on both windows together;
    any other column gets one bin per distinct value.
    """
    if kind == "numeric" and more_unique_than(reference, HISTOGRAM_MIN_UNIQUE):
        low = float(min(reference.min(), current.min()))
        high = float(max(reference.max(), current.max()))
        bins = sturges_bin_count(low, high, reference.size + current.size)
        # An int bin count with a range takes numpy's fast path for equal-width bins.
        ref_hist = np.histogram(reference, bins=bins, range=(low, high))[0]
        cur_hist = np.histogram(current, bins=bins, range=(low, high))[0]
        return ref_hist / reference.size, cur_hist / current.size
    _, ref_counts, cur_counts = category_counts(reference, current)
    return ref_counts / reference.size, cur_counts / current.size
