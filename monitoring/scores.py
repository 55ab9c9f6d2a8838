"""Score metrics of a binary model (ROC AUC, PR AUC, log loss, Brier) from sorted scores.

The scores of positive and negative rows are sorted apart, which is several times cheaper
than one argsort of every row with its label, and sorted parts merge cheaply: per-window
parts combine into the whole range's without sorting from scratch. Definitions are
scikit-learn's:
- ROC AUC is the area under the trapezoidal ROC curve, which equals the Mann-Whitney
  statistic: the share of (positive, negative) pairs the score orders right, ties half.
- PR AUC is average precision: the sum over distinct score thresholds of the recall gained
  there times the precision there.
- log loss clips each class's probability to [eps, 1 - eps], as scikit-learn does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SCORE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class SortedScores:
    """Scored rows reduced to what the score metrics need; `merge` combines parts."""

    positives: FloatArray  # scores of positive rows, ascending
    negatives: FloatArray  # scores of negative rows, ascending
    log_loss_sum: float
    brier_sum: float

    @property
    def rows(self) -> int:
        return len(self.positives) + len(self.negatives)


def sorted_scores(actual: BoolArray, scores: FloatArray) -> SortedScores:
    """Sort the scored rows (NaN is no score and is left out) by class."""
    scored = ~np.isnan(scores)
    y, s = np.asarray(actual, dtype=bool)[scored], scores[scored]
    p_positive = np.clip(s, _EPS, 1 - _EPS)
    p_negative = np.clip(1 - s, _EPS, 1 - _EPS)
    losses = -np.where(y, np.log(p_positive), np.log(p_negative))
    return SortedScores(
        positives=np.sort(s[y]),
        negatives=np.sort(s[~y]),
        log_loss_sum=float(np.sum(losses)),
        brier_sum=float(np.sum((y - s) ** 2)),
    )


def merge(parts: Sequence[SortedScores]) -> SortedScores:
    """The SortedScores of every part's rows together."""
    # A stable sort is timsort for floats: it finds the parts' sorted runs and merges them.
    return SortedScores(
        positives=np.sort(np.concatenate([p.positives for p in parts]), kind="stable"),
        negatives=np.sort(np.concatenate([p.negatives for p in parts]), kind="stable"),
        log_loss_sum=float(sum(p.log_loss_sum for p in parts)),
        brier_sum=float(sum(p.brier_sum for p in parts)),
    )


def score_metrics(sorted_rows: SortedScores) -> dict[str, float | None]:
    """roc_auc, pr_auc, log_loss and brier; None where undefined (see monitoring.metrics)."""
    pos, neg = sorted_rows.positives, sorted_rows.negatives
    n = sorted_rows.rows
    if n == 0:
        return dict.fromkeys(SCORE_METRICS)
    below, ties = _placements(pos, neg)
    return {
        "roc_auc": _roc_auc(pos, neg, below, ties) if len(pos) and len(neg) else None,
        "pr_auc": _average_precision(pos, neg, below) if len(pos) else None,
        "log_loss": sorted_rows.log_loss_sum / n,
        "brier": sorted_rows.brier_sum / n,
    }


def _placements(
    pos: FloatArray, neg: FloatArray
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each positive: the negatives scored below it, and those scored the same.

    One binary search per positive over the distinct negative scores (fewer than the
    negatives when scores repeat), then counts from where each distinct score starts.
    """
    if len(neg) == 0:
        zeros = np.zeros(len(pos), dtype=np.int64)
        return zeros, zeros
    starts = np.flatnonzero(np.r_[True, neg[1:] != neg[:-1]])
    bounds = np.r_[starts, len(neg)]  # bounds[k]: negatives below the k-th distinct score
    j = np.searchsorted(neg[starts], pos, side="left")
    below = bounds[j]
    hit = j < len(starts)
    hit[hit] = neg[starts[j[hit]]] == pos[hit]
    ties = np.zeros(len(pos), dtype=np.int64)
    ties[hit] = bounds[j[hit] + 1] - bounds[j[hit]]
    return below, ties


def _roc_auc(
    pos: FloatArray,
    neg: FloatArray,
    below: npt.NDArray[np.int64],
    ties: npt.NDArray[np.int64],
) -> float:
    # Pairs ordered right count 1, tied pairs 1/2. Integer sums are exact; the one division
    # is the only rounding.
    twice = 2 * int(np.sum(below, dtype=np.int64)) + int(np.sum(ties, dtype=np.int64))
    return twice / 2 / (len(pos) * len(neg))


def _average_precision(pos: FloatArray, neg: FloatArray, below: npt.NDArray[np.int64]) -> float:
    # Each distinct positive score t is a threshold where recall rises by the positives at t.
    first = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    counts = np.diff(np.r_[first, len(pos)])
    true_positives = len(pos) - first  # rows scored >= t
    false_positives = len(neg) - below[first]
    precision = true_positives / (true_positives + false_positives)
    return float(np.sum(counts * precision) / len(pos))


def calibration(parts: Sequence[SortedScores], bins: int = 10) -> pd.DataFrame:
    """monitoring.metrics.calibration_curve of the parts' rows, without merging them: the
    counts and sums per bin add up across parts."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    count, score_sum, positive_sum = np.zeros(bins), np.zeros(bins), np.zeros(bins)
    for part in parts:
        for values, positive in ((part.positives, 1.0), (part.negatives, 0.0)):
            # A score on an inner edge belongs to the lower bin, as in scikit-learn.
            cuts = np.r_[0, np.searchsorted(values, edges[1:-1], side="right"), len(values)]
            sums = np.r_[0.0, np.cumsum(values)]
            n = np.diff(cuts)
            count += n
            score_sum += sums[cuts[1:]] - sums[cuts[:-1]]
            positive_sum += positive * n
    used = count > 0
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1][used],
            "bin_upper": edges[1:][used],
            "mean_score": score_sum[used] / count[used],
            "fraction_positive": positive_sum[used] / count[used],
            "count": count[used].astype(np.int64),
        }
    )
