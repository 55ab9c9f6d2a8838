"""How the pages say that a PII feature's values are hidden from the person looking.

The pages take the hidden set from dashboard.auth.hidden_features (empty for editors and
admins) and mask with monitoring.pii; these helpers keep the wording the same everywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from dashboard import format as fmt
from monitoring.access import MASK
from monitoring.pii import hidden_note, segment_refusal


def hidden_caption(hidden: Collection[str]) -> str:
    """A sentence to append to a caption naming the hidden features ("" when none are)."""
    if not hidden:
        return ""
    names = ", ".join(fmt.markdown_text(f) for f in sorted(hidden))
    verb, whose = ("is", "its") if len(hidden) == 1 else ("are", "their")
    return f" {names} {verb} marked PII: {whose} values are hidden for viewers (shown as {MASK})."


def left_out_caption(hidden: Collection[str], what: str) -> str:
    """The caption of a table that leaves PII rows or columns out, naming the features."""
    names = ", ".join(fmt.markdown_text(f) for f in sorted(hidden))
    return f"{what} {names} are left out: marked PII, their values are hidden for viewers."


def hidden_chart(container: Any, feature: str) -> None:
    """Where a hidden feature's values would be drawn: say why there is no chart."""
    container.caption(fmt.markdown_text(hidden_note(feature)) + ".")


def segment_refused(container: Any, dimension: str, hidden: Collection[str]) -> bool:
    """True (after saying why) when segmenting by `dimension` would show PII values."""
    refusal = segment_refusal(dimension, hidden)
    if refusal is None:
        return False
    container.info(fmt.markdown_text(refusal) + ".", icon=":material/visibility_off:")
    return True
