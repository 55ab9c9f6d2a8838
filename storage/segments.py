"""Segments of a model's predictions: tag keys and categorical features, their values and
per-segment counts. Identifiers reach SQL only through ModelInfo and `quote`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from storage.identifiers import quote
from storage.models import ModelInfo
from storage.performance import LABELLED, confusion_dict, dimension_sql, filters
from storage.time_windows import window_sql


def segment_values(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    dimension: str,
    limit: int = 50,
) -> list[str]:
    """The most frequent values of a segment dimension in the range, most frequent first."""
    expr, expr_params = dimension_sql(model, dimension)
    where, params = filters(model, start, end, None, None)
    rows = con.execute(
        f"SELECT {expr} AS value, count(*) AS n FROM {quote(model.table)} p "
        f"WHERE {where} AND value IS NOT NULL GROUP BY value ORDER BY n DESC, value LIMIT ?",
        [*expr_params, *params, int(limit)],
    ).fetchall()
    return [str(r[0]) for r in rows]


def segment_dimensions(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 20,
) -> list[str]:
    """`tag:<key>` for the tag keys seen (at most `limit`, in the range if given), then the
    categorical features."""
    where, params = "TRUE", list[Any]()
    if start is not None and end is not None:
        where, params = filters(model, start, end, None, None)
    keys = con.execute(
        f"SELECT DISTINCT unnest(map_keys(p.tags)) AS k FROM {quote(model.table)} p "
        f"WHERE {where} ORDER BY k LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    features = [f for f, kind in model.features.items() if kind == "categorical"]
    return [f"tag:{k[0]}" for k in keys] + features


SegmentCounts = dict[tuple[str, str], tuple[int, int, dict[tuple[str, str], int]]]


def segment_counts(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    dimensions: Sequence[str],
    version: str | None = None,
) -> dict[int, SegmentCounts]:
    """Per window (epoch µs): {(dimension, value): (count, labeled, confusion)} in one scan.

    Counts add up across windows, so callers can keep them per window and sum any range.
    Rows with no value of a dimension are left out; confusion is {} for regression.
    """
    if not dimensions:
        return {}
    where, params = filters(model, start, end, version, None)
    exprs, expr_params = [], []
    for dimension in dimensions:
        expr, p = dimension_sql(model, dimension)
        exprs.append(expr)
        expr_params += p
    n = len(exprs)
    dims = ", ".join(f"{e} AS d{i}" for i, e in enumerate(exprs))
    sets = ", ".join(f"(w, d{i})" for i in range(n))
    matrix = (
        ", map_entries(histogram({'label': p.label, 'prediction': p.prediction}) "
        f"FILTER (WHERE {LABELLED}))"
        if model.task != "regression"
        else ", NULL"
    )
    sql = (
        f"SELECT [{', '.join(f'grouping(d{i})' for i in range(n))}], w, "
        f"{', '.join(f'd{i}' for i in range(n))}, count(*), count(p.label_ts){matrix} "
        f"FROM (SELECT {window_sql(window)} AS w, {dims}, p.* FROM {quote(model.table)} p "
        f"WHERE {where}) p GROUP BY GROUPING SETS ({sets})"
    )
    out: dict[int, SegmentCounts] = {}
    for row in con.execute(sql, [*expr_params, *params]).fetchall():
        index = list(row[0]).index(0)  # the one dimension this row is grouped by
        value = row[2 + index]
        if value is not None:
            counts = (int(row[2 + n]), int(row[3 + n]), confusion_dict(row[4 + n]))
            out.setdefault(int(row[1]), {})[(dimensions[index], str(value))] = counts
    return out
