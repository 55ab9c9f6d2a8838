"""The drift job's cost per window, end to end on a real DuckDB file: read the window from
the predictions table, test 20 numeric features, the prediction and the multivariate
classifier, check quality, store the results.

Volume: 10M predictions a month is ~14k an hour; the reference holds 100k rows. The
baseline in the same run is Evidently's DataDriftPreset on one of the same hourly windows
(features only, so it does less than the job).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from monitoring.drift.evidently_report import evidently_drift
from storage import Store, Writer
from storage.drift_store import window_frame
from storage.predictions import insert_predictions

COLUMNS = 20
PER_HOUR = 14_000
HOURS = 12
REFERENCE_ROWS = 100_000
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _batch(rng: np.random.Generator, hour: int) -> pa.Table:
    n = PER_HOUR
    start_us = int((T0 + timedelta(hours=hour)).timestamp() * 1_000_000)
    ts = start_us + np.sort(rng.integers(0, 3_600_000_000, n))
    columns: dict[str, Any] = {
        "event_id": [f"h{hour}-{i}" for i in range(n)],
        "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", "UTC")),
        "version": ["1"] * n,
        "prediction": rng.choice(["0", "1"], n),
        "score": rng.random(n),
        "probabilities": pa.nulls(n, pa.map_(pa.string(), pa.float64())),
        "latency_ms": rng.uniform(5, 50, n),
        "tags": pa.nulls(n, pa.map_(pa.string(), pa.string())),
    }
    shift = 0.05 * (hour % 3)
    for i in range(COLUMNS):
        columns[f"f_x{i}"] = rng.normal(shift * (i % 2), 1, n)
    return pa.table(columns)


def _setup(folder: Path) -> tuple[Store, Writer, DriftService]:
    store = Store(folder / "bench.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    features = {f"x{i}": "numeric" for i in range(COLUMNS)}
    ingest.register("bench", {"task": "binary", "features": features})
    model = ingest.model("bench")
    rng = np.random.default_rng(0)
    for hour in range(HOURS + 1):
        table = _batch(rng, hour)
        writer.run(lambda con, t=table: insert_predictions(con, model, t))
    service = DriftService(ingest, Settings(db=folder / "bench.duckdb"))
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1, REFERENCE_ROWS) for i in range(COLUMNS)})
    reference["prediction"] = rng.choice([0, 1], REFERENCE_ROWS)
    service.upload_reference("bench", reference, None, "bench reference")
    return store, writer, service


def bench_drift_job() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store, writer, service = _setup(Path(folder))
        try:
            job = DriftJob(service, granularities=("1h",), budget_s=3600)
            now = T0 + timedelta(hours=HOURS, minutes=30)
            pending = job.pending(now)
            times = []
            for window in pending:
                started = time.perf_counter()
                job.compute(window)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pending_again = job.pending(now)
            check_s = time.perf_counter() - started
            model = service.ingest.model("bench")
            con = store.cursor()
            current = window_frame(con, model, T0, T0 + timedelta(hours=1))
            reference = service.reference_data(con, model, service.reference(con, model, None))
            features = [f"x{i}" for i in range(COLUMNS)]
            started = time.perf_counter()
            evidently_drift(reference[features], current[features])
            evidently_s = time.perf_counter() - started
        finally:
            writer.stop()
            store.close()
    per_window = statistics.median(times)
    return {
        "windows": len(times),
        "rows_per_window": PER_HOUR,
        "reference_rows": REFERENCE_ROWS,
        "columns": COLUMNS,
        "per_window_s": per_window,
        "per_window_max_s": max(times),
        "nothing_new_check_s": check_s,
        "left_after_run": len(pending_again),
        "evidently_one_window_s": evidently_s,
        "ratio_to_evidently": evidently_s / per_window,
    }


def summary_row(result: dict[str, Any]) -> tuple[str, str, str, str, bool]:
    """(benchmark, measured, baseline, target, ok): reported, no target in the issue."""
    return (
        f"drift job, 1h window of {result['rows_per_window']:,} rows x {result['columns']} "
        f"features vs {result['reference_rows']:,} reference rows",
        f"{result['per_window_s']:.2f} s per window (max {result['per_window_max_s']:.2f} s; "
        f"{result['ratio_to_evidently']:.0f}x faster); idle check "
        f"{result['nothing_new_check_s'] * 1000:.0f} ms",
        f"Evidently on one window, features only {result['evidently_one_window_s']:.1f} s",
        "-",
        result["left_after_run"] == 0,
    )


def main() -> int:
    print(summary_row(bench_drift_job()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
