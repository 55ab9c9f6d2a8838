"""The running server's shared objects, for page scripts in the same process."""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.access import AccessService
from collectors.alerting import Alerting
from collectors.drift_service import DriftService
from collectors.explain_service import ExplainService
from collectors.settings import Settings
from collectors.window_parts import PartCache
from storage import Store


@dataclass(frozen=True)
class Runtime:
    """What a page needs: the store (take a per-thread cursor), the settings, and the cache
    of per-window performance parts the pages and the API share."""

    store: Store
    settings: Settings
    parts: PartCache = field(default_factory=PartCache)
    alerting: Alerting | None = None  # rule evaluation and delivery, for the Alerts page
    drift: DriftService | None = None  # references and drift, for the Drift pages
    explain: ExplainService | None = None  # artifacts and SHAP, for the Explanations page
    access: AccessService | None = None  # users, tokens, sessions, audit and erasure


_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    """Install (or clear) the runtime; the server's lifespan calls this at start and stop."""
    global _current
    _current = runtime


def current() -> Runtime | None:
    """The runtime, or None when pages run without a server."""
    return _current
