"""`make bench`: every benchmark with its target and baseline; JSON under benchmarks/results/.

Speed targets live here, never in the tests. Each number is measured next to its named
baseline in the same run, so the ratios hold on any machine even when the absolutes move.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_client import bench_log_prediction
from benchmarks.bench_drift import bench_drift
from benchmarks.bench_drift import summary_row as drift_row
from benchmarks.bench_drift_job import bench_drift_job
from benchmarks.bench_drift_job import summary_row as drift_job_row
from benchmarks.bench_explain import bench_explain
from benchmarks.bench_explain import summary_row as explain_row
from benchmarks.bench_ingest import bench_ingest
from benchmarks.bench_performance import bench_performance
from benchmarks.bench_performance import summary_rows as performance_rows
from benchmarks.bench_sampler import bench_sampler

RESULTS = Path(__file__).with_name("results")


def _row(name: str, value: str, baseline: str, target: str, ok: bool) -> tuple[str, ...]:
    return (name, value, baseline, target, "met" if ok else "MISSED")


def summarize(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per target: what we measured, the baseline, the target and the verdict."""
    client = results["log_prediction"]["paced"]
    burst = results["log_prediction"]["burst"]
    ingest = results["ingest"]
    sampler = results["sampler"]
    performance = [tuple(row) for row in performance_rows(results["performance"])]
    drift_name, drift_value, drift_base, drift_target, drift_ok = drift_row(results["drift"])
    return [
        *performance,
        _row(drift_name, drift_value, drift_base, drift_target, drift_ok),
        _row(*drift_job_row(results["drift_job"])),
        _row(*explain_row(results["explain"])),
        _row(
            "log_prediction p99 (paced 50k/s)",
            f"{client['log_prediction_us']['p99']:.2f} µs",
            f"Histogram.observe {client['histogram_observe_us']['p99']:.2f} µs",
            "<= 5 µs",
            client["log_prediction_us"]["p99"] <= 5,
        ),
        _row(
            "log_prediction p50 (back to back)",
            f"{burst['log_prediction_us']['p50']:.2f} µs",
            f"Histogram.observe {burst['histogram_observe_us']['p50']:.2f} µs",
            "-",
            True,
        ),
        _row(
            "ingest SDK -> HTTP -> DuckDB",
            f"{ingest['sdk_rows_per_s']:,.0f} rows/s",
            f"raw Arrow insert {ingest['raw_arrow_rows_per_s']:,.0f} rows/s "
            f"(ratio {ingest['ratio_sdk_to_raw']:.2f})",
            ">= 100,000 rows/s",
            ingest["sdk_rows_per_s"] >= 100_000,
        ),
        _row(
            "server idle RSS",
            f"{ingest['server_idle_rss_mb']:.0f} MB",
            "-",
            "<= 350 MB",
            ingest["server_idle_rss_mb"] <= 350,
        ),
        _row(
            "system sampler CPU at 5 s",
            f"{sampler['core_percent_at_5s']:.3f} % of a core",
            f"{sampler['cpu_us_mean']:.0f} µs per sample",
            "< 1 %",
            sampler["core_percent_at_5s"] < 1,
        ),
    ]


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("benchmark", "measured", "baseline (same run)", "target", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> int:
    started = time.perf_counter()
    results: dict[str, Any] = {}
    steps = [
        ("log_prediction", bench_log_prediction),
        ("sampler", bench_sampler),
        ("ingest", bench_ingest),
        ("performance", bench_performance),
        ("drift", bench_drift),
        ("drift_job", bench_drift_job),
        ("explain", bench_explain),
    ]
    for i, (name, bench) in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {name} ...", flush=True)
        t0 = time.perf_counter()
        results[name] = bench()
        print(f"      done in {time.perf_counter() - t0:.1f} s", flush=True)
    rows = summarize(results)
    print()
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "when": stamp,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "results": results,
        "summary": rows,
    }
    for path in (RESULTS / f"bench-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nresults: {RESULTS / 'latest.json'} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
