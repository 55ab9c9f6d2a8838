"""Tiny HTML builders that escape every piece of text unless it is marked Safe."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence


class Safe(str):
    """HTML built here from escaped parts: passed through as is."""

    __slots__ = ()


Cell = str | Safe
LONG_CELL = 24
_TAG = re.compile(r"<[^>]*>")


def escape(value: object) -> Safe:
    """Text as HTML (quotes too, so it is safe in attributes); Safe values pass through."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape(str(value), quote=True))


def tag(name: str, content: object = "", **attributes: str) -> Safe:
    """<name attr="...">content</name> with the attributes and text content escaped."""
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for key, value in attributes.items()
    )
    return Safe(f"<{name}{attrs}>{escape(content)}</{name}>")


def join(parts: Iterable[object]) -> Safe:
    """Several pieces, each escaped unless Safe, one after another."""
    return Safe("".join(escape(part) for part in parts))


def _shown_length(value: Cell) -> int:
    """How many characters a cell shows (tags dropped, entities counted once)."""
    if not isinstance(value, Safe):
        return len(value)
    return len(html.unescape(_TAG.sub("", value)))


def paragraph(content: object, class_: str | None = None) -> Safe:
    """A <p>, optionally with a class."""
    return tag("p", content, class_=class_) if class_ else tag("p", content)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    numeric: Iterable[int] = (),
    caption: str | None = None,
) -> Safe:
    """A table; columns listed in `numeric` are right-aligned."""
    right = set(numeric)

    def cell(name: str, index: int, value: Cell) -> Safe:
        if index in right:
            return tag(name, value, class_="num")
        # Only long text may break anywhere: short words ("provisional") stay whole.
        if _shown_length(value) > LONG_CELL:
            return tag(name, value, class_="wrap")
        return tag(name, value)

    head = tag("tr", join(cell("th", i, h) for i, h in enumerate(headers)))
    body = join(tag("tr", join(cell("td", i, v) for i, v in enumerate(row))) for row in rows)
    parts = [tag("caption", caption)] if caption else []
    parts += [tag("thead", head), tag("tbody", body)]
    return tag("table", join(parts))


def definitions(items: Iterable[tuple[str, Cell]]) -> Safe:
    """A <dl> of term and value pairs."""
    return tag("dl", join(join((tag("dt", k), tag("dd", v))) for k, v in items))
