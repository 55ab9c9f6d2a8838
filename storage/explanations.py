"""Stored SHAP explanations: one table per model, one a_<feature> column per feature.

`explanations_<model_id>` holds one row per explained prediction (keyed by its event_id,
with the prediction's ts and version copied so range reads need no join) and is created
on first use; columns are added as features appear. Readers of predictions to explain
live in storage.explained_predictions. Identifiers reach SQL only through
storage.identifiers; every value is a parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from storage.explained_predictions import (
    attribution_columns,
    prediction_rows,
    recent_predictions,
    unexplained,
)
from storage.identifiers import attribution_column, explanations_table, quote
from storage.models import ModelInfo
from storage.performance import Segment, filters
from storage.time_windows import window_sql, window_width

__all__ = [
    "META_COLUMNS",
    "attribution_columns",
    "count_explained",
    "explained_rows",
    "get_explanation",
    "importance",
    "importance_series",
    "insert_explanations",
    "prediction_rows",
    "recent_predictions",
    "unexplained",
]

META_COLUMNS = (
    "event_id",
    "ts",
    "version",
    "sha256",
    "base_value",
    "output",
    "units",
    "explained_class",
)
_REQUIRED = ("event_id", "ts", "version", "sha256", "base_value", "output", "units")
_VIEW = "vigil_explanations"


def _create_table(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {quote(explanations_table(model.id))} ("
        "event_id VARCHAR PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, version VARCHAR NOT NULL, "
        "explained_at TIMESTAMPTZ NOT NULL, sha256 VARCHAR NOT NULL, "
        "base_value DOUBLE NOT NULL, output DOUBLE NOT NULL, units VARCHAR NOT NULL, "
        "explained_class VARCHAR)"
    )


def _checked_frame(model: ModelInfo, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The frame's last row per event_id and its features; bad columns or nulls raise."""
    missing = [c for c in META_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"explanations lack column(s) {', '.join(missing)}: need {', '.join(META_COLUMNS)} "
            "and one attribution column per feature"
        )
    features = [str(c) for c in frame.columns if c not in META_COLUMNS]
    unknown = [f for f in features if f not in model.features]
    if unknown:
        raise ValueError(
            f"explanations name unknown feature(s) {', '.join(map(repr, unknown))} of model "
            f"{model.name!r}: use {', '.join(model.features) or '(the model has no features)'}"
        )
    if len(set(frame.columns)) != len(frame.columns):
        raise ValueError("explanations have duplicate column names")
    empty = [c for c in _REQUIRED if frame[c].isna().any()]
    if empty:
        raise ValueError(f"explanations have missing values in {', '.join(empty)}")
    # A later row of the same event replaces an earlier one, as a later insert does.
    return frame.drop_duplicates("event_id", keep="last"), features


def _arrow(frame: pd.DataFrame, features: Sequence[str]) -> pa.Table:
    """The rows with the stored types; NaN attributions become NULL."""
    texts = ("event_id", "version", "sha256", "units")
    columns: dict[str, pa.Array] = {c: pa.array(frame[c].astype(str).tolist()) for c in texts}
    columns["ts"] = pa.array(pd.to_datetime(frame["ts"], utc=True))
    for name in ("base_value", "output", *features):
        values = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64)
        columns[name] = pa.array(values, from_pandas=True)
    classes = [None if pd.isna(v) else str(v) for v in frame["explained_class"]]
    columns["explained_class"] = pa.array(classes, pa.string())
    return pa.table(columns)


def insert_explanations(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, frame: pd.DataFrame
) -> int:
    """Store explanations (call inside a writer transaction); returns rows written.

    `frame` holds META_COLUMNS plus one attribution column per feature name. The table is
    created or extended as needed; a stored row of the same event_id is replaced whole
    (its attributions of features this frame lacks become NULL).
    """
    unique, features = _checked_frame(model, frame)
    if unique.empty:
        return 0
    _create_table(con, model)
    table = quote(explanations_table(model.id))
    have = attribution_columns(con, model) or []
    for feature in model.features:  # in the model's order, so columns read in that order
        if feature in features and feature not in have:
            column = quote(attribution_column(feature))
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} DOUBLE")
    stored = attribution_columns(con, model) or []
    targets = ["event_id", "ts", "version", "explained_at", "sha256", "base_value", "output"]
    targets += ["units", "explained_class", *(quote(attribution_column(f)) for f in stored)]
    values = ["r.event_id", "r.ts", "r.version", "now()", "r.sha256", "r.base_value"]
    values += ["r.output", "r.units", "r.explained_class"]
    values += [f"r.{quote(f)}" if f in features else "NULL" for f in stored]
    con.register(_VIEW, _arrow(unique, features))
    try:
        con.execute(
            f"INSERT OR REPLACE INTO {table} ({', '.join(targets)}) "
            f"SELECT {', '.join(values)} FROM {_VIEW} r"
        ).fetchall()
    finally:
        # An aborted transaction may refuse this; the next register() replaces the view.
        with contextlib.suppress(duckdb.Error):
            con.unregister(_VIEW)
    return len(unique)


def get_explanation(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, event_id: str
) -> dict[str, Any] | None:
    """One stored explanation, with {feature: attribution} of the features it explains."""
    stored = attribution_columns(con, model)
    if stored is None:
        return None
    meta = ["event_id", "ts", "version", "explained_at", "sha256", "base_value", "output"]
    meta += ["units", "explained_class"]
    selected = [*meta, *(quote(attribution_column(f)) for f in stored)]
    rows = con.execute(
        f"SELECT {', '.join(selected)} FROM {quote(explanations_table(model.id))} "
        "WHERE event_id = ?",
        [str(event_id)],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    record: dict[str, Any] = dict(zip(meta, row[: len(meta)], strict=True))
    # A NULL attribution: the feature was added to the model after this row was explained.
    values = zip(stored, row[len(meta) :], strict=True)
    record["attributions"] = {f: float(v) for f, v in values if v is not None}
    return record


def _source(model: ModelInfo, segment: Segment | None) -> tuple[str, str]:
    """FROM clause of explanations in range, and the alias their attributions are read from.

    filters() reads p.ts, p.version and (for a segment) the prediction's tags or features:
    without a segment the explanations table (which copies ts and version) is aliased p.
    """
    explained = quote(explanations_table(model.id))
    if segment is None:
        return f"{explained} p", "p"
    return f"{explained} e JOIN {quote(model.table)} p ON p.event_id = e.event_id", "e"


def _aggregates(features: Sequence[str], alias: str) -> str:
    """mean |attribution| (m_i) and count (n_i) per feature, named by position."""
    return ", ".join(
        f"avg(abs({alias}.{quote(attribution_column(f))})) AS m_{i}, "
        f"count({alias}.{quote(attribution_column(f))}) AS n_{i}"
        for i, f in enumerate(features)
    )


def _long(wide: pd.DataFrame, features: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """(keys, m_i, n_i) rows as (keys, feature, mean_abs, n), leaving out n = 0."""
    parts = [
        pd.DataFrame(
            {
                **{k: wide[k].array for k in keys},
                "feature": _objects(np.full(len(wide), f, dtype=object)),
                "mean_abs": wide[f"m_{i}"].to_numpy(dtype=np.float64),
                "n": wide[f"n_{i}"].to_numpy(dtype=np.int64),
            }
        )
        for i, f in enumerate(features)
    ]
    columns = [*keys, "feature", "mean_abs", "n"]
    if not parts:
        return _empty(columns)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["n"] > 0]
    order = [*keys, "mean_abs", "feature"]
    ascending = [*(True for _ in keys), False, True]
    return frame.sort_values(order, ascending=ascending, ignore_index=True)[columns]


def _objects(values: np.ndarray) -> pd.Series:
    """Text as an object column: pandas 3 would otherwise infer its str dtype."""
    return pd.Series(list(values), dtype=object)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    types: dict[str, Any] = {
        "mean_abs": "float64",
        "n": "int64",
        "window_start": "datetime64[us, UTC]",
    }
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, object)) for c in columns})


def importance(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    segment: Segment | None = None,
) -> pd.DataFrame:
    """feature, mean_abs (mean |attribution|) and n (explanations of it) over the explained
    predictions of [start, end), largest first; segment as in storage.performance."""
    where, params = filters(model, start, end, version, segment)
    stored = attribution_columns(con, model)
    if not stored:
        return _empty(["feature", "mean_abs", "n"])
    source, alias = _source(model, segment)
    wide = con.execute(
        f"SELECT {_aggregates(stored, alias)} FROM {source} WHERE {where}", params
    ).df()
    return _long(wide, stored, [])


def importance_series(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None = None,
) -> pd.DataFrame:
    """window_start (UTC), feature, mean_abs, n per window holding explanations."""
    window_width(window)
    where, params = filters(model, start, end, version, None)
    stored = attribution_columns(con, model)
    columns = ["window_start", "feature", "mean_abs", "n"]
    if not stored:
        return _empty(columns)
    source, alias = _source(model, None)
    wide = con.execute(
        f"SELECT {window_sql(window)} AS window_us, {_aggregates(stored, alias)} "
        f"FROM {source} WHERE {where} GROUP BY window_us",
        params,
    ).df()
    wide["window_start"] = pd.to_datetime(wide["window_us"].astype(np.int64), unit="us", utc=True)
    return _long(wide, stored, ["window_start"])


def _value_texts(values: np.ndarray, numeric: bool) -> np.ndarray:
    """Feature values as text for display; a missing value is 'missing'."""
    if numeric:
        texts = [("missing" if np.isnan(v) else f"{v:.6g}") for v in values.astype(np.float64)]
    else:
        texts = ["missing" if v is None else str(v) for v in values]
    return np.asarray(texts, dtype=object)


def explained_rows(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    segment: Segment | None = None,
    limit: int = 2000,
) -> pd.DataFrame:
    """Long rows for a beeswarm: event_id, feature, attribution, value_num, value_text.

    At most `limit` explanations of [start, end), those with the smallest hash of their
    event_id: the same ones every call. value_num is NaN for categorical features.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    where, params = filters(model, start, end, version, segment)
    columns = ["event_id", "feature", "attribution", "value_num", "value_text"]
    stored = [f for f in attribution_columns(con, model) or [] if f in model.features]
    if not stored:
        return _empty(columns)
    selected = ["e.event_id"]
    for i, feature in enumerate(stored):
        selected.append(f"e.{quote(attribution_column(feature))} AS a_{i}")
        selected.append(f"p.{quote(model.column(feature))} AS v_{i}")
    # Smallest hashes first: a stable sample that new explanations change only a little.
    table = con.sql(
        f"SELECT {', '.join(selected)} FROM {quote(explanations_table(model.id))} e "
        f"JOIN {quote(model.table)} p ON p.event_id = e.event_id WHERE {where} "
        "ORDER BY hash(e.event_id), e.event_id LIMIT ?",
        params=[*params, limit],
    ).to_arrow_table()
    ids = np.asarray(table.column("event_id").to_pylist(), dtype=object)
    parts = []
    for i, feature in enumerate(stored):
        attribution = np.asarray(table.column(f"a_{i}").to_numpy(), dtype=np.float64)
        keep = ~np.isnan(attribution)  # NULL: explained before the feature existed
        numeric = model.features[feature] == "numeric"
        raw = table.column(f"v_{i}")
        values = (
            np.asarray(raw.cast(pa.float64()).to_numpy(), dtype=np.float64)
            if numeric
            else np.asarray(raw.to_pylist(), dtype=object)
        )
        n = int(keep.sum())
        parts.append(
            pd.DataFrame(
                {
                    "event_id": _objects(ids[keep]),
                    "feature": _objects(np.full(n, feature, dtype=object)),
                    "attribution": attribution[keep],
                    "value_num": values[keep] if numeric else np.full(n, np.nan),
                    "value_text": _objects(_value_texts(values[keep], numeric)),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[columns]


def count_explained(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
) -> int:
    """Explained predictions in [start, end) (of one version when given)."""
    where, params = filters(model, start, end, version, None)
    if attribution_columns(con, model) is None:
        return 0
    source, _ = _source(model, None)
    rows = con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchall()
    return int(rows[0][0]) if rows else 0
