"""The alert value of attribution drift: NDCG of the look-back's feature ranking against
the reference's (SageMaker Clarify's measure; below 0.9 the model's reasons moved)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from collectors.explain_service import ranked
from monitoring.alert_rules import AlertRule
from monitoring.explain.attribution_drift import ndcg
from storage import ModelInfo
from storage.explanations import importance
from storage.reference_importance import latest_reference_importance

EXPLAIN_METRICS = frozenset({"attribution_ndcg"})


def ndcg_value(
    con: duckdb.DuckDBPyConnection,
    rule: AlertRule,
    model: ModelInfo,
    now: datetime,
    look_back: timedelta,
) -> float | None:
    """NDCG over [now - look_back, now); None without a reference ranking or explanations."""
    reference = latest_reference_importance(con, model)
    if reference is None:
        return None
    current = importance(con, model, now - look_back, now, rule.version)
    if current.empty or int(current["n"].max()) < rule.min_count:
        return None
    return float(ndcg(ranked(reference), ranked(current)))
