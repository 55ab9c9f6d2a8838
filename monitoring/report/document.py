"""render_html: the report as one self-contained HTML file that opens offline and prints well.

Styles and plotly.js are inline (plotly.js once, each figure without it); nothing is fetched:
a Content-Security-Policy forbids every network load, and the few links to map tiles and
icons inside the plotly.js bundle (code for map charts, which the report never draws) are
rewritten so that no src or href attribute anywhere in the file starts with http.
"""

from __future__ import annotations

import functools
import re

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from monitoring.report import text
from monitoring.report.chart_style import empty_message, is_empty
from monitoring.report.data import ReportData, report_window
from monitoring.report.figures import report_figures
from monitoring.report.markup import Safe, escape, join, paragraph, tag
from monitoring.report.model_sections import (
    drift_section,
    headline_section,
    latency_section,
    objectives_section,
    performance_section,
    summary_section,
    title_block,
)
from monitoring.report.ops_sections import (
    about_section,
    alerts_section,
    explanations_section,
    quality_section,
    reference_section,
    system_section,
)
from monitoring.report.summary import summary_paragraph

# Section ids and headings, in the order the report shows them (the order).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("headline", "Headline numbers"),
    ("objectives", "Objectives"),
    ("performance", "Performance over time"),
    ("latency", "Latency"),
    ("drift", "Drift"),
    ("quality", "Data quality"),
    ("alerts", "Alerts"),
    ("explanations", "Feature importance"),
    ("system", "System health"),
    ("reference", "Reference data"),
    ("about", "About this report"),
)
PRINT_WIDTH_PX = 680  # the printable width of A4 and Letter at 15 mm margins, less a little
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
CSP = (
    # No 'unsafe-eval': the SVG charts drawn here run without it (WebGL traces would not).
    "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
# In JavaScript source, `="http` only ever starts or sits inside a string literal, where
# \u0068 is the same "h": the bundle runs unchanged and no attribute text reads "http.
_LINK_IN_JS = re.compile(r"(\b(?:src|href)\s*=\s*[\"'])http", re.IGNORECASE)

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --good: #1a7f37; --bad: #c62828;
  --band: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1000px; padding: 24px 32px 48px; color: var(--ink);
  font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { border-bottom: 3px solid var(--ink); padding-bottom: 12px; margin-bottom: 8px; }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .08em;
  font-size: 12px; }
h1 { margin: 2px 0 8px; font-size: 28px; overflow-wrap: anywhere; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 24px; font-size: 14px; }
.facts .label, dt { color: var(--muted); }
section { margin-top: 28px; }
h2 { font-size: 20px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.summary { font-size: 16px; background: var(--band); border-left: 4px solid var(--ink);
  padding: 12px 16px; margin: 0; }
p.note { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td.wrap { overflow-wrap: anywhere; }
th { background: var(--band); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.arrow { font-weight: 700; font-size: 16px; }
.good { color: var(--good); } .bad { color: var(--bad); }
.neutral, .unknown { color: var(--muted); }
.status { font-weight: 600; white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
.figure { margin: 8px 0 12px; break-inside: avoid; page-break-inside: avoid; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  padding-top: 8px; }
@page { size: auto; margin: 15mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section { page-break-inside: avoid; break-inside: avoid; }
  h2 { page-break-after: avoid; break-after: avoid; }
  tr, .figure, dl, p.summary { page-break-inside: avoid; break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 9.5pt; }
  caption, p:has(+ table), p:has(+ .figure) { page-break-after: avoid; break-after: avoid; }
  .modebar-container, .modebar { display: none !important; }
  .figure { max-width: 100%; overflow: hidden; }
}
"""
# Plotly draws at the screen's width; before printing, redraw at the page's width, after
# printing, give the charts back to the window.
PRINT_SCRIPT = """
(function () {
  function charts() { return document.querySelectorAll('.js-plotly-plot'); }
  function toPage() {
    charts().forEach(function (g) { Plotly.relayout(g, {width: PRINT_WIDTH}); });
  }
  function toScreen() {
    charts().forEach(function (g) {
      Plotly.relayout(g, {width: null, autosize: true})
        .then(function () { Plotly.Plots.resize(g); });
    });
  }
  window.addEventListener('beforeprint', toPage);
  window.addEventListener('afterprint', toScreen);
  if (window.matchMedia) {
    var print = window.matchMedia('print');
    var onChange = function (event) { if (event.matches) { toPage(); } else { toScreen(); } };
    if (print.addEventListener) { print.addEventListener('change', onChange); }
    else if (print.addListener) { print.addListener(onChange); }
  }
})();
""".replace("PRINT_WIDTH", str(PRINT_WIDTH_PX))


@functools.cache
def inline_plotlyjs() -> str:
    """plotly.js to inline once, with no src/href text starting with http (see the module)."""
    return _LINK_IN_JS.sub(lambda m: m.group(1) + "\\u0068ttp", get_plotlyjs())


def figure_html(name: str, fig: go.Figure) -> Safe:
    """A figure as a <div> and its script, without plotly.js; an empty one as a sentence."""
    if is_empty(fig):
        return paragraph(empty_message(fig) + ".", "note")
    body = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        config=PLOTLY_CONFIG,
        default_width="100%",
        div_id=f"figure-{name}",  # a fixed id keeps the same report byte for byte the same
    )
    # Plotly escapes <, > and / in the figure's JSON, and user text in traces is escaped.
    return tag("div", Safe(body), class_="figure")


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (inline styles, scripts and figures)."""
    figures = {name: figure_html(name, fig) for name, fig in report_figures(data).items()}
    window = report_window(data)
    bodies: dict[str, Safe] = {
        "summary": summary_section(summary_paragraph(data)),
        "headline": headline_section(data.headline),
        "objectives": objectives_section(data.objectives),
        "performance": performance_section(data, figures["performance"]),
        "latency": latency_section(data.latency, figures["latency"]),
        "drift": drift_section(data, figures["drift_heatmap"], figures["drift_share"]),
        "quality": quality_section(data.quality),
        "alerts": alerts_section(data.alerts),
        "explanations": explanations_section(data, figures["importance"]),
        "system": system_section(data.system),
        "reference": reference_section(data.reference),
        "about": about_section(data, window),
    }
    sections = join(
        tag("section", join([tag("h2", heading), bodies[key]]), id=f"section-{key}")
        for key, heading in SECTIONS
    )
    subject = data.model if data.version is None else f"{data.model} (version {data.version})"
    title = f"Vigil report: {subject}, {text.date_range(data.start, data.end)}"
    footer = tag(
        "footer",
        f"Generated by Vigil ({data.generated_by}) at {text.timestamp(data.generated_at)}. "
        "Times are UTC. The CSV export holds every table in full.",
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{CSS}</style>\n"
        f'<script type="text/javascript">{inline_plotlyjs()}</script>\n'
        "</head>\n<body>\n"
        f"{title_block(data)}\n<main>{sections}</main>\n{footer}\n"
        f"<script>{PRINT_SCRIPT}</script>\n"
        "</body>\n</html>\n"
    )
