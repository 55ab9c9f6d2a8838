"""Drift of 20 numeric features, 1M current rows against 1M reference rows, next to
Evidently's DataDriftPreset on the same data in the same run.

Our engine runs three times (median) after a warm-up; Evidently once (about two minutes
here). The decisions are compared column by column: the target is >= 50x faster with
identical decisions.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from monitoring.drift import dataset_drift
from monitoring.drift.evidently_report import evidently_drift

COLUMNS = 20
TARGET_SPEEDUP = 50.0


def frames(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current: every third feature shifted by 0.05 or 0.10 standard deviations."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({f"f{i}": rng.normal(0, 1, n) for i in range(COLUMNS)})
    current = pd.DataFrame({f"f{i}": rng.normal(0.05 * (i % 3), 1, n) for i in range(COLUMNS)})
    return reference, current


def bench_drift(n: int = 1_000_000) -> dict[str, Any]:
    reference, current = frames(n)
    dataset_drift(reference, current)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        ours = dataset_drift(reference, current)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    theirs, share = evidently_drift(reference, current)
    evidently_s = time.perf_counter() - started
    same = all(
        (c.method, c.drifted) == (theirs[c.column][0], theirs[c.column][2]) for c in ours.columns
    )
    ours_s = statistics.median(times)
    return {
        "n": n,
        "columns": COLUMNS,
        "ours_s": ours_s,
        "evidently_s": evidently_s,
        "speedup": evidently_s / ours_s,
        "identical_decisions": same and len(theirs) == len(ours.columns),
        "drift_share": ours.share,
        "evidently_drift_share": share,
    }


def summary_row(result: dict[str, Any]) -> tuple[str, str, str, str, bool]:
    """(benchmark, measured, baseline, target, ok)."""
    ok = result["speedup"] >= TARGET_SPEEDUP and result["identical_decisions"]
    decisions = "identical" if result["identical_decisions"] else "DIFFERENT"
    return (
        f"drift, {result['columns']} features x {result['n']:,} rows",
        f"{result['ours_s']:.2f} s ({result['speedup']:.0f}x faster, decisions {decisions})",
        f"Evidently DataDriftPreset {result['evidently_s']:.1f} s",
        f">= {TARGET_SPEEDUP:.0f}x, same decisions",
        ok,
    )


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    result = bench_drift(n)
    print(summary_row(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
