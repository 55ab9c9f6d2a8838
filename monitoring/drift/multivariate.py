"""Multivariate drift: how well a classifier tells the reference window from the current one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from monitoring.drift.registry import Kind

DEFAULT_AUC_THRESHOLD = 0.55
MIN_ROWS = 30
MAX_ROWS = 2000
REFERENCE_FLOOR = 500
TOP_FEATURES = 5
# HistGradientBoosting takes at most 255 category codes; rarer categories share the last one.
MAX_CATEGORIES = 254
# Small and fixed so one window costs well under a second (see the module's test for timing).
MAX_ITER = 60
MAX_LEAF_NODES = 15
FOLDS = 2
_BIG = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class MultivariateDrift:
    """A domain classifier's out-of-fold ROC AUC (0.5: the windows look alike)."""

    roc_auc: float | None
    threshold: float
    drifted: bool
    rows_reference: int
    rows_current: int
    top_features: tuple[tuple[str, float], ...]  # most important first, at most 5

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: top_features as a list of {feature, importance}."""
        return {
            "roc_auc": self.roc_auc,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "top_features": [{"feature": f, "importance": v} for f, v in self.top_features],
        }


def _sample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most max_rows rows of the frame, drawn without replacement, in frame order."""
    if len(frame) <= max_rows:
        return frame
    picked = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[picked]


def _numeric(values: pd.Series) -> np.ndarray:
    """float64 with nulls as NaN and infinities at the float64 limits (the trees need finite)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite: np.ndarray = np.nan_to_num(numbers, nan=np.nan, posinf=_BIG, neginf=-_BIG)
    return finite


def _categories(values: pd.Series) -> np.ndarray:
    """Category codes by frequency (most frequent 0), rare ones pooled, nulls as NaN."""
    codes, _ = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    present = codes >= 0
    counts = np.bincount(codes[present])
    # Stable sort: equally frequent categories keep their first-seen order (deterministic).
    rank = np.empty(counts.size, dtype=np.float64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(counts.size)
    out = np.full(codes.size, np.nan)
    out[present] = np.minimum(rank[codes[present]], MAX_CATEGORIES)
    return out


def _design(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, Kind]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """X (reference rows first), its categorical mask and the features used.

    A feature is used when both windows hold it with at least one value each: a column
    null on one side says the data is missing (a quality check), not that it drifted.
    """
    columns: list[np.ndarray] = []
    categorical: list[bool] = []
    names: list[str] = []
    for name, kind in kinds.items():
        if name not in reference.columns or name not in current.columns:
            continue
        both = pd.concat([reference[name], current[name]], ignore_index=True)
        encoded = _categories(both) if kind == "categorical" else _numeric(both)
        n_ref = len(reference)
        if np.isnan(encoded[:n_ref]).all() or np.isnan(encoded[n_ref:]).all():
            continue
        columns.append(encoded)
        categorical.append(kind == "categorical")
        names.append(name)
    x = np.column_stack(columns) if columns else np.empty((len(reference) + len(current), 0))
    return x, np.array(categorical, dtype=bool), names


def _classifier(categorical: np.ndarray, seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=MAX_ITER,
        max_leaf_nodes=MAX_LEAF_NODES,
        early_stopping=False,
        categorical_features=categorical,
        # No class_weight: weights make the binning use weighted quantiles, 15x slower, and
        # ROC AUC does not depend on the class balance anyway.
        random_state=seed,
    )


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(y, scores))


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: Mapping[str, Kind],
    *,
    threshold: float = DEFAULT_AUC_THRESHOLD,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> MultivariateDrift:
    """Train a classifier to tell reference (0) from current (1) rows; drifted if AUC > threshold.

    The current side is sampled down to max_rows rows, the reference to as many rows as the
    current side uses (at least REFERENCE_FLOOR, at most max_rows), seeded. A
    HistGradientBoostingClassifier (categorical features as categories, NaN native) scores
    each row out of fold over a
    stratified 2-fold split, and the ROC AUC of those scores is the drift score.
    Importance of a feature = the drop of that out-of-fold AUC when the feature's column is
    permuted (seeded) in the held-out rows and scored by the same fold models; only features
    whose permutation lowers the AUC are listed. roc_auc is None (not drifted) when either
    side has fewer than MIN_ROWS rows or no feature has a value on both sides; rows_* are
    the rows used (after sampling). Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    cur = _sample(current, max_rows, rng)
    # A reference many times the size of a small window costs training time, not signal:
    # take about as many reference rows as current ones (at least REFERENCE_FLOOR).
    ref = _sample(reference, min(max_rows, max(len(cur), REFERENCE_FLOOR)), rng)

    def result(auc: float | None, top: tuple[tuple[str, float], ...] = ()) -> MultivariateDrift:
        drifted = auc is not None and auc > threshold
        return MultivariateDrift(auc, threshold, drifted, len(ref), len(cur), top)

    if len(ref) < MIN_ROWS or len(cur) < MIN_ROWS:
        return result(None)
    x, categorical, names = _design(ref, cur, kinds)
    if not names:
        return result(None)
    y = np.concatenate([np.zeros(len(ref), dtype=np.int8), np.ones(len(cur), dtype=np.int8)])
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y)
    n_rows, n_features = x.shape
    scores = np.empty(n_rows)
    # permuted[j, i]: row i's out-of-fold score with feature j permuted among held-out rows.
    permuted = np.empty((n_features, n_rows))
    for train, test in folds:
        model = _classifier(categorical, seed).fit(x[train], y[train])
        held = x[test]
        scores[test] = model.predict_proba(held)[:, 1]
        # One predict call over every permuted copy: far cheaper than one call per feature.
        stacked = np.tile(held, (n_features, 1))
        for j in range(n_features):
            rows = slice(j * len(test), (j + 1) * len(test))
            stacked[rows, j] = held[rng.permutation(len(test)), j]
        permuted[:, test] = model.predict_proba(stacked)[:, 1].reshape(n_features, len(test))
    auc = _auc(y, scores)
    drops = [(names[j], auc - _auc(y, permuted[j])) for j in range(n_features)]
    ranked = sorted((d for d in drops if d[1] > 0), key=lambda d: -d[1])[:TOP_FEATURES]
    return result(auc, tuple((name, float(drop)) for name, drop in ranked))
