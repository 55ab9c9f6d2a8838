"""Explanations per second for the demo model (gradient boosting, 10 features, one-hot
pipeline), stored end to end: read the unexplained predictions from DuckDB, explain them
with Vigil's explainer (TreeExplainer on the pipeline's final step, attributions summed
back onto the input features), write them. The baseline in the same run is raw
`shap.TreeExplainer` on the same rows, already encoded: target >= 50% of its rate.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import shap

from collectors.drift_service import DriftService
from collectors.explain_job import ExplainJob
from collectors.explain_service import ExplainService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from sample_data import FEATURES, MODEL_NAME, build_history, load_or_train_model, model_registration
from storage import Store, Writer
from storage.explanations import prediction_rows

ROWS = 5_000
TARGET_SHARE = 0.5


def _raw_rate(model: Any, frame: Any) -> float:
    encode, booster = model.named_steps["encode"], model.named_steps["model"]
    explainer = shap.TreeExplainer(booster)
    started = time.perf_counter()
    explainer(encode.transform(frame[list(FEATURES)]))
    return len(frame) / (time.perf_counter() - started)


def bench_explain(rows: int = ROWS) -> dict[str, Any]:
    model = load_or_train_model()
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    history = build_history()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.duckdb")
        writer = Writer(store)
        try:
            ingest = IngestService(store, writer, ServerMetrics())
            ingest.register(MODEL_NAME, model_registration())
            ingest.predictions(MODEL_NAME, history.predictions)
            settings = replace(
                Settings(db=Path(folder) / "bench.duckdb"),
                explain_rate=1.0,
                explain_cap=rows,
                explain_lookback_days=3650,
            )
            drift = DriftService(ingest, settings)
            service = ExplainService(ingest, settings, drift)
            for version in ("1", "2"):
                service.register_artifact(MODEL_NAME, version, buffer.getvalue())
            job = ExplainJob(service)
            started = time.perf_counter()
            explained = job.run_once()
            ours_s = time.perf_counter() - started
            ids = [str(r["event_id"]) for r in history.predictions[-rows:]]
            frame = prediction_rows(store.cursor(), ingest.model(MODEL_NAME), ids)
        finally:
            writer.stop()
            store.close()
    raw = statistics.median(_raw_rate(model, frame) for _ in range(3))
    ours = explained / ours_s
    return {
        "rows": explained,
        "ours_rows_per_s": ours,
        "raw_tree_explainer_rows_per_s": raw,
        "share_of_raw": ours / raw,
    }


def summary_row(result: dict[str, Any]) -> tuple[str, str, str, str, bool]:
    """(benchmark, measured, baseline, target, ok)."""
    return (
        f"explanations stored end to end, demo model, {result['rows']:,} predictions",
        f"{result['ours_rows_per_s']:,.0f} rows/s ({result['share_of_raw']:.0%} of raw)",
        f"raw TreeExplainer {result['raw_tree_explainer_rows_per_s']:,.0f} rows/s",
        f">= {TARGET_SHARE:.0%} of raw",
        result["share_of_raw"] >= TARGET_SHARE,
    )


def main() -> int:
    print(summary_row(bench_explain(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
