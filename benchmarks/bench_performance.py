"""Performance page data on 10M predictions, next to one hand-written DuckDB query.

Generates `n` predictions over 30 days for one binary model with 20 features (18 numeric,
2 categorical), a score, a latency and a channel tag, and labels for 80% of them, straight
into a DuckDB file created by the real Store and model registration. The rows are made by
DuckDB itself (`range()` and `hash()` of the row number, so every run writes the same
data): going through the API would take minutes and measure ingestion, not the queries.

Then, warm (after one untimed call each), the median of three interleaved runs of:
- `metric_rows` for the 30 days with window 1d: everything the Performance page charts per
  window (volume, label coverage and delay, latency quantiles, throughput, all ten binary
  metrics including ROC AUC and PR AUC);
- `window_summary` alone, with the label join (coverage and delays) and without it
  (`labels=False`: volume, latency and throughput, the Latency & traffic page's aggregate);
- one hand-written DuckDB query: per day count, labelled count, latency p50/p90/p95/p99 and
  max, and accuracy. It buckets with integer arithmetic on epoch_us, as the store does; the
  `time_bucket` spelling of the same query is timed too (it is much slower on 10M rows).
`overall_metrics` (KPI tiles) and `worst_segments` by accuracy are timed for information.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.performance import metric_rows, overall_metrics, worst_segments
from storage import ModelInfo, Store
from storage.models import register_model
from storage.performance import window_summary

DAYS = 30
START = datetime(2026, 10, 26, tzinfo=UTC)
END = START + timedelta(days=DAYS)
N_NUMERIC = 18
ID_PREFIX = "5f3a9c2e7b1d4086-"  # SDK-style event ids (random hex prefix, then a sequence)
TARGET_S = 1.0
TARGET_RATIO = 3.0


def _uniform(salt: int) -> str:
    """A deterministic uniform [0, 1) number per row number i."""
    return f"((hash(i, {salt}) % 1000000) / 1000000.0)"


def generate(path: Path, n: int) -> ModelInfo:
    """Write n predictions (and labels for 80%) into a fresh Vigil database at path."""
    features = {f"x{j}": "numeric" for j in range(N_NUMERIC)}
    features |= {"region": "categorical", "channel": "categorical"}
    with Store(path) as store:
        con = store.cursor()
        model = register_model(con, "bench", "binary", 1, features)
        step_us = DAYS * 86400 * 1_000_000 / n
        ts = f"TIMESTAMPTZ '{START.isoformat()}' + to_microseconds((i * {step_us})::BIGINT)"
        numeric = ", ".join(f"{_uniform(10 + j)} * 100" for j in range(N_NUMERIC))
        channel = "CASE WHEN i % 2 = 0 THEN 'web' ELSE 'app' END"
        # Labels follow the score (so accuracy ~0.75), 0-48 h after the prediction, for 80%.
        labelled = "hash(i, 6) % 10 < 8"
        label = f"CASE WHEN {_uniform(3)} < {_uniform(1)} THEN '1' ELSE '0' END"
        label_ts = f"{ts} + to_microseconds(({_uniform(4)} * 48 * 3600e6)::BIGINT)"
        con.execute(
            f"INSERT INTO {model.table} (event_id, ts, version, prediction, score, latency_ms, "
            "tags, received_at, label, label_ts, labelled_at, "
            + ", ".join(model.column(f) for f in features)
            + ") SELECT "
            f"'{ID_PREFIX}' || i, {ts}, CASE WHEN i % 3 = 0 THEN '2' ELSE '1' END, "
            f"CASE WHEN {_uniform(1)} > 0.5 THEN '1' ELSE '0' END, {_uniform(1)}, "
            f"5 + 200 * pow({_uniform(2)}, 3), MAP {{'channel': {channel}}}, now(), "
            f"CASE WHEN {labelled} THEN {label} END, CASE WHEN {labelled} THEN {label_ts} END, "
            f"CASE WHEN {labelled} THEN now() END, "
            f"{numeric}, ['north', 'south', 'east', 'west'][1 + (hash(i, 5) % 4)::INT], "
            f"{channel} FROM range({n}) t(i)"
        )
        # The labels table, as storage.predictions.insert_labels keeps it beside the copies.
        con.execute(
            f"INSERT INTO labels SELECT {model.id}, '{ID_PREFIX}' || i, {label}, NULL, "
            f"{label_ts}, now() FROM range({n}) t(i) WHERE {labelled}"
        )
    return model


def hand_query(table: str, model_id: int, bucket: str) -> str:
    """The same per-day aggregate as one plain query (the baseline)."""
    return (
        f"SELECT {bucket} AS day, count(*), count(l.event_id), "
        "quantile_cont(p.latency_ms, [0.5, 0.9, 0.95, 0.99]), max(p.latency_ms), "
        "avg(CASE WHEN l.event_id IS NULL THEN NULL "
        "WHEN p.prediction = l.label THEN 1.0 ELSE 0.0 END) "
        f"FROM {table} p LEFT JOIN labels l ON l.model_id = {model_id} "
        "AND l.event_id = p.event_id WHERE p.ts >= ? AND p.ts < ? GROUP BY day ORDER BY day"
    )


def warm_medians(calls: dict[str, Callable[[], object]], rounds: int = 3) -> dict[str, float]:
    """Median seconds of each call over `rounds`, after one untimed warm-up call each.

    The rounds interleave the calls, so that a burst of load from elsewhere on the machine
    slows one round of every call rather than every run of one call.
    """
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_performance(n: int = 10_000_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        model = generate(path, n)
        generate_s = time.perf_counter() - started
        with Store(path) as store:
            con = store.cursor()
            labels = con.execute("SELECT count(*) FROM labels").fetchall()[0][0]
            epoch_day = "(epoch_us(p.ts) // 86400000000)"
            by_day = "time_bucket(INTERVAL '1 day', p.ts)"
            timings = {
                "metric_rows_s": lambda: metric_rows(con, model, START, END, "1d"),
                "window_summary_s": lambda: window_summary(con, model, START, END, "1d"),
                "traffic_summary_s": lambda: window_summary(
                    con, model, START, END, "1d", labels=False
                ),
                "hand_query_s": lambda: con.execute(
                    hand_query(model.table, model.id, epoch_day), [START, END]
                ).fetchall(),
                "hand_query_time_bucket_s": lambda: con.execute(
                    hand_query(model.table, model.id, by_day), [START, END]
                ).fetchall(),
                "overall_metrics_s": lambda: overall_metrics(con, model, START, END),
                "worst_segments_s": lambda: worst_segments(con, model, START, END, "accuracy"),
            }
            result: dict[str, Any] = {"n": n, "labels": labels, "generate_s": generate_s}
            result |= warm_medians(timings)
    hand = result["hand_query_s"]
    result["ratio_metric_rows_to_hand"] = result["metric_rows_s"] / hand
    result["ratio_window_summary_to_hand"] = result["window_summary_s"] / hand
    result["ratio_traffic_summary_to_hand"] = result["traffic_summary_s"] / hand
    return result


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, measured, baseline, target, verdict) rows."""
    hand = f"hand-written query {result['hand_query_s']:.2f} s"
    rows = []
    for name, key, ratio in [
        ("metric_rows 30 d, 1d windows", "metric_rows_s", "ratio_metric_rows_to_hand"),
        ("window_summary 30 d, 1d", "window_summary_s", "ratio_window_summary_to_hand"),
        (
            "window_summary labels=False",
            "traffic_summary_s",
            "ratio_traffic_summary_to_hand",
        ),
    ]:
        ok = result[key] <= TARGET_S and result[ratio] <= TARGET_RATIO
        rows.append(
            (
                name,
                f"{result[key]:.2f} s",
                f"{hand} (ratio {result[ratio]:.2f})",
                f"<= {TARGET_S:.0f} s and <= {TARGET_RATIO:.0f}x",
                "met" if ok else "MISSED",
            )
        )
    for name, key in [
        ("overall_metrics 30 d", "overall_metrics_s"),
        ("worst_segments by accuracy", "worst_segments_s"),
        ("hand query with time_bucket", "hand_query_time_bucket_s"),
    ]:
        rows.append((name, f"{result[key]:.2f} s", hand, "-", ""))
    return rows


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    result = bench_performance(n)
    print(
        f"{result['n']:,} predictions, {result['labels']:,} labels, "
        f"generated in {result['generate_s']:.1f} s; warm medians of 3 runs:"
    )
    rows = summary_rows(result)
    header = ("benchmark", "measured", "baseline (same run)", "target", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
