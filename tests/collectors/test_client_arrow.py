"""The SDK's Arrow IPC encoding: exact columns when safe, JSON (None) whenever it is not."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pyarrow as pa

from collectors._client_arrow import encode_arrow

FIELDS = (
    "event_id",
    "timestamp",
    "features",
    "prediction",
    "score",
    "probabilities",
    "latency_ms",
    "version",
    "tags",
)


def _rec(i: int, **over: Any) -> tuple[Any, ...]:
    """A prediction as Monitor.log_prediction buffers it."""
    rec: dict[str, Any] = {
        "event_id": f"e{i}",
        "timestamp": 1_764_000_000.5 + i,
        "features": {"age": 30 + i, "income": 1000.5 * i, "region": "north"},
        "prediction": i % 2,
        "score": 0.25,
        "tags": {"channel": "web"},
    }
    rec.update(over)
    return tuple(rec.get(name) for name in FIELDS)


def _decode(body: bytes) -> pa.Table:
    return pa.ipc.open_stream(body).read_all()


def test_a_plain_batch_becomes_typed_columns() -> None:
    body = encode_arrow([_rec(i) for i in range(3)])
    assert body is not None and body[:1] != b"{"
    table = _decode(body)
    assert table.column("event_id").to_pylist() == ["e0", "e1", "e2"]
    assert table.schema.field("timestamp").type == pa.float64()
    assert table.column("timestamp").to_pylist()[1] == 1_764_000_001.5
    assert table.column("age").type == pa.int64() and table.column("region").type == pa.string()
    assert table.column("income").to_pylist() == [0.0, 1000.5, 2001.0]
    assert table.column("prediction").to_pylist() == [0, 1, 0]
    assert table.column("tags").to_pylist()[0] == [("channel", "web")]
    assert "version" not in table.column_names  # all-null optional fields are left out
    assert "latency_ms" not in table.column_names
    versioned = _decode(encode_arrow([_rec(0), _rec(1, version="7")], "3") or b"")
    assert versioned.column("version").to_pylist() == ["3", "7"]


def test_batches_pyarrow_would_convert_silently_go_as_json() -> None:
    cases = [
        [_rec(0), _rec(1, score=True)],  # a bool is not a score
        [_rec(0), _rec(1, features={"age": "x", "income": 1.0, "region": "n"})],  # mixed kinds
        [_rec(0), _rec(1, features={"age": 1})],  # feature names differ
        [_rec(0, score=math.nan)],  # JSON turns NaN into null; Arrow would keep it
        [_rec(0, probabilities={"a": 0.5})],
        [_rec(0, prediction=[1])],
        [_rec(0, timestamp="2026-11-25T10:00:00Z")],
        [_rec(0, tags={"k": 1})],
        [_rec(0), _rec(1, event_id=7)],
        [_rec(0, version=3)],
    ]
    for records in cases:
        assert encode_arrow(records) is None, records


def test_importing_the_sdk_does_not_import_pyarrow() -> None:
    code = "import collectors.client, sys; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bool_features_travel_as_arrow_bools() -> None:
    """The server reads booleans in a numeric feature as 1/0 in JSON and Arrow alike."""
    body = encode_arrow([_rec(0, features={"age": True, "income": 1.0, "region": "n"})])
    assert body is not None
    assert _decode(body).column("age").type == pa.bool_()
