"""Tests for the client SDK against a real HTTP receiver on 127.0.0.1 (http_receiver)."""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors._client_transport import retry_after_s, retry_delay
from collectors.client import Monitor
from tests.collectors.http_receiver import Answer, Receiver, wait_for

TOKEN = "s3cret-token-value"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_monitor(receiver: Receiver) -> Iterator[Callable[..., Monitor]]:
    """Monitors on the receiver with fast retries and no age flush unless asked for."""
    monitors: list[Monitor] = []

    def make(**kwargs: Any) -> Monitor:
        options: dict[str, Any] = {"flush_interval": 60.0, "backoff_base": 0.01}
        # JSON on the wire: the scripted receiver reads records; Arrow has its own tests.
        options |= {"backoff_max": 0.05, "timeout": 5.0, "arrow": False}
        monitor = Monitor(kwargs.pop("url", receiver.url), TOKEN, "churn", **options | kwargs)
        monitors.append(monitor)
        return monitor

    yield make
    for monitor in monitors:
        monitor.close(timeout=1.0)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"] for r in records]


def test_registers_model_first_with_token(receiver: Receiver, make_monitor: Any) -> None:
    features = {"age": "numeric", "plan": "categorical"}
    monitor = make_monitor(positive_class=1, features=features)
    monitor.log_prediction({"age": 31, "plan": "pro"}, 1)
    assert monitor.flush(timeout=10)
    first, second = receiver.requests
    assert (first.method, first.path) == ("PUT", "/api/v1/models/churn")
    assert first.body == {"task": "binary", "positive_class": 1, "features": features}
    assert (second.method, second.path) == ("POST", "/api/v1/models/churn/predictions")
    assert {first.headers["Authorization"], second.headers["Authorization"]} == {f"Bearer {TOKEN}"}


def test_record_follows_the_contract(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor(version="7")
    features = {"age": 31.5, "plan": "pro", "missing": None}
    event_id = monitor.log_prediction(
        features,
        "yes",
        score=0.8,
        probabilities={"yes": 0.8, "no": 0.2},
        latency_ms=3.5,
        tags={"region": "eu"},
        timestamp=1_700_000_000.5,
    )
    features["age"] = 99  # the caller's later change must not leak into the record
    generated = monitor.log_prediction({"age": 1}, "no")
    monitor.log_label(event_id, "no", timestamp=1_700_000_100)
    assert monitor.flush(timeout=10)
    first, second = receiver.accepted("/predictions")
    assert first == {
        "event_id": event_id,
        "timestamp": 1_700_000_000.5,
        "prediction": "yes",
        "features": {"age": 31.5, "plan": "pro", "missing": None},
        "version": "7",
        "score": 0.8,
        "probabilities": {"yes": 0.8, "no": 0.2},
        "latency_ms": 3.5,
        "tags": {"region": "eu"},
    }
    assert second["event_id"] == generated != event_id
    assert isinstance(second["timestamp"], float) and abs(second["timestamp"] - time.time()) < 600
    assert set(second) == {"event_id", "timestamp", "features", "prediction", "version"}
    labels = receiver.accepted("/labels")
    assert labels == [{"event_id": event_id, "label": "no", "timestamp": 1_700_000_100}]


def test_generated_event_ids_are_unique_across_monitors(make_monitor: Any) -> None:
    first, second = make_monitor(), make_monitor()
    made = [m.log_prediction({"x": 1}, 0) for m in (first, second) for _ in range(1000)]
    assert len(set(made)) == 2000


def test_sends_a_batch_as_soon_as_it_is_full(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor(batch_size=10, connections=1)  # one connection keeps the order
    logged = [monitor.log_prediction({"i": i}, i % 2) for i in range(35)]
    wait_for(lambda: len(receiver.seen("/predictions")) == 3, "three full batches")
    assert [len(r.body["records"]) for r in receiver.seen("/predictions")] == [10, 10, 10]
    assert monitor.stats["buffered"] == 5  # the rest waits: flush_interval is 60 s
    assert monitor.close(timeout=10)
    assert ids(receiver.accepted("/predictions")) == logged


def test_sends_a_partial_batch_when_it_is_old_enough(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor(batch_size=1000, flush_interval=0.05)
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(3)]
    wait_for(lambda: monitor.stats["sent"] == 3, "the age-triggered send")
    assert ids(receiver.accepted("/predictions")) == logged


def test_flush_sends_predictions_before_labels(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor()
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(50)]
    for event_id in logged[:10]:
        monitor.log_label(event_id, 1)
    assert monitor.flush(timeout=10)
    assert ids(receiver.accepted("/predictions")) == logged
    assert ids(receiver.accepted("/labels")) == logged[:10]
    paths = [r.path.rsplit("/", 1)[1] for r in receiver.requests[1:]]
    assert paths == ["predictions", "labels"]
    assert monitor.stats == {"sent": 60, "dropped": 0, "failed": 0, "retries": 0, "buffered": 0}


def test_retries_5xx_without_loss_or_duplicates(receiver: Receiver, make_monitor: Any) -> None:
    receiver.script("/predictions", Answer(503, headers={"Retry-After": "0"}), Answer(500))
    monitor = make_monitor()
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(20)]
    assert monitor.flush(timeout=10)
    attempts = receiver.seen("/predictions")
    assert [r.status for r in attempts] == [503, 500, 200]
    assert attempts[0].body == attempts[2].body
    assert ids(receiver.accepted("/predictions")) == logged
    assert monitor.stats["retries"] == 2 and monitor.stats["sent"] == 20


def test_waits_for_a_server_that_is_not_up_yet(make_monitor: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monitor = make_monitor(url=f"http://127.0.0.1:{port}")
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(5)]
    assert not monitor.flush(timeout=0.2)  # connection refused: nothing can be delivered
    late = Receiver(port)
    try:
        assert monitor.flush(timeout=10)
        assert late.requests[0].method == "PUT"
        assert ids(late.accepted("/predictions")) == logged
        assert monitor.stats["retries"] >= 1
    finally:
        late.close()


def test_reopens_a_connection_the_server_closed(receiver: Receiver, make_monitor: Any) -> None:
    receiver.script("/predictions", Answer(close_after=True))  # keep-alive, then closed
    monitor = make_monitor(connections=1)  # one connection, so the same one goes stale
    first = monitor.log_prediction({"i": 1}, 0)
    assert monitor.flush(timeout=10)
    second = monitor.log_prediction({"i": 2}, 0)
    assert monitor.flush(timeout=10)
    assert monitor.stats["retries"] == 0  # a stale connection is reopened, not retried
    hang_up = Answer(hang_up=True)  # the first is taken for a stale connection, the next not
    receiver.script("/predictions", hang_up, hang_up)
    third = monitor.log_prediction({"i": 3}, 0)
    assert monitor.flush(timeout=10)
    assert monitor.stats["retries"] == 1
    assert ids(receiver.accepted("/predictions")) == [first, second, third]


def test_retry_after_is_honoured(receiver: Receiver, make_monitor: Any) -> None:
    busy = Answer(503, {"error": "write queue full"}, headers={"Retry-After": "30"})
    receiver.script("/predictions", *[busy] * 50)
    monitor = make_monitor(backoff_max=0.001)
    monitor.log_prediction({"i": 1}, 0)
    assert not monitor.flush(timeout=0.5)
    # without Retry-After the 1 ms backoff would have retried hundreds of times by now
    assert len(receiver.seen("/predictions")) == 1
    assert not monitor.close(timeout=0.2)
    assert monitor.stats["failed"] == 1


def test_retry_timing_helpers() -> None:
    assert retry_delay(5, 0.5, 30.0, retry_after=2.5) == 2.5
    assert retry_delay(0, 0.5, 30.0, retry_after=10_000) == 300.0
    for attempt in range(40):
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= retry_delay(attempt, 0.5, 8.0, None) <= ceiling
    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


def test_4xx_drops_the_batch_and_logs_the_reason(
    receiver: Receiver, make_monitor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script("/predictions", Answer(400, {"error": "body is not valid JSON"}))
    monitor = make_monitor()
    with caplog.at_level(logging.ERROR, logger="collectors.client"):
        for i in range(5):
            monitor.log_prediction({"i": i}, 0)
        assert not monitor.flush(timeout=10)
    assert monitor.stats | {"buffered": 0} == {
        "sent": 0,
        "dropped": 0,
        "failed": 5,
        "retries": 0,
        "buffered": 0,
    }
    assert "body is not valid JSON" in caplog.text and "400" in caplog.text
    assert TOKEN not in caplog.text
    later = monitor.log_prediction({"i": 9}, 0)
    assert monitor.flush(timeout=10)
    assert ids(receiver.accepted("/predictions")) == [later]


def test_422_resends_the_valid_records(receiver: Receiver, make_monitor: Any) -> None:
    details = [{"index": 1, "field": "score", "reason": "must be within [0, 1]"}]
    receiver.script("/predictions", Answer(422, {"error": "invalid records", "details": details}))
    monitor = make_monitor()
    logged = [monitor.log_prediction({"i": i}, 0, score=0.5) for i in range(3)]
    assert not monitor.flush(timeout=10)
    assert ids(receiver.accepted("/predictions")) == [logged[0], logged[2]]
    assert (monitor.stats["sent"], monitor.stats["failed"]) == (2, 1)


def test_413_halves_the_batch(receiver: Receiver, make_monitor: Any) -> None:
    receiver.script("/predictions", Answer(413, {"error": "body too large"}))
    monitor = make_monitor()
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(10)]
    assert monitor.flush(timeout=10)
    assert [len(r.body["records"]) for r in receiver.seen("/predictions")] == [10, 5, 5]
    assert ids(receiver.accepted("/predictions")) == logged


def test_404_registers_again(receiver: Receiver, make_monitor: Any) -> None:
    receiver.script("/predictions", Answer(404, {"error": "model 'churn' is not registered"}))
    monitor = make_monitor()
    logged = monitor.log_prediction({"i": 1}, 0)
    assert monitor.flush(timeout=10)
    assert [r.method for r in receiver.requests] == ["PUT", "POST", "PUT", "POST"]
    assert ids(receiver.accepted("/predictions")) == [logged]


def test_cleans_values_json_cannot_carry(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    kept = monitor.log_prediction({"x": math.nan, "y": math.inf}, 1, timestamp=when)
    monitor.log_prediction({"x": object()}, 1)
    assert not monitor.flush(timeout=10)
    [record] = receiver.accepted("/predictions")
    assert record["event_id"] == kept
    assert record["features"] == {"x": None, "y": None}
    assert record["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert (monitor.stats["sent"], monitor.stats["failed"]) == (1, 1)


def test_encodes_numpy_values(receiver: Receiver, make_monitor: Any) -> None:
    import numpy as np  # a model service's values often are numpy scalars

    monitor = make_monitor()
    features = {"a": np.float32(1.5), "b": np.int64(3), "c": np.float64("nan")}
    probabilities = {np.int64(0): np.float32(0.25), np.int64(1): 0.75}
    monitor.log_prediction(features, np.int64(1), probabilities=probabilities)
    assert monitor.flush(timeout=10)
    [record] = receiver.accepted("/predictions")
    assert record["features"] == {"a": 1.5, "b": 3, "c": None}
    assert record["prediction"] == 1
    assert record["probabilities"] == {"0": 0.25, "1": 0.75}


def test_threads_logging_at_once_lose_nothing(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor(batch_size=100)
    logged: list[list[str]] = [[] for _ in range(4)]

    def produce(mine: list[str]) -> None:
        mine.extend(monitor.log_prediction({"i": i}, 0) for i in range(500))

    threads = [threading.Thread(target=produce, args=(mine,)) for mine in logged]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert monitor.flush(timeout=10)
    sent = ids(receiver.accepted("/predictions"))
    assert sorted(sent) == sorted(event_id for mine in logged for event_id in mine)
    assert len(sent) == 2000


def test_full_buffer_drops_and_warns_once(
    receiver: Receiver, make_monitor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = make_monitor(max_buffer=10, batch_size=1000)
    with caplog.at_level(logging.WARNING, logger="collectors.client"):
        for round_ in range(2):
            logged = [monitor.log_prediction({"i": i}, round_) for i in range(25)]
            assert monitor.flush(timeout=10)
    assert monitor.stats["dropped"] == 30 and monitor.stats["sent"] == 20
    assert ids(receiver.accepted("/predictions"))[10:] == logged[:10]
    warnings = [r for r in caplog.records if "buffer full" in r.getMessage()]
    assert len(warnings) == 1 and "max_buffer=10" in warnings[0].getMessage()


def test_close_sends_everything_then_drops(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor()
    logged = [monitor.log_prediction({"i": i}, 0) for i in range(30)]
    monitor.log_label(logged[0], 1)
    assert monitor.close(timeout=10)
    assert ids(receiver.accepted("/predictions")) == logged
    assert ids(receiver.accepted("/labels")) == logged[:1]
    assert not any(t.name == "vigil-client" and t.is_alive() for t in threading.enumerate())
    monitor.log_prediction({"i": 99}, 0)  # after close: counted, never raised
    assert monitor.stats["dropped"] == 1
    assert monitor.close()  # a second close is harmless


def test_context_manager_closes(receiver: Receiver) -> None:
    with Monitor(receiver.url, TOKEN, "churn", flush_interval=60, arrow=False) as monitor:
        logged = monitor.log_prediction({"i": 1}, 0)
    assert ids(receiver.accepted("/predictions")) == [logged]


def test_exiting_without_close_still_sends(receiver: Receiver) -> None:
    code = (
        "from collectors.client import Monitor\n"
        f"m = Monitor({receiver.url!r}, 'tok', 'churn', flush_interval=60, arrow=False)\n"
        "print(m.log_prediction({'x': 1}, 0))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ids(receiver.accepted("/predictions")) == [result.stdout.strip()]


def test_a_forked_child_gets_its_own_sender(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor()
    parent_id = monitor.log_prediction({"i": 0}, 0)
    assert monitor.flush(timeout=10)
    pid = os.fork()
    if pid == 0:  # the child: exit status says whether its record was delivered
        monitor.log_prediction({"i": 1}, 1, event_id="from-child")
        os._exit(0 if monitor.flush(timeout=10) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child_id = monitor.log_prediction({"i": 2}, 0)
    assert monitor.flush(timeout=10)
    assert ids(receiver.accepted("/predictions")) == [parent_id, "from-child", child_id]


def test_rejects_bad_arguments_clearly(receiver: Receiver, make_monitor: Any) -> None:
    with pytest.raises(ValueError, match="task='ranking'"):
        Monitor(receiver.url, TOKEN, "m", task="ranking")
    with pytest.raises(ValueError, match="http://host:port"):
        Monitor("127.0.0.1:8501", TOKEN, "m")
    with pytest.raises(ValueError, match=r"features\['age'\]='float'"):
        Monitor(receiver.url, TOKEN, "m", features={"age": "float"})
    with pytest.raises(ValueError, match="batch_size=0"):
        Monitor(receiver.url, TOKEN, "m", batch_size=0)
    with pytest.raises(ValueError, match="max_retries=-1"):
        Monitor(receiver.url, TOKEN, "m", max_retries=-1)
    with pytest.raises(ValueError, match="token"):
        Monitor(receiver.url, "", "m")
    monitor = make_monitor()
    with pytest.raises(TypeError, match="features must be a dict"):
        monitor.log_prediction([1.0, 2.0], 0)
    with pytest.raises(TypeError, match="event_id must be a str"):
        monitor.log_prediction({"x": 1}, 0, event_id=12)


def test_repr_hides_credentials(receiver: Receiver) -> None:
    url = f"http://user:pw@127.0.0.1:{receiver.port}/vigil"
    with Monitor(url, TOKEN, "churn") as monitor:
        assert (
            repr(monitor) == f"Monitor(url='http://127.0.0.1:{receiver.port}/vigil', model='churn')"
        )


def test_import_pulls_in_no_heavy_dependency() -> None:
    heavy = ["streamlit", "pandas", "duckdb", "evidently", "pyarrow", "numpy", "storage"]
    code = f"import collectors.client, sys; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_two_connections_deliver_every_batch_once(receiver: Receiver, make_monitor: Any) -> None:
    monitor = make_monitor(batch_size=7, connections=2)
    logged = [monitor.log_prediction({"i": i}, i % 2) for i in range(200)]
    assert monitor.flush(timeout=10)
    delivered = ids(receiver.accepted("/predictions"))
    assert sorted(delivered) == sorted(logged) and len(delivered) == 200
    assert monitor.stats["sent"] == 200


def test_connections_must_be_a_small_int(receiver: Receiver, make_monitor: Any) -> None:
    with pytest.raises(ValueError, match="connections"):
        make_monitor(connections=0)
