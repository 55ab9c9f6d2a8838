"""Drift per column and for a whole dataset: the share of drifted columns."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from monitoring.drift.columns import ColumnKind, clean_values, column_kind
from monitoring.drift.registry import Kind, default_method, get_method

DEFAULT_DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: score is None when either window has no usable value."""

    column: str
    kind: Kind
    method: str
    score: float | None
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DatasetDrift:
    """Every tested column, and whether the share of drifted ones reaches `drift_share`."""

    columns: tuple[ColumnDrift, ...]
    drift_share: float
    # Columns with no test: free text or an unsupported dtype (Evidently's text drift,
    # a classifier, is not reproduced here).
    skipped: tuple[str, ...] = ()

    @property
    def n_tested(self) -> int:
        """Columns with a score (both windows had values)."""
        return sum(c.score is not None for c in self.columns)

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def share(self) -> float:
        """Drifted columns over tested columns; 0 when none could be tested."""
        return self.n_drifted / self.n_tested if self.n_tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.n_tested > 0 and self.share >= self.drift_share


def _as_kind(kind: ColumnKind | str) -> Kind:
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"drift needs a numeric or categorical column, not {kind!r}")
    return "numeric" if kind == "numeric" else "categorical"


def _infer_kind(preferred: pd.Series, other: pd.Series) -> ColumnKind:
    """The preferred window's kind, or the other's when the preferred holds only nulls."""
    return column_kind(preferred if preferred.notna().any() else other)


def column_drift(
    reference: pd.Series,
    current: pd.Series,
    *,
    method: str | None = None,
    threshold: float | None = None,
    kind: Kind | None = None,
    column: str | None = None,
) -> ColumnDrift:
    """Test one column; nulls and infinities are dropped first.

    kind defaults to `column_kind(current)` (Evidently infers it from the current data;
    from the reference here when the current window is all null);
    method to Evidently's default for the kind and sizes; threshold to the method's.
    An empty window (after dropping nulls) gives score None and drifted False.
    """
    name = column if column is not None else ("" if current.name is None else str(current.name))
    col_kind = _as_kind(kind if kind is not None else _infer_kind(current, reference))
    ref = clean_values(reference, col_kind)
    cur = clean_values(current, col_kind)
    chosen = get_method(method if method is not None else default_method(col_kind, ref, cur))
    if col_kind not in chosen.kinds:
        raise ValueError(f"drift method {chosen.name!r} does not apply to {col_kind} columns")
    limit = chosen.default_threshold if threshold is None else threshold
    if ref.size == 0 or cur.size == 0:
        return ColumnDrift(name, col_kind, chosen.name, None, limit, False)
    score = chosen.compute(ref, cur, col_kind)
    return ColumnDrift(name, col_kind, chosen.name, score, limit, chosen.drifted(score, limit))


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Iterable[str] | None = None,
    overrides: Mapping[str, tuple[str | None, float | None]] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    kinds: Mapping[str, Kind] | None = None,
    kinds_from: Literal["current", "reference"] = "current",
    workers: int | None = None,
) -> DatasetDrift:
    """Test each column (default: the current frame's columns also in the reference).

    overrides maps a column to (method, threshold), either None for the default; kinds
    fixes a column's kind; other kinds are inferred from the current window, as Evidently
    does, or from the reference with kinds_from="reference" (steadier across small windows:
    a one-row window makes every string column "text"). Text and unsupported columns are
    skipped unless kinds names them. Columns run on `workers` threads (default: up to 4,
    one per CPU); numpy's sorts and histograms release the GIL, so threads do help.
    """
    overrides = overrides or {}
    kinds = kinds or {}
    names = [str(c) for c in (columns if columns is not None else current.columns)]
    if columns is None:
        names = [c for c in names if c in reference.columns]
    first, second = (current, reference) if kinds_from == "current" else (reference, current)
    tested: list[tuple[str, Kind]] = []
    skipped: list[str] = []
    for name in names:
        kind = kinds.get(name) or _infer_kind(first[name], second[name])
        if kind in ("numeric", "categorical"):
            tested.append((name, _as_kind(kind)))
        else:
            skipped.append(name)

    def run(item: tuple[str, Kind]) -> ColumnDrift:
        name, kind = item
        method, threshold = overrides.get(name, (None, None))
        return column_drift(
            reference[name],
            current[name],
            method=method,
            threshold=threshold,
            kind=kind,
            column=name,
        )

    n_workers = min(workers or min(4, os.cpu_count() or 1), len(tested))
    if n_workers > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            results = list(pool.map(run, tested))
    else:
        results = [run(item) for item in tested]
    return DatasetDrift(tuple(results), drift_share, tuple(skipped))
