"""A report of the demo data (sample_data, the same generator `make demo` loads), in HTML and
PDF: every section present, no external reference, pages that exist and are not blank."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from collectors.ingest import IngestService
from collectors.reference_input import reference_table
from collectors.report_data import gather
from collectors.report_pdf import html_to_pdf
from collectors.settings import ModelSettings, Settings
from monitoring.report import SECTIONS, render_html
from monitoring.slo import parse_objective
from sample_data import MODEL_NAME, build_history, model_registration, reference_sample
from storage.references import create_reference
from tests.pdf_pages import blank, pdf_pages


def test_demo_report_in_html_and_pdf(ingest: IngestService, tmp_path: Path) -> None:
    history = build_history(per_day=60)
    ingest.register(MODEL_NAME, model_registration())
    ingest.predictions(MODEL_NAME, history.predictions)
    ingest.labels(MODEL_NAME, history.labels)
    model = ingest.model(MODEL_NAME)
    table = reference_table(reference_sample(history.model, n=500), model)
    ingest.writer.run(
        lambda con: create_reference(con, model, table, version=None, description="train")
    )
    settings = Settings(
        models={MODEL_NAME: ModelSettings(objectives=(parse_objective("accuracy >= 0.85"),))}
    )
    end = history.end
    data = gather(ingest.store.cursor(), settings, model, end - timedelta(days=14), end)
    html = render_html(data)
    for _, heading in SECTIONS:
        assert heading in html, heading
    assert "accuracy &gt;= 0.85" in html or "accuracy >= 0.85" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert data.reference is not None and data.reference["description"] == "train"
    pdf = html_to_pdf(html, "letter")
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 4  # a title page, then the sections
    assert not any(blank(page) for page in pages)
