"""The sending half of the client SDK: the thread that batches, encodes and posts.

`Monitor` (collectors/client.py) is the caller's half: it fills the buffer that this
drains. The attributes below are shared state that `Monitor` sets up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Final

from collectors._client_arrow import encode_arrow
from collectors._client_transport import (
    Record,
    Transport,
    encode_records,
    error_text,
    invalid_indices,
    retry_delay,
)

log = logging.getLogger("collectors.client")

LABEL: Final = object()  # first item of a buffered label; a prediction starts with its id
_WARN_EVERY_S: Final = 60.0


class Posters:
    """Daemon threads that run `post(batch)` in the order batches are submitted.

    Not a ThreadPoolExecutor: that refuses new work once the interpreter starts exiting,
    which is exactly when close() (run by atexit) must still send what is buffered.
    """

    def __init__(self, n: int, post: Any) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._post = post
        self._threads = [
            threading.Thread(target=self._run, name=f"vigil-post-{i}", daemon=True)
            for i in range(n)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, batch: Any) -> threading.Event:
        done = threading.Event()
        self._queue.put((batch, done))
        return done

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, done = item
            try:
                self._post(batch)
            except Exception:  # a poster must outlive any bug in one batch
                log.exception("vigil: unexpected error while posting; continuing")
            finally:
                done.set()

    def stop(self, wait: bool) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join(5.0)


class Flush:
    """A marker that flush() puts in the buffer; the sender sets it once all before is sent."""

    __slots__ = ("done", "failed_at")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.failed_at = 0


class Sender:
    """The sender thread's methods; `Monitor` provides the state."""

    model: str
    sent: int
    dropped: int
    failed: int
    retries: int
    _buffer: deque[Any]
    _wake: threading.Event
    _stopping: threading.Event
    _abort: threading.Event
    _kicked: bool
    _force: bool
    _interval: float
    _batch_size: int
    _max_buffer: int
    _connections: int
    _posters: Posters
    _post_local: threading.local
    _post_transports: list[Transport]
    _count_lock: threading.Lock
    _transport: Transport
    _transport_args: tuple[str, str, float]
    _model_path: str
    _predictions_path: str
    _labels_path: str
    _registration: bytes
    _arrow: bool
    _version: str | None
    _max_retries: int | None
    _backoff: tuple[float, float]
    _drops_reported: int
    _last_warning: float

    def _run(self) -> None:
        """Register the model, then send full batches on wake-ups and everything when due."""
        self._register()
        deadline = time.monotonic() + self._interval
        while True:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            self._kicked = False
            stopping = self._stopping.is_set()
            due = stopping or self._force or time.monotonic() >= deadline
            self._force = False
            try:
                self._warn_about_drops()
                self._drain(everything=due)
            except Exception:  # the sender must outlive any bug in one batch
                log.exception("vigil: unexpected error while sending; continuing")
            if due:
                deadline = time.monotonic() + self._interval
            if stopping or self._abort.is_set():
                return

    def _warn_about_drops(self) -> None:
        """One warning when records start being dropped, then at most one a minute."""
        dropped = self.dropped
        now = time.monotonic()
        if dropped == self._drops_reported or now - self._last_warning < _WARN_EVERY_S:
            return
        log.warning(
            "vigil: buffer full (max_buffer=%d), dropped %d records so far (%d new); "
            "raise max_buffer or check that %s is reachable",
            self._max_buffer,
            dropped,
            dropped - self._drops_reported,
            self._transport.base_url,
        )
        self._drops_reported, self._last_warning = dropped, now

    def _drain(self, everything: bool) -> None:
        """Send full batches; when everything is due, also what was buffered at the start."""
        left = len(self._buffer) if everything else 0
        inflight: deque[threading.Event] = deque()
        while not self._abort.is_set() and (left > 0 or len(self._buffer) >= self._batch_size):
            taken, predictions, labels, markers = self._take(self._batch_size)
            if not taken:
                break
            left -= taken
            encoded = [
                (path, self._encode(records, path))
                for path, records in (
                    (self._predictions_path, predictions),
                    (self._labels_path, labels),
                )  # labels after predictions
                if records
            ]
            while len(inflight) >= self._connections:
                inflight.popleft().wait()
            inflight.append(self._posters.submit(encoded))
            if markers:  # a flush is done once everything before it is delivered
                while inflight:
                    inflight.popleft().wait()
                for marker in markers:
                    marker.failed_at = self.failed
                    marker.done.set()
        while inflight:
            inflight.popleft().wait()

    def _post_batch(self, encoded: list[tuple[str, tuple[bytes, list[Any]]]]) -> None:
        """Deliver one taken batch on a poster thread (its own kept-alive connection)."""
        for path, (body, records) in encoded:
            if records:
                self._deliver(path, records, body)

    def _poster_transport(self) -> Transport:
        transport: Transport | None = getattr(self._post_local, "transport", None)
        if transport is None:
            transport = Transport(*self._transport_args)
            self._post_local.transport = transport
            with self._count_lock:
                self._post_transports.append(transport)
        return transport

    def _count(self, counter: str, n: int) -> None:
        with self._count_lock:
            setattr(self, counter, getattr(self, counter) + n)

    def _take(self, limit: int) -> tuple[int, list[Any], list[Record], list[Flush]]:
        """Pop up to limit items, stopping after a flush marker."""
        predictions: list[Any] = []
        labels: list[Record] = []
        markers: list[Flush] = []
        pop = self._buffer.popleft
        taken = 0
        while taken < limit and self._buffer:
            item = pop()
            taken += 1
            if type(item) is Flush:
                markers.append(item)
                break
            if item[0] is LABEL:
                labels.append({"event_id": item[1], "label": item[2], "timestamp": item[3]})
            else:
                predictions.append(item)  # a tuple: encoded as Arrow or turned into a record
        return taken, predictions, labels, markers

    def _prediction_record(self, item: tuple[Any, ...]) -> dict[str, Any]:
        """The contract's record from a buffered tuple; optional fields only when set."""
        event_id, ts, features, prediction, score, probabilities, latency_ms, version, tags = item
        record = {
            "event_id": event_id,
            "timestamp": ts,
            "features": features,
            "prediction": prediction,
        }
        if version is None:
            version = self._version
        if version is not None:
            record["version"] = version
        if score is not None:
            record["score"] = score
        if probabilities is not None:
            record["probabilities"] = probabilities
        if latency_ms is not None:
            record["latency_ms"] = latency_ms
        if tags is not None:
            record["tags"] = tags
        return record

    def _encode(self, records: list[Any], path: str) -> tuple[bytes, list[Any]]:
        """Serialize a batch, counting and logging records that cannot be encoded.

        Predictions arrive as buffered tuples: Arrow is built from them directly, and only
        a batch that goes as JSON pays for one dict per record.
        """
        if records and type(records[0]) is tuple:
            if self._arrow:
                arrow = encode_arrow(records, self._version)
                if arrow is not None:
                    return arrow, records
            records = [self._prediction_record(item) for item in records]
        body, kept, errors = encode_records(records)
        if errors:
            self._count("failed", len(errors))
            log.error(
                "vigil: dropped %d records that cannot be encoded: %s", len(errors), errors[0]
            )
        return body, kept

    def _deliver(self, path: str, records: list[Any], body: bytes | None = None) -> None:
        """POST records until accepted, rejected or out of retries; keep the counters."""
        if body is None:
            body, records = self._encode(records, path)
        attempt, registered_again = 0, False
        while records:
            status, retry_after, data = self._poster_transport().send("POST", path, body)
            if 200 <= status < 300:
                self._count("sent", len(records))
                return
            if status == 413 and len(records) > 1:  # too large: halve until it fits
                half = len(records) // 2
                self._deliver(path, records[:half])
                self._deliver(path, records[half:])
                return
            if status == 404 and not registered_again:  # e.g. the server lost its database
                registered_again = True
                if self._register():
                    continue
            bad = invalid_indices(data, len(records)) if status == 422 else set()
            if bad and len(bad) < len(records):  # all-or-nothing: resend the valid ones
                self._reject(path, status, data, len(bad))
                records = [r for i, r in enumerate(records) if i not in bad]
                body, records = self._encode(records, path)
                continue
            if 400 <= status < 500 and status != 429:
                self._reject(path, status, data, len(records))
                return
            exhausted = self._max_retries is not None and attempt >= self._max_retries
            if exhausted or self._wait(attempt, retry_after):
                why = f"after {attempt} retries" if exhausted else "at close"
                log.error("vigil: gave up on %d records for %s %s", len(records), path, why)
                self._count("failed", len(records))
                return
            attempt += 1

    def _reject(self, path: str, status: int, data: bytes, n: int) -> None:
        """Count and log records the server refused (the log never contains the token)."""
        self._count("failed", n)
        log.error("vigil: POST %s rejected (%d), dropped %d: %s", path, status, n, error_text(data))

    def _register(self) -> bool:
        """PUT the model's registration, retrying until it is answered or the client closes."""
        attempt = 0
        while True:
            status, retry_after, data = self._transport.send(
                "PUT", self._model_path, self._registration
            )
            if 200 <= status < 300:
                return True
            if 400 <= status < 500 and status != 429:
                log.error(
                    "vigil: registering %r failed (%d): %s", self.model, status, error_text(data)
                )
                return False
            if self._wait(attempt, retry_after):
                return False
            attempt += 1

    def _wait(self, attempt: int, retry_after: float | None) -> bool:
        """Sleep before a retry; True if close() gave up meanwhile."""
        if self._abort.is_set():
            return True
        self._count("retries", 1)
        return self._abort.wait(retry_delay(attempt, *self._backoff, retry_after))
