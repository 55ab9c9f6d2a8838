"""Champion and challenger: every metric of two versions with a bootstrap CI of the difference.

Percentile bootstrap: each version's labelled rows are resampled with replacement on their
own (the versions saw different traffic, so there is nothing to pair) and the CI is the
central ``confidence`` share of ``b - a`` over the resamples. ``significant`` means the CI
excludes 0. Accuracy also gets a two-proportion z-test p-value.

Resamples are computed in bulk with numpy (monitoring.resample), never one compute_metrics
call per resample:
- confusion-count metrics (accuracy, precision, recall, F1, positive rates, macro and weighted
  averages): resampling n rows is a multinomial draw of n over the confusion cells;
- log loss, Brier and regression metrics: per-row terms summed with each resample's draw counts;
- roc_auc and pr_auc: each resample's counts per (distinct score, class), then the rank
  formula and average precision. These cost a pass over every distinct score per resample,
  so they use at most ``n_boot_auc`` resamples (the method then names the number);
- multiclass with over 64 classes: compute_metrics per resample, ``n_boot_auc`` of them.
Each resample's value equals compute_metrics on the resampled rows; an undefined value (say,
precision with no predicted positive) is left out of the percentiles.

Millions of rows: a version with more than ``max_rows`` labelled rows is bootstrapped on a
uniform subsample of ``max_rows`` rows (m-out-of-n bootstrap), and each resample's
deviation from the subsample's value is scaled by sqrt(m / n) around the full rows' value:
the spread of a root-n consistent metric shrinks as 1/sqrt(n), so this gives the full
sample's interval at a fixed cost. The method then says so. Callers that fetched only a
uniform sample of a larger population pass the population's size and metric values as
``population``; the same rescaling applies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.metrics import METRICS_BY_TASK, compute_metrics, confusion_matrix
from monitoring.resample import (
    LOSS_METRICS,
    RANK_METRICS,
    BoolArray,
    Boot,
    FloatArray,
    Sample,
    binary_cells,
    binary_formulas,
    cell_draws,
    loss_boot,
    multiclass_formulas,
    rank_boot,
    refit_boot,
    regression_boot,
)
from storage.models import normalize_class

_MAX_CLASSES = 64
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Population:
    """The labelled rows a version's frame was sampled from: their count and metric values."""

    rows: int
    values: dict[str, float | None]


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
    max_rows: int = MAX_ROWS,
    population: tuple[Population, Population] | None = None,
) -> list[Comparison]:
    """Compare versions a and b (frames of labelled rows: label, prediction[, score]).

    population: when a and b are uniform samples, the rows they were drawn from (see the
    module docstring); values and counts then come from it.
    """
    names = _check_args(task, metrics, n_boot, n_boot_auc, seed, confidence)
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 100:
        raise ValueError(f"max_rows must be an integer of at least 100, got {max_rows!r}")
    positive = normalize_class("1" if positive_class is None else positive_class)
    samples = [_sample(task, a, "a"), _sample(task, b, "b")]
    if population is None:
        first, second = (
            Population(len(s), compute_metrics(task, s.truth, s.pred, s.scores, positive))
            for s in samples
        )
        population = (first, second)
    samples = [_subsample(s, max_rows, (seed, i, 9)) for i, s in enumerate(samples)]
    boots = [
        _rescaled(
            task,
            s,
            full,
            _bootstrap(task, s, names, positive, n_boot, min(n_boot, n_boot_auc), (seed, i)),
            positive,
        )
        for i, (s, full) in enumerate(zip(samples, population, strict=True))
    ]
    points = [full.values for full in population]
    p_value = _accuracy_p_value(population) if "accuracy" in names else None
    level = f"bootstrap {confidence * 100:g}% CI"
    scaled = [len(s) < full.rows for s, full in zip(samples, population, strict=True)]
    if any(scaled):
        level += f" (m-out-of-n: {max(len(s) for s in samples):,}-row subsamples, rescaled)"
    out = []
    for name in names:
        va, vb = points[0].get(name), points[1].get(name)
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


def _subsample(sample: Sample, max_rows: int, key: tuple[int, int, int]) -> Sample:
    """At most max_rows of the rows, drawn uniformly without replacement (order kept)."""
    if len(sample) <= max_rows:
        return sample
    rows = np.sort(np.random.default_rng(key).choice(len(sample), max_rows, replace=False))
    scores = None if sample.scores is None else sample.scores[rows]
    return Sample(sample.truth[rows], sample.pred[rows], scores)


def _rescaled(task: str, sample: Sample, full: Population, boot: Boot, positive: str) -> Boot:
    """Resamples of a subsample moved to the full rows' values, spread scaled sqrt(m / n)."""
    if len(sample) >= full.rows or not boot:
        return boot
    here = compute_metrics(task, sample.truth, sample.pred, sample.scores, positive)
    scale = math.sqrt(len(sample) / full.rows)
    out: Boot = {}
    for name, values in boot.items():
        center, local = full.values.get(name), here.get(name)
        if center is None or local is None:
            out[name] = np.full_like(values, np.nan)
        else:
            out[name] = center + (values - local) * scale
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


def _sample(task: str, frame: pd.DataFrame, name: str) -> Sample:
    missing = [c for c in ("label", "prediction") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame {name} lacks column(s) {', '.join(missing)}: pass labelled rows with "
            "label and prediction (and score for binary models)"
        )
    rows = frame.loc[frame["label"].notna()]
    if task == "regression":
        truth = rows["label"].to_numpy(dtype=np.float64, na_value=np.nan)
        return Sample(truth, rows["prediction"].to_numpy(dtype=np.float64, na_value=np.nan), None)
    scores = None
    if task == "binary" and "score" in rows.columns:
        scores = rows["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    return Sample(_classes(rows["label"]), _classes(rows["prediction"]), scores)


def _classes(values: pd.Series) -> np.ndarray:
    # Factorize first so that normalize_class runs once per distinct value, not per row.
    codes, uniques = pd.factorize(values)
    # A missing value (code -1) picks the trailing None, which compute_metrics reports.
    texts = np.array([*(normalize_class(u) for u in uniques), None], dtype=object)
    return texts[codes]


def _bootstrap(
    task: str,
    sample: Sample,
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
        out.update(regression_boot(sample, n_boot, rng(0)))
    elif task == "multiclass":
        classes, counts = confusion_matrix(sample.truth, sample.pred)
        if len(classes) > _MAX_CLASSES:
            out.update(refit_boot(sample, n_auc, rng(0)))
        else:
            draws = cell_draws(counts.ravel(), n_boot, rng(0))
            out.update(multiclass_formulas(draws.reshape(n_boot, *counts.shape)))
    else:
        out.update(binary_formulas(cell_draws(binary_cells(sample, positive), n_boot, rng(0))))
        is_positive: BoolArray = sample.truth == positive
        if sample.scores is not None and set(names) & set(LOSS_METRICS):
            out.update(loss_boot(is_positive, sample.scores, n_boot, rng(1)))
        if sample.scores is not None and set(names) & set(RANK_METRICS):
            out.update(rank_boot(is_positive, sample.scores, n_auc, rng(2)))
    return {name: out[name] for name in names if name in out}


def _accuracy_p_value(population: tuple[Population, Population]) -> float | None:
    hits = [round((p.values.get("accuracy") or 0) * p.rows) for p in population]
    return two_proportion_p_value(hits[0], population[0].rows, hits[1], population[1].rows)


def _interval(diffs: FloatArray | None, confidence: float) -> tuple[float | None, float | None]:
    if diffs is None:
        return None, None
    defined = diffs[~np.isnan(diffs)]
    if len(defined) == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    return float(low), float(high)
