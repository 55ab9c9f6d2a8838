"""One drift scale for every method (>= 1 means drifted), shared by the Drift page's
heatmap and the report's, with the colour scale both draw it in."""

from __future__ import annotations

import math

from monitoring.drift.registry import get_method

SEVERITY_CAP = 3.0
# Blues below the drift line, a hard step to orange at severity 1, then reds up to the cap:
# a cell just past its threshold must never look like one just below it.
_STEP = 1 / SEVERITY_CAP
SEVERITY_SCALE = [
    [0.0, "#f7fbff"],
    [_STEP, "#6baed6"],
    [_STEP, "#fdae61"],
    [2 * _STEP, "#e34a33"],
    [1.0, "#7f0000"],
]


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def severity(method: str, score: object, threshold: object) -> float | None:
    """One scale for every method, >= 1 meaning drifted, capped at SEVERITY_CAP.

    Distances: score / threshold. P-values: log10(score) / log10(threshold), so p = t**2 is
    2; p = 0 is the cap. None for a missing score, an unknown method or a p-value threshold
    outside (0, 1).
    """
    value, limit = _number(score), _number(threshold)
    if value is None or limit is None:
        return None
    try:
        p_value = get_method(method).p_value
    except ValueError:
        return None
    if p_value:
        if not 0 < limit < 1:
            return None
        if value <= 0:
            return SEVERITY_CAP
        ratio = math.log10(min(value, 1.0)) / math.log10(limit)
    elif limit <= 0:
        ratio = SEVERITY_CAP if value > 0 else 0.0
    else:
        ratio = value / limit
    return float(min(max(ratio, 0.0), SEVERITY_CAP))
