"""Find Debian's headless Chromium for Playwright (Playwright's own download is not used)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/lib/chromium/chromium",
)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    """$VIGIL_CHROMIUM, else Debian's chromium-headless-shell or chromium; fail if none."""
    configured = os.environ.get("VIGIL_CHROMIUM")
    if configured:
        return configured
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    for name in ("chromium-headless-shell", "chromium"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no headless Chromium: apt-get install chromium-headless-shell (as .ci/run does) "
        "or set VIGIL_CHROMIUM to a Chromium binary"
    )
