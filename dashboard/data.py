"""Cached data access for the pages, and the time-range and bucket choices they share.

Cached functions take plain values only (st.cache_data hashes its arguments) plus a store
key, so two stores in one process (tests, a restarted server) never share entries. The
store itself comes from dashboard.runtime.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import runtime as runtime_module
from dashboard.figures import BUCKET_SIZES
from dashboard.runtime import Runtime
from storage import queries
from storage.models import ModelInfo, get_model
from storage.store import Store

T = TypeVar("T")
TTL_S = 3.0
ALL_VERSIONS = "All versions"
OVERVIEW_RANGES: dict[str, timedelta | None] = {
    "Last 24 h": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All": None,
}
SYSTEM_RANGES: dict[str, timedelta] = {
    "Last 15 min": timedelta(minutes=15),
    "Last 1 h": timedelta(hours=1),
    "Last 24 h": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
}
OVERVIEW_BUCKETS = ("5m", "1h", "1d")
SYSTEM_BUCKETS = ("1m", "5m", "1h")
MAX_POINTS = 400
NO_RUNTIME = (
    "The Vigil dashboard runs inside the Vigil server, which owns the database. "
    "Start it with `vigil serve` (or `make serve`, or `make demo` for demo data) and open "
    "the address it prints; `streamlit run dashboard/app.py` on its own has no database."
)


class NoRuntimeError(RuntimeError):
    """The page runs outside `vigil serve`: there is no store to read."""


def runtime() -> Runtime:
    """The server's runtime; NoRuntimeError (saying how to start the server) when absent."""
    current = runtime_module.current()
    if current is None:
        raise NoRuntimeError(NO_RUNTIME)
    return current


class _CursorPool:
    """Reusable query cursors for script threads.

    Streamlit runs every rerun (and every fragment refresh) in a new thread, and
    Store.cursor() keeps one cursor per thread for the store's lifetime, so calling it
    from pages would add a connection per refresh. Cursors here are children of one
    store cursor: Store.close() closes that one, which closes them too.
    """

    def __init__(self, store: Store, keep: int = 4) -> None:
        self._store = store
        self._keep = keep
        self._base: duckdb.DuckDBPyConnection | None = None
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._store.closed:
            raise NoRuntimeError("the Vigil server is shutting down: the database is closed")
        with self._lock:
            if self._base is None:
                self._base = self._store.cursor()
            con = self._idle.pop() if self._idle else self._base.cursor()
        try:
            yield con
        except BaseException:
            con.close()  # a failed query may leave the cursor mid-transaction
            raise
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(con)
                return
        con.close()


_pools: weakref.WeakKeyDictionary[Store, _CursorPool] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


@contextmanager
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read cursor on the server's store, returned to the pool afterwards."""
    store = runtime().store
    with _pools_lock:
        pool = _pools.get(store)
        if pool is None:
            pool = _pools[store] = _CursorPool(store)
    with pool.cursor() as con:
        yield con


def store_key() -> str:
    """Identifies the current store in cache keys."""
    store = runtime().store
    return f"{store.path}#{id(store)}"


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _model_summaries(store: str) -> list[dict[str, Any]]:
    with connection() as con:
        return queries.model_summaries(con)


def model_summaries() -> list[dict[str, Any]]:
    """Every model with its versions, counts and first/last prediction time."""
    return _model_summaries(store_key())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _model(store: str, name: str) -> ModelInfo | None:
    with connection() as con:
        return get_model(con, name)


def model(name: str) -> ModelInfo:
    """The registered model; a clear error if it vanished."""
    found = _model(store_key(), name)
    if found is None:
        raise LookupError(f"model {name!r} is not registered")
    return found


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _kpis(
    store: str, name: str, start: datetime | None, end: datetime | None, version: str | None
) -> dict[str, Any]:
    with connection() as con:
        return queries.model_kpis(con, model(name), start, end, version)


def kpis(
    name: str, start: datetime | None, end: datetime | None, version: str | None
) -> dict[str, Any]:
    """Predictions, labelled, accuracy (or MAE) and p95 latency over a range."""
    return _kpis(store_key(), name, start, end, version)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _traffic(
    store: str,
    name: str,
    start: datetime | None,
    end: datetime | None,
    bucket: str,
    version: str | None,
) -> pd.DataFrame:
    with connection() as con:
        return queries.traffic_series(con, model(name), start, end, bucket, version)


def traffic(
    name: str, start: datetime | None, end: datetime | None, bucket: str, version: str | None
) -> pd.DataFrame:
    """Per bucket and version: predictions and latency percentiles."""
    return _traffic(store_key(), name, start, end, bucket, version)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _accuracy(
    store: str,
    name: str,
    start: datetime | None,
    end: datetime | None,
    bucket: str,
    version: str | None,
) -> pd.DataFrame:
    with connection() as con:
        return queries.accuracy_series(
            con, model(name), start, end, bucket, version, by_version=True
        )


def accuracy(
    name: str, start: datetime | None, end: datetime | None, bucket: str, version: str | None
) -> pd.DataFrame:
    """Per bucket and version: predictions, labelled and accuracy (MAE for regression)."""
    return _accuracy(store_key(), name, start, end, bucket, version)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _system(store: str, start: datetime | None, end: datetime | None, bucket: str) -> pd.DataFrame:
    with connection() as con:
        return queries.system_series(con, start, end, bucket)


def system(start: datetime | None, end: datetime | None, bucket: str) -> pd.DataFrame:
    """Host metrics per bucket and host."""
    return _system(store_key(), start, end, bucket)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _gpu(store: str, start: datetime | None, end: datetime | None, bucket: str) -> pd.DataFrame:
    with connection() as con:
        return queries.gpu_series(con, start, end, bucket)


def gpu(start: datetime | None, end: datetime | None, bucket: str) -> pd.DataFrame:
    """GPU metrics per bucket, host and device (empty without a GPU)."""
    return _gpu(store_key(), start, end, bucket)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _latest_system(store: str) -> dict[str, Any] | None:
    with connection() as con:
        return queries.latest_system_sample(con)


def latest_system() -> dict[str, Any] | None:
    """The newest host sample, or None before the first one."""
    return _latest_system(store_key())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _system_bounds(store: str) -> tuple[Any, Any, Any]:
    with connection() as con:
        row = con.execute(
            "SELECT (SELECT min(ts) FROM system_samples), (SELECT min(ts) FROM system_rollup_1m), "
            "greatest((SELECT max(ts) FROM system_samples), "
            "(SELECT max(ts) FROM system_rollup_1m))"
        ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def system_window(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The part of [start, end) that has host samples, or None when none does."""
    first_raw, first_rolled, last = _system_bounds(store_key())
    if last is None:
        return None
    # storage.queries reads the 1-minute rollups whenever a range starts before the oldest
    # raw sample, and rollups lag by a minute or two: on a young server that hides the
    # newest samples. Start at the oldest raw sample unless rollups reach further back.
    first = first_raw
    if first_raw is None or (
        first_rolled is not None and first_rolled < first_raw.replace(second=0, microsecond=0)
    ):
        first = min(t for t in (first_raw, first_rolled) if t is not None)
    window = (max(start, first), min(end, last + timedelta(seconds=1)))
    return window if window[0] < window[1] else None


def auto_bucket(span: timedelta, choices: Sequence[str] = OVERVIEW_BUCKETS) -> str:
    """The finest bucket of `choices` that keeps a chart under MAX_POINTS points."""
    for name in choices:
        if span / BUCKET_SIZES[name] <= MAX_POINTS:
            return name
    return choices[-1]


def default_range(first: datetime | None, last: datetime | None) -> str:
    """All of a model's data when it spans at most 30 days, else the last 7 days."""
    if first is None or last is None or last - first <= timedelta(days=30):
        return "All"
    return "Last 7 days"


def model_range(
    label: str, first: datetime | None, last: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Start and (exclusive) end of an overview range, ending at the last prediction."""
    if first is None or last is None:
        return None, None
    end = last + timedelta(microseconds=1)
    span = OVERVIEW_RANGES[label]
    return (first if span is None else end - span), end


def now_range(label: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end of a system range ending now (rounded up to the cache lifetime)."""
    now = now or datetime.now(UTC)
    step = int(TTL_S * 1_000_000)
    micros = int(now.timestamp() * 1_000_000)
    end = datetime.fromtimestamp(-(-micros // step) * step / 1_000_000, UTC)
    return end - SYSTEM_RANGES[label], end


# Services (drift, explanations) read through Store.cursor(), which keeps one cursor per
# thread for the store's life, and Streamlit runs every rerun in a new thread: their calls
# run on these long-lived threads instead, so reruns add no cursors.
_service_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vigil-page-service")


def on_service_thread(call: Callable[..., T], *args: Any) -> T:
    """Run a service call on the pages' long-lived service threads and wait for it."""
    return _service_threads.submit(call, *args).result()


def say(key: str, ok: bool, text: str) -> None:
    """Keep a message for the page's next run (callbacks run before the script)."""
    st.session_state[key] = (ok, text)


def flash(key: str) -> None:
    """Show, once, the message a callback left under `key`."""
    message = st.session_state.pop(key, None)
    if message is not None:
        ok, text = message
        (st.success if ok else st.error)(fmt.markdown_text(text))
