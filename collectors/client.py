"""Light client SDK: model services log predictions and labels to a Vigil server.

Only the standard library is imported (orjson when it is installed), so a model service
pays nothing for the dashboard's dependencies. ``log_prediction`` appends one tuple to an
in-memory buffer and returns; a daemon thread registers the model, then sends batches by
size or age over one kept-alive connection, retrying with backoff.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import math
import os
import queue
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

from collectors._client_arrow import encode_arrow
from collectors._client_transport import (
    Record,
    Transport,
    dumps,
    encode_records,
    error_text,
    invalid_indices,
    retry_delay,
)

__all__ = ["Monitor"]

log = logging.getLogger(__name__)

TASKS: Final = ("binary", "multiclass", "regression")
FEATURE_KINDS: Final = ("numeric", "categorical")
_LABEL: Final = object()  # first item of a buffered label; a prediction starts with its id
_WARN_EVERY_S: Final = 60.0


class _Posters:
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


class _Flush:
    """A marker that flush() puts in the buffer; the sender sets it once all before is sent."""

    __slots__ = ("done", "failed_at")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.failed_at = 0


def _check_config(task: str, features: Mapping[str, str] | None, numbers: dict[str, float]) -> None:
    """Raise ValueError naming the bad constructor argument and what would be accepted."""
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; use one of {', '.join(TASKS)}")
    for name, kind in (features or {}).items():
        if kind not in FEATURE_KINDS:
            raise ValueError(
                f"features[{name!r}]={kind!r}; each feature kind must be one of "
                f"{', '.join(FEATURE_KINDS)}"
            )
    for name, value in numbers.items():
        if not value > 0:
            raise ValueError(f"{name}={value!r} must be greater than 0")


class Monitor:
    """Send a model's predictions and labels to a Vigil server in the background.

    ``log_prediction`` and ``log_label`` never block and never do I/O: they append to a
    bounded buffer (records beyond ``max_buffer`` are dropped and counted in ``stats``).
    A daemon thread registers the model, then POSTs batches of ``batch_size`` records, or
    whatever is buffered every ``flush_interval`` seconds. Connection errors, 429 and 5xx
    are retried with capped, jittered exponential backoff (honouring Retry-After), up to
    ``max_retries`` times per batch (None: until close); other 4xx drop the batch with an
    error log. ``close()`` (also run at exit) sends what is left.
    """

    def __init__(
        self,
        url: str,
        token: str,
        model: str,
        *,
        task: str = "binary",
        positive_class: str | int | bool | None = None,
        features: Mapping[str, str] | None = None,
        version: str | None = None,
        batch_size: int = 2000,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        timeout: float = 10.0,
        max_retries: int | None = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        connections: int = 2,
        arrow: bool = True,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty string: the server's API token")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string naming the model")
        numbers = {"batch_size": batch_size, "flush_interval": flush_interval}
        numbers |= {"max_buffer": max_buffer, "timeout": timeout, "backoff_max": backoff_max}
        _check_config(task, features, numbers | {"backoff_base": backoff_base})
        if max_retries is not None and max_retries < 0:
            raise ValueError(
                f"max_retries={max_retries} must be >= 0, or None to retry until close"
            )
        if not isinstance(connections, int) or not 1 <= connections <= 8:
            raise ValueError(f"connections={connections!r} must be an int from 1 to 8")
        self._transport = Transport(url, token, float(timeout))
        self._transport_args = (url, token, float(timeout))
        self._connections = connections
        self._arrow = arrow
        root = f"{self._transport.root}/api/v1/models/{quote(model, safe='')}"
        self._model_path = root
        self._predictions_path, self._labels_path = f"{root}/predictions", f"{root}/labels"
        registration: dict[str, Any] = {"task": task, "positive_class": positive_class}
        if features is not None:
            registration["features"] = dict(features)
        self._registration = dumps(registration)
        self.model, self._version = model, version
        self._batch_size, self._max_buffer = int(batch_size), int(max_buffer)
        self._interval = float(flush_interval)
        self._max_retries, self._backoff = max_retries, (backoff_base, backoff_max)
        self._closed = False
        self._close_ok = True
        self._start()
        atexit.register(self.close)
        ref = weakref.WeakMethod(self._start_in_child)
        os.register_at_fork(after_in_child=lambda: (m := ref()) is not None and m())

    def _start(self) -> None:
        """Fresh buffer, ids, counters and sender thread (also in a forked child)."""
        self._buffer: deque[Any] = deque()
        self._limit = self._max_buffer  # set to 0 by close() so later records are dropped
        self._id_prefix = f"{secrets.token_hex(8)}-"
        self._seq = itertools.count()
        self._wake, self._stopping, self._abort = (threading.Event() for _ in range(3))
        self._kicked = False  # the caller woke the sender for a full batch already
        self._force = False  # flush() asked for everything to be sent now
        self._drop_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._transport.detach()
        # Batches are posted from a small pool so that encoding the next batch here and
        # the server's parsing of one batch overlap with the server's commit of another.
        self._posters = _Posters(self._connections, self._post_batch)
        self._post_local = threading.local()
        self._post_transports: list[Transport] = []
        self.sent = self.dropped = self.failed = self.retries = 0
        self._drops_reported, self._last_warning = 0, -math.inf
        self._thread = threading.Thread(target=self._run, name="vigil-client", daemon=True)
        self._thread.start()

    def _start_in_child(self) -> None:
        """Threads do not survive fork(): give the child its own sender and event ids."""
        if not self._closed:
            self._start()

    def __repr__(self) -> str:
        return f"Monitor(url={self._transport.base_url!r}, model={self.model!r})"

    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """Records sent (accepted by the server), dropped (buffer full or closed), failed
        (rejected or given up after retries), retries so far, and records still buffered."""
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "failed": self.failed,
            "retries": self.retries,
            "buffered": len(self._buffer),
        }

    def log_prediction(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        *,
        event_id: str | None = None,
        score: float | None = None,
        probabilities: Mapping[Any, float] | None = None,
        latency_ms: float | None = None,
        version: str | None = None,
        tags: Mapping[str, str] | None = None,
        timestamp: float | datetime | str | None = None,
    ) -> str:
        """Queue one prediction and return its event_id; never blocks, never does I/O."""
        if event_id is None:
            event_id = self._id_prefix + str(next(self._seq))
        elif type(event_id) is not str:
            raise TypeError(f"event_id must be a str, got {type(event_id).__name__}")
        if type(features) is not dict and not isinstance(features, Mapping):
            raise TypeError(f"features must be a dict of name -> value, got {type(features)}")
        buffer = self._buffer
        if len(buffer) >= self._limit:
            with self._drop_lock:  # only on the slow path; += is not atomic across threads
                self.dropped += 1
            return event_id
        buffer.append(
            (
                event_id,
                time.time() if timestamp is None else timestamp,
                # a copy, as callers often reuse and mutate their dict
                features.copy() if type(features) is dict else dict(features),
                prediction,
                score,
                probabilities,
                latency_ms,
                version,
                tags,
            )
        )
        if len(buffer) >= self._batch_size and not self._kicked:
            self._kicked = True
            self._wake.set()
        return event_id

    def log_label(
        self, event_id: str, label: Any, timestamp: float | datetime | str | None = None
    ) -> None:
        """Queue the true label (ground truth) of an earlier prediction; never blocks."""
        if type(event_id) is not str:
            raise TypeError(f"event_id must be the str log_prediction returned, got {event_id!r}")
        if len(self._buffer) >= self._limit:
            with self._drop_lock:
                self.dropped += 1
            return
        self._buffer.append(
            (_LABEL, event_id, label, time.time() if timestamp is None else timestamp)
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged before this call was sent; True if all was accepted."""
        failed_before = self.failed
        if not self._thread.is_alive():
            return not any(type(item) is not _Flush for item in self._buffer)
        marker = _Flush()
        self._buffer.append(marker)  # past the limit on purpose: it is not a record
        self._force = True
        self._wake.set()
        if not marker.done.wait(timeout) or self._abort.is_set():
            return False
        return marker.failed_at == failed_before

    def close(self, timeout: float | None = 10.0) -> bool:
        """Send what is buffered (waiting up to timeout seconds) and stop the sender."""
        if self._closed:
            return self._close_ok
        failed_before = self.failed
        self._closed, self._limit = True, 0
        atexit.unregister(self.close)
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()  # stops retry waits; a request in flight ends within timeout
            self._thread.join(1.0)
        left = [item for item in self._buffer if type(item) is not _Flush]
        for item in self._buffer:
            if type(item) is _Flush:
                item.done.set()
        self._buffer.clear()
        if left:
            self.failed += len(left)
            log.warning("vigil: closed with %d records not delivered to %s", len(left), self)
        self._posters.stop(wait=not self._thread.is_alive())
        if not self._thread.is_alive():
            self._transport.close()
            for transport in self._post_transports:
                transport.close()
        self._close_ok = not left and not self._abort.is_set() and self.failed == failed_before
        return self._close_ok

    # The sender thread from here on.

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

    def _take(self, limit: int) -> tuple[int, list[Any], list[Record], list[_Flush]]:
        """Pop up to limit items, stopping after a flush marker."""
        predictions: list[Any] = []
        labels: list[Record] = []
        markers: list[_Flush] = []
        pop = self._buffer.popleft
        taken = 0
        while taken < limit and self._buffer:
            item = pop()
            taken += 1
            if type(item) is _Flush:
                markers.append(item)
                break
            if item[0] is _LABEL:
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
