"""Data-quality checks against counts worked out by hand on small frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitoring.quality import QUALITY_COLUMNS, quality_checks

NAN, INF = float("nan"), float("inf")


def _row(frame: pd.DataFrame, feature: str) -> dict[str, Any]:
    return {str(k): v for k, v in frame.set_index("feature").loc[feature].items()}


def test_float64_nulls_are_missing_and_inf_out_of_range_counted() -> None:
    reference = pd.DataFrame({"x": [0.0, 5.0, 10.0, NAN, INF]})
    current = pd.DataFrame({"x": [NAN, NAN, -INF, 3.0, 11.0, -1.0, 10.0]})
    result = quality_checks(reference, current, {"x": "numeric"})
    assert list(result.columns) == list(QUALITY_COLUMNS)
    row = _row(result, "x")
    # Reference range [0, 10] from its finite values; -inf is inf, not out of range.
    assert row == {
        "kind": "numeric",
        "rows": 7,
        "missing": 2,
        "nan": 0,
        "inf": 1,
        "out_of_range": 2,
        "unseen": 0,
        "constant": False,
    }


def test_nullable_frame_keeps_na_missing_and_nan_apart() -> None:
    with pd.option_context("future.distinguish_nan_and_na", True):
        values = pd.array([1.0, None, np.nan, np.nan, np.inf, 2.0], dtype="Float64")
        current = pd.DataFrame({"x": values})
        row = _row(quality_checks(None, current, {"x": "numeric"}), "x")
    assert (row["missing"], row["nan"], row["inf"]) == (1, 2, 1)
    assert row["out_of_range"] == 0  # no reference and no bounds: nothing is out of range


def test_nullable_frame_without_the_option_counts_nan_as_missing() -> None:
    current = pd.DataFrame({"x": pd.array([1.0, None, np.nan, 2.0], dtype="Float64")})
    row = _row(quality_checks(None, current, {"x": "numeric"}), "x")
    assert (row["missing"], row["nan"]) == (2, 0)


def test_bounds_override_the_reference_range() -> None:
    reference = pd.DataFrame({"x": [0.0, 100.0], "y": [0.0, 1.0]})
    current = pd.DataFrame({"x": [-5.0, 1.0, 50.0, 101.0], "y": [-1.0, 0.5, 2.0, 3.0]})
    bounds = {"x": (0.0, 10.0), "y": (None, 2.0)}
    result = quality_checks(reference, current, {"x": "numeric", "y": "numeric"}, bounds)
    assert _row(result, "x")["out_of_range"] == 3  # -5, 50, 101 outside [0, 10]
    assert _row(result, "y")["out_of_range"] == 1  # only 3.0 above 2.0; no lower bound


def test_unseen_categories_and_constants() -> None:
    reference = pd.DataFrame({"c": ["a", "b", None], "k": ["z", "z", "z"], "n": [None] * 3})
    current = pd.DataFrame(
        {
            "c": ["a", "c", "c", None, "d"],
            "k": ["z", "z", None, "z", "z"],
            "n": ["p", "q", None, None, None],
        }
    )
    kinds: dict[str, Any] = {"c": "categorical", "k": "categorical", "n": "categorical"}
    result = quality_checks(reference, current, kinds)
    assert _row(result, "c") == {
        "kind": "categorical",
        "rows": 5,
        "missing": 1,
        "nan": 0,
        "inf": 0,
        "out_of_range": 0,
        "unseen": 3,
        "constant": False,
    }
    assert _row(result, "k")["constant"] and _row(result, "k")["unseen"] == 0
    # An all-null reference column knows no categories: nothing counts as unseen.
    assert _row(result, "n")["unseen"] == 0
    assert quality_checks(None, current, kinds)["unseen"].tolist() == [0, 0, 0]


def test_constant_needs_two_equal_values() -> None:
    current = pd.DataFrame({"one": [5.0, NAN], "two": [5.0, 5.0], "mixed": [5.0, 6.0]})
    kinds: dict[str, Any] = {"one": "numeric", "two": "numeric", "mixed": "numeric"}
    result = quality_checks(None, current, kinds)
    assert result["constant"].tolist() == [False, True, False]


def test_empty_window_and_missing_column() -> None:
    kinds: dict[str, Any] = {"x": "numeric", "c": "categorical"}
    empty = quality_checks(None, pd.DataFrame({"x": pd.Series([], dtype=float)}), kinds)
    assert empty["rows"].tolist() == [0, 0]
    assert empty[list(QUALITY_COLUMNS[3:-1])].to_numpy().sum() == 0
    assert not empty["constant"].any()
    current = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    row = _row(quality_checks(None, current, kinds), "c")
    assert (row["rows"], row["missing"], row["unseen"], row["constant"]) == (3, 3, 0, False)


def test_types_and_feature_order() -> None:
    kinds: dict[str, Any] = {"b": "numeric", "a": "categorical"}
    result = quality_checks(None, pd.DataFrame({"a": ["x"], "b": [1.0]}), kinds)
    assert result["feature"].tolist() == ["b", "a"]
    assert result["constant"].dtype == bool
    for column in QUALITY_COLUMNS[2:-1]:
        assert result[column].dtype == np.int64
    assert quality_checks(None, pd.DataFrame(), {}).empty


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_windows_with_reference(rows: int) -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    current = pd.DataFrame({"x": [3.0] * rows, "c": ["q"] * rows})
    result = quality_checks(reference, current, {"x": "numeric", "c": "categorical"})
    assert result["out_of_range"].tolist() == [rows, 0]
    assert result["unseen"].tolist() == [0, rows]
