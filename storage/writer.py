"""The single writer: one thread that runs every write job in its own transaction."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import duckdb

from storage.errors import WriteQueueFullError
from storage.store import Store

T = TypeVar("T")
log = logging.getLogger(__name__)

WriteJob = Callable[[duckdb.DuckDBPyConnection], T]


@dataclass
class _Item(Generic[T]):
    job: WriteJob[T]
    future: Future[T]


_STOP = object()


class Writer:
    """Serialises writes: a bounded queue in front of one thread with its own cursor."""

    def __init__(self, store: Store, max_queue: int = 256) -> None:
        self._store = store
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="vigil-writer", daemon=True)
        self._stopped = threading.Event()
        # Makes "not stopped, then queued" atomic, so no job lands behind the stop marker.
        self._submit_lock = threading.Lock()
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs waiting to run."""
        return self._queue.qsize()

    @property
    def capacity(self) -> int:
        return self._queue.maxsize

    def submit(self, job: WriteJob[T]) -> Future[T]:
        """Queue a job; raise WriteQueueFullError at once when the queue is full."""
        future: Future[T] = Future()
        with self._submit_lock:
            if self._stopped.is_set():
                raise RuntimeError("writer is stopped")
            try:
                self._queue.put_nowait(_Item(job, future))
            except queue.Full:
                raise WriteQueueFullError(
                    f"write queue is full ({self._queue.maxsize} batches waiting); retry shortly"
                ) from None
        return future

    def run(self, job: WriteJob[T], timeout: float | None = None) -> T:
        """Submit a job and wait for its result."""
        return self.submit(job).result(timeout)

    def _run(self) -> None:
        con = self._store.cursor()
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if not item.future.set_running_or_notify_cancel():
                continue
            try:
                con.execute("BEGIN")
                result = item.job(con)
                con.execute("COMMIT")
            except BaseException as exc:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    log.exception("rollback failed")
                item.future.set_exception(exc)
            else:
                item.future.set_result(result)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every queued job, then stop the thread."""
        with self._submit_lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            self._queue.put(_STOP)
        self._thread.join(timeout)
