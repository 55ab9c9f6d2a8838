"""What hiding a model's PII features means for each kind of output that shows feature values.

monitoring.access decides who sees PII (Principal.sees_pii) and masks a wide frame
(mask_frame); this module masks the other shapes values travel in: one prediction's feature
mapping, the long rows of a beeswarm, segments named by a feature value. Pure: the callers
(API handlers, pages, report builders) work out the hidden set for the person asking.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from monitoring.access import MASK, Principal


def hidden_for(principal: Principal | None, pii: Collection[str]) -> frozenset[str]:
    """The PII features `principal` must not see; all of them when nobody is known."""
    if principal is not None and principal.sees_pii:
        return frozenset()
    return frozenset(pii)


def mask_columns(frame: pd.DataFrame, hidden: Collection[str]) -> pd.DataFrame:
    """The frame with the values of its columns named in `hidden` replaced by MASK."""
    columns = [c for c in frame.columns if c in hidden]
    if not columns:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = out[column].where(out[column].isna(), MASK).astype(object)
    return out


def mask_mapping(values: Mapping[str, Any], hidden: Collection[str]) -> dict[str, Any]:
    """feature -> value with hidden features' values as MASK (a missing value stays None:
    that it is missing tells nothing about the subject)."""
    return {
        name: (MASK if name in hidden and value is not None else value)
        for name, value in values.items()
    }


def mask_explanation(payload: Mapping[str, Any], hidden: Collection[str]) -> dict[str, Any]:
    """One prediction's explanation (ExplainService.explain_event) with hidden values masked.

    Attributions stay: they are the model's reasoning, not the subject's data.
    """
    out = dict(payload)
    if hidden:
        out["features"] = mask_mapping(payload.get("features") or {}, hidden)
    return out


def mask_long_rows(rows: pd.DataFrame, hidden: Collection[str]) -> pd.DataFrame:
    """Beeswarm rows (feature, value_num, value_text, ...) with hidden features' values gone:
    value_text MASK and value_num NaN (so no colour on the value scale gives them away)."""
    if not hidden or rows.empty or "feature" not in rows.columns:
        return rows
    secret = rows["feature"].astype(str).isin(list(hidden)).to_numpy()
    if not secret.any():
        return rows
    out = rows.copy()
    if "value_num" in out.columns:
        out["value_num"] = out["value_num"].astype(float).where(~secret, np.nan)
    if "value_text" in out.columns:
        text = out["value_text"].astype(object)
        out["value_text"] = text.where(~secret | text.isna(), MASK)
    return out


def segment_refusal(dimension: str, hidden: Collection[str]) -> str | None:
    """Why a segment by `dimension` is refused (its values are PII), or None when it is not."""
    if dimension not in hidden:
        return None
    return (
        f"{dimension} is marked PII: its values are hidden for viewers and read-only tokens, "
        "so segments by it are not available to you (an editor or admin can use them)"
    )


def hidden_note(feature: str) -> str:
    """The caption shown where a hidden feature's values would be drawn."""
    return f"{feature} is marked PII: its values are hidden for viewers"


def without_dimensions(frame: pd.DataFrame, hidden: Collection[str]) -> pd.DataFrame:
    """Segment rows (a `dimension` column) without those of hidden features."""
    if not hidden or frame.empty or "dimension" not in frame.columns:
        return frame
    return frame[~frame["dimension"].astype(str).isin(list(hidden))].reset_index(drop=True)
