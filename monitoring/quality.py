"""Data-quality checks of a window's features: missing, NaN, infinite, out of range, unseen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from monitoring.drift.registry import Kind

QUALITY_COLUMNS = (
    "feature",
    "kind",
    "rows",
    "missing",
    "nan",
    "inf",
    "out_of_range",
    "unseen",
    "constant",
)
Bounds = tuple[float | None, float | None]


def _floats(series: pd.Series) -> np.ndarray:
    """The column as float64, nulls as NaN (text that is no number becomes NaN too)."""
    numbers = pd.to_numeric(series, errors="coerce")
    values: np.ndarray = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _reference_range(reference: pd.DataFrame | None, name: str) -> Bounds:
    """The reference's finite min and max of a column, (None, None) when it has none."""
    if reference is None or name not in reference.columns:
        return None, None
    values = _floats(reference[name])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    return float(finite.min()), float(finite.max())


def _numeric_counts(
    series: pd.Series, missing: np.ndarray, limits: Bounds
) -> tuple[int, int, int, bool]:
    """nan, inf, out_of_range and constant of a numeric column whose nulls are `missing`."""
    values = _floats(series)
    nan = np.isnan(values) & ~missing
    finite = values[np.isfinite(values)]
    low, high = limits
    outside = np.zeros(finite.size, dtype=bool)
    if low is not None:
        outside |= finite < low
    if high is not None:
        outside |= finite > high
    present = values[~missing & ~nan]
    constant = present.size >= 2 and bool((present == present[0]).all())
    return int(nan.sum()), int(np.isinf(values).sum()), int(outside.sum()), constant


def _categorical_counts(
    series: pd.Series, missing: np.ndarray, reference: pd.DataFrame | None, name: str
) -> tuple[int, bool]:
    """unseen and constant of a categorical column whose nulls are `missing`."""
    present = series[~missing]
    unseen = 0
    if reference is not None and name in reference.columns:
        known = reference[name].dropna().unique()
        # A reference without a value of the column says nothing about its categories.
        if known.size:
            unseen = int((~present.isin(known)).sum())
    constant = present.size >= 2 and present.nunique() == 1
    return unseen, constant


def quality_checks(
    reference: pd.DataFrame | None,
    current: pd.DataFrame,
    kinds: Mapping[str, Kind],
    bounds: Mapping[str, Bounds] | None = None,
) -> pd.DataFrame:
    """One row per feature in `kinds` (QUALITY_COLUMNS) counting the current window's faults.

    missing counts nulls, i.e. `isna()`: None, pd.NA and, in a float64 column, NaN. DuckDB
    returns a NULL double as NaN in float64 frames, so there NaN is missing and nan is 0.
    nan counts NaN that is not null, which only a frame that keeps them apart has (pandas
    nullable Float64 with `future.distinguish_nan_and_na`, or pyarrow doubles): pd.NA is
    missing, NaN is nan. inf counts +-inf. out_of_range counts finite values below the
    lower or above the upper bound: `bounds[feature]` when given (None = open), else the
    reference's finite min/max, else 0. unseen counts non-null categorical values absent
    from the reference (0 without a reference or when the reference column is all null).
    constant: at least 2 values (not missing, not nan) and all equal. A feature absent
    from `current` counts every row missing; an empty window has rows 0 and counts 0.
    """
    bounds = bounds or {}
    rows = len(current)
    records: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        record: dict[str, Any] = dict.fromkeys(QUALITY_COLUMNS[2:], 0)
        record.update(feature=name, kind=kind, rows=rows, missing=rows, constant=False)
        if name in current.columns:
            series = current[name]
            missing = series.isna().to_numpy(dtype=bool)
            record["missing"] = int(missing.sum())
            if kind == "numeric":
                limits = bounds[name] if name in bounds else _reference_range(reference, name)
                nan, inf, out, constant = _numeric_counts(series, missing, limits)
                record.update(nan=nan, inf=inf, out_of_range=out, constant=constant)
            else:
                unseen, constant = _categorical_counts(series, missing, reference, name)
                record.update(unseen=unseen, constant=constant)
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(QUALITY_COLUMNS))
    counts = list(QUALITY_COLUMNS[2:-1])
    return frame.astype(dict.fromkeys(counts, "int64") | {"constant": bool})
