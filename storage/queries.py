"""Read queries for the API and the dashboard; each returns a DataFrame or plain data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from storage.identifiers import quote
from storage.models import ModelInfo, list_models
from storage.system import SYSTEM_COLUMNS
from storage.time_windows import bucket_sql

_BUCKET_US = {
    "1m": 60_000_000,
    "5m": 300_000_000,
    "15m": 900_000_000,
    "1h": 3_600_000_000,
    "6h": 21_600_000_000,
    "1d": 86_400_000_000,
}
BUCKETS = {
    "1m": "1 minute",
    "5m": "5 minutes",
    "15m": "15 minutes",
    "1h": "1 hour",
    "6h": "6 hours",
    "1d": "1 day",
}


def bucket_interval(bucket: str) -> str:
    """The DuckDB interval for a bucket name; unknown names are an error naming the choices."""
    try:
        return BUCKETS[bucket]
    except KeyError:
        raise ValueError(
            f"unknown time bucket {bucket!r}: use one of {', '.join(BUCKETS)}"
        ) from None


def _bucket(bucket: str) -> str:
    """SQL for each row's bucket start (integer arithmetic: time_bucket is ~50x slower)."""
    bucket_interval(bucket)  # refuses an unknown name
    return bucket_sql(_BUCKET_US[bucket])


def _where(
    start: datetime | None, end: datetime | None, version: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if start is not None:
        clauses.append("p.ts >= ?")
        params.append(start)
    if end is not None:
        clauses.append("p.ts < ?")
        params.append(end)
    if version is not None:
        clauses.append("p.version = ?")
        params.append(version)
    return " AND ".join(clauses), params


def prediction_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Stored predictions per model: count(*) only, cheap enough for every /metrics scrape."""
    counts = {}
    for model in list_models(con):
        row = con.execute(f"SELECT count(*) FROM {quote(model.table)}").fetchall()[0]
        counts[model.name] = int(row[0])
    return counts


def model_summaries(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One dict per model: name, task, versions, features, counts and first/last seen."""
    out = []
    for model in list_models(con):
        row = con.execute(
            f"SELECT count(*), min(ts), max(ts), list(DISTINCT version ORDER BY version) "
            f"FROM {quote(model.table)}"
        ).fetchone()
        labels = con.execute(
            "SELECT count(*) FROM labels WHERE model_id = ?", [model.id]
        ).fetchone()
        assert row is not None and labels is not None
        out.append(
            {
                "name": model.name,
                "task": model.task,
                "positive_class": model.positive_class,
                "versions": list(row[3] or []),
                "features": dict(model.features),
                "predictions": int(row[0]),
                "labels": int(labels[0]),
                "first_seen": row[1],
                "last_seen": row[2],
            }
        )
    return out


def time_range(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> tuple[Any, Any]:
    """First and last prediction time of a model (None, None when empty)."""
    row = con.execute(f"SELECT min(ts), max(ts) FROM {quote(model.table)}").fetchone()
    return (row[0], row[1]) if row else (None, None)


def traffic_series(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime | None,
    end: datetime | None,
    bucket: str = "1h",
    version: str | None = None,
) -> pd.DataFrame:
    """Per bucket and version: prediction count and latency p50/p95/p99 (ms)."""
    where, params = _where(start, end, version)
    # One list quantile sorts each bucket's latencies once instead of three times.
    return con.execute(
        "SELECT bucket, version, predictions, q[1] AS latency_p50_ms, q[2] AS latency_p95_ms, "
        f"q[3] AS latency_p99_ms FROM (SELECT {_bucket(bucket)} AS bucket, p.version, "
        "count(*) AS predictions, quantile_cont(p.latency_ms, [0.5, 0.95, 0.99]) AS q "
        f"FROM {quote(model.table)} p WHERE {where} GROUP BY ALL) ORDER BY bucket, version",
        params,
    ).df()


def accuracy_series(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime | None,
    end: datetime | None,
    bucket: str = "1d",
    version: str | None = None,
    *,
    by_version: bool = False,
) -> pd.DataFrame:
    """Per bucket (and version): predictions, labelled and accuracy (or MAE for regression)."""
    where, params = _where(start, end, version)
    keys = "bucket, p.version" if by_version else "bucket"
    if model.task == "regression":
        metric = "avg(abs(p.prediction - p.label_value)) AS mae"
    else:
        # Unlabelled predictions are unknown, not wrong: NULL keeps them out of the average.
        metric = (
            "avg(CASE WHEN p.label_ts IS NULL THEN NULL "
            "WHEN p.prediction = p.label THEN 1.0 ELSE 0.0 END) AS accuracy"
        )
    return con.execute(
        f"SELECT {_bucket(bucket)} AS bucket, "
        f"{'p.version, ' if by_version else ''}"
        "count(*) AS predictions, count(p.label_ts) AS labeled, "
        f"{metric} FROM {quote(model.table)} p "
        f"WHERE {where} GROUP BY ALL ORDER BY {keys}",
        params,
    ).df()


def model_kpis(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime | None,
    end: datetime | None,
    version: str | None = None,
) -> dict[str, Any]:
    """Headline numbers over a range: predictions, labelled, accuracy/MAE, p95 latency."""
    where, params = _where(start, end, version)
    correct = (
        "avg(abs(p.prediction - p.label_value))"
        if model.task == "regression"
        else "avg(CASE WHEN p.label_ts IS NULL THEN NULL "
        "WHEN p.prediction = p.label THEN 1.0 ELSE 0.0 END)"
    )
    row = con.execute(
        f"SELECT count(*), count(p.label_ts), {correct}, "
        "quantile_cont(p.latency_ms, 0.95) "
        f"FROM {quote(model.table)} p "
        f"WHERE {where}",
        params,
    ).fetchone()
    assert row is not None
    key = "mae" if model.task == "regression" else "accuracy"
    return {"predictions": row[0], "labeled": row[1], key: row[2], "latency_p95_ms": row[3]}


_SYSTEM_SERIES = SYSTEM_COLUMNS[2:]  # every metric; ts and host are the keys


def _samples(raw: str, rolled: str, columns: Sequence[str]) -> str:
    """Rollups for the minutes before the oldest raw sample, raw samples from there on.

    Raw samples are kept for days and rollups for months, so a long range needs both; the
    newest minutes exist only raw (rollups lag a minute), the oldest only rolled up.
    """
    cols = ", ".join(["ts", "host", *columns])
    return (
        f"(SELECT {cols} FROM {rolled} WHERE ts < coalesce("
        f"(SELECT date_trunc('minute', min(ts)) FROM {raw}), 'infinity'::TIMESTAMPTZ) "
        f"UNION ALL SELECT {cols} FROM {raw})"
    )


def system_series(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None,
    end: datetime | None,
    bucket: str = "1m",
) -> pd.DataFrame:
    """Host metrics averaged per bucket and host."""
    table = _samples("system_samples", "system_rollup_1m", _SYSTEM_SERIES)
    cols = ", ".join(f"avg({c}) AS {c}" for c in _SYSTEM_SERIES)
    where, params = _where(start, end, None)
    return con.execute(
        f"SELECT {_bucket(bucket)} AS bucket, p.host, "
        f"{cols} FROM {table} p WHERE {where} GROUP BY ALL ORDER BY bucket, p.host",
        params,
    ).df()


_GPU_SERIES = (
    "gpu_index",
    "name",
    "util_percent",
    "mem_used_bytes",
    "mem_total_bytes",
    "temperature_c",
    "power_w",
)


def gpu_series(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None,
    end: datetime | None,
    bucket: str = "1m",
) -> pd.DataFrame:
    """GPU metrics averaged per bucket, host and device."""
    table = _samples("gpu_samples", "gpu_rollup_1m", _GPU_SERIES)
    where, params = _where(start, end, None)
    return con.execute(
        f"SELECT {_bucket(bucket)} AS bucket, p.host, "
        "p.gpu_index, any_value(p.name) AS name, avg(p.util_percent) AS util_percent, "
        "avg(p.mem_used_bytes) AS mem_used_bytes, avg(p.mem_total_bytes) AS mem_total_bytes, "
        "avg(p.temperature_c) AS temperature_c, avg(p.power_w) AS power_w "
        f"FROM {table} p WHERE {where} GROUP BY ALL ORDER BY bucket, p.host, p.gpu_index",
        params,
    ).df()


def latest_system_sample(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The newest raw system sample, or None."""
    df = con.execute("SELECT * FROM system_samples ORDER BY ts DESC LIMIT 1").df()
    return None if df.empty else {str(k): v for k, v in df.iloc[0].to_dict().items()}
