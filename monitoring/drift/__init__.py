"""Drift engine: Evidently's drift tests and default choices, vectorised with numpy.

Evidently (the oracle in tests/monitoring/drift/test_parity.py) gives the same method,
score and decision per column; this engine is what computes drift series fast.
"""

from monitoring.drift import chisquare, jensenshannon, ks, psi, wasserstein, z
from monitoring.drift.columns import ColumnKind, column_kind
from monitoring.drift.dataset import ColumnDrift, DatasetDrift, column_drift, dataset_drift
from monitoring.drift.registry import (
    METHODS,
    DriftMethod,
    Kind,
    default_method,
    get_method,
    register,
)

for _module in (ks, wasserstein, jensenshannon, psi, chisquare, z):
    if _module.METHOD.name not in METHODS:
        register(_module.METHOD)

__all__ = [
    "METHODS",
    "ColumnDrift",
    "ColumnKind",
    "DatasetDrift",
    "DriftMethod",
    "Kind",
    "column_drift",
    "column_kind",
    "dataset_drift",
    "default_method",
    "get_method",
    "register",
]
