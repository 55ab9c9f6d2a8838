"""The domain classifier: no drift on alike windows, a shifted feature found and ranked first."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitoring.drift.multivariate import MIN_ROWS, MultivariateDrift, domain_classifier

KINDS: dict[str, Any] = {"a": "numeric", "b": "numeric", "c": "numeric", "colour": "categorical"}


def _frame(
    rng: np.random.Generator, n: int, shift: float = 0.0, new_colour: bool = False
) -> pd.DataFrame:
    colours = ["red", "green", "blue"]
    return pd.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.normal(shift, 1, n),
            "c": rng.exponential(1, n),
            "colour": rng.choice(colours + ["violet"] * 3 if new_colour else colours, n).astype(
                object
            ),
        }
    )


def test_identical_distributions_do_not_drift() -> None:
    rng = np.random.default_rng(3)
    result = domain_classifier(_frame(rng, 1500), _frame(rng, 1500), KINDS)
    assert result.roc_auc is not None and result.roc_auc < 0.6
    assert not result.drifted
    assert (result.rows_reference, result.rows_current) == (1500, 1500)


def test_a_shifted_feature_drifts_and_ranks_first() -> None:
    rng = np.random.default_rng(4)
    result = domain_classifier(_frame(rng, 1000), _frame(rng, 800, shift=3.0), KINDS)
    assert result.roc_auc is not None and result.roc_auc > 0.9
    assert result.drifted
    assert result.top_features[0][0] == "b"
    assert len(result.top_features) <= 5
    assert all(importance > 0 for _, importance in result.top_features)


def test_a_categorical_shift_is_detected() -> None:
    rng = np.random.default_rng(5)
    result = domain_classifier(_frame(rng, 1000), _frame(rng, 1000, new_colour=True), KINDS)
    assert result.roc_auc is not None and result.roc_auc > 0.7
    assert result.drifted and result.top_features[0][0] == "colour"


@pytest.mark.parametrize("sizes", [(MIN_ROWS - 1, 500), (500, MIN_ROWS - 1), (0, 0), (1, 1)])
def test_small_windows_give_no_auc(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(6)
    result = domain_classifier(_frame(rng, sizes[0]), _frame(rng, sizes[1]), KINDS)
    assert result.roc_auc is None and not result.drifted and result.top_features == ()


def test_no_usable_feature_gives_no_auc() -> None:
    reference = pd.DataFrame({"a": [np.nan] * 50, "colour": [None] * 50})
    current = pd.DataFrame({"a": np.arange(50.0), "colour": ["x"] * 50})
    result = domain_classifier(reference, current, {"a": "numeric", "colour": "categorical"})
    assert result.roc_auc is None and not result.drifted


def test_nulls_constants_infinities_and_absent_columns_do_not_raise() -> None:
    rng = np.random.default_rng(7)
    reference, current = _frame(rng, 300), _frame(rng, 300)
    for frame in (reference, current):
        frame.loc[::3, "a"] = np.nan
        frame.loc[::5, "colour"] = None
        frame.loc[::7, "c"] = np.inf
        frame["const"] = 1.0
        frame["empty"] = np.nan
    kinds = KINDS | {"const": "numeric", "empty": "numeric", "absent": "categorical"}
    result = domain_classifier(reference, current, kinds)
    assert result.roc_auc is not None and not result.drifted
    assert "empty" not in dict(result.top_features)


def test_deterministic_for_a_seed_and_sampled_to_max_rows() -> None:
    rng = np.random.default_rng(8)
    reference, current = _frame(rng, 3000), _frame(rng, 2500, shift=0.4)
    first = domain_classifier(reference, current, KINDS, max_rows=1000, seed=11)
    again = domain_classifier(reference, current, KINDS, max_rows=1000, seed=11)
    assert first == again
    assert (first.rows_reference, first.rows_current) == (1000, 1000)
    other = domain_classifier(reference, current, KINDS, max_rows=1000, seed=12)
    assert other.roc_auc != first.roc_auc


def test_threshold_and_as_dict() -> None:
    rng = np.random.default_rng(9)
    result = domain_classifier(_frame(rng, 400), _frame(rng, 400, shift=1.0), KINDS, threshold=0.99)
    assert result.roc_auc is not None and result.roc_auc < 0.99 and not result.drifted
    data = result.as_dict()
    assert set(data) == {
        "roc_auc",
        "threshold",
        "drifted",
        "rows_reference",
        "rows_current",
        "top_features",
    }
    assert data["threshold"] == 0.99
    assert all(set(item) == {"feature", "importance"} for item in data["top_features"])
    empty = MultivariateDrift(None, 0.55, False, 0, 0, ())
    assert empty.as_dict()["top_features"] == []


def test_many_categories_are_pooled() -> None:
    rng = np.random.default_rng(10)
    reference = pd.DataFrame({"id": [f"u{i}" for i in rng.integers(0, 5000, 600)]})
    current = pd.DataFrame({"id": [f"u{i}" for i in rng.integers(0, 5000, 600)]})
    result = domain_classifier(reference, current, {"id": "categorical"})
    assert result.roc_auc is not None


def test_leans_on_the_shifted_feature_among_20() -> None:
    rng = np.random.default_rng(12)
    kinds: dict[str, Any] = {f"x{i}": "numeric" for i in range(16)}
    kinds |= {f"c{i}": "categorical" for i in range(4)}

    def frame(shift: float) -> pd.DataFrame:
        data: dict[str, Any] = {f"x{i}": rng.normal(shift * (i == 0), 1, 2000) for i in range(16)}
        data |= {f"c{i}": rng.choice(list("abcdefgh"), 2000).astype(object) for i in range(4)}
        return pd.DataFrame(data)

    reference, current = frame(0.0), frame(0.5)
    result = domain_classifier(reference, current, kinds)
    assert result.top_features[0][0] == "x0"
