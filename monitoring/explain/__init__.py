"""SHAP explanations of model predictions and drift of the feature attributions."""

from monitoring.explain.attribution_drift import (
    NDCG_THRESHOLD,
    importance,
    ndcg,
    rank_changes,
)
from monitoring.explain.explainers import (
    Explanations,
    ModelExplainer,
    Units,
    build_explainer,
)

__all__ = [
    "NDCG_THRESHOLD",
    "Explanations",
    "ModelExplainer",
    "Units",
    "build_explainer",
    "importance",
    "ndcg",
    "rank_changes",
]
