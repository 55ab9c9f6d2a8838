"""Raw predictions of a range as Arrow/Parquet, for data exports: every stored column, with
features under their own names and the label as it was copied onto the prediction."""

from __future__ import annotations

import io
from collections.abc import Collection
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from storage.identifiers import quote
from storage.models import ModelInfo
from storage.performance import filters

BASE = (
    "event_id",
    "ts",
    "version",
    "prediction",
    "score",
    "probabilities",
    "latency_ms",
    "tags",
    "label",
    "label_value",
    "label_ts",
)


def range_predictions(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    exclude: Collection[str] = (),
) -> pa.Table:
    """The predictions of [start, end) (one version if given), oldest first; the features
    named in `exclude` (PII kept out of an export) are left out."""
    where, params = filters(model, start, end, version, None)
    kept = [name for name in model.features if name not in exclude]
    features = [
        f"p.{quote(model.column(name))} AS {quote(name)}"
        for name in kept
        if name not in BASE  # a feature named like a base column keeps its f_ name
    ] + [f"p.{quote(model.column(name))}" for name in kept if name in BASE]
    select = ", ".join([*(f"p.{quote(c)}" for c in BASE), *features])
    return con.sql(
        f"SELECT {select} FROM {quote(model.table)} p WHERE {where} ORDER BY p.ts, p.event_id",
        params=params,
    ).to_arrow_table()


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as one Parquet file (zstd)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()
