"""Champion and challenger: every metric of two versions with a bootstrap CI of the difference.

Percentile bootstrap: each version's labelled rows are resampled with replacement on their
own (the versions saw different traffic, so there is nothing to pair) and the CI is the
central ``confidence`` share of ``b - a`` over the resamples. ``significant`` means the CI
excludes 0. Accuracy also gets a two-proportion z-test p-value.

Resamples are computed in bulk with numpy, never one compute_metrics call per resample:
- confusion-count metrics (accuracy, precision, recall, F1, positive rates, macro and weighted
  averages): resampling n rows is a multinomial draw of n over the confusion cells;
- log loss, Brier and regression metrics: per-row terms summed with each resample's draw counts;
- roc_auc and pr_auc: each resample's counts per (distinct score, class), then the rank
  formula and average precision. These cost a pass over every distinct score per resample,
  so they use at most ``n_boot_auc`` resamples (the method then names the number);
- multiclass with over 64 classes: compute_metrics per resample, ``n_boot_auc`` of them.
Each resample's value equals compute_metrics on the resampled rows; an undefined value (say,
precision with no predicted positive) is left out of the percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitoring.metrics import METRICS_BY_TASK, compute_metrics, confusion_matrix
from storage.models import normalize_class

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Int32Array = npt.NDArray[np.int32]
Boot = dict[str, FloatArray]

_LOSS_METRICS = ("log_loss", "brier")
_RANK_METRICS = ("roc_auc", "pr_auc")
_EPS = float(np.finfo(np.float64).eps)
_MAX_CLASSES = 64
_CHUNK_CELLS = 1_000_000  # resamples x rows per chunk: big enough for numpy, small for cache


@dataclass(frozen=True)
class Comparison:
    """One metric of versions a (champion) and b (challenger); ``diff`` is b - a."""

    metric: str
    a: float | None
    b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    significant: bool
    method: str
    p_value: float | None = None


@dataclass(frozen=True)
class _Sample:
    truth: np.ndarray
    pred: np.ndarray
    scores: FloatArray | None

    def __len__(self) -> int:
        return len(self.truth)


def compare_versions(
    task: str,
    a: pd.DataFrame,
    b: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    *,
    positive_class: str | None = None,
    confidence: float = 0.95,
    n_boot_auc: int = 200,
) -> list[Comparison]:
    """Compare versions a and b (frames of labelled rows: label, prediction[, score])."""
    names = _check_args(task, metrics, n_boot, n_boot_auc, seed, confidence)
    positive = normalize_class("1" if positive_class is None else positive_class)
    samples = (_sample(task, a, "a"), _sample(task, b, "b"))
    points = [compute_metrics(task, s.truth, s.pred, s.scores, positive) for s in samples]
    boots = [
        _bootstrap(task, s, names, positive, n_boot, min(n_boot, n_boot_auc), (seed, i))
        for i, s in enumerate(samples)
    ]
    p_value = _accuracy_p_value(samples, points) if "accuracy" in names else None
    level = f"bootstrap {confidence * 100:g}% CI"
    out = []
    for name in names:
        va, vb = points[0][name], points[1][name]
        diffs = boots[1][name] - boots[0][name] if all(name in x for x in boots) else None
        low, high = _interval(diffs, confidence)
        count = n_boot if diffs is None else len(diffs)
        out.append(
            Comparison(
                name,
                va,
                vb,
                None if va is None or vb is None else vb - va,
                low,
                high,
                significant=low is not None and high is not None and (low > 0 or high < 0),
                method=level if count == n_boot else f"{level} ({count} resamples)",
                p_value=p_value if name == "accuracy" else None,
            )
        )
    return out


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None without rows."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0  # both shares are 0 or both are 1: no difference to test
    z = (hits_b / n_b - hits_a / n_a) / se
    return math.erfc(abs(z) / math.sqrt(2))


def _check_args(
    task: str,
    metrics: Sequence[str] | None,
    n_boot: int,
    n_boot_auc: int,
    seed: int,
    confidence: float,
) -> tuple[str, ...]:
    if task not in METRICS_BY_TASK:
        raise ValueError(f"unknown task {task!r}: use one of {', '.join(METRICS_BY_TASK)}")
    known = METRICS_BY_TASK[task]
    names = known if metrics is None else tuple(metrics)
    unknown = [m for m in names if m not in known]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {', '.join(unknown)} for a {task} model; known: {', '.join(known)}"
        )
    for label, count, least in (
        ("n_boot", n_boot, 1),
        ("n_boot_auc", n_boot_auc, 1),
        ("seed", seed, 0),
    ):
        if isinstance(count, bool) or not isinstance(count, int) or count < least:
            raise ValueError(f"{label} must be an integer of at least {least}, got {count!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return names


def _sample(task: str, frame: pd.DataFrame, name: str) -> _Sample:
    missing = [c for c in ("label", "prediction") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame {name} lacks column(s) {', '.join(missing)}: pass labelled rows with "
            "label and prediction (and score for binary models)"
        )
    rows = frame.loc[frame["label"].notna()]
    if task == "regression":
        truth = rows["label"].to_numpy(dtype=np.float64, na_value=np.nan)
        return _Sample(truth, rows["prediction"].to_numpy(dtype=np.float64, na_value=np.nan), None)
    scores = None
    if task == "binary" and "score" in rows.columns:
        scores = rows["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    return _Sample(_classes(rows["label"]), _classes(rows["prediction"]), scores)


def _classes(values: pd.Series) -> np.ndarray:
    # Factorize first so that normalize_class runs once per distinct value, not per row.
    codes, uniques = pd.factorize(values)
    # A missing value (code -1) picks the trailing None, which compute_metrics reports.
    texts = np.array([*(normalize_class(u) for u in uniques), None], dtype=object)
    return texts[codes]


def _bootstrap(
    task: str,
    sample: _Sample,
    names: tuple[str, ...],
    positive: str,
    n_boot: int,
    n_auc: int,
    key: tuple[int, int],
) -> Boot:
    """Each metric's value in every resample (NaN where undefined); {} without rows."""
    if len(sample) == 0:
        return {}

    def rng(engine: int) -> np.random.Generator:
        # One stream per (seed, version, engine): a metric's CI does not depend on which
        # other metrics were asked for.
        return np.random.default_rng([*key, engine])

    out: Boot = {}
    if task == "regression":
        out.update(_regression_boot(sample, n_boot, rng(0)))
    elif task == "multiclass":
        classes, counts = confusion_matrix(sample.truth, sample.pred)
        if len(classes) > _MAX_CLASSES:
            out.update(_refit_boot(sample, n_auc, rng(0)))
        else:
            draws = _cell_draws(counts.ravel(), n_boot, rng(0))
            out.update(_multiclass_formulas(draws.reshape(n_boot, *counts.shape)))
    else:
        out.update(_binary_formulas(_cell_draws(_binary_cells(sample, positive), n_boot, rng(0))))
        is_positive: BoolArray = sample.truth == positive
        if sample.scores is not None and set(names) & set(_LOSS_METRICS):
            out.update(_loss_boot(is_positive, sample.scores, n_boot, rng(1)))
        if sample.scores is not None and set(names) & set(_RANK_METRICS):
            out.update(_rank_boot(is_positive, sample.scores, n_auc, rng(2)))
    return {name: out[name] for name in names if name in out}


def _binary_cells(sample: _Sample, positive: str) -> IntArray:
    actual = sample.truth == positive
    predicted = sample.pred == positive
    tp = int(np.count_nonzero(actual & predicted))
    fp = int(np.count_nonzero(~actual & predicted))
    fn = int(np.count_nonzero(actual & ~predicted))
    return np.array([tp, fp, fn, len(actual) - tp - fp - fn], dtype=np.int64)


def _cell_draws(cells: IntArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Cell counts of n_boot resamples of the rows: multinomial(n, cells / n)."""
    total = int(cells.sum())
    draws: IntArray = rng.multinomial(total, cells / total, size=n_boot)
    return draws.astype(np.float64)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _binary_formulas(cells: FloatArray) -> Boot:
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


def _multiclass_formulas(matrices: FloatArray) -> Boot:
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


def _index_chunks(rng: np.random.Generator, rows: int, n_boot: int) -> Iterator[Int32Array]:
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
    for idx in _index_chunks(rng, matrix.shape[1], n_boot):
        # Draw counts per row times the statistics, all at once. einsum rather than a BLAS
        # product: BLAS threads fighting for 2 busy cores made it 3x slower here.
        sums.append(np.einsum("rj,kj->rk", _counts(idx, matrix.shape[1]), matrix))
    totals = np.concatenate(sums)
    return {key: totals[:, i] for i, key in enumerate(stats)}


def _loss_boot(
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
    return {name: _ratio(sums[name], sums["scored"]) for name in _LOSS_METRICS}


def _rank_boot(
    is_positive: BoolArray, scores: FloatArray, n_boot: int, rng: np.random.Generator
) -> Boot:
    """ROC AUC and PR AUC per resample from counts of (distinct score, class) pairs."""
    scored = ~np.isnan(scores)
    distinct, group = np.unique(scores[scored], return_inverse=True)
    width = 2 * len(distinct) + 1  # one cell per (score, class), the last for unscored rows
    cell = np.full(len(scores), width - 1, dtype=np.int64)
    cell[scored] = 2 * group + is_positive[scored]
    parts = []
    for idx in _index_chunks(rng, len(scores), n_boot):
        counts = _counts(cell[idx], width)[:, :-1]
        parts.append(_rank_formulas(counts[:, 0::2], counts[:, 1::2]))
    return {name: np.concatenate([part[name] for part in parts]) for name in _RANK_METRICS}


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


def _regression_boot(sample: _Sample, n_boot: int, rng: np.random.Generator) -> Boot:
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


def _refit_boot(sample: _Sample, n_boot: int, rng: np.random.Generator) -> Boot:
    """compute_metrics on each resample, for multiclass with too many classes for the cells."""
    names = METRICS_BY_TASK["multiclass"]
    values = np.full((n_boot, len(names)), np.nan)
    for i, idx in enumerate(rng.integers(0, len(sample), size=(n_boot, len(sample)))):
        result = compute_metrics("multiclass", sample.truth[idx], sample.pred[idx])
        values[i] = [np.nan if result[name] is None else result[name] for name in names]
    return {name: values[:, j] for j, name in enumerate(names)}


def _accuracy_p_value(
    samples: tuple[_Sample, _Sample], points: list[dict[str, float | None]]
) -> float | None:
    hits = [round((p["accuracy"] or 0) * len(s)) for s, p in zip(samples, points, strict=True)]
    return two_proportion_p_value(hits[0], len(samples[0]), hits[1], len(samples[1]))


def _interval(diffs: FloatArray | None, confidence: float) -> tuple[float | None, float | None]:
    if diffs is None:
        return None, None
    defined = diffs[~np.isnan(diffs)]
    if len(defined) == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    return float(low), float(high)
