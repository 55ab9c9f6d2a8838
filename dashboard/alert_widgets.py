"""Pieces the Alerts page's sections share: tables with their CSV download, and the
messages callbacks leave for the next run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import perf_data

TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC")


def table(frame: pd.DataFrame, key: str, file_name: str, shown: pd.DataFrame | None = None) -> None:
    """A table (user text stays text in st.dataframe) and its CSV download of `frame`."""
    columns = {c: TIME for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    st.dataframe(
        frame if shown is None else shown,
        hide_index=True,
        column_config=columns,  # type: ignore[arg-type]
        placeholder=fmt.MISSING,
        key=key,
    )
    perf_data.download(st, frame, file_name, f"{key}_csv")


def slot(name: str) -> str:
    """The session_state key of a section's message (auth.require leaves refusals there)."""
    return f"alerts_flash_{name}"


def say(name: str, ok: bool, text: str) -> None:
    """Keep a message for the next run of the page (callbacks run before the script)."""
    st.session_state[slot(name)] = (ok, text)


def flash(name: str) -> None:
    """Show, once, the message a callback left."""
    message = st.session_state.pop(slot(name), None)
    if message is not None:
        ok, text = message
        (st.success if ok else st.error)(fmt.markdown_text(text))
