"""The spool directory: batch files of prediction or label records dropped per model.

`<spool>/<model>/*.parquet|*.csv|*.jsonl` are ingested through the same path as HTTP and
moved to `done/`; a file that cannot be ingested moves to `quarantine/` with a
`.error.txt` that says why. A file is moved only after its records are committed, and a
re-run of a committed file only finds duplicates, so a crash at any point loses nothing
and stores nothing twice.

`<spool>/<model>/reference/<file>` (Parquet, CSV, JSON lines, JSON, Arrow) becomes the
model's reference data, for every version or, when the file is named
`version=<v>.<suffix>` or `version=<v>__<anything>.<suffix>`, for that version.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from collectors.arrow_batch import arrow_records
from collectors.ingest import IngestService
from collectors.records import RECORD_FIELDS, RecordsInvalid
from collectors.reference_input import FILE_SUFFIXES, ReferenceInvalid
from storage import StorageError, WriteQueueFullError

log = logging.getLogger(__name__)
SUFFIXES = {".parquet", ".csv", ".jsonl", ".ndjson"}
CHUNK = 50_000
SETTLE_S = 1.0  # a file must be this old to be read, so half-copied files are left alone
REFERENCE_DIR = "reference"
# Stores one reference file (model, path, version) and returns how many rows it held.
ReferenceSink = Callable[[str, Path, str | None], int]


@dataclass(frozen=True)
class SpoolResult:
    path: Path
    ok: bool
    kind: str
    accepted: int = 0
    duplicates: int = 0
    error: str = ""


class SpoolError(ValueError):
    """A spool file that cannot be read."""


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a spool file, by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = pq.read_table(path)
        if "label" in table.column_names and "prediction" not in table.column_names:
            return [_label_row(row) for row in table.to_pylist()]
        return arrow_records(table)
    if suffix == ".csv":
        # Ids and versions are text even when they look like numbers ("1", "007").
        text = {"event_id": str, "version": str}
        frame = pd.read_csv(path, dtype_backend="pyarrow", dtype=text)
        return [_csv_record(r) for r in frame.to_dict(orient="records")]
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SpoolError(f"line {number} is not valid JSON: {exc}") from None
    return records


def _label_row(row: dict[str, Any]) -> dict[str, Any]:
    """A label row from Parquet: timestamps as ISO text, as the JSON path expects."""
    ts = row.get("timestamp")
    if hasattr(ts, "isoformat"):
        row["timestamp"] = ts.isoformat()
    return row


def _csv_record(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row: known fields by name, `tags`/`probabilities` as JSON, the rest features."""
    row = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    rec = {k: row.pop(k) for k in list(row) if k in _FIELDS}
    for key in ("tags", "probabilities"):
        if isinstance(rec.get(key), str):
            rec[key] = json.loads(rec[key])
    if isinstance(rec.get("version"), int | float):
        rec["version"] = str(rec["version"])
    rec["features"] = row
    return rec


_FIELDS = RECORD_FIELDS | {"label"}


def _kind(records: list[dict[str, Any]]) -> str:
    first = records[0] if records and isinstance(records[0], dict) else {}
    return "labels" if "label" in first and "prediction" not in first else "predictions"


class SpoolWatcher:
    """Scans the spool directory and ingests settled files, one at a time."""

    def __init__(
        self,
        root: Path,
        ingest: IngestService,
        settle_s: float = SETTLE_S,
        references: ReferenceSink | None = None,
    ) -> None:
        self.root = root
        self.ingest = ingest
        self.settle_s = settle_s
        self.references = references
        root.mkdir(parents=True, exist_ok=True)

    def _settled(self, path: Path, suffixes: Any, now: float) -> bool:
        return (
            path.is_file()
            and path.suffix.lower() in suffixes
            and not path.name.startswith(".")
            and now - path.stat().st_mtime >= self.settle_s
        )

    def pending_references(self) -> list[tuple[str, Path]]:
        """(model, file) pairs of settled reference files, oldest first."""
        now = time.time()
        found = []
        for model_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            folder = model_dir / REFERENCE_DIR
            if folder.is_dir():
                found += [
                    (model_dir.name, path)
                    for path in folder.iterdir()
                    if self._settled(path, FILE_SUFFIXES, now)
                ]
        return sorted(found, key=lambda item: item[1].stat().st_mtime)

    def pending(self) -> list[tuple[str, Path]]:
        """(model, file) pairs ready to ingest, oldest first."""
        now = time.time()
        found = []
        model_dirs = (p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for model_dir in sorted(model_dirs):
            for path in model_dir.iterdir():
                if self._settled(path, SUFFIXES, now):
                    found.append((model_dir.name, path))
        return sorted(found, key=lambda item: item[1].stat().st_mtime)

    def run_once(self) -> list[SpoolResult]:
        """Ingest every settled file; return what happened to each."""
        results = [self.ingest_file(model, path) for model, path in self.pending()]
        if self.references is not None:
            results += [self.reference_file(m, p) for m, p in self.pending_references()]
        return results

    def reference_file(self, model: str, path: Path) -> SpoolResult:
        """Store one reference file and move it to reference/done (or quarantine)."""
        assert self.references is not None
        version = reference_version(path)
        try:
            rows = self.references(model, path, version)
        except WriteQueueFullError as exc:
            return SpoolResult(path, False, "reference", error=str(exc))
        except (ReferenceInvalid, SpoolError, StorageError, ValueError, OSError) as exc:
            return self._quarantine(model, path, "reference", str(exc))
        self._move(path, "done")
        log.info("spool: %s reference %s stored: %d rows", model, path.name, rows)
        return SpoolResult(path, True, "reference", rows)

    def ingest_file(self, model: str, path: Path) -> SpoolResult:
        kind = "predictions"
        try:
            records = read_records(path)
            if not records:
                raise SpoolError("the file holds no records")
            kind = _kind(records)
            accepted = duplicates = 0
            for start in range(0, len(records), CHUNK):
                chunk = records[start : start + CHUNK]
                if kind == "labels":
                    accepted += self.ingest.labels(model, chunk).accepted
                else:
                    result = self.ingest.predictions(model, chunk)
                    accepted += result.accepted
                    duplicates += result.duplicates
        except WriteQueueFullError as exc:
            # Busy, not broken: leave the file for the next scan (what was stored is kept).
            log.info("spool: %s/%s deferred: %s", model, path.name, exc)
            return SpoolResult(path, False, kind, error=str(exc))
        except RecordsInvalid as exc:
            details = "\n".join(
                f"record {e.index}: {e.field}: {e.reason}" for e in exc.errors[:100]
            )
            return self._quarantine(model, path, kind, f"{exc}\n{details}")
        except (SpoolError, StorageError, ValueError, OSError) as exc:
            return self._quarantine(model, path, kind, str(exc))
        self._move(path, "done")
        log.info(
            "spool: %s/%s: %d %s stored, %d duplicates",
            model,
            path.name,
            accepted,
            kind,
            duplicates,
        )
        return SpoolResult(path, True, kind, accepted, duplicates)

    def _quarantine(self, model: str, path: Path, kind: str, reason: str) -> SpoolResult:
        target = self._move(path, "quarantine")
        target.with_name(target.name + ".error.txt").write_text(
            f"{path.name} (model {model}) was not ingested: {reason}\n"
            "Fix the file and drop it into the model's spool folder again.\n",
            encoding="utf-8",
        )
        log.warning("spool: %s/%s quarantined: %s", model, path.name, reason.splitlines()[0])
        return SpoolResult(path, False, kind, error=reason)

    def _move(self, path: Path, folder: str) -> Path:
        target_dir = path.parent / folder
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            target = target_dir / f"{path.stem}.{stamp}{path.suffix}"
        shutil.move(str(path), target)
        return target


def reference_version(path: Path) -> str | None:
    """The version a reference file is for: `version=<v>` at the start of its name, or None."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if not stem.startswith("version="):
        return None
    version = stem[len("version=") :].split("__", 1)[0]
    return version or None
