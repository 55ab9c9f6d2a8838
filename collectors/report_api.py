"""GET /api/v1/models/{model}/report: a stakeholder report of a range as HTML, PDF or CSV."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.drift_api import range_params
from collectors.http_api import ApiContext, ApiError, guarded
from collectors.report_data import gather
from collectors.report_pdf import PAPERS, PdfUnavailable, html_to_pdf
from collectors.settings import Settings
from monitoring.report import csv_zip, render_html
from storage.exports import parquet_bytes, range_predictions

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "application/zip",
    "parquet": "application/vnd.apache.parquet",
}
SUFFIXES = {"html": "html", "pdf": "pdf", "csv": "zip", "parquet": "parquet"}


def render(data_format: str, paper: str = "a4") -> Callable[..., bytes]:
    """The renderer of a format: ReportData -> bytes."""
    if data_format == "html":
        return lambda data: render_html(data).encode("utf-8")
    if data_format == "pdf":
        return lambda data: html_to_pdf(render_html(data), paper)
    return csv_zip


def report_bytes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: object,
    start: object,
    end: object,
    version: str | None,
    data_format: str,
    generated_by: str,
    paper: str = "a4",
) -> bytes:
    """Gather the range's data and render it in one format (parquet: the raw predictions)."""
    if data_format == "parquet":
        return parquet_bytes(range_predictions(con, model, start, end, version))  # type: ignore[arg-type]
    data = gather(con, settings, model, start, end, version, generated_by)  # type: ignore[arg-type]
    return render(data_format, paper)(data)


def report_routes(ctx: ApiContext, settings: Settings) -> list[Route]:
    """The report route."""

    async def get_report(request: Request) -> Response:
        start, end, version = range_params(request.query_params, ("format", "paper"))
        data_format = request.query_params.get("format", "html")
        if data_format not in FORMATS:
            raise ApiError(400, f"format={data_format!r}: use html, pdf, csv or parquet")
        paper = request.query_params.get("paper", "a4")
        if paper not in PAPERS:
            raise ApiError(400, f"paper={paper!r}: use a4 or letter")
        name = request.path_params["model"]

        def build() -> bytes:
            model = ctx.ingest.model(name)
            con = ctx.ingest.store.cursor()
            return report_bytes(
                con, settings, model, start, end, version, data_format, "the Vigil API", paper
            )

        try:
            body = await run_in_threadpool(build)
        except PdfUnavailable as exc:
            raise ApiError(503, str(exc)) from None
        filename = f"{name}-report-{start:%Y%m%d}-{end:%Y%m%d}.{SUFFIXES[data_format]}"
        return Response(
            body,
            media_type=FORMATS[data_format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return [Route("/api/v1/models/{model}/report", guarded(ctx, get_report), methods=["GET"])]
