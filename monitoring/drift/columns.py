"""Column kinds for drift, decided as Evidently's DataDriftPreset decides them."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

ColumnKind = Literal["numeric", "categorical", "text", "unsupported"]

# Integer columns with at most this many distinct values are categorical (Evidently's limit).
INTEGER_CATEGORY_LIMIT = 10
# String columns whose distinct values exceed this share of non-null rows are free text.
TEXT_UNIQUE_SHARE = 0.5


def _strings_kind(series: pd.Series) -> ColumnKind:
    if series.nunique() > series.count() * TEXT_UNIQUE_SHARE:
        return "text"
    return "categorical"


def column_kind(series: pd.Series) -> ColumnKind:
    """numeric, categorical, text or unsupported, from the dtype and distinct values.

    Floats are numeric; integers are categorical up to 10 distinct values, else numeric;
    booleans and pandas categoricals are categorical; strings are text when more than half
    of the non-null values are distinct, else categorical; anything else is unsupported.
    Unlike Evidently, nullable Int64/Float64 follow the int/float rules (Evidently skips them).
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_integer_dtype(dtype):
        return "categorical" if series.nunique() <= INTEGER_CATEGORY_LIMIT else "numeric"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return _strings_kind(series)
    if pd.api.types.is_object_dtype(dtype):
        values = series.dropna()
        # Evidently looks at the first and last non-null values only.
        if values.size and isinstance(values.iloc[0], str) and isinstance(values.iloc[-1], str):
            return _strings_kind(series)
    return "unsupported"


def clean_values(series: pd.Series, kind: str) -> np.ndarray:
    """The column's values without nulls and infinities; float64 for numeric columns."""
    if kind == "numeric" or (
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    ):
        numbers: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite: np.ndarray = numbers[np.isfinite(numbers)]
        return finite
    values: np.ndarray = series.dropna().to_numpy()
    return values
