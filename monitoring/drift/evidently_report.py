"""Evidently's DataDriftPreset as a reference: per column (method, score, drifted) and the
drifted share, read from its report. The tests and `make bench` hold our engine against it."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

# Evidently reports a default method by its display name.
DISPLAY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    # Text drift (a classifier) is not reproduced: the engine skips text columns.
    "Absolute text content drift": "text",
    "Relative text content drift": "text",
}


def evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, methods: dict[str, str] | None = None
) -> tuple[dict[str, tuple[str, float, bool]], float]:
    """Per column (method, score, drifted) from Evidently's report, and its drifted share."""
    from evidently import Report  # a heavy import, only when asked for
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset(per_column_method=methods)], include_tests=True)
    out = report.run(reference_data=reference, current_data=current).dict()
    by_id: dict[str, Any] = {}
    share = float("nan")
    for metric in out["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            by_id[metric["id"]] = (config["column"], config["method"], metric["value"])
        elif config["type"].endswith(":DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    columns: dict[str, tuple[str, float, bool]] = {}
    for test in out["tests"]:
        found = by_id.get(test["metric_config"]["metric_id"])
        if found is not None and test["id"] == "drift":
            column, method, score = found
            # A method given by name is reported by that name, a default by display name.
            name = DISPLAY_NAMES.get(method, method)
            columns[column] = (name, float(score), test["status"] == "FAIL")
    return columns, share


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most max_rows rows, drawn at random (the same rows for the same seed)."""
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).sort_index()


def evidently_html(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    max_rows: int,
    title: str,
    seed: int = 0,
) -> str:
    """Evidently's DataDriftPreset report as one HTML document, with a banner on top that
    names the data and says whether (and how) either side was sampled to max_rows rows."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref, cur = sample_rows(reference, max_rows, seed), sample_rows(current, max_rows, seed)
    report = Report([DataDriftPreset()], include_tests=True)
    body = str(report.run(reference_data=ref, current_data=cur).get_html_str(as_iframe=False))
    notes = [
        f"{which}: {len(part):,} of {len(full):,} rows"
        + (" (a random sample)" if len(part) < len(full) else "")
        for which, part, full in (("Reference", ref, reference), ("Current", cur, current))
    ]
    banner = (
        '<div style="font-family:sans-serif;padding:12px 16px;background:#eef3fb;'
        'border-bottom:1px solid #c9d6ea">'
        f"<strong>{html.escape(title)}</strong><br>{html.escape('; '.join(notes))}. "
        f"Reports sample each side above {max_rows:,} rows (the evidently_max_rows setting)."
        "</div>"
    )
    marker = body.find("<body")
    if marker < 0:
        return banner + body
    end = body.find(">", marker) + 1
    return body[:end] + banner + body[end:]
