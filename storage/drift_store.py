"""Drift inputs and results: window frames and counts, stored drift/quality series, rejections.

Each stored window is keyed by (model, version, granularity, window_start); version
ALL_VERSIONS ('*') holds the window over every version. Identifiers reach SQL only through
storage.identifiers (via ModelInfo and storage.references); every value is a parameter.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from storage.identifiers import quote
from storage.models import ModelInfo
from storage.performance import filters
from storage.references import check_features, drift_frame, one_row, select_sql, target_sql
from storage.time_windows import aware, window_sql, window_width

WindowKey = tuple[int, str, str, datetime]  # (model_id, version, granularity, window_start)
ALL_VERSIONS = "*"

DRIFT_COLUMNS = ("role", "feature", "kind", "method", "score", "threshold", "drifted")
# fmt: off
QUALITY_COLUMNS = (
    "feature", "kind", "rows", "missing", "nan", "inf", "out_of_range", "unseen", "constant",
)
WINDOW_COLUMNS = (
    "version", "granularity", "window_start", "window_end", "reference_id", "rows", "labelled",
    "n_tested", "n_drifted", "drift_share", "dataset_drift", "multivariate_auc",
    "multivariate_drifted", "multivariate_top", "computed_at",
)
# fmt: on
SUMMARY_KEYS = WINDOW_COLUMNS[5:-1]  # rows .. multivariate_top
_DRIFT_TYPES = {
    "role": "VARCHAR",
    "feature": "VARCHAR",
    "kind": "VARCHAR",
    "method": "VARCHAR",
    "score": "DOUBLE",
    "threshold": "DOUBLE",
    "drifted": "BOOLEAN",
}
_QUALITY_TYPES = {"feature": "VARCHAR", "kind": "VARCHAR", "constant": "BOOLEAN"} | {
    c: "BIGINT" for c in QUALITY_COLUMNS[2:-1]
}
_KEY = "model_id = ? AND version = ? AND granularity = ? AND window_start = ?"
_ROWS_VIEW = "vigil_drift_rows"


def window_frame(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    *,
    features: Sequence[str] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """The predictions of [start, end) (of one version when given) as a drift frame.

    max_rows: keep about that many rows, chosen by a hash of their event_id, so the same
    rows come back every call.
    """
    wanted = check_features(model, features)
    where, params = filters(model, start, end, version, None)
    table = quote(model.table)
    if max_rows is not None:
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
        row = one_row(con.execute(f"SELECT count(*) FROM {table} p WHERE {where}", params))
        total = int(row[0]) if row else 0
        if total > max_rows:
            where += " AND hash(p.event_id) < ?::UBIGINT"
            params = [*params, int(max_rows / total * (2**64 - 1))]
    sql = f"SELECT {select_sql(model, wanted)} FROM {table} p WHERE {where}"
    return drift_frame(con.sql(sql, params=params).to_arrow_table(), model, wanted)


def window_counts(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    start: datetime,
    end: datetime,
) -> pd.DataFrame:
    """Rows and labelled rows per (version, window_start), plus ALL_VERSIONS sums per window.

    Columns version, window_start (UTC Timestamp), rows, labelled; ordered by window, version.
    """
    window_width(granularity)
    where, params = filters(model, start, end, None, None)
    # One grouped scan per (version, window); the ALL_VERSIONS sums are added from its
    # few result rows rather than by a second aggregation (GROUPING SETS) over the table.
    counts = con.execute(
        f"SELECT p.version, {window_sql(granularity)} AS window_us, count(*) AS rows, "
        f"count({target_sql(model)}) AS labelled FROM {quote(model.table)} p "
        f"WHERE {where} GROUP BY ALL",
        params,
    ).df()
    counts["rows"] = counts["rows"].astype(np.int64)
    counts["labelled"] = counts["labelled"].astype(np.int64)
    counts["version"] = counts["version"].astype(object)
    every = counts.groupby("window_us", as_index=False)[["rows", "labelled"]].sum()
    every.insert(0, "version", ALL_VERSIONS)
    both = pd.concat([counts, every], ignore_index=True) if len(counts) else counts
    both = both.sort_values(["window_us", "version"], ignore_index=True)
    window_start = pd.to_datetime(both["window_us"].astype(np.int64), unit="us", utc=True)
    both.insert(1, "window_start", window_start)
    return both.drop(columns="window_us")


def stored_windows(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, granularity: str, since: datetime
) -> dict[tuple[str, datetime], tuple[int, int, int]]:
    """(version, window_start) -> (reference_id, rows, labelled) of windows ending after since.

    Keys are UTC pandas Timestamps, equal to window_counts' window_start values.
    """
    rows = con.execute(
        "SELECT version, window_start, reference_id, rows, labelled FROM drift_windows "
        "WHERE model_id = ? AND granularity = ? AND window_end > ?",
        [model.id, granularity, aware(since, "since")],
    ).fetchall()
    return {
        (str(r[0]), pd.Timestamp(r[1]).tz_convert("UTC")): (int(r[2]), int(r[3]), int(r[4]))
        for r in rows
    }


def _optional(value: Any) -> Any:
    """None for NaN (and pandas' NA): a missing value is stored as NULL."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    casts: Mapping[str, str],
    key: list[Any],
) -> None:
    """Insert a frame's `columns` (cast as given) after the window's key columns."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{table} rows lack column(s) {', '.join(missing)}: need {', '.join(columns)}"
        )
    if frame.empty:
        return
    # from_pandas turns NaN into null: a missing score is stored as NULL, not NaN.
    rows = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    selected = ", ".join(f"CAST(r.{quote(c)} AS {casts[c]})" for c in columns)
    con.register(_ROWS_VIEW, rows)
    try:
        con.execute(
            f"INSERT INTO {quote(table)} SELECT ?, ?, ?, ?, {selected} FROM {_ROWS_VIEW} r", key
        )
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister(_ROWS_VIEW)


def _summary_values(summary: Mapping[str, Any]) -> list[Any]:
    """The drift_windows values of a window summary, in SUMMARY_KEYS order."""
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        raise ValueError(f"window summary lacks {', '.join(missing)}")
    values = {k: _optional(summary[k]) for k in SUMMARY_KEYS}
    top = values["multivariate_top"]
    if top is not None and not isinstance(top, str):
        values["multivariate_top"] = json.dumps(top)
    return list(values.values())


def save_window(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    version: str,
    granularity: str,
    window_start: datetime,
    window_end: datetime,
    reference_id: int,
    summary: Mapping[str, Any],
    drift_rows: pd.DataFrame,
    quality_rows: pd.DataFrame,
) -> None:
    """Store a window's drift summary, per-column results and quality rows, replacing any.

    Call inside a writer transaction, so readers never see a half-replaced window.
    """
    window_width(granularity)
    if not isinstance(version, str) or not version:
        raise ValueError(f"version must be a non-empty string or {ALL_VERSIONS!r}, got {version!r}")
    start, end = aware(window_start, "window_start"), aware(window_end, "window_end")
    key = [model.id, version, granularity, start]
    values = _summary_values(summary)
    for table in ("drift_windows", "drift_results", "quality_results"):
        con.execute(f"DELETE FROM {quote(table)} WHERE {_KEY}", key)
    con.execute(
        f"INSERT INTO drift_windows ({', '.join(('model_id', *WINDOW_COLUMNS))}) "
        f"VALUES ({', '.join(['?'] * len(WINDOW_COLUMNS))}, now())",
        [*key, end, int(reference_id), *values],
    )
    _insert_rows(con, "drift_results", drift_rows, DRIFT_COLUMNS, _DRIFT_TYPES, key)
    _insert_rows(con, "quality_results", quality_rows, QUALITY_COLUMNS, _QUALITY_TYPES, key)


def _range(granularity: str, start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """The windows overlapping [start, end): a clause on window_start and its parameters."""
    width = window_width(granularity)
    start, end = aware(start, "start"), aware(end, "end")
    return "window_start > ? AND window_start < ?", [start - width, end]


def _series(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    model: ModelInfo,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str,
    extra: str = "",
    extra_params: Sequence[Any] = (),
    order: str = "window_start",
) -> pd.DataFrame:
    """Stored rows of one model, version and granularity in the windows of [start, end)."""
    clause, params = _range(granularity, start, end)
    return con.execute(
        f"SELECT {', '.join(columns)} FROM {quote(table)} WHERE model_id = ? AND version = ? "
        f"AND granularity = ? AND {clause}{extra} ORDER BY {order}",
        [model.id, str(version), granularity, *params, *extra_params],
    ).df()


def drift_windows(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str = ALL_VERSIONS,
) -> pd.DataFrame:
    """Stored window summaries of the windows overlapping [start, end), by window_start."""
    return _series(con, "drift_windows", WINDOW_COLUMNS, model, granularity, start, end, version)


def drift_results(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str = ALL_VERSIONS,
    role: str | None = None,
) -> pd.DataFrame:
    """Stored per-column drift results (of one role when given) of the windows in range."""
    extra, params = ("", []) if role is None else (" AND role = ?", [str(role)])
    columns = ("window_start", *DRIFT_COLUMNS)
    return _series(
        con,
        "drift_results",
        columns,
        model,
        granularity,
        start,
        end,
        version,
        extra,
        params,
        "window_start, role, feature",
    )


def quality_results(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str = ALL_VERSIONS,
) -> pd.DataFrame:
    """Stored data-quality rows of the windows overlapping [start, end)."""
    columns = ("window_start", *QUALITY_COLUMNS)
    return _series(
        con,
        "quality_results",
        columns,
        model,
        granularity,
        start,
        end,
        version,
        order="window_start, feature",
    )


def _hour(value: datetime) -> datetime:
    return aware(value, "hour").astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def record_rejections(
    con: duckdb.DuckDBPyConnection, model: str, hour: datetime, counts: Mapping[str, int]
) -> None:
    """Add refused-record counts per reason to the model's hour (floored to the hour)."""
    at = _hour(hour)
    for reason, count in counts.items():
        if int(count) == 0:
            continue
        con.execute(
            "INSERT INTO ingest_rejections VALUES (?, ?, ?, ?) ON CONFLICT (model, hour, reason) "
            "DO UPDATE SET count = count + excluded.count",
            [str(model), at, str(reason), int(count)],
        )


def rejections(
    con: duckdb.DuckDBPyConnection, model: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """Refused-record counts (hour, reason, count) of the hours overlapping [start, end)."""
    lo, hi = aware(start, "start"), aware(end, "end")
    return con.execute(
        "SELECT hour, reason, count FROM ingest_rejections WHERE model = ? AND hour > ? "
        "AND hour < ? ORDER BY hour, reason",
        [str(model), lo - timedelta(hours=1), hi],
    ).df()


def _latest(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    version: str,
    since: datetime,
    until: datetime | None,
) -> dict[str, Any] | None:
    sql = (
        f"SELECT {', '.join(WINDOW_COLUMNS)} FROM drift_windows WHERE model_id = ? "
        "AND granularity = ? AND version = ? AND window_end > ?"
    )
    params: list[Any] = [model.id, granularity, str(version), aware(since, "since")]
    if until is not None:
        sql += " AND window_end <= ?"
        params.append(aware(until, "until"))
    cur = con.execute(sql + " ORDER BY window_start DESC LIMIT 1", params)
    row = one_row(cur)
    return None if row is None else dict(zip(WINDOW_COLUMNS, row, strict=True))


def latest_window(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    version: str,
    since: datetime,
    until: datetime | None = None,
) -> dict[str, Any] | None:
    """The newest stored window summary ending after `since` (and at or before `until`),
    with drift_windows' columns, or None."""
    return _latest(con, model, granularity, version, since, until)


def latest_quality(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    granularity: str,
    version: str,
    since: datetime,
    until: datetime | None = None,
) -> pd.DataFrame:
    """The quality rows of latest_window's window (an empty frame when there is none)."""
    latest = _latest(con, model, granularity, version, since, until)
    start = latest["window_start"] if latest else None  # = NULL matches nothing: empty frame
    return con.execute(
        f"SELECT window_start, {', '.join(QUALITY_COLUMNS)} FROM quality_results "
        "WHERE model_id = ? AND version = ? AND granularity = ? AND window_start = ? "
        "ORDER BY feature",
        [model.id, str(version), granularity, start],
    ).df()
