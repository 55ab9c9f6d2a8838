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

from collectors._client_sender import LABEL, Flush, Posters, Sender
from collectors._client_transport import (
    Transport,
    dumps,
)

__all__ = ["Monitor"]

log = logging.getLogger(__name__)

TASKS: Final = ("binary", "multiclass", "regression")
FEATURE_KINDS: Final = ("numeric", "categorical")


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


class Monitor(Sender):
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
        self._posters = Posters(self._connections, self._post_batch)
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
            (LABEL, event_id, label, time.time() if timestamp is None else timestamp)
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged before this call was sent; True if all was accepted."""
        failed_before = self.failed
        if not self._thread.is_alive():
            return not any(type(item) is not Flush for item in self._buffer)
        marker = Flush()
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
        left = [item for item in self._buffer if type(item) is not Flush]
        for item in self._buffer:
            if type(item) is Flush:
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
