"""Evidently's DataDriftPreset as a reference: per column (method, score, drifted) and the
drifted share, read from its report. The tests and `make bench` hold our engine against it."""

from __future__ import annotations

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
