"""The spool directory: files ingested once, moved to done/ or quarantined with a reason."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.spool import SpoolWatcher, read_records
from storage import Store, Writer

OLD = time.time() - 3600


def _records(n: int, prefix: str = "e") -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}{i}",
            "timestamp": f"2026-11-25T10:{i % 60:02d}:00Z",
            "prediction": i % 2,
            "score": 0.25,
            "features": {"age": 20 + i, "plan": "gold" if i % 2 else "basic"},
        }
        for i in range(n)
    ]


def _jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def _settle(*paths: Path) -> None:
    for path in paths:
        os.utime(path, (OLD, OLD))


def _rows(store: Store, ingest: IngestService, model: str) -> list[tuple[Any, ...]]:
    table = ingest.model(model).table
    return store.cursor().execute(f'SELECT event_id FROM "{table}" ORDER BY event_id').fetchall()


@pytest.fixture
def spool(tmp_path: Path, ingest: IngestService) -> SpoolWatcher:
    ingest.register("churn", {"task": "binary", "positive_class": 1})
    (tmp_path / "spool" / "churn").mkdir(parents=True)
    return SpoolWatcher(tmp_path / "spool", ingest, settle_s=1.0)


def _dir(spool: SpoolWatcher, model: str = "churn") -> Path:
    return spool.root / model


def test_jsonl_csv_and_parquet_predictions_are_ingested(
    spool: SpoolWatcher, store: Store, ingest: IngestService
) -> None:
    folder = _dir(spool)
    jsonl = _jsonl(folder / "a.jsonl", _records(5, "j"))
    csv_rows = [
        {"event_id": f"{i:03d}", "timestamp": 1_764_064_800 + i, "prediction": i % 2, "age": i}
        for i in range(4)
    ]
    csv = folder / "b.csv"
    pd.DataFrame(csv_rows).assign(tags='{"src": "csv"}').to_csv(csv, index=False)
    parquet = folder / "c.parquet"
    pq.write_table(
        pa.table(
            {
                "event_id": ["p0", "p1", "p2"],
                "timestamp": pa.array([1_764_064_800_000_000] * 3, pa.timestamp("us", "UTC")),
                "prediction": [1, 0, 1],
                "age": [30.0, 40.0, None],
                "plan": ["gold", None, "basic"],
            }
        ),
        parquet,
    )
    _settle(jsonl, csv, parquet)
    results = {r.path.name: r for r in spool.run_once()}
    assert {n: (r.ok, r.kind, r.accepted) for n, r in results.items()} == {
        "a.jsonl": (True, "predictions", 5),
        "b.csv": (True, "predictions", 4),
        "c.parquet": (True, "predictions", 3),
    }
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["a.jsonl", "b.csv", "c.parquet"]
    assert not jsonl.exists() and not csv.exists() and not parquet.exists()
    ids = [r[0] for r in _rows(store, ingest, "churn")]
    # CSV ids stay text: "000" is not the number 0.
    assert ids == ["000", "001", "002", "003", "j0", "j1", "j2", "j3", "j4", "p0", "p1", "p2"]
    tags = store.cursor().execute(
        f"SELECT tags FROM \"{ingest.model('churn').table}\" WHERE event_id = '000'"
    )
    assert tags.fetchone() == ({"src": "csv"},)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_labels_files_are_ingested(
    spool: SpoolWatcher, store: Store, ingest: IngestService, suffix: str
) -> None:
    ingest.predictions("churn", _records(3))
    labels = [{"event_id": f"e{i}", "label": i % 2} for i in range(3)]
    path = _dir(spool) / f"labels{suffix}"
    if suffix == ".jsonl":
        _jsonl(path, labels)
    elif suffix == ".csv":
        pd.DataFrame(labels).to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pylist(labels), path)
    _settle(path)
    (result,) = spool.run_once()
    assert (result.ok, result.kind, result.accepted) == (True, "labels", 3), result.error
    assert (_dir(spool) / "done" / path.name).exists()
    stored = store.cursor().execute("SELECT event_id, label FROM labels ORDER BY 1").fetchall()
    assert stored == [("e0", "0"), ("e1", "1"), ("e2", "0")]


def _quarantined(spool: SpoolWatcher, name: str, model: str = "churn") -> str:
    folder = _dir(spool, model) / "quarantine"
    assert (folder / name).exists()
    return (folder / f"{name}.error.txt").read_text(encoding="utf-8")


def test_bad_json_line_is_quarantined_with_the_line_number(
    spool: SpoolWatcher, store: Store, ingest: IngestService
) -> None:
    path = _dir(spool) / "bad.jsonl"
    path.write_text(json.dumps(_records(1)[0]) + "\n{not json\n", encoding="utf-8")
    _settle(path)
    (result,) = spool.run_once()
    assert not result.ok
    text = _quarantined(spool, "bad.jsonl")
    assert "line 2 is not valid JSON" in text
    assert "model churn" in text
    assert _rows(store, ingest, "churn") == []


def test_invalid_record_is_quarantined_naming_record_and_field(
    spool: SpoolWatcher, store: Store, ingest: IngestService
) -> None:
    records = _records(3)
    records[2]["score"] = 7
    path = _jsonl(_dir(spool) / "invalid.jsonl", records)
    _settle(path)
    (result,) = spool.run_once()
    assert not result.ok
    text = _quarantined(spool, "invalid.jsonl")
    assert "record 2: score: must be a probability between 0 and 1" in text
    assert _rows(store, ingest, "churn") == []  # all-or-nothing


def test_unknown_model_is_quarantined(spool: SpoolWatcher) -> None:
    folder = spool.root / "ghost"
    folder.mkdir()
    path = _jsonl(folder / "a.jsonl", _records(2))
    _settle(path)
    (result,) = spool.run_once()
    assert not result.ok
    assert "model 'ghost' is not registered" in _quarantined(spool, "a.jsonl", "ghost")


def test_empty_file_is_quarantined(spool: SpoolWatcher) -> None:
    path = _dir(spool) / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    _settle(path)
    spool.run_once()
    assert "no records" in _quarantined(spool, "empty.jsonl")


def test_file_committed_before_a_crash_is_stored_once(
    spool: SpoolWatcher, store: Store, ingest: IngestService
) -> None:
    records = _records(6)
    path = _jsonl(_dir(spool) / "crash.jsonl", records)
    # The server committed the file's records, then died before moving it.
    assert ingest.predictions("churn", read_records(path)).accepted == 6
    _settle(path)
    (result,) = spool.run_once()
    assert (result.ok, result.accepted, result.duplicates) == (True, 0, 6)
    assert (_dir(spool) / "done" / "crash.jsonl").exists()
    assert len(_rows(store, ingest, "churn")) == 6


def test_young_hidden_and_foreign_files_are_left_alone(spool: SpoolWatcher) -> None:
    folder = _dir(spool)
    young = _jsonl(folder / "young.jsonl", _records(1))
    hidden = _jsonl(folder / ".partial.jsonl", _records(1))
    other = folder / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    hidden_dir = spool.root / ".tmp"
    hidden_dir.mkdir()
    in_hidden_dir = _jsonl(hidden_dir / "x.jsonl", _records(1))
    _settle(hidden, other, in_hidden_dir)
    assert spool.run_once() == []
    assert young.exists() and hidden.exists() and other.exists() and in_hidden_dir.exists()
    assert not (folder / "done").exists() and not (folder / "quarantine").exists()
    _settle(young)
    assert [r.path.name for r in spool.run_once()] == ["young.jsonl"]


def test_same_name_again_does_not_overwrite_done(
    spool: SpoolWatcher, store: Store, ingest: IngestService
) -> None:
    folder = _dir(spool)
    for batch in ("a", "b"):
        path = _jsonl(folder / "daily.jsonl", _records(2, batch))
        _settle(path)
        (result,) = spool.run_once()
        assert result.ok
    assert len(list((folder / "done").iterdir())) == 2
    assert len(_rows(store, ingest, "churn")) == 4


def test_full_write_queue_leaves_the_file_for_later(tmp_path: Path, store: Store) -> None:
    writer = Writer(store, max_queue=1)
    gate, started = threading.Event(), threading.Event()
    try:
        busy = IngestService(store, writer, ServerMetrics())
        busy.register("churn", {"task": "binary"})
        writer.submit(lambda con: (started.set(), gate.wait(timeout=30)))
        assert started.wait(timeout=30)
        filler = writer.submit(lambda con: None)  # the queue is now full
        (tmp_path / "spool" / "churn").mkdir(parents=True)
        watcher = SpoolWatcher(tmp_path / "spool", busy, settle_s=1.0)
        path = _jsonl(watcher.root / "churn" / "a.jsonl", _records(2))
        _settle(path)
        (result,) = watcher.run_once()
        assert not result.ok and "queue is full" in result.error
        assert path.exists() and not (path.parent / "quarantine").exists()
        gate.set()
        filler.result(timeout=30)
        (result,) = watcher.run_once()
        assert result.ok and result.accepted == 2
    finally:
        gate.set()
        writer.stop()
