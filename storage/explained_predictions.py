"""Predictions as explanations need them: by id, those not yet explained, recent and worst.

Rows come back as explain frames: event_id, ts (UTC), version, prediction, score, label
(the class text, or label_value for regression) and one column per feature by name
(numeric float64 with NaN, categorical object with None). Identifiers reach SQL only
through storage.identifiers; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from storage.identifiers import explanations_table, quote
from storage.models import ModelInfo
from storage.performance import filters
from storage.references import drift_frame, select_sql

ROW_COLUMNS = ("event_id", "ts", "version", "prediction", "score", "label")
_IDS_PER_QUERY = 1000  # an IN list of parameters per query: index lookups, bounded SQL text
_ALL_HASHES = 2**64 - 1


def attribution_columns(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> list[str] | None:
    """The features with an attribution column, in column order; None without a table."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [explanations_table(model.id)],
    ).fetchall()
    if not rows:
        return None
    return [r[0][2:] for r in rows if r[0].startswith("a_")]


def _select(model: ModelInfo) -> str:
    """SELECT items of an explain frame from predictions aliased p ('@' keeps them apart
    from feature names, which cannot hold it)."""
    meta = ", ".join(f'p.{c} AS "@{c}"' for c in ("event_id", "ts", "version", "score"))
    return f"{meta}, {select_sql(model, list(model.features))}"


def _frame(table: pa.Table, model: ModelInfo, extra: Sequence[str] = ()) -> pd.DataFrame:
    """An Arrow result of _select (plus `extra` boolean '@' columns) as an explain frame."""
    body = drift_frame(table, model, list(model.features))  # typed features, prediction, label
    index = body.index

    def text(name: str) -> pd.Series:
        # dtype=object: pandas 3 would otherwise infer its str dtype (None becoming NaN).
        return pd.Series(table.column(name).to_pylist(), index=index, dtype=object)

    columns: dict[str, pd.Series] = {
        "event_id": text("@event_id"),
        "ts": pd.Series(pd.to_datetime(table.column("@ts").to_pandas(), utc=True).array, index),
        "version": text("@version"),
        "prediction": body["@prediction"],
        "score": pd.Series(table.column("@score").cast(pa.float64()).to_numpy(), index, float),
        "label": body["@target"],
    }
    for name in extra:
        columns[name] = pd.Series(table.column(f"@{name}").to_numpy(), index, bool)
    for feature in model.features:
        columns[feature] = body[feature]
    return pd.DataFrame(columns, index=index)


def prediction_rows(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, event_ids: Sequence[str]
) -> pd.DataFrame:
    """The stored predictions of `event_ids` (in that order; unknown ids left out)."""
    if isinstance(event_ids, str):
        raise ValueError(f"event_ids must be a list of ids, got the string {event_ids!r}")
    wanted = list(dict.fromkeys(str(e) for e in event_ids))
    parts = []
    for at in range(0, max(len(wanted), 1), _IDS_PER_QUERY):
        chunk = wanted[at : at + _IDS_PER_QUERY]
        marks = ", ".join("?" * len(chunk)) or "NULL"
        table = con.sql(
            f"SELECT {_select(model)} FROM {quote(model.table)} p WHERE p.event_id IN ({marks})",
            params=chunk,
        ).to_arrow_table()
        parts.append(_frame(table, model))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    position = {e: i for i, e in enumerate(wanted)}
    order = np.argsort([position[e] for e in frame["event_id"]], kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def _explained_exists(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> bool:
    return attribution_columns(con, model) is not None


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def unexplained(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    *,
    version: str | None = None,
    sample_share: float = 1.0,
    limit: int = 1000,
) -> pd.DataFrame:
    """Predictions of [start, end) without a stored explanation, newest first, at most `limit`.

    sample_share < 1 keeps those whose event_id hashes below that share of the hash range:
    the same predictions every call, so a sampled job explains a stable subset.
    """
    _positive_int("limit", limit)
    if isinstance(sample_share, bool) or not 0 < sample_share <= 1:
        raise ValueError(f"sample_share must be in (0, 1], got {sample_share!r}")
    where, params = filters(model, start, end, version, None)
    if sample_share < 1:
        where += " AND hash(p.event_id) < ?::UBIGINT"
        params.append(min(_ALL_HASHES, int(sample_share * _ALL_HASHES)))
    if _explained_exists(con, model):
        where += (
            f" AND NOT EXISTS (SELECT 1 FROM {quote(explanations_table(model.id))} e "
            "WHERE e.event_id = p.event_id)"
        )
    table = con.sql(
        f"SELECT {_select(model)} FROM {quote(model.table)} p WHERE {where} "
        "ORDER BY p.ts DESC, p.event_id DESC LIMIT ?",
        params=[*params, limit],
    ).to_arrow_table()
    return _frame(table, model)


def _worst(model: ModelInfo) -> tuple[str, str, list[Any]]:
    """The condition of a wrong labelled prediction, the worst-first order and its params."""
    newest = "p.ts DESC, p.event_id DESC"
    if model.task == "regression":
        error = "abs(p.prediction - p.label_value)"
        return f"p.label_value IS NOT NULL AND {error} > 0", f"{error} DESC, {newest}", []
    wrong = "p.label IS NOT NULL AND p.prediction <> p.label"
    if model.task == "binary":
        # How far the positive-class score is from the truth; rows without a score last.
        distance = "abs(p.score - CAST(p.label = ? AS DOUBLE))"
        return wrong, f"{distance} DESC NULLS LAST, {newest}", [model.positive_class or "1"]
    return wrong, newest, []


def recent_predictions(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    *,
    limit: int = 50,
    order: Literal["recent", "worst"] = "recent",
) -> pd.DataFrame:
    """event_id, ts, version, prediction, score, label, explained of [start, end).

    "recent": newest first. "worst": labelled wrong predictions, worst first (binary: by
    |score - (label is positive)|; multiclass: newest first; regression: by |error|).
    """
    _positive_int("limit", limit)
    if order not in ("recent", "worst"):
        raise ValueError(f"unknown order {order!r}: use recent or worst")
    where, params = filters(model, start, end, version, None)
    ordering, order_params = "p.ts DESC, p.event_id DESC", list[Any]()
    if order == "worst":
        wrong, ordering, order_params = _worst(model)
        where += f" AND {wrong}"
    source, explained = f"{quote(model.table)} p", "false"
    if _explained_exists(con, model):
        source += f" LEFT JOIN {quote(explanations_table(model.id))} e ON e.event_id = p.event_id"
        explained = "e.event_id IS NOT NULL"
    table = con.sql(
        f'SELECT {_select(model)}, {explained} AS "@explained" FROM {source} WHERE {where} '
        f"ORDER BY {ordering} LIMIT ?",
        params=[*params, *order_params, limit],
    ).to_arrow_table()
    return _frame(table, model, ["explained"])[[*ROW_COLUMNS, "explained"]]
