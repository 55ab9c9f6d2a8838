"""Spool export: JSON Lines and Parquet files that hold exactly the history's records."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sample_data import History, write_spool_files


def test_jsonl_files_hold_the_records_in_order(small_history: History, tmp_path: Path) -> None:
    paths = write_spool_files(small_history, tmp_path, "jsonl", rows_per_file=4000)
    predictions = [p for p in paths if ".predictions." in p.name]
    labels = [p for p in paths if ".labels." in p.name]
    assert predictions[0].name == "credit-risk.predictions.00000.jsonl"
    assert len(predictions) == -(-len(small_history.predictions) // 4000)
    read_back = [json.loads(line) for p in predictions for line in p.read_text().splitlines()]
    assert read_back == small_history.predictions
    read_labels = [json.loads(line) for p in labels for line in p.read_text().splitlines()]
    assert read_labels == small_history.labels
    assert sorted(tmp_path.iterdir()) == sorted(paths)


def test_parquet_files_hold_typed_columns(small_history: History, tmp_path: Path) -> None:
    paths = write_spool_files(small_history, tmp_path, "parquet", model_name="demo")
    predictions = pq.read_table(paths[0])
    labels = pq.read_table(paths[1])
    assert [p.name for p in paths] == [
        "demo.predictions.00000.parquet",
        "demo.labels.00000.parquet",
    ]
    assert predictions.num_rows == len(small_history.predictions)
    assert labels.num_rows == len(small_history.labels)
    first = predictions.slice(0, 1).to_pylist()[0]
    expected = small_history.predictions[0]
    assert first["event_id"] == expected["event_id"]
    assert first["timestamp"] == datetime.fromisoformat(expected["timestamp"])
    assert first["features"]["income"] == expected["features"]["income"]
    assert first["features"]["region"] == expected["features"]["region"]
    assert first["tags"] == expected["tags"]
    assert labels.column("label").to_pylist() == [r["label"] for r in small_history.labels]


def test_unknown_format_is_rejected_with_the_choices(
    small_history: History, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="jsonl, parquet"):
        write_spool_files(small_history, tmp_path, "csv")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
