"""Reference uploads: JSON records, Arrow or Parquet in; one checked Arrow table out.

A reference is a flat table: one column per feature of the model (by its name), and
optionally `prediction` and `label` (or `target`). JSON records may also nest the features
under "features", as prediction records do. The result uses the drift-frame column names
(storage.references.PREDICTION_COLUMN / TARGET_COLUMN) and the model's types.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from storage import ModelInfo, normalize_class
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN

PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
_OUTPUTS = {"prediction": PREDICTION_COLUMN, "label": TARGET_COLUMN, "target": TARGET_COLUMN}
FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson", ".json", ".arrow", ".feather")


class ReferenceInvalid(ValueError):
    """An upload that cannot be a reference; the message says what to change."""


def _flatten(record: object, index: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ReferenceInvalid(f"record {index} is not an object: send one object per row")
    nested = record.get("features")
    if isinstance(nested, dict):
        flat = {k: v for k, v in record.items() if k != "features"}
        return {**nested, **flat}
    return dict(record)


def frame_from_records(records: object) -> pd.DataFrame:
    """A DataFrame from a JSON list of flat (or prediction-shaped) records."""
    if not isinstance(records, list) or not records:
        raise ReferenceInvalid('"records" must be a non-empty list of objects')
    return pd.DataFrame.from_records([_flatten(r, i) for i, r in enumerate(records)])


def read_body(body: bytes, content_type: str) -> pd.DataFrame:
    """The uploaded table of a request body, by its content type."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == PARQUET:
            return pq.read_table(io.BytesIO(body)).to_pandas()
        if kind == ARROW_STREAM:
            return pa.ipc.open_stream(body).read_all().to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReferenceInvalid(f"body is not a valid {kind} file: {exc}") from None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReferenceInvalid(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "records" not in data:
        raise ReferenceInvalid(
            'send {"records": [...]} as JSON, or a Parquet (Content-Type: '
            f"{PARQUET}) or Arrow IPC stream ({ARROW_STREAM}) body"
        )
    return frame_from_records(data["records"])


def read_file(path: Path) -> pd.DataFrame:
    """A reference file by its suffix: Parquet, CSV, JSON lines, a JSON list or Arrow/Feather."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path).to_pandas()
        if suffix in (".arrow", ".feather"):
            import pyarrow.feather as feather

            return feather.read_table(path).to_pandas()
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".jsonl", ".ndjson"):
            lines = path.read_text(encoding="utf-8").splitlines()
            return frame_from_records([json.loads(line) for line in lines if line.strip()])
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return frame_from_records(data.get("records") if isinstance(data, dict) else data)
    except (pa.ArrowInvalid, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ReferenceInvalid):
            raise
        raise ReferenceInvalid(f"{path.name} cannot be read as {suffix[1:]}: {exc}") from None
    raise ReferenceInvalid(
        f"{path.name}: unknown file type {suffix!r}; use one of {', '.join(FILE_SUFFIXES)}"
    )


def _numeric(values: pd.Series, name: str) -> pa.Array:
    converted = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & converted.isna() & ~values.map(_is_nan)
    if bad.any():
        first = values[bad].iloc[0]
        raise ReferenceInvalid(
            f"column {name!r} is numeric in the model but holds {first!r} "
            f"(row {int(np.flatnonzero(bad.to_numpy())[0])}); send numbers or nulls"
        )
    numbers = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    return pa.array(numbers, pa.float64(), mask=~np.isfinite(numbers))


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value


def _text(values: pd.Series) -> pa.Array:
    out = [None if v is None or _is_nan(v) else normalize_class(v) for v in values.tolist()]
    return pa.array(out, pa.string())


def reference_table(frame: pd.DataFrame, model: ModelInfo) -> pa.Table:
    """The checked reference: the model's features by name, @prediction and @target typed."""
    if frame.empty:
        raise ReferenceInvalid("the reference holds no rows")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ReferenceInvalid("the reference has repeated column names")
    if not model.features:
        raise ReferenceInvalid(
            f"model {model.name!r} has no features yet: log predictions first or register "
            f"them with PUT /api/v1/models/{model.name}"
        )
    unknown = [n for n in names if n not in model.features and n not in _OUTPUTS]
    if unknown:
        raise ReferenceInvalid(
            f"column(s) {', '.join(map(repr, unknown[:10]))} are not features of model "
            f"{model.name!r} ({', '.join(model.features)}) nor prediction/label: drop them"
        )
    if not any(n in model.features for n in names):
        raise ReferenceInvalid(f"no column is a feature of model {model.name!r}")
    if "label" in names and "target" in names:
        raise ReferenceInvalid("send the target as `label` or `target`, not both")
    columns: dict[str, pa.Array] = {}
    regression = model.task == "regression"
    for name in names:
        values = frame[name]
        if name in model.features:
            kind = model.features[name]
            columns[name] = _numeric(values, name) if kind == "numeric" else _text(values)
        else:
            numeric = regression
            columns[_OUTPUTS[name]] = _numeric(values, name) if numeric else _text(values)
    return pa.table(columns)
