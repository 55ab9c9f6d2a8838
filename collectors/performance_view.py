"""The Performance page's data in one pass over a model's window parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from collectors.performance import (
    Metrics,
    check_coverage,
    overall_from_parts,
    overall_metrics,
    rank_segments,
    rows_from_parts,
    total_confusion,
)
from collectors.window_parts import PartCache, window_parts
from monitoring.compare import MAX_ROWS, Comparison, Population, compare_versions
from monitoring.scores import calibration
from monitoring.windows import check_window, choose_window
from storage import ModelInfo
from storage.performance import Segment, labelled_rows


@dataclass(frozen=True)
class PerformanceView:
    """Metric rows per window, the whole range's metrics, and the diagnostics' inputs."""

    rows: list[dict[str, Any]]
    overall: Metrics
    classes: list[str]  # classification: the confusion matrix's classes, sorted
    confusion: np.ndarray  # counts[i, j]: true class i predicted as j
    calibration: pd.DataFrame | None  # binary models only
    worst: pd.DataFrame | None = None  # worst segments by worst_metric, when asked for


def performance_view(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    window: str,
    version: str | None = None,
    segment: Segment | None = None,
    provisional_coverage: float = 0.8,
    *,
    cache: PartCache | None = None,
    now: datetime | None = None,
    worst_metric: str | None = None,
) -> PerformanceView:
    """Everything the page shows above the segment table, from one window_parts call.

    Without a segment the parts also count segments, so worst_segments on the same cache
    reuses them. A regression model's overall metrics (which do not add up across windows)
    come from overall_metrics over the range. worst_metric (without a segment) also ranks
    the worst segments by that metric, from the same parts.
    """
    check_coverage(provisional_coverage)
    window = check_window(window)
    parts = window_parts(
        con, model, start, end, window, version, segment, segments=segment is None, cache=cache
    )
    rows = rows_from_parts(model, parts, start, end, window, provisional_coverage, now)
    worst = None
    if worst_metric is not None and segment is None:
        worst = rank_segments(con, model, start, end, worst_metric, parts, version)
    if model.task == "regression":
        overall = overall_metrics(con, model, start, end, version, segment, cache=cache)
        empty = np.zeros((0, 0), dtype=np.int64)
        return PerformanceView(rows, overall, [], empty, None, worst)
    cells = total_confusion(parts)
    classes = sorted({c for pair in cells for c in pair})
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for (label, prediction), n in cells.items():
        counts[index[label], index[prediction]] += n
    curve = None
    if model.task == "binary":
        curve = calibration([p.scores for p in parts.values() if p.scores is not None])
    overall = overall_from_parts(model, parts, cache)
    return PerformanceView(rows, overall, classes, counts, curve, worst)


def compare(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    champion: str,
    challenger: str,
    *,
    cache: PartCache | None = None,
    max_rows: int = MAX_ROWS,
) -> list[Comparison]:
    """Champion against challenger over the range: each version's metrics from all its rows
    (window parts), bootstrap CIs from a uniform sample of at most max_rows of them."""
    binary = model.task == "binary"
    columns = ("prediction", "label", "score") if binary else ("prediction", "label")
    frames, populations = [], []
    for version in (champion, challenger):
        population = _population(con, model, start, end, version, cache)
        share = max_rows / population.rows if population.rows > max_rows else None
        frames.append(
            labelled_rows(con, model, start, end, "1w", version, None, columns, sample_share=share)
        )
        populations.append(population)
    return compare_versions(
        model.task,
        frames[0],
        frames[1],
        positive_class=model.positive_class,
        max_rows=max_rows,
        population=(populations[0], populations[1]),
    )


def _population(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    version: str,
    cache: PartCache | None,
) -> Population:
    if model.task == "regression":
        values = overall_metrics(con, model, start, end, version, cache=cache)
    else:
        window = choose_window(start, end)
        parts = window_parts(con, model, start, end, window, version, cache=cache)
        values = overall_from_parts(model, parts, cache)
    return Population(int(values["labeled"] or 0), dict(values))
