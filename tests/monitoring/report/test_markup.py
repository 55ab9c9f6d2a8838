"""The HTML builders escape text everywhere and keep short cells whole."""

from __future__ import annotations

from monitoring.report.markup import Safe, definitions, escape, table, tag


def test_text_and_attributes_are_escaped() -> None:
    assert escape('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert escape(Safe("<b>ok</b>")) == "<b>ok</b>"
    assert tag("span", "<i>", class_='a" onclick="x') == (
        '<span class="a&quot; onclick=&quot;x">&lt;i&gt;</span>'
    )
    assert "<dt>&lt;k&gt;</dt><dd>&lt;v&gt;</dd>" in definitions([("<k>", "<v>")])


def test_only_long_cells_may_break_anywhere() -> None:
    html = table(["Name", "n"], [["provisional", "1"], ["x" * 40, "2"]], numeric=(1,))
    assert "<td>provisional</td>" in html
    assert f'<td class="wrap">{"x" * 40}</td>' in html
    assert '<td class="num">1</td>' in html
    short_markup = Safe('<span class="arrow good">↑</span> better')
    assert f"<td>{short_markup}</td>" in table(["Trend"], [[short_markup]])
