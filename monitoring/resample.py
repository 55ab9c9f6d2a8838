"""Metric values over bootstrap resamples, computed in bulk with numpy.

Each function returns, per metric, one value per resample (NaN where undefined) equal to
compute_metrics on the resampled rows; monitoring.compare turns them into intervals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitoring.metrics import METRICS_BY_TASK, compute_metrics

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Int32Array = npt.NDArray[np.int32]
Boot = dict[str, FloatArray]

LOSS_METRICS = ("log_loss", "brier")
RANK_METRICS = ("roc_auc", "pr_auc")
_EPS = float(np.finfo(np.float64).eps)
_CHUNK_CELLS = 1_000_000  # resamples x rows per chunk: big enough for numpy, small for cache


@dataclass(frozen=True)
class Sample:
    truth: np.ndarray
    pred: np.ndarray
    scores: FloatArray | None

    def __len__(self) -> int:
        return len(self.truth)


def binary_cells(sample: Sample, positive: str) -> IntArray:
    actual = sample.truth == positive
    predicted = sample.pred == positive
    tp = int(np.count_nonzero(actual & predicted))
    fp = int(np.count_nonzero(~actual & predicted))
    fn = int(np.count_nonzero(actual & ~predicted))
    return np.array([tp, fp, fn, len(actual) - tp - fp - fn], dtype=np.int64)


def cell_draws(cells: IntArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Cell counts of n_boot resamples of the rows: multinomial(n, cells / n)."""
    total = int(cells.sum())
    draws: IntArray = rng.multinomial(total, cells / total, size=n_boot)
    return draws.astype(np.float64)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def binary_formulas(cells: FloatArray) -> Boot:
    """metrics.binary_count_metrics over rows of [tp, fp, fn, tn] counts."""
    tp, fp, fn, tn = cells.T
    n = tp + fp + fn + tn
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate_predicted": _ratio(tp + fp, n),
        "positive_rate_actual": _ratio(tp + fn, n),
    }


def multiclass_formulas(matrices: FloatArray) -> Boot:
    """metrics.multiclass_count_metrics over confusion matrices of shape (resamples, k, k)."""
    hits = np.einsum("bii->bi", matrices)
    support = matrices.sum(axis=2)
    predicted = matrices.sum(axis=1)
    seen = (support + predicted) > 0  # a class absent from a resample takes no part

    def zero_ratio(num: FloatArray, den: FloatArray) -> FloatArray:
        return np.nan_to_num(_ratio(num, den), nan=0.0)  # scikit-learn's zero_division

    per_class = {
        "precision": zero_ratio(hits, predicted),
        "recall": zero_ratio(hits, support),
        "f1": zero_ratio(2 * hits, support + predicted),
    }
    out: Boot = {"accuracy": hits.sum(axis=1) / support.sum(axis=1)}
    for name, values in per_class.items():
        out[f"{name}_macro"] = (values * seen).sum(axis=1) / seen.sum(axis=1)
        out[f"{name}_weighted"] = (values * support).sum(axis=1) / support.sum(axis=1)
    return out


def index_chunks(rng: np.random.Generator, rows: int, n_boot: int) -> Iterator[Int32Array]:
    """Row indices of n_boot resamples, a (chunk, rows) block at a time."""
    chunk = max(1, _CHUNK_CELLS // rows)
    for start in range(0, n_boot, chunk):
        # int32 draws are over twice as fast as int64 ones.
        yield rng.integers(0, rows, size=(min(chunk, n_boot - start), rows), dtype=np.int32)


def _counts(cells: np.ndarray, width: int) -> FloatArray:
    """Per resample (row of ``cells``), how many entries fall in each of ``width`` cells."""
    out = np.empty((len(cells), width))
    for i, row in enumerate(cells):
        # One bincount per resample keeps its counters in cache: faster than one for all.
        out[i] = np.bincount(row, minlength=width)
    return out


def _row_sums(stats: dict[str, FloatArray], n_boot: int, rng: np.random.Generator) -> Boot:
    """Each per-row statistic summed over the rows of every resample."""
    matrix = np.vstack(list(stats.values()))
    sums = []
    for idx in index_chunks(rng, matrix.shape[1], n_boot):
        # Draw counts per row times the statistics, all at once. einsum rather than a BLAS
        # product: BLAS threads fighting for 2 busy cores made it 3x slower here.
        sums.append(np.einsum("rj,kj->rk", _counts(idx, matrix.shape[1]), matrix))
    totals = np.concatenate(sums)
    return {key: totals[:, i] for i, key in enumerate(stats)}


def loss_boot(
    is_positive: BoolArray, scores: FloatArray, n_boot: int, rng: np.random.Generator
) -> Boot:
    """Log loss and Brier score per resample: mean loss over the resample's scored rows."""
    scored = ~np.isnan(scores)
    s = np.where(scored, scores, 0.5)
    # scikit-learn clips each class's probability to [eps, 1 - eps] before the log.
    p_actual = np.clip(np.where(is_positive, s, 1 - s), _EPS, 1 - _EPS)
    sums = _row_sums(
        {
            "scored": scored.astype(np.float64),
            "log_loss": np.where(scored, -np.log(p_actual), 0.0),
            "brier": np.where(scored, (is_positive - s) ** 2, 0.0),
        },
        n_boot,
        rng,
    )
    return {name: _ratio(sums[name], sums["scored"]) for name in LOSS_METRICS}


def rank_boot(
    is_positive: BoolArray, scores: FloatArray, n_boot: int, rng: np.random.Generator
) -> Boot:
    """ROC AUC and PR AUC per resample from counts of (distinct score, class) pairs."""
    scored = ~np.isnan(scores)
    distinct, group = np.unique(scores[scored], return_inverse=True)
    width = 2 * len(distinct) + 1  # one cell per (score, class), the last for unscored rows
    cell = np.full(len(scores), width - 1, dtype=np.int64)
    cell[scored] = 2 * group + is_positive[scored]
    parts = []
    for idx in index_chunks(rng, len(scores), n_boot):
        counts = _counts(cell[idx], width)[:, :-1]
        parts.append(_rank_formulas(counts[:, 0::2], counts[:, 1::2]))
    return {name: np.concatenate([part[name] for part in parts]) for name in RANK_METRICS}


def _rank_formulas(neg: FloatArray, pos: FloatArray) -> Boot:
    """ROC AUC (Mann-Whitney, ties half) and average precision from counts per distinct score.

    Columns are distinct scores in ascending order; rows are resamples.
    """
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    neg_up_to = np.cumsum(neg, axis=1)
    below = np.einsum("ij,ij->i", pos, neg_up_to) - 0.5 * np.einsum("ij,ij->i", pos, neg)
    roc_auc = _ratio(below, n_pos * n_neg)
    # Each distinct score is a threshold: precision of the rows scored at least that high,
    # weighted by the positives it adds to recall (scikit-learn's average_precision_score).
    tps = n_pos[:, None] - np.cumsum(pos, axis=1) + pos
    at_least = tps + (n_neg[:, None] - neg_up_to + neg)
    precision = _ratio(tps, at_least)
    precision[np.isnan(precision)] = 0.0
    pr_auc = _ratio(np.einsum("ij,ij->i", pos, precision), n_pos)
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


def regression_boot(sample: Sample, n_boot: int, rng: np.random.Generator) -> Boot:
    """Regression metrics per resample from sums of per-row errors over resampled rows."""
    error = sample.truth - sample.pred
    centred = sample.truth - sample.truth.mean()  # keeps r2's sum of squares accurate
    stats = {
        "abs": np.abs(error),
        "sq": error**2,
        "ape": np.abs(error) / np.maximum(np.abs(sample.truth), _EPS),
        "y": centred,
        "y2": centred**2,
    }
    total = {key: value / len(error) for key, value in _row_sums(stats, n_boot, rng).items()}
    spread = total["y2"] - total["y"] ** 2
    # A resample of one repeated truth has no spread: r2 is undefined there.
    spread = np.where(spread > 1e-12 * total["y2"], spread, 0.0)
    return {
        "mae": total["abs"],
        "rmse": np.sqrt(total["sq"]),
        "mape": total["ape"],
        "r2": 1.0 - _ratio(total["sq"], spread),
    }


def refit_boot(sample: Sample, n_boot: int, rng: np.random.Generator) -> Boot:
    """compute_metrics on each resample, for multiclass with too many classes for the cells."""
    names = METRICS_BY_TASK["multiclass"]
    values = np.full((n_boot, len(names)), np.nan)
    for i, idx in enumerate(rng.integers(0, len(sample), size=(n_boot, len(sample)))):
        result = compute_metrics("multiclass", sample.truth[idx], sample.pred[idx])
        values[i] = [np.nan if result[name] is None else result[name] for name in names]
    return {name: values[:, j] for j, name in enumerate(names)}
