"""CPU cost of one real ``SystemSampler.sample()`` (psutil host source, NVML GPU source).

Run from the repository root: ``python -m benchmarks.bench_sampler [--n 200]``.
The target is below 1% of one core at Vigil's 5 s sampling interval.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from collectors.system import default_sampler

__all__ = ["bench_sampler"]

INTERVAL_S = 5.0


def bench_sampler(n: int = 200, data_dir: str | Path = ".") -> dict[str, float]:
    """Time ``n`` samples; CPU is this thread's CPU time, so other threads don't count."""
    if n < 1:
        raise ValueError(f"bench_sampler n must be >= 1, got {n}")
    sampler = default_sampler(data_dir)
    sampler.sample()  # first sample starts NVML and sets the counter baselines
    cpu_ns: list[int] = []
    wall_ns: list[int] = []
    process_start = time.process_time()
    for _ in range(n):
        cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
        sample = sampler.sample()
        cpu_ns.append(time.thread_time_ns() - cpu0)
        wall_ns.append(time.perf_counter_ns() - wall0)
    process_cpu_s = time.process_time() - process_start
    mean_cpu_s = statistics.fmean(cpu_ns) / 1e9
    return {
        "n": float(n),
        "gpus": float(len(sample.gpus)),
        "cpu_us_mean": mean_cpu_s * 1e6,
        "cpu_us_median": statistics.median(cpu_ns) / 1e3,
        "cpu_us_p95": _percentile(cpu_ns, 0.95) / 1e3,
        "wall_us_median": statistics.median(wall_ns) / 1e3,
        "process_cpu_us_per_sample": process_cpu_s / n * 1e6,
        "core_percent_at_5s": mean_cpu_s / INTERVAL_S * 100.0,
    }


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def main() -> None:
    """Print the benchmark as a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="samples to time (default 200)")
    parser.add_argument("--data-dir", default=".", help="directory whose disk usage is read")
    args = parser.parse_args()
    result = bench_sampler(args.n, args.data_dir)
    width = max(len(key) for key in result)
    print(f"{'metric':<{width}}  value")
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,.3f}")
    verdict = "meets" if result["core_percent_at_5s"] < 1.0 else "MISSES"
    print(f"\n{verdict} the < 1% of a core target at a {INTERVAL_S:g} s interval")


if __name__ == "__main__":
    main()
