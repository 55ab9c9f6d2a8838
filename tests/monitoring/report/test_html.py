"""render_html: one self-contained, escaped, printable document with every section."""

from __future__ import annotations

import re

import pytest
from plotly.offline import get_plotlyjs

from monitoring.report import SECTIONS, render_html
from monitoring.report.document import inline_plotlyjs
from tests.monitoring.report.sample import (
    HOSTILE,
    HOSTILE_HOST,
    HOSTILE_RULE,
    empty_data,
    sample_data,
)

EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I
)


@pytest.fixture(scope="module")
def document() -> str:
    return render_html(sample_data())


@pytest.fixture(scope="module")
def empty_document() -> str:
    return render_html(empty_data())


def _outside_plotlyjs(document: str) -> str:
    return document.replace(inline_plotlyjs(), "")


def test_plotlyjs_is_inlined_exactly_once(document: str, empty_document: str) -> None:
    for html in (document, empty_document):
        assert html.count(inline_plotlyjs()) == 1
        assert html.count("plotly.js v") == 1  # the bundle's banner
        assert len(re.findall(r"<script\b[^>]*\bsrc=", html)) == 0


def test_nothing_is_fetched_from_the_network(document: str) -> None:
    assert not EXTERNAL.search(document)
    assert 'src="http' not in document and 'href="http' not in document
    assert "url(http" not in document
    assert "Content-Security-Policy" in document
    assert "<link" not in _outside_plotlyjs(document)


def test_hostile_user_text_is_escaped(document: str) -> None:
    assert "<script>alert(1)" not in document
    assert HOSTILE_RULE not in document
    assert "<img src=x" not in document
    assert HOSTILE_HOST not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in document
    assert "host&lt;b&gt;1&lt;/b&gt;&amp;co" in document
    # The only script tags are plotly.js, one per figure, and the print helper.
    assert document.count("<script") == 1 + 5 + 1
    summary = document[document.index('<p class="summary">') :]
    assert summary.startswith('<p class="summary">From 2026-11-01')
    assert HOSTILE not in summary


def test_plotlyjs_links_are_only_respelled() -> None:
    original = get_plotlyjs()
    assert "\\u0068ttp" not in original
    assert inline_plotlyjs() != original
    assert inline_plotlyjs().replace("\\u0068ttp", "http") == original


def test_every_section_heading_in_order(document: str, empty_document: str) -> None:
    for html in (document, empty_document):
        positions = [
            html.index(f'<section id="section-{key}"><h2>{title}</h2>') for key, title in SECTIONS
        ]
        assert positions == sorted(positions)


def test_title_block_and_footer(document: str) -> None:
    header = document[document.index("<header>") : document.index("</header>")]
    assert "fraud&lt;script&gt;" in header
    assert "v2&lt;script&gt;" in header
    assert "2026-11-01 to 2026-11-08 (UTC)" in header
    assert "2026-11-08 09:30 UTC by vigil report (CLI)" in header
    assert "<title>Vigil report: fraud&lt;script&gt;" in document


def test_headline_arrows(document: str) -> None:
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"<tr><td>([^<]+)</td>.*?<td>(<span class=\"arrow[^<]*</span>[^<]*)</td></tr>", document
        )
    }
    assert rows["Accuracy"] == '<span class="arrow bad">↓</span> worse'
    assert rows["Latency p95 (ms)"] == '<span class="arrow good">↓</span> better'
    assert rows["Predictions"] == '<span class="arrow neutral">↑</span>'
    assert rows["Label coverage"] == '<span class="arrow neutral">→</span>'
    assert rows["Drifted features (share)"] == '<span class="arrow unknown">—</span>'


def test_objective_status_and_sections_content(document: str) -> None:
    assert "✗ missed" in document and "✓ met" in document and "not evaluated" in document
    assert "still firing" in document
    assert "93.5 %" in document  # CPU peak
    assert "Attribution NDCG against the reference: 0.800" in document
    assert "2 windows of 7 are provisional" in document


def test_print_css(document: str) -> None:
    assert "@page" in document and "@media print" in document
    assert "page-break-inside: avoid" in document
    assert "beforeprint" in document


def test_empty_report_says_so(empty_document: str) -> None:
    for note in (
        "No headline numbers for this range.",
        "No objectives are set for this model.",
        "No labelled predictions in this range.",
        "No latencies in this range.",
        "No drift computed in this range.",
        "No data-quality results in this range.",
        "No alerts fired in this range.",
        "No feature attributions in this range.",
        "No system metrics in this range.",
        "No reference data set is in use",
    ):
        assert note in empty_document, note
    assert 'class="plotly-graph-div"' not in empty_document


def test_same_data_same_document() -> None:
    assert render_html(sample_data()) == render_html(sample_data())


def test_all_versions_when_no_version() -> None:
    html = render_html(sample_data(version=None))
    assert "all versions" in html
