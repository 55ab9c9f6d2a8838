"""Global importance, NDCG of the attribution ranking and rank changes, on hand values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring.alert_catalog import BOUNDS, METRICS
from monitoring.explain import NDCG_THRESHOLD, importance, ndcg, rank_changes


def _shares(**shares: float) -> pd.DataFrame:
    """An importance frame whose mean |SHAP| equals the given shares."""
    return importance(np.array([list(shares.values())]), list(shares))


def test_importance_means_shares_and_ranks() -> None:
    values = np.array([[1.0, -2.0, 0.0, -0.5], [3.0, 2.0, 0.0, np.nan]])
    table = importance(values, ["a", "b", "c", "d"])
    assert list(table.columns) == ["feature", "mean_abs", "share", "rank"]
    # a and b tie at 2.0: the features' own order breaks the tie; d's NaN row is skipped.
    assert table["feature"].tolist() == ["a", "b", "d", "c"]
    assert table["mean_abs"].tolist() == [2.0, 2.0, 0.5, 0.0]
    assert table["share"].tolist() == pytest.approx([2 / 4.5, 2 / 4.5, 0.5 / 4.5, 0.0])
    assert table["rank"].tolist() == [1, 2, 3, 4]


def test_importance_of_a_frame_and_of_nothing() -> None:
    frame = pd.DataFrame({"event_id": ["x", "y"], "b": [1.0, -3.0], "a": [0.5, 0.5]})
    assert importance(frame, ["a", "b"])["feature"].tolist() == ["b", "a"]
    empty = importance(np.empty((0, 2)), ["a", "b"])
    assert empty["share"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="lack"):
        importance(frame, ["a", "z"])
    with pytest.raises(ValueError, match="shape"):
        importance(np.ones((2, 3)), ["a", "b"])


def test_ndcg_identical_order_is_one() -> None:
    reference = _shares(a=0.5, b=0.3, c=0.2)
    assert ndcg(reference, reference) == 1.0
    # Only the order counts: other shares in the same order still score 1.
    assert ndcg(reference, _shares(a=0.9, b=0.06, c=0.04)) == 1.0


def test_ndcg_of_a_swapped_pair_by_hand() -> None:
    reference = _shares(a=0.5, b=0.3, c=0.2)
    current = _shares(b=0.5, a=0.3, c=0.2)
    # DCG  = 0.3/log2(2) + 0.5/log2(3) + 0.2/log2(4) = 0.3 + 0.315465 + 0.1 = 0.715465
    # IDCG = 0.5/log2(2) + 0.3/log2(3) + 0.2/log2(4) = 0.5 + 0.189279 + 0.1 = 0.789279
    assert ndcg(reference, current) == pytest.approx(0.906479133234798, abs=1e-12)
    assert ndcg(reference, current) > NDCG_THRESHOLD  # one swap of the top two: no alarm
    # The top feature falling to last does alarm: order b, c, a.
    assert ndcg(reference, _shares(b=0.5, c=0.3, a=0.2)) < NDCG_THRESHOLD
    # Top 1: the current leader b has relevance 0.3 against a's 0.5.
    assert ndcg(reference, current, k=1) == pytest.approx(0.6)
    # Top 2 of order a, c, b: (0.5 + 0.2/log2 3) / (0.5 + 0.3/log2 3).
    swapped_tail = _shares(a=0.5, c=0.3, b=0.2)
    assert ndcg(reference, swapped_tail, k=2) == pytest.approx(0.9084652482896209, abs=1e-12)


def test_ndcg_new_and_missing_features_and_empty_reference() -> None:
    reference = _shares(a=0.5, b=0.5)
    # A feature only the window has is worth nothing and pushes a and b down.
    current = _shares(z=0.6, a=0.3, b=0.1)
    want = (0.5 / math.log2(3) + 0.5 / 2) / (0.5 + 0.5 / math.log2(3))
    assert ndcg(reference, current) == pytest.approx(want)
    assert ndcg(reference, _shares(a=1.0)) == pytest.approx(0.5 / (0.5 + 0.5 / math.log2(3)))
    assert math.isnan(ndcg(_shares(a=0.0, b=0.0), current))
    # A window without explanations has no ranking: no score rather than 0 (a false alarm).
    assert math.isnan(ndcg(reference, importance(np.empty((0, 2)), ["a", "b"])))
    assert math.isnan(ndcg(reference, reference.iloc[:0]))
    with pytest.raises(ValueError, match="k must"):
        ndcg(reference, current, k=0)


def test_rank_changes_union_of_tops() -> None:
    reference = _shares(a=0.4, b=0.3, c=0.2, d=0.1)
    current = _shares(c=0.5, a=0.3, d=0.15, b=0.05)
    table = rank_changes(reference, current, top=2)
    assert list(table.columns) == [
        "feature",
        "reference_rank",
        "current_rank",
        "change",
        "reference_share",
        "current_share",
    ]
    assert table["feature"].tolist() == ["a", "b", "c"]  # reference top 2 + current top 2
    assert table["reference_rank"].tolist() == [1, 2, 3]
    assert table["current_rank"].tolist() == [2, 4, 1]
    assert table["change"].tolist() == [-1, -2, 2]
    assert table["reference_share"].tolist() == pytest.approx([0.4, 0.3, 0.2])
    assert table["current_share"].tolist() == pytest.approx([0.3, 0.05, 0.5])


def test_rank_changes_with_a_feature_on_one_side_only() -> None:
    table = rank_changes(_shares(a=0.7, b=0.3), _shares(new=0.6, a=0.4), top=5)
    assert table["feature"].tolist() == ["a", "b", "new"]
    assert table["current_rank"].tolist()[:1] == [2]
    assert np.isnan(table.loc[1, "current_rank"]) and np.isnan(table.loc[2, "reference_rank"])
    with pytest.raises(ValueError, match="top"):
        rank_changes(_shares(a=1.0), _shares(a=1.0), top=0)


def test_attribution_ndcg_is_an_alert_metric() -> None:
    scope, description = METRICS["attribution_ndcg"]
    assert scope == "model" and "NDCG" in description
    assert BOUNDS["attribution_ndcg"] == (0.0, 1.0)
