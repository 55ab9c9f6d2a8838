"""Export a history as spool files (JSON Lines or Parquet) for ingestion tests and the demo."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from sample_data.features import FEATURES, MODEL_NAME
from sample_data.history import History
from sample_data.records import Record

SpoolFormat = Literal["jsonl", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet")


def write_spool_files(
    history: History,
    directory: str | Path,
    fmt: SpoolFormat = "jsonl",
    *,
    model_name: str = MODEL_NAME,
    rows_per_file: int = 10_000,
) -> list[Path]:
    """Write predictions, then arrived labels, as `<model>.<kind>.<nnnnn>.<fmt>` files.

    Each file holds API records (Parquet: the same fields as columns, `features` and `tags`
    as structs, timestamps as UTC timestamps). Files appear atomically (written under a
    hidden temporary name, then renamed), so a directory watcher never sees half a file.
    Returns the paths in the order written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if rows_per_file <= 0:
        raise ValueError(f"rows_per_file must be a positive integer, got {rows_per_file!r}")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    writer = _write_jsonl if fmt == "jsonl" else _write_parquet
    written: list[Path] = []
    for kind, records in (("predictions", history.predictions), ("labels", history.labels)):
        for index, begin in enumerate(range(0, len(records), rows_per_file)):
            path = target / f"{model_name}.{kind}.{index:05d}.{fmt}"
            _write_atomically(path, records[begin : begin + rows_per_file], kind, writer)
            written.append(path)
    return written


Writer = Callable[[Path, Sequence[Record], str], None]


def _write_atomically(path: Path, records: Sequence[Record], kind: str, writer: Writer) -> None:
    """Write under a hidden temporary name in the same directory, then rename into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        writer(tmp, records, kind)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_jsonl(path: Path, records: Sequence[Record], kind: str) -> None:
    """One JSON object per line, exactly as the HTTP API takes them."""
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")


def _write_parquet(path: Path, records: Sequence[Record], kind: str) -> None:
    """Records as a Parquet table with a fixed schema per kind."""
    schema = _PREDICTION_SCHEMA if kind == "predictions" else _LABEL_SCHEMA
    table = pa.Table.from_pylist(list(records), schema=_with_string_timestamps(schema))
    table = table.set_column(
        table.schema.get_field_index("timestamp"),
        "timestamp",
        table["timestamp"].cast(pa.timestamp("ms", tz="UTC")),
    )
    pq.write_table(table, path)


def _with_string_timestamps(schema: pa.Schema) -> pa.Schema:
    """The same schema with `timestamp` as the ISO strings the records carry."""
    index = schema.get_field_index("timestamp")
    return schema.set(index, pa.field("timestamp", pa.string()))


def _feature_type(kind: str) -> pa.DataType:
    """Arrow type of one feature kind ("numeric" -> float64, "categorical" -> string)."""
    return pa.float64() if kind == "numeric" else pa.string()


_PREDICTION_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("version", pa.string()),
        ("features", pa.struct([(name, _feature_type(k)) for name, k in FEATURES.items()])),
        ("prediction", pa.int64()),
        ("score", pa.float64()),
        ("latency_ms", pa.float64()),
        ("tags", pa.struct([("channel", pa.string())])),
    ]
)
_LABEL_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("label", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
    ]
)
