"""Reference uploads: every accepted shape gives the same checked table; bad ones are named."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.reference_input import (
    ARROW_STREAM,
    PARQUET,
    ReferenceInvalid,
    read_body,
    read_file,
    reference_table,
)
from storage import ModelInfo
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN

MODEL = ModelInfo(1, "churn", "binary", "1", {"age": "numeric", "region": "categorical"})
ROWS = [
    {"age": 31, "region": "north", "label": 1, "prediction": 0},
    {"age": None, "region": None, "label": 0, "prediction": 1},
    {"age": 40.5, "region": "south", "label": None, "prediction": "1"},
]


def _expected(table: pa.Table) -> None:
    assert table.column_names == ["age", "region", TARGET_COLUMN, PREDICTION_COLUMN]
    assert table.column("age").to_pylist() == [31.0, None, 40.5]
    assert table.column("region").to_pylist() == ["north", None, "south"]
    assert table.column(TARGET_COLUMN).to_pylist() == ["1", "0", None]
    assert table.column(PREDICTION_COLUMN).to_pylist() == ["0", "1", "1"]


def test_json_records_flat_or_nested_give_the_same_table() -> None:
    flat = read_body(json.dumps({"records": ROWS}).encode(), "application/json")
    _expected(reference_table(flat, MODEL))
    nested = [
        {
            "features": {"age": r["age"], "region": r["region"]},
            "label": r["label"],
            "prediction": r["prediction"],
        }
        for r in ROWS
    ]
    _expected(reference_table(read_body(json.dumps({"records": nested}).encode(), ""), MODEL))


def test_parquet_and_arrow_bodies() -> None:
    frame = pd.DataFrame(ROWS).astype({"prediction": str})
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame), buffer)
    _expected(reference_table(read_body(buffer.getvalue(), PARQUET), MODEL))
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame)
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    _expected(reference_table(read_body(sink.getvalue(), ARROW_STREAM), MODEL))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl", ".json", ".feather"])
def test_files_of_every_suffix(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame(ROWS).astype({"prediction": str})
    path = tmp_path / f"ref{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS))
    else:
        frame.to_feather(path)
    _expected(reference_table(read_file(path), MODEL))


def test_non_finite_numbers_become_null_and_regression_targets_stay_numbers() -> None:
    model = ModelInfo(2, "price", "regression", None, {"x": "numeric"})
    frame = pd.DataFrame({"x": [1.0, math.inf, math.nan], "target": [2.5, None, 3.0]})
    table = reference_table(frame, model)
    assert table.column("x").to_pylist() == [1.0, None, None]
    assert table.column(TARGET_COLUMN).to_pylist() == [2.5, None, 3.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"age": []}), "holds no rows"),
        (pd.DataFrame({"age": [1], "customer_id": [7]}), "'customer_id' are not features"),
        (pd.DataFrame({"label": [1]}), "no column is a feature"),
        (pd.DataFrame({"age": ["old"]}), "column 'age' is numeric in the model but holds 'old'"),
        (pd.DataFrame({"age": [1], "label": [1], "target": [1]}), "not both"),
    ],
)
def test_bad_references_are_refused_with_the_reason(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ReferenceInvalid, match=message):
        reference_table(frame, MODEL)


def test_model_without_features_says_how_to_register_them() -> None:
    with pytest.raises(ReferenceInvalid, match="has no features yet"):
        reference_table(pd.DataFrame({"age": [1]}), ModelInfo(3, "new", "binary", None, {}))


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b"not json", "application/json", "not valid JSON"),
        (b'{"rows": []}', "application/json", 'send {"records"'),
        (b'{"records": []}', "application/json", "non-empty list"),
        (b'{"records": [3]}', "application/json", "record 0 is not an object"),
        (b"PAR1garbage", PARQUET, "not a valid"),
        (b"garbage", ARROW_STREAM, "not a valid"),
    ],
)
def test_bad_bodies_are_refused(body: bytes, kind: str, message: str) -> None:
    with pytest.raises(ReferenceInvalid, match=message):
        read_body(body, kind)


def test_unknown_file_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ref.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(ReferenceInvalid, match=r"unknown file type '\.xlsx'"):
        read_file(path)
