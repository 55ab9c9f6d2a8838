"""A report's HTML printed to PDF by headless Chromium: A4 or Letter, page numbers in the
footer (CSS page-margin boxes), charts drawn by the inline plotly.js before printing.

Chromium is the one program Vigil needs for PDF: `apt-get install chromium-headless-shell`
(or chromium), or point VIGIL_CHROMIUM at a binary. HTML and CSV reports need nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PAPERS = {"a4": "A4", "letter": "letter"}
CANDIDATES = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")
TIMEOUT_S = 120


class PdfUnavailable(RuntimeError):
    """No Chromium to print with; the message says how to install one."""


def chromium() -> str:
    """$VIGIL_CHROMIUM, else Debian's chromium-headless-shell or chromium."""
    configured = os.environ.get("VIGIL_CHROMIUM")
    if configured:
        return configured
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            return candidate
    for name in ("chromium-headless-shell", "chromium", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable(
        "PDF reports need a headless Chromium: apt-get install chromium-headless-shell "
        "(or chromium), or set VIGIL_CHROMIUM to its binary; HTML and CSV need nothing"
    )


def page_css(paper: str) -> str:
    """Paper size, margins and the 'Page n of m' footer."""
    size = PAPERS[paper]
    return (
        f"<style>@page {{ size: {size}; margin: 16mm 14mm 18mm; "
        '@bottom-center { content: "Page " counter(page) " of " counter(pages); '
        "font: 9pt sans-serif; color: #555; } } "
        # The title block gets a page of its own: the PDF's title page.
        "header:first-of-type { min-height: 220mm; display: flex; flex-direction: column; "
        "justify-content: center; break-after: page; } "
        "header:first-of-type h1 { font-size: 34pt; }</style>"
    )


def html_to_pdf(html: str, paper: str = "a4") -> bytes:
    """Print a self-contained HTML document to PDF; PdfUnavailable without Chromium."""
    if paper not in PAPERS:
        raise ValueError(f"paper {paper!r}: use a4 or letter")
    binary = chromium()
    marker = html.find("</head>")
    styled = html[:marker] + page_css(paper) + html[marker:] if marker >= 0 else html
    with tempfile.TemporaryDirectory(prefix="vigil-pdf-") as folder:
        source, target = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(styled, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            "--virtual-time-budget=15000",  # let plotly.js draw every chart before printing
            f"--user-data-dir={folder}/profile",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfUnavailable(f"Chromium ({binary}) could not print the report: {exc}") from None
        if not target.exists() or target.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise PdfUnavailable(f"Chromium ({binary}) wrote no PDF: {' | '.join(tail)}")
        return target.read_bytes()
