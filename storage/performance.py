"""Per-window performance, latency and label aggregates of a model, pushed down to DuckDB.

Identifiers reach SQL only through ModelInfo and `quote`; every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from storage.identifiers import quote
from storage.models import ModelInfo
from storage.time_windows import (
    aware,
    fill_windows,
    objects,
    throughput,
    window_sql,
    window_width,
)

LATENCY_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
DELAY_QUANTILES = {"p50": 0.5, "p90": 0.9}
ROW_COLUMNS = (
    "prediction",
    "label",
    "score",
    "label_is_positive",
    "prediction_is_positive",
    "version",
    "latency_ms",
    "label_delay_h",
)
Segment = tuple[str, str]

LABELLED = "p.label_ts IS NOT NULL"  # labels are copied onto their predictions' rows
DELAY_H = "(epoch_us(p.label_ts) - epoch_us(p.ts)) / 3600e6"


def dimension_sql(model: ModelInfo, dimension: str) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for the value of a segment dimension of each prediction.

    `tag:KEY` reads a tag, any other name must be a categorical feature of the model.
    """
    if not isinstance(dimension, str):
        raise ValueError(f"segment dimension must be a string, got {type(dimension).__name__}")
    categorical = [f for f, kind in model.features.items() if kind == "categorical"]
    choices = f"tag:<key> or a categorical feature ({', '.join(categorical) or 'none'})"
    if dimension.startswith("tag:"):
        key = dimension[4:]
        if not key:
            raise ValueError(f"segment {dimension!r} names no tag key: use tag:<key>")
        return "p.tags[?]", [key]  # the key is a parameter, never SQL text
    kind = model.features.get(dimension)
    if kind is None:
        raise ValueError(
            f"unknown segment dimension {dimension!r} for model {model.name!r}: use {choices}"
        )
    if kind != "categorical":
        raise ValueError(
            f"feature {dimension!r} of model {model.name!r} is {kind}: segments need {choices}"
        )
    return f"p.{quote(model.column(dimension))}", []


def filters(
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of a range, version and segment."""
    start, end = aware(start, "start"), aware(end, "end")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    clauses = ["p.ts >= ?", "p.ts < ?"]
    params: list[Any] = [start, end]
    if version is not None:
        clauses.append("p.version = ?")
        params.append(str(version))
    if segment is not None:
        if not (isinstance(segment, tuple) and len(segment) == 2):
            raise ValueError(f"segment must be a (dimension, value) pair, got {segment!r}")
        expr, expr_params = dimension_sql(model, segment[0])
        clauses.append(f"{expr} = ?")
        params += [*expr_params, str(segment[1])]
    return " AND ".join(clauses), params


def _quantiles(expr: str, alias: str, quantiles: dict[str, float]) -> str:
    """One list quantile (a single sort per window), unpacked by _unpack."""
    return f"quantile_cont({expr}, {list(quantiles.values())}) AS {alias}"


def _unpack(alias: str, prefix: str, quantiles: dict[str, float], unit: str) -> str:
    return ", ".join(f"{alias}[{i + 1}] AS {prefix}_{q}_{unit}" for i, q in enumerate(quantiles))


def _summary_sql(
    model: ModelInfo, window: str | None, where: str, labels: bool, confusion: bool
) -> str:
    """The per-window aggregate; labels=False leaves out the label counts and delays."""
    outer = ["window_us", "count"]
    inner = [
        f"{window_sql(window)} AS window_us",
        "count(*) AS count",
        _quantiles("p.latency_ms", "lat", LATENCY_QUANTILES),
        "max(p.latency_ms) AS latency_max_ms",
    ]
    if labels:
        inner += ["count(p.label_ts) AS labeled", _quantiles(DELAY_H, "delay", DELAY_QUANTILES)]
        outer += ["labeled", _unpack("delay", "label_delay", DELAY_QUANTILES, "h")]
    outer += [_unpack("lat", "latency", LATENCY_QUANTILES, "ms"), "latency_max_ms"]
    if labels and confusion and model.task != "regression":
        inner.append(
            "map_entries(histogram({'label': p.label, 'prediction': p.prediction}) "
            f"FILTER (WHERE {LABELLED})) AS confusion"
        )
        outer.append("confusion")
    return (
        f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} "
        f"FROM {quote(model.table)} p WHERE {where} GROUP BY window_us) "
        "ORDER BY window_us"
    )


def window_summary(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None = None,
    segment: Segment | None = None,
    *,
    labels: bool = True,
    confusion: bool = False,
    now: datetime | None = None,
) -> pd.DataFrame:
    """One row per window in [start, end): volume, label coverage and delay, latency, throughput.

    Windows without predictions are included (count 0) up to `now`, so gaps in traffic show.
    labels=False leaves out `labeled` and the label delays. With confusion=True
    (classification) a `confusion` column holds {(label, prediction): n}.
    """
    frame = summary_frame(con, model, start, end, window, version, segment, labels, confusion)
    return finish_windows(frame, start, end, window, now)


def summary_frame(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None = None,
    segment: Segment | None = None,
    labels: bool = True,
    confusion: bool = False,
) -> pd.DataFrame:
    """window_summary's aggregate (keyed by window_us) for the windows holding predictions."""
    if window is not None:
        window_width(window)
    where, params = filters(model, start, end, version, segment)
    frame = con.execute(_summary_sql(model, window, where, labels, confusion), params).df()
    if "confusion" in frame.columns:
        frame["confusion"] = objects([confusion_dict(v) for v in frame["confusion"]], frame)
    return frame


def finish_windows(
    frame: pd.DataFrame, start: datetime, end: datetime, window: str, now: datetime | None
) -> pd.DataFrame:
    """Fill the empty windows up to now, then add window_start and throughput_per_min."""
    start, end = aware(start, "start"), aware(end, "end")
    now = aware(now, "now") if now is not None else datetime.now(UTC)
    frame = fill_windows(frame, start, end, window, now)
    frame.insert(0, "window_start", pd.to_datetime(frame["window_us"], unit="us", utc=True))
    frame["throughput_per_min"] = throughput(frame, start, end, window, now)
    return frame.drop(columns="window_us")


def window_fingerprints(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None = None,
    segment: Segment | None = None,
) -> dict[int, tuple[Any, ...]]:
    """Per window holding predictions: a value that changes whenever its rows or labels do.

    Rows are only inserted (received_at is the inserting transaction's time) and labels only
    written with labelled_at = the writing transaction's time, so (rows, newest insert,
    labelled rows, newest label write) changes with any insert, delete or label change.
    """
    where, params = filters(model, start, end, version, segment)
    rows = con.execute(
        f"SELECT {window_sql(window)} AS window_us, count(*), max(p.received_at), "
        f"count(p.label_ts), max(p.labelled_at) FROM {quote(model.table)} p "
        f"WHERE {where} GROUP BY window_us",
        params,
    ).fetchall()
    return {int(r[0]): tuple(r[1:]) for r in rows}


def range_summary(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    segment: Segment | None = None,
    *,
    labels: bool = True,
    confusion: bool = False,
) -> dict[str, Any]:
    """Totals over [start, end): window_summary's columns (but throughput) for one window."""
    frame = summary_frame(con, model, start, end, None, version, segment, labels, confusion)
    if frame.empty:
        record: dict[str, Any] = {c: None for c in frame.columns} | {"count": 0}
        if labels:
            record["labeled"] = 0
        record["confusion"] = {}
    else:
        record = {str(k): v for k, v in frame.iloc[0].to_dict().items()}
        record.setdefault("confusion", {})
    record.pop("window_us", None)
    return record


def confusion_dict(entries: Any) -> dict[tuple[str, str], int]:
    """DuckDB's map_entries(histogram({label, prediction})) as {(label, prediction): n}."""
    if not isinstance(entries, list | tuple | np.ndarray):  # NULL: None, NaN or pd.NA
        return {}
    return {(e["key"]["label"], e["key"]["prediction"]): int(e["value"]) for e in entries}


def _row_columns(model: ModelInfo, columns: Sequence[str]) -> tuple[list[str], list[Any]]:
    """SELECT items (and their parameters, in order) for the requested row columns."""
    sql = {
        "prediction": "p.prediction",
        "label": "p.label_value" if model.task == "regression" else "p.label",
        "score": "p.score",
        "label_is_positive": "p.label = ?",
        "prediction_is_positive": "p.prediction = ?",
        "version": "p.version",
        "latency_ms": "p.latency_ms",
        "label_delay_h": DELAY_H,
    }
    out, params = [], []
    for column in columns:
        if column not in sql:
            raise ValueError(f"unknown row column {column!r}: use {', '.join(ROW_COLUMNS)}")
        if column.endswith("_is_positive"):
            if model.task != "binary":
                raise ValueError(f"{column} needs a binary model; {model.name!r} is {model.task}")
            params.append(model.positive_class or "1")
        out.append(f"{sql[column]} AS {column}")
    return out, params


def labelled_arrays(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None = None,
    segment: Segment | None = None,
    columns: Sequence[str] = ("prediction", "label", "score"),
    *,
    dimensions: Sequence[str] = (),
    scored_only: bool = False,
    sample_share: float | None = None,
) -> dict[str, np.ndarray]:
    """Labelled predictions as numpy arrays: window_us (epoch µs) plus only `columns`.

    Rows come ordered by window (a stable sort here: DuckDB's ORDER BY cost more than the
    whole fetch). Each dimension comes back as column `dim_<i>`. scored_only keeps rows with
    a score. window=None puts every row in window 0. Text columns are object arrays, NULL None.
    sample_share: keep about this share of the rows, chosen by a hash of their event_id (so
    the same rows every time, in table order).
    """
    where, params = filters(model, start, end, version, segment)
    selected, select_params = _row_columns(model, columns)
    for i, dimension in enumerate(dimensions):
        expr, expr_params = dimension_sql(model, dimension)
        selected.append(f"{expr} AS dim_{i}")
        select_params += expr_params
    if scored_only:
        where += " AND p.score IS NOT NULL"
    sql = (
        f"SELECT {window_sql(window)} AS window_us, {', '.join(selected)} "
        f"FROM {quote(model.table)} p WHERE {where} AND {LABELLED}"
    )
    if sample_share is not None and sample_share < 1:
        if not sample_share > 0:
            raise ValueError(f"sample_share must be in (0, 1], got {sample_share!r}")
        sql += " AND hash(p.event_id) < ?::UBIGINT"
        params = [*params, int(sample_share * (2**64 - 1))]
    table = con.sql(sql, params=[*select_params, *params]).to_arrow_table()
    arrays = {name: _numpy(table.column(name)) for name in table.column_names}
    keys = arrays["window_us"]
    if len(keys) < 2 or bool(np.all(keys[1:] >= keys[:-1])):  # scans mostly come in order
        return arrays
    order = np.argsort(keys, kind="stable")
    return {name: values[order] for name, values in arrays.items()}


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column as numpy: NULL is NaN in numbers, None in text and booleans."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Through a dictionary: one Python string per distinct value, not per row.
        encoded = pc.dictionary_encode(column).combine_chunks()
        values = np.asarray([*encoded.dictionary.to_pylist(), None], dtype=object)
        codes = encoded.indices.fill_null(len(encoded.dictionary))
        return np.asarray(values[codes.to_numpy(zero_copy_only=False)])
    if pa.types.is_boolean(column.type) and column.null_count:
        return np.asarray(column.to_pylist(), dtype=object)
    if pa.types.is_integer(column.type) and column.null_count:
        return np.asarray(column.cast(pa.float64()).to_numpy())
    return np.asarray(column.to_numpy())


def labelled_rows(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None = None,
    segment: Segment | None = None,
    columns: Sequence[str] = ("prediction", "label", "score"),
    *,
    sample_share: float | None = None,
) -> pd.DataFrame:
    """Labelled predictions: window_start plus only the needed columns.

    `label` is the class text, or the number for regression models. sample_share: keep
    about this share of the rows (see labelled_arrays).
    """
    arrays = labelled_arrays(
        con, model, start, end, window, version, segment, columns, sample_share=sample_share
    )
    frame = pd.DataFrame({c: arrays[c] for c in columns})
    frame.insert(0, "window_start", pd.to_datetime(arrays["window_us"], unit="us", utc=True))
    return frame


def latency_histogram(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str | None = None,
    bins: int = 40,
) -> pd.DataFrame:
    """Latency counts in `bins` equal-width bins between the range's min and max.

    The bins are computed in DuckDB: only `bins` rows travel, whatever the volume.
    """
    where, params = filters(model, start, end, version, None)
    raw = con.execute(
        f"WITH v AS (SELECT p.latency_ms AS x FROM {quote(model.table)} p "
        f"WHERE {where} AND p.latency_ms IS NOT NULL), "
        "r AS (SELECT min(x) AS lo, greatest(max(x) - min(x), 1e-9) / ? AS width FROM v) "
        "SELECT least(floor((x - lo) / width), ? - 1)::INTEGER AS bin, "
        "any_value(lo) AS lo, any_value(width) AS width, count(*) AS count "
        "FROM v, r GROUP BY bin ORDER BY bin",
        [*params, int(bins), int(bins)],
    ).df()
    if raw.empty:
        return pd.DataFrame(columns=["bin_lower", "bin_upper", "count"])
    lower = raw["lo"] + raw["bin"] * raw["width"]
    return pd.DataFrame(
        {
            "bin_lower": lower.astype(float),
            "bin_upper": (lower + raw["width"]).astype(float),
            "count": raw["count"].astype(np.int64),
        }
    )
