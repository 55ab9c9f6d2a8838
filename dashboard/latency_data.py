"""Cached data access for the Latency & traffic page: DuckDB aggregates without labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from storage import performance as storage_performance

HISTOGRAM_BINS = 40


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _traffic_windows(
    store: str, name: str, start: datetime, end: datetime, window: str, version: str | None
) -> pd.DataFrame:
    with data.connection() as con:
        return storage_performance.window_summary(
            con, data.model(name), start, end, window, version, labels=False
        )


def traffic_windows(
    name: str, start: datetime, end: datetime, window: str, version: str | None
) -> pd.DataFrame:
    """Per window: count, latency p50/p90/p95/p99/max and throughput (no label join)."""
    return _traffic_windows(data.store_key(), name, start, end, window, version)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _latency_totals(
    store: str, name: str, start: datetime, end: datetime, version: str | None
) -> dict[str, Any]:
    with data.connection() as con:
        return storage_performance.range_summary(
            con, data.model(name), start, end, version, labels=False
        )


def latency_totals(
    name: str, start: datetime, end: datetime, version: str | None
) -> dict[str, Any]:
    """Count and latency quantiles over the whole range."""
    return _latency_totals(data.store_key(), name, start, end, version)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _histogram(
    store: str, name: str, start: datetime, end: datetime, version: str | None, bins: int
) -> pd.DataFrame:
    with data.connection() as con:
        return storage_performance.latency_histogram(
            con, data.model(name), start, end, version, bins
        )


def latency_histogram(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    bins: int = HISTOGRAM_BINS,
) -> pd.DataFrame:
    """Latency counts in `bins` equal-width bins between the range's min and max."""
    return _histogram(data.store_key(), name, start, end, version, bins)
