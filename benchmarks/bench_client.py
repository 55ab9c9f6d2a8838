"""Caller-side cost of Monitor.log_prediction, next to prometheus_client's Histogram.observe.

Each call is timed with perf_counter_ns on the calling thread while the SDK's sender
thread ships batches to a receiver in another process (as a real server would be), so
the numbers include the sender's competition for the GIL. Run from the repository root:
``.venv/bin/python -m benchmarks.bench_client``.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

from collectors.client import Monitor

_BURST = 50

# Accepts everything without parsing it: the benchmark measures the client, not a server.
_RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one write per response: no Nagle/delayed-ACK stall
    def _accept(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"accepted":0,"duplicates":0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_PUT = do_POST = _accept
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max and mean of nanosecond samples, in microseconds."""
    ordered = sorted(samples_ns)
    n = len(ordered)
    pick = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p99.9": 0.999}
    result = {name: ordered[min(n - 1, int(q * n))] / 1000 for name, q in pick.items()}
    return result | {"max": ordered[-1] / 1000, "mean": sum(ordered) / n / 1000}


def _time_calls(call: Callable[[int], Any], n: int, rate: float | None = None) -> list[int]:
    """Time each of n calls of call(i) on this thread: back to back, or at rate calls/s.

    Paced calls come in bursts of 50 with a sleep between, like requests reaching a
    service; the sleeps leave the sender thread room to keep the buffer short.
    """
    for i in range(1000):
        call(i)
    timer = time.perf_counter_ns
    samples = [0] * n
    gap_ns = int(_BURST * 1e9 / rate) if rate else 0
    next_burst = timer()
    for first in range(0, n, _BURST):
        for i in range(first, min(n, first + _BURST)):
            start = timer()
            call(i)
            samples[i] = timer() - start
        if gap_ns:
            next_burst += gap_ns
            pause_ns = next_burst - timer()
            if pause_ns > 0:
                time.sleep(pause_ns / 1e9)
    return samples


def _timer_overhead(n: int) -> dict[str, float]:
    """What two perf_counter_ns calls cost alone: the floor of every number here."""
    return _percentiles(_time_calls(lambda i: None, n))


def bench_log_prediction(n: int = 200_000, rate: float = 50_000) -> dict[str, Any]:
    """Per-call microseconds of log_prediction (20 numeric features) and Histogram.observe.

    Two runs of n calls each: back to back ("burst": the buffer grows to n records, so the
    numbers include the memory growth), and paced at rate calls/s ("paced": the sender keeps
    up and memory is reused, the steady state of a busy service).
    """
    receiver = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{int(receiver.stdout.readline())}"
        results = {"burst": _measure(url, n, None), "paced": _measure(url, n, rate)}
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    return {"n": n, "rate": rate, "timer_overhead_us": _timer_overhead(n)} | results


def _measure(url: str, n: int, rate: float | None) -> dict[str, Any]:
    """Both calls timed the same way against a running receiver, plus delivery stats."""
    features = {f"f{i}": i * 0.37 for i in range(20)}
    histogram = Histogram("bench_latency_seconds", "bench", registry=CollectorRegistry())
    gc.collect()
    observe = _percentiles(_time_calls(lambda i: histogram.observe(i * 1e-6), n, rate))
    # max_buffer above n so every call takes the enqueue path, not the cheaper drop path
    monitor = Monitor(url, "bench-token", "bench", max_buffer=2 * n)
    try:
        gc.collect()
        started = time.perf_counter()
        log = _percentiles(
            _time_calls(lambda i: monitor.log_prediction(features, i & 1, score=0.7), n, rate)
        )
        delivered = monitor.flush(timeout=120)
        elapsed_s = time.perf_counter() - started
        stats = monitor.stats
    finally:
        monitor.close(timeout=10)
    return {
        "log_prediction_us": log,
        "histogram_observe_us": observe,
        "delivered": delivered,
        "sent": stats["sent"],
        "dropped": stats["dropped"],
        "records_per_s": round(stats["sent"] / elapsed_s),
    }


def _print_table(result: dict[str, Any]) -> None:
    """A small table: one row per measured call and run, one column per percentile."""
    columns = ("p50", "p90", "p99", "p99.9", "max", "mean")
    print(f"{'us per call, n=' + str(result['n']):44}" + "".join(f"{c:>10}" for c in columns))
    rows = [("perf_counter_ns pair (timer floor)", result["timer_overhead_us"])]
    for run in ("burst", "paced"):
        what = "back to back" if run == "burst" else f"{result['rate']:.0f}/s"
        rows.append((f"log_prediction, 20 features, {what}", result[run]["log_prediction_us"]))
        rows.append((f"Histogram.observe, {what}", result[run]["histogram_observe_us"]))
    for name, values in rows:
        print(f"{name:44}" + "".join(f"{values[c]:>10.2f}" for c in columns))
    for run in ("burst", "paced"):
        r = result[run]
        print(
            f"{run}: sent {r['sent']}, dropped {r['dropped']}, all delivered: {r['delivered']}, "
            f"{r['records_per_s']} records/s from first call to flush() returning"
        )


if __name__ == "__main__":
    _print_table(bench_log_prediction())
