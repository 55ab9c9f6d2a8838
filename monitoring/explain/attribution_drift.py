"""Feature-attribution drift: global importance (mean |SHAP|) and how its ranking moves.

ndcg is SageMaker Clarify's feature-attribution drift score: the reference's shares are
each feature's relevance, and the current ranking is scored against the reference's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from monitoring.alert_catalog import register_metric

# Clarify flags attribution drift below this NDCG.
NDCG_THRESHOLD = 0.9
IMPORTANCE_COLUMNS = ("feature", "mean_abs", "share", "rank")
CHANGE_COLUMNS = (
    "feature",
    "reference_rank",
    "current_rank",
    "change",
    "reference_share",
    "current_share",
)

register_metric(
    "attribution_ndcg",
    "model",
    "NDCG of the window's feature-attribution ranking against the reference (1 = same order)",
    (0.0, 1.0),
)


def importance(values: np.ndarray | pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """feature, mean_abs, share (of the sum), rank (1 = largest; ties in `features` order).

    values: (n, len(features)) attributions, or a frame with a column per feature. NaN
    attributions (rows not explained) are left out of the means.
    """
    names = [str(f) for f in features]
    if isinstance(values, pd.DataFrame):
        missing = [name for name in names if name not in values.columns]
        if missing:
            raise ValueError(f"the attributions lack the features {missing}")
        array = values[names].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise ValueError(
                f"attributions of shape {array.shape} do not match {len(names)} features"
            )
    absolute = np.abs(array)
    counts = np.sum(~np.isnan(absolute), axis=0)
    sums = np.nansum(absolute, axis=0)
    mean_abs = np.divide(sums, counts, out=np.zeros(len(names)), where=counts > 0)
    total = float(mean_abs.sum())
    share = mean_abs / total if total > 0 else np.zeros(len(names))
    order = np.argsort(-mean_abs, kind="stable")
    frame = pd.DataFrame(
        {
            "feature": pd.Series([names[i] for i in order], dtype=object),
            "mean_abs": mean_abs[order],
            "share": share[order],
            "rank": np.arange(1, len(names) + 1, dtype=np.int64),
        }
    )
    return frame


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """An importance frame in rank order (by rank, else by share, largest first)."""
    if "rank" in frame.columns:
        return frame.sort_values("rank", kind="stable")
    key = "share" if "share" in frame.columns else "mean_abs"
    return frame.sort_values(key, ascending=False, kind="stable")


def _relevance(frame: pd.DataFrame) -> pd.Series:
    """Each feature's reference share (computed from mean_abs when there is no share)."""
    if "share" in frame.columns:
        return pd.Series(frame["share"].to_numpy(dtype=np.float64), index=frame["feature"])
    mean_abs = frame["mean_abs"].to_numpy(dtype=np.float64)
    total = mean_abs.sum()
    return pd.Series(mean_abs / total if total > 0 else mean_abs * 0.0, index=frame["feature"])


def _dcg(relevance: np.ndarray) -> float:
    positions = np.arange(1, relevance.size + 1)
    return float(np.sum(relevance / np.log2(positions + 1)))


def ndcg(reference: pd.DataFrame, current: pd.DataFrame, k: int | None = None) -> float:
    """The current attribution ranking's NDCG against the reference's (1.0 = same order).

    Both are importance() frames. A feature only the current window has counts with
    relevance 0. NaN when either side has no attribution at all (nothing to judge).
    """
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    relevance = _relevance(reference)
    if not float(_relevance(current).sum()) > 0:
        return math.nan  # an empty window (or all-zero attributions) has no ranking
    ideal_order = np.sort(relevance.to_numpy())[::-1]
    current_order = (
        relevance.reindex(_ranked(current)["feature"]).fillna(0.0).to_numpy(dtype=np.float64)
    )
    if k is not None:
        ideal_order, current_order = ideal_order[:k], current_order[:k]
    ideal = _dcg(ideal_order)
    if not ideal > 0:
        return math.nan
    return min(1.0, _dcg(current_order) / ideal)


def rank_changes(reference: pd.DataFrame, current: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Ranks and shares in both, for the union of each one's top `top` features.

    change = reference_rank - current_rank (positive: the feature moved up). A feature
    missing from one side has NaN there; rows are in reference rank order.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    ref, cur = _ranked(reference), _ranked(current)
    ref_rank = pd.Series(np.arange(1, len(ref) + 1, dtype=np.float64), index=ref["feature"])
    cur_rank = pd.Series(np.arange(1, len(cur) + 1, dtype=np.float64), index=cur["feature"])
    if "rank" in ref.columns:
        ref_rank[:] = ref["rank"].to_numpy(dtype=np.float64)
    if "rank" in cur.columns:
        cur_rank[:] = cur["rank"].to_numpy(dtype=np.float64)
    chosen = list(dict.fromkeys([*ref["feature"][:top], *cur["feature"][:top]]))
    out = pd.DataFrame({"feature": pd.Series(chosen, dtype=object)})
    out["reference_rank"] = ref_rank.reindex(chosen).to_numpy()
    out["current_rank"] = cur_rank.reindex(chosen).to_numpy()
    out["change"] = out["reference_rank"] - out["current_rank"]
    out["reference_share"] = _relevance(ref).reindex(chosen).to_numpy()
    out["current_share"] = _relevance(cur).reindex(chosen).to_numpy()
    out = out.sort_values(["reference_rank", "current_rank"], na_position="last", kind="stable")
    return out.reset_index(drop=True)
