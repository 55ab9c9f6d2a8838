"""Per-window parts of a model's performance, computed once and reused until the window's
data changes.

A part holds what the performance views need of one window, in forms that add up across
windows: the DuckDB summary (volume, latency and label-delay quantiles, labelled count,
confusion counts), the task's metrics, a binary model's scores sorted by class
(monitoring.scores) and the counts per segment. A PartCache keeps parts under the window,
its bounds clipped to the range, and storage's fingerprint of the window's rows and labels:
a window whose rows or labels changed is recomputed and the others are reused. On a live
model only the newest windows change, so a page over millions of predictions costs one
cheap fingerprint scan plus those windows.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np

from monitoring.metrics import binary_count_metrics, compute_metrics, multiclass_count_metrics
from monitoring.scores import SortedScores, merge, score_metrics, sorted_scores
from storage import ModelInfo
from storage.performance import (
    Segment,
    labelled_arrays,
    summary_frame,
    window_fingerprints,
)
from storage.segments import SegmentCounts, segment_counts, segment_dimensions
from storage.time_windows import aware, epoch_us, width_us

PARALLEL_ROWS = 200_000
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
SETTLING_WINDOWS = 2  # the newest windows, where new rows and labels usually land
MAX_DERIVED = 4  # merged score arrays kept (each as large as its parts' arrays together)
Confusion = dict[tuple[str, str], int]
Scope = tuple[datetime, datetime, str | None, str | None, Segment | None]


@dataclass(frozen=True)
class WindowPart:
    """One window's summary row, metrics, sorted scores (binary) and segment counts."""

    record: dict[str, Any]
    stats: dict[str, Any]
    scores: SortedScores | None = None
    segments: SegmentCounts = field(default_factory=dict)
    token: Hashable = None  # (cache key, fingerprint) once cached: identifies the data

    @property
    def nbytes(self) -> int:
        """Roughly what the part holds in memory (its score arrays, plus a little per entry)."""
        arrays = 0 if self.scores is None else self.scores.positives.nbytes
        arrays += 0 if self.scores is None else self.scores.negatives.nbytes
        return arrays + 2048 + 256 * len(self.segments)


class PartCache:
    """Window parts by key, checked against a fingerprint; least recently used go first."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._parts: OrderedDict[Hashable, tuple[Hashable, WindowPart]] = OrderedDict()
        self._bytes = 0
        self._derived: OrderedDict[Hashable, SortedScores] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, fingerprint: Hashable) -> WindowPart | None:
        """The part stored under key if its data still has this fingerprint."""
        with self._lock:
            found = self._parts.get(key)
            if found is None or found[0] != fingerprint:
                self.misses += 1
                return None
            self._parts.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: Hashable, fingerprint: Hashable, part: WindowPart) -> None:
        with self._lock:
            old = self._parts.pop(key, None)
            if old is not None:
                self._bytes -= old[1].nbytes
            self._parts[key] = (fingerprint, part)
            self._bytes += part.nbytes
            while self._bytes > self.max_bytes and len(self._parts) > 1:
                _, (_, dropped) = self._parts.popitem(last=False)
                self._bytes -= dropped.nbytes

    def memo(self, key: Hashable, compute: Callable[[], SortedScores]) -> SortedScores:
        """A value derived from cached parts (key names them and their fingerprints)."""
        with self._lock:
            found = self._derived.get(key)
            if found is not None:
                self._derived.move_to_end(key)
                return found
        value = compute()
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > MAX_DERIVED:
                self._derived.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()
            self._derived.clear()
            self._bytes = 0


def window_parts(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None = None,
    segment: Segment | None = None,
    *,
    segments: bool = False,
    cache: PartCache | None = None,
) -> dict[int, WindowPart]:
    """The part of every window in [start, end) holding predictions, by window start (µs).

    window=None is one window over the whole range (key 0). segments=True also counts each
    segment (tag value or categorical feature value) per window. Without a cache every part
    is computed; with one, only the windows whose fingerprint changed.
    """
    start, end = aware(start, "start"), aware(end, "end")
    if cache is None:
        return compute_parts(con, model, (start, end, window, version, segment), segments)
    prints = window_fingerprints(con, model, start, end, window, version, segment)
    keys = {w: _cache_key(model, start, end, window, version, segment, segments, w) for w in prints}
    found = {w: cache.get(keys[w], prints[w]) for w in prints}
    stale = [w for w, part in found.items() if part is None]
    if stale:
        lo, hi = _span(stale, start, end, window)
        computed = compute_parts(con, model, (lo, hi, window, version, segment), segments)
        for w, part in computed.items():
            if w in prints:
                part = replace(part, token=(keys[w], prints[w]))
                cache.put(keys[w], prints[w], part)
                found[w] = part
    return {w: part for w, part in sorted(found.items()) if part is not None}


def _cache_key(
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str | None,
    version: str | None,
    segment: Segment | None,
    segments: bool,
    w: int,
) -> Hashable:
    lo, hi = _bounds(w, start, end, window)
    # Task, positive class and features change what a part holds, so they are in the key.
    schema = (model.task, model.positive_class, tuple(sorted(model.features.items())))
    return (model.id, schema, window, version, segment, segments, w, lo, hi)


def _bounds(w: int, start: datetime, end: datetime, window: str | None) -> tuple[int, int]:
    """The window's part of [start, end) in epoch µs."""
    if window is None:
        return epoch_us(start), epoch_us(end)
    return max(w, epoch_us(start)), min(w + width_us(window), epoch_us(end))


def _span(
    stale: list[int], start: datetime, end: datetime, window: str | None
) -> tuple[datetime, datetime]:
    """The smallest range covering the stale windows' parts of [start, end)."""
    bounds = [_bounds(w, start, end, window) for w in stale]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    return _from_us(lo), _from_us(hi)


def _from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def compute_parts(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, scope: Scope, segments: bool
) -> dict[int, WindowPart]:
    """Every window's part in scope, from DuckDB aggregates and the rows metrics need."""
    start, end, window, version, segment = scope
    classes = model.task != "regression"
    frame = summary_frame(con, model, start, end, window, version, segment, classes, classes)
    records = {
        int(r.pop("window_us")): {str(k): v for k, v in r.items()} for r in frame.to_dict("records")
    }
    stats: dict[int, dict[str, Any]] = {}
    scores: dict[int, SortedScores] = {}
    if model.task == "binary":
        stats = {w: count_metrics(model, r["confusion"]) for w, r in records.items()}
        for w, (part, metrics) in _window_scores(con, model, scope).items():
            scores[w] = part
            stats.setdefault(w, {}).update(metrics)
    elif model.task == "multiclass":
        stats = {w: count_metrics(model, r["confusion"]) for w, r in records.items()}
    else:
        stats = _regression_stats(con, model, scope)
    counts: dict[int, SegmentCounts] = {}
    if segments and segment is None:
        dims = segment_dimensions(con, model, start, end)
        counts = segment_counts(con, model, start, end, window, dims, version)
    return {
        w: WindowPart(
            {str(k): v for k, v in r.items()}, stats.get(w, {}), scores.get(w), counts.get(w, {})
        )
        for w, r in records.items()
    }


def _window_scores(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, scope: Scope
) -> dict[int, tuple[SortedScores, dict[str, float | None]]]:
    """Per window: the scored labelled rows sorted by class, and their score metrics."""
    arrays = labelled_arrays(
        con, model, *scope, columns=("label_is_positive", "score"), scored_only=True
    )

    def sort(part: dict[str, np.ndarray]) -> tuple[SortedScores, dict[str, float | None]]:
        ordered = sorted_scores(part["label_is_positive"].astype(bool), part["score"])
        return ordered, score_metrics(ordered)

    return per_window(sort, split(arrays))


def _regression_stats(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, scope: Scope
) -> dict[int, dict[str, Any]]:
    """Per window: regression metrics, `labeled` and the label delays, from the same rows."""
    arrays = labelled_arrays(con, model, *scope, columns=("label", "prediction", "label_delay_h"))

    def stats(part: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = compute_metrics("regression", part["label"], part["prediction"])
        p50, p90 = np.quantile(part["label_delay_h"], [0.5, 0.9], method="linear")
        out["labeled"] = len(part["label_delay_h"])
        out |= {"label_delay_p50_h": float(p50), "label_delay_p90_h": float(p90)}
        return out

    return per_window(stats, split(arrays))


def per_window(
    fn: Callable[[dict[str, np.ndarray]], Any],
    parts: list[tuple[int, dict[str, np.ndarray]]],
) -> dict[int, Any]:
    """fn of every window's rows; on many rows in threads (numpy sorts release the GIL)."""
    rows = sum(len(part["window_us"]) for _, part in parts)
    if len(parts) < 2 or rows < PARALLEL_ROWS:
        return {key: fn(part) for key, part in parts}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip([k for k, _ in parts], pool.map(fn, [p for _, p in parts]), strict=True))


def split(arrays: dict[str, np.ndarray]) -> list[tuple[int, dict[str, np.ndarray]]]:
    """Cut rows ordered by window_us into one slice per window."""
    keys = arrays["window_us"]
    if len(keys) == 0:
        return []
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts, stops = np.r_[0, bounds], np.r_[bounds, len(keys)]
    return [
        (int(keys[a]), {name: values[a:b] for name, values in arrays.items()})
        for a, b in zip(starts, stops, strict=True)
    ]


def count_metrics(model: ModelInfo, confusion: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """The classification metrics that need only {(label, prediction): n}."""
    if model.task == "binary":
        pos = positive(model)
        tally = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for (label, prediction), n in confusion.items():
            key = ("t" if (label == pos) == (prediction == pos) else "f") + (
                "p" if prediction == pos else "n"
            )
            tally[key] += n
        return binary_count_metrics(**tally)
    classes = sorted({c for pair in confusion for c in pair})
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for (label, prediction), n in confusion.items():
        matrix[index[label], index[prediction]] += n
    support = matrix.sum(axis=1)
    # None for a class that never occurs as a label (it is only predicted).
    by_class = {
        c: (int(matrix[i, i]) / int(support[i]) if support[i] else None)
        for i, c in enumerate(classes)
    }
    return {**multiclass_count_metrics(matrix), "recall_by_class": by_class}


def positive(model: ModelInfo) -> str:
    return model.positive_class or "1"


def merged_scores(parts: Mapping[int, WindowPart], cache: PartCache | None) -> SortedScores:
    """The scores of every part merged, reusing the merge of the settled windows.

    On a live model the newest windows and the range's clipped first window change between
    loads; the windows in between rarely do. Their merge is kept in the cache under their
    tokens, so a load merges it with the few changed windows (a cheap merge of sorted runs)
    instead of merging every window again.
    """
    keys = sorted(w for w, p in parts.items() if p.scores is not None)
    settled = keys[1:-SETTLING_WINDOWS]
    tokens = tuple(parts[w].token for w in settled)
    if cache is None or len(settled) < 2 or any(t is None for t in tokens):
        return merge([s for w in keys if (s := parts[w].scores) is not None])
    middle = cache.memo(("merged", tokens), lambda: _merge_windows(parts, settled))
    rest = [s for w in keys if w not in settled and (s := parts[w].scores) is not None]
    return merge([middle, *rest])


def _merge_windows(parts: Mapping[int, WindowPart], windows: list[int]) -> SortedScores:
    return merge([s for w in windows if (s := parts[w].scores) is not None])
