"""The Performance and Latency & traffic pages' data on 10M predictions, next to one
hand-written DuckDB query of the same per-day aggregate.

Generates `n` predictions over 30 days for one binary model with 20 features (18 numeric,
2 categorical), a score, a latency and a channel tag, and labels for 80% of them, straight
into a DuckDB file created by the real Store and model registration. The rows are made by
DuckDB itself (`range()` and `hash()` of the row number, so every run writes the same
data): going through the API would take minutes and measure ingestion, not the queries.

Timed (medians of three; the first group after one untimed call each, interleaved):
- the Performance page's data as dashboard/perf_data computes it (1d windows over the 30
  days: every binary metric per window, KPI tiles, confusion matrix, calibration, worst
  segments by accuracy): on a first load (empty cache), when nothing changed since the
  last load, and -- the target -- after new rows landed between loads: 10k predictions in
  the newest day and labels for 5k predictions of the two days before, written through
  storage's insert paths, untimed, before each load;
- the Latency & traffic page's data (per-day volume and latency, range totals, histogram);
- the Overview's data for the model (KPIs, hourly volume and latency, daily accuracy);
- the baseline: one hand-written query per day of count, labelled count, latency
  p50/p90/p95/p99 and max, and accuracy; and, for information, the same query joining
  the labels table (how Vigil read labels before they were copied onto predictions),
  metric_rows without a cache, overall_metrics (the API's whole-range metrics) and the
  page's version comparison (versions 1 and 2: 6.7M and 3.3M rows, bootstrap CIs).
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

import duckdb

from collectors.performance import metric_rows, overall_metrics
from collectors.performance_view import compare, performance_view
from collectors.records import label_batch, prediction_batch
from collectors.window_parts import PartCache
from storage import ModelInfo, Store
from storage.models import register_model
from storage.performance import latency_histogram, range_summary, window_summary
from storage.predictions import insert_labels, insert_predictions
from storage.queries import accuracy_series, model_kpis, model_summaries, traffic_series

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


def hand_query(table: str, bucket: str) -> str:
    """The Performance page's per-day aggregate as one plain query (the baseline)."""
    return (
        f"SELECT {bucket} AS day, count(*), count(p.label_ts), "
        "quantile_cont(p.latency_ms, [0.5, 0.9, 0.95, 0.99]), max(p.latency_ms), "
        "avg(CASE WHEN p.label_ts IS NULL THEN NULL "
        "WHEN p.prediction = p.label THEN 1.0 ELSE 0.0 END) "
        f"FROM {table} p WHERE p.ts >= ? AND p.ts < ? GROUP BY day ORDER BY day"
    )


def joined_hand_query(table: str, model_id: int, bucket: str) -> str:
    """The same aggregate joining the labels table, as Vigil did before labels were copied
    onto their predictions (for information)."""
    return (
        f"SELECT {bucket} AS day, count(*), count(l.event_id), "
        "quantile_cont(p.latency_ms, [0.5, 0.9, 0.95, 0.99]), max(p.latency_ms), "
        "avg(CASE WHEN l.event_id IS NULL THEN NULL "
        "WHEN p.prediction = l.label THEN 1.0 ELSE 0.0 END) "
        f"FROM {table} p LEFT JOIN labels l ON l.model_id = {model_id} "
        "AND l.event_id = p.event_id WHERE p.ts >= ? AND p.ts < ? GROUP BY day ORDER BY day"
    )


def performance_page(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, cache: PartCache
) -> dict[str, Any]:
    """Everything the Performance page computes on load, as dashboard/perf_data calls it: one
    view (metric rows, KPI tiles, confusion, calibration, worst segments by accuracy)."""
    return {
        "view": performance_view(con, model, START, END, "1d", cache=cache, worst_metric="accuracy")
    }


def overview_page(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> dict[str, Any]:
    """What the Overview computes for the model over 30 days (dashboard/data): the model list,
    KPI tiles, volume and latency per hour and version, accuracy per day and version."""
    return {
        "models": model_summaries(con),
        "kpis": model_kpis(con, model, START, END),
        "traffic": traffic_series(con, model, START, END, "1h"),
        "accuracy": accuracy_series(con, model, START, END, "1d", by_version=True),
    }


def latency_page(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> dict[str, Any]:
    """Everything the Latency & traffic page computes on load (dashboard/perf_data)."""
    return {
        "windows": window_summary(con, model, START, END, "1d", labels=False),
        "totals": range_summary(con, model, START, END, labels=False),
        "histogram": latency_histogram(con, model, START, END),
    }


class LiveTraffic:
    """New rows between page loads: 10k predictions in the newest day and labels for 5k
    predictions of the two days before, written through storage's real insert paths."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: ModelInfo, n: int) -> None:
        self.con, self.model, self.n, self.round = con, model, n, 0
        self.label_seconds: list[float] = []

    def __call__(self) -> None:
        self.round += 1
        base = END - timedelta(hours=20)
        records = [
            {
                "event_id": f"live-{self.round}-{i}",
                "timestamp": (base + timedelta(seconds=i)).isoformat(),
                "prediction": i % 2,
                "score": (i % 100) / 100,
                "latency_ms": 5.0 + i % 50,
                "features": {"region": "north", "channel": "web"},
            }
            for i in range(10_000)
        ]
        batch = prediction_batch(records, self.model).table
        first = int(self.n * (DAYS - 2) / DAYS) + self.round * 5_000
        labels = [
            {"event_id": f"{ID_PREFIX}{first + i}", "label": (i + self.round) % 2}
            for i in range(5_000)
        ]
        label_table = label_batch(labels, self.model)
        self.con.execute("BEGIN")
        insert_predictions(self.con, self.model, batch)
        started = time.perf_counter()
        insert_labels(self.con, self.model, label_table)
        self.con.execute("COMMIT")
        self.label_seconds.append(time.perf_counter() - started)


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


def timed_after(prepare: Callable[[], object], fn: Callable[[], object], rounds: int = 3) -> float:
    """Median seconds of fn over rounds, each after an untimed prepare()."""
    times = []
    for _ in range(rounds):
        prepare()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


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
            cache = PartCache()
            timings = {
                "performance_page_cold_s": lambda: performance_page(con, model, PartCache()),
                "performance_page_reused_s": lambda: performance_page(con, model, cache),
                "latency_page_s": lambda: latency_page(con, model),
                "overview_page_s": lambda: overview_page(con, model),
                "metric_rows_cold_s": lambda: metric_rows(con, model, START, END, "1d"),
                "hand_query_s": lambda: con.execute(
                    hand_query(model.table, epoch_day), [START, END]
                ).fetchall(),
                "joined_hand_query_s": lambda: con.execute(
                    joined_hand_query(model.table, model.id, epoch_day), [START, END]
                ).fetchall(),
                "overall_metrics_s": lambda: overall_metrics(con, model, START, END),
                "comparison_s": lambda: compare(con, model, START, END, "1", "2", cache=cache),
            }
            result: dict[str, Any] = {"n": n, "labels": labels, "generate_s": generate_s}
            result |= warm_medians(timings)
            live = LiveTraffic(con, model, n)
            misses = cache.misses
            result["performance_page_live_s"] = timed_after(
                live, lambda: performance_page(con, model, cache)
            )
            # Parts recomputed per live load (metric rows, KPIs and worst segments share them).
            result["live_parts_recomputed"] = (cache.misses - misses) / 3
            # Labels are copied onto their predictions' rows: the write side of that choice.
            result["label_batch_5k_s"] = statistics.median(live.label_seconds)
    hand = result["hand_query_s"]
    for key in (
        "performance_page_live_s",
        "performance_page_cold_s",
        "latency_page_s",
        "overview_page_s",
    ):
        result[f"ratio_{key[:-2]}_to_hand"] = result[key] / hand
    return result


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, measured, baseline, target, verdict) rows."""
    hand = f"hand-written query {result['hand_query_s']:.2f} s"
    rows = []
    for name, key in [
        ("Performance page, new rows since last load", "performance_page_live_s"),
        ("Latency & traffic page", "latency_page_s"),
        ("Overview page (30 days)", "overview_page_s"),
    ]:
        ratio = result[f"ratio_{key[:-2]}_to_hand"]
        ok = result[key] <= TARGET_S and ratio <= TARGET_RATIO
        rows.append(
            (
                name,
                f"{result[key]:.2f} s",
                f"{hand} (ratio {ratio:.2f})",
                f"<= {TARGET_S:.0f} s and <= {TARGET_RATIO:.0f}x",
                "met" if ok else "MISSED",
            )
        )
    cold = result["ratio_performance_page_cold_to_hand"]
    for name, key, baseline in [
        ("Performance page, first load", "performance_page_cold_s", f"{hand} (ratio {cold:.2f})"),
        ("Performance page, nothing new", "performance_page_reused_s", hand),
        ("metric_rows without a cache", "metric_rows_cold_s", hand),
        ("overall_metrics (API, no cache)", "overall_metrics_s", hand),
        ("version comparison, 1 vs 2 (bootstrap)", "comparison_s", hand),
        ("hand query joining labels", "joined_hand_query_s", "-"),
        ("insert_labels, 5k labels of one day", "label_batch_5k_s", "-"),
    ]:
        rows.append((name, f"{result[key]:.2f} s", baseline, "-", ""))
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
