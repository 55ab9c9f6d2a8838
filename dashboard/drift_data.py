"""Cached data access and actions for the Drift and Data quality pages.

Stored series come from storage.drift_store (what the drift job wrote per closed window);
the range computed now, reference changes and Evidently's report go through the server's
DriftService, the same code the drift API serves. Cached functions take plain values plus
the store key, like dashboard.data.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from collectors.drift_service import DriftService, NoReference, RangeDrift
from collectors.reference_input import FILE_SUFFIXES, ReferenceInvalid, read_file
from dashboard import data, drift_figures, perf_data
from monitoring.windows import window_floor
from storage import StorageError, drift_store
from storage.drift_store import ALL_VERSIONS
from storage.models import ModelInfo
from storage.references import ReferenceInfo, active_reference, get_reference, list_references

T = TypeVar("T")
GRANULARITIES = {"Hourly": "1h", "Daily": "1d"}
RANGE_TTL_S = 60.0  # drift of a range runs every test and a classifier: keep it a minute
DISTRIBUTION_ROWS = 200_000
NO_SERVICE = (
    "Drift runs inside `vigil serve`: the server holds the references and computes drift. "
    "Open the dashboard at the address `vigil serve` prints to see drift here."
)
# What a reference action can fail with; the message says what to change.
ACTION_ERRORS = (ReferenceInvalid, NoReference, ValueError, LookupError, StorageError)


def service() -> DriftService | None:
    """The server's drift service (None when the runtime has none, e.g. in some tests)."""
    return data.runtime().drift


def _service() -> DriftService:
    found = service()
    if found is None:
        raise LookupError(NO_SERVICE)
    return found


def pickers(models: list[dict[str, Any]], prefix: str) -> tuple[str, str | None, str, str]:
    """Model, version (None for all), range label and granularity ('1h'|'1d') of a page."""
    names = [m["name"] for m in models]
    cols = st.columns([3, 3, 7, 3], vertical_alignment="bottom")
    name = cols[0].selectbox("Model", names, key=f"{prefix}_model")
    summary = next(m for m in models if m["name"] == name)
    choice = cols[1].selectbox(
        "Version", [data.ALL_VERSIONS, *summary["versions"]], key=f"{prefix}_version_{name}"
    )
    default = data.default_range(summary["first_seen"], summary["last_seen"])
    range_label = cols[2].segmented_control(
        "Time range",
        list(data.OVERVIEW_RANGES),
        default=default,
        required=True,
        key=f"{prefix}_range_{name}",
    )
    span = data.OVERVIEW_RANGES[default]
    if span is None and summary["first_seen"] is not None:
        span = summary["last_seen"] - summary["first_seen"]
    granularity = cols[3].segmented_control(
        "Windows",
        list(GRANULARITIES),
        default="Hourly" if span is not None and span <= timedelta(days=2) else "Daily",
        required=True,
        key=f"{prefix}_granularity_{name}",
        help="The drift job stores every closed hour and day",
    )
    version = None if choice == data.ALL_VERSIONS else str(choice)
    return name, version, str(range_label), GRANULARITIES[str(granularity)]


def page_range(
    name: str, range_label: str, what: str
) -> tuple[dict[str, Any], datetime, datetime] | None:
    """The model's summary and range; None after a message when it has no predictions.

    The end is rounded up to the minute (the start moves with it unless the range is All),
    so a range that follows new predictions keeps its cache entries for a minute.
    """
    resolved = perf_data.live_range(name, range_label, perf_data.AUTO, what)
    if resolved is None:
        return None
    summary, start, end, _ = resolved
    rounded = pd.Timestamp(end).ceil("min").to_pydatetime()
    if data.OVERVIEW_RANGES[range_label] is not None:
        start += rounded - end
    return summary, start, rounded


def no_reference_text(name: str) -> str:
    """How to give a model its reference (model names never need markdown escaping)."""
    folder = data.runtime().settings.spool_dir / name / "reference"
    return (
        "This model has no reference data yet: drift compares every window against it. "
        "Upload a training sample below or use a range of logged predictions; or, from a "
        f"shell, `vigil reference upload FILE --model {name}`; or "
        f"`PUT /api/v1/models/{name}/reference` with JSON records, Parquet or Arrow; or drop "
        f"the file into `{folder}/` (name it `version=<v>.parquet` for one version)."
    )


def ranked_features(features: list[str], results: pd.DataFrame) -> list[str]:
    """The model's features, the worst stored severity first (untested ones last)."""
    worst: dict[str, float] = {}
    for row in results.itertuples(index=False):
        limit = number(row.threshold)
        level = drift_figures.severity(
            str(row.method), number(row.score), math.nan if limit is None else limit
        )
        if level is not None:
            worst[str(row.feature)] = max(level, worst.get(str(row.feature), 0.0))
    # Ties in the same order as the heatmap's rows: by name.
    return sorted(features, key=lambda f: (-worst.get(f, -1.0), f))


def number(value: Any) -> float | None:
    """A stored number as a float; None for null, NaN or text."""
    parsed = pd.to_numeric(value, errors="coerce")
    return None if pd.isna(parsed) else float(parsed)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _borrowed(
    store: str, name: str, granularity: str, start: datetime, end: datetime, version: str
) -> frozenset[pd.Timestamp]:
    """Windows whose every-version result is this version's: it was alone there, and the
    stored result used the reference this version uses now. The drift job stores a
    version's own row only where a window holds several versions."""
    with data.connection() as con:
        model = data.model(name)
        reference = active_reference(con, model, version)
        if reference is None:
            return frozenset()
        shared = drift_store.drift_windows(con, model, granularity, start, end, ALL_VERSIONS)
        shared = shared[shared["reference_id"] == reference.id]
        if shared.empty:
            return frozenset()
        since = window_floor(start, granularity)
        counts = drift_store.window_counts(con, model, granularity, since, end)
    per_window = counts[counts["version"] != ALL_VERSIONS].groupby("window_start")["version"]
    found = per_window.agg(["nunique", "first"])
    alone = set(found.index[(found["nunique"] == 1) & (found["first"] == version)])
    return frozenset(t for t in _utc(shared["window_start"]) if t in alone)


def _read(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    what: str,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str,
    role: str | None,
) -> pd.DataFrame:
    if what == "windows":
        return drift_store.drift_windows(con, model, granularity, start, end, version)
    if what == "results":
        return drift_store.drift_results(con, model, granularity, start, end, version, role)
    return drift_store.quality_results(con, model, granularity, start, end, version)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _stored(
    store: str,
    what: str,
    name: str,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str | None,
    role: str | None,
) -> pd.DataFrame:
    borrowed = (
        frozenset() if version is None else _borrowed(store, name, granularity, start, end, version)
    )
    with data.connection() as con:
        model = data.model(name)
        own = _read(con, model, what, granularity, start, end, version or ALL_VERSIONS, role)
        if not borrowed:
            return own
        shared = _read(con, model, what, granularity, start, end, ALL_VERSIONS, role)
    starts = _utc(shared["window_start"])
    extra = shared[
        (starts.isin(borrowed) & ~starts.isin(set(_utc(own["window_start"])))).to_numpy()
    ]
    if "version" in extra.columns:
        extra = extra.assign(version=version)
    frame = pd.concat([f for f in (own, extra) if not f.empty], ignore_index=True)
    order = [c for c in ("window_start", "role", "feature") if c in frame.columns]
    return frame.sort_values(order, kind="stable", ignore_index=True)


def stored_windows(
    name: str, granularity: str, start: datetime, end: datetime, version: str | None
) -> pd.DataFrame:
    """Stored window summaries (drift share, counts, multivariate AUC) in the range."""
    return _stored(data.store_key(), "windows", name, granularity, start, end, version, None)


def stored_results(
    name: str,
    granularity: str,
    start: datetime,
    end: datetime,
    version: str | None,
    role: str | None = None,
) -> pd.DataFrame:
    """Stored per-column results (window_start, role, feature, kind, method, score, ...)."""
    return _stored(data.store_key(), "results", name, granularity, start, end, version, role)


def stored_quality(
    name: str, granularity: str, start: datetime, end: datetime, version: str | None
) -> pd.DataFrame:
    """Stored data-quality rows per window and feature in the range."""
    return _stored(data.store_key(), "quality", name, granularity, start, end, version, None)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _rejections(store: str, name: str, start: datetime, end: datetime) -> pd.DataFrame:
    with data.connection() as con:
        return drift_store.rejections(con, name, start, end)


def rejections(name: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Records refused at ingestion per hour and reason (hour, reason, count)."""
    return _rejections(data.store_key(), name, start, end)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _reference(store: str, name: str, version: str | None) -> ReferenceInfo | None:
    with data.connection() as con:
        return active_reference(con, data.model(name), version)


def reference(name: str, version: str | None) -> ReferenceInfo | None:
    """The reference drift uses for a version (None: every version), or None."""
    return _reference(data.store_key(), name, version)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _references(store: str, name: str) -> list[ReferenceInfo]:
    with data.connection() as con:
        return list_references(con, data.model(name))


def references(name: str) -> list[ReferenceInfo]:
    """Every reference of the model, newest first."""
    return _references(data.store_key(), name)


@st.cache_data(ttl=RANGE_TTL_S, show_spinner="Computing drift for this range…")
def _range_drift(
    store: str, name: str, start: datetime, end: datetime, version: str | None, reference_id: int
) -> RangeDrift:
    return data.on_service_thread(_service().range_drift, name, start, end, version)


def range_drift(name: str, start: datetime, end: datetime, version: str | None) -> RangeDrift:
    """Drift of the range against the reference in use, computed now; NoReference if none."""
    found = reference(name, version)
    if found is None:
        raise NoReference(f"model {name!r} has no reference")
    return _range_drift(data.store_key(), name, start, end, version, found.id)


def _reference_column(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, reference_id: int, feature: str
) -> pd.Series:
    info = get_reference(con, model, reference_id)
    if info is None:
        return pd.Series([], dtype=float if model.features[feature] == "numeric" else object)
    # The service's cached frame: the range drift above has usually loaded it already.
    column = _service().reference_data(con, model, info)[feature]
    if len(column) > DISTRIBUTION_ROWS:
        column = column.sample(n=DISTRIBUTION_ROWS, random_state=0)
    return column.reset_index(drop=True)


@st.cache_data(ttl=RANGE_TTL_S, show_spinner=False)
def _distribution(
    store: str,
    name: str,
    feature: str,
    start: datetime,
    end: datetime,
    version: str | None,
    reference_id: int,
) -> tuple[pd.Series, pd.Series]:
    with data.connection() as con:
        model = data.model(name)
        ref = _reference_column(con, model, reference_id, feature)
        current = drift_store.window_frame(
            con, model, start, end, version, features=[feature], max_rows=DISTRIBUTION_ROWS
        )
    return ref, current[feature]


def distribution(
    name: str, feature: str, start: datetime, end: datetime, version: str | None
) -> tuple[pd.Series, pd.Series] | None:
    """One feature's values: the reference in use and the range (each at most ~200k rows)."""
    found = reference(name, version)
    if found is None:
        return None
    return _distribution(data.store_key(), name, feature, start, end, version, found.id)


def clear_reference_caches() -> None:
    """Forget everything that depends on which reference is in use."""
    for cached in (_reference, _references, _range_drift, _distribution, _borrowed, _stored):
        cached.clear()


def _file_name(name: str) -> str:
    """A safe local name with the upload's suffix (read_file chooses the reader by suffix)."""
    base = Path(name.replace("\\", "/")).name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[-120:] or "reference"


def upload_reference(
    name: str, content: bytes, file_name: str, version: str | None
) -> ReferenceInfo:
    """Store an uploaded file (Parquet, CSV, JSON lines, JSON, Arrow) as the reference."""
    drift = _service()
    limit = drift.settings.max_reference_bytes
    if len(content) > limit:
        raise ReferenceInvalid(
            f"{file_name} is {len(content):,} bytes, above max_reference_bytes ({limit:,}): "
            "upload a sample of it"
        )
    suffix = Path(file_name).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ReferenceInvalid(
            f"{file_name}: unknown file type {suffix or '(none)'}; use one of "
            f"{', '.join(FILE_SUFFIXES)}"
        )
    with tempfile.TemporaryDirectory(prefix="vigil-reference-") as folder:
        path = Path(folder) / _file_name(file_name)
        path.write_bytes(content)
        frame = read_file(path)
    description = Path(file_name.replace("\\", "/")).name[:200] or "upload"
    info = data.on_service_thread(drift.upload_reference, name, frame, version, description)
    clear_reference_caches()
    return info


def use_range(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    source_version: str | None,
) -> ReferenceInfo:
    """Make the logged predictions of [start, end) (of source_version) the reference."""
    drift = _service()
    info = data.on_service_thread(drift.range_reference, name, start, end, version, source_version)
    clear_reference_caches()
    return info


def evidently_report(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    hidden: Collection[str] | None = None,
) -> str:
    """Evidently's HTML drift report of the range against the reference in use, without the
    PII features in `hidden` (None: every one the model marks PII)."""
    return data.on_service_thread(_service().evidently_report, name, start, end, version, hidden)


def report_file_name(name: str, start: datetime, end: datetime) -> str:
    """<model>-drift-<start>-<end>.html, times in UTC to the minute."""
    stamp = "%Y%m%dT%H%MZ"
    return f"{name}-drift-{start.astimezone(UTC):{stamp}}-{end.astimezone(UTC):{stamp}}.html"
