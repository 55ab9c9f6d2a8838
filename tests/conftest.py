"""Shared fixtures: a real DuckDB store in tmp_path, its writer and the ingest service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from storage import Store, Writer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh migrated store, closed after the test."""
    db = Store(tmp_path / "v.duckdb")
    yield db
    db.close()


@pytest.fixture
def writer(store: Store) -> Iterator[Writer]:
    """The single writer on `store`, drained and stopped after the test."""
    w = Writer(store, max_queue=16)
    yield w
    w.stop()


@pytest.fixture
def ingest(store: Store, writer: Writer) -> IngestService:
    """The ingest service every input path goes through."""
    return IngestService(store, writer, ServerMetrics())
