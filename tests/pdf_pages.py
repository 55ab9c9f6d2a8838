"""PDFs as page images (poppler's pdftoppm, as a reader would see them), for report tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image


def pdf_pages(pdf: bytes, folder: Path, dpi: int = 25) -> list[Image.Image]:
    """Every page of a PDF as a grey-scale image; asserts it is a PDF first."""
    assert pdf.startswith(b"%PDF"), pdf[:20]
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "report.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(source), str(folder / "page")],
        check=True,
        timeout=120,
    )
    return [Image.open(p).convert("L") for p in sorted(folder.glob("page-*.png"))]


def blank(page: Image.Image) -> bool:
    """A page with no dark ink or no white paper: nothing printed on it, or all black."""
    low, high = page.getextrema()
    return not (low < 128 and high > 200)
