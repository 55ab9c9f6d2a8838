"""The running server's shared objects, for page scripts in the same process."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.settings import Settings
from storage import Store


@dataclass(frozen=True)
class Runtime:
    """What a page needs: the store (take a per-thread cursor) and the settings."""

    store: Store
    settings: Settings


_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    """Install (or clear) the runtime; the server's lifespan calls this at start and stop."""
    global _current
    _current = runtime


def current() -> Runtime | None:
    """The runtime, or None when pages run without a server."""
    return _current
