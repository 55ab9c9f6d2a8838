"""GET /api/v1/models/{model}/report: a stakeholder report of a range as HTML, PDF or CSV,
or the range's raw predictions as Parquet.

PII (features marked `pii = true`): the report masks their values for a caller who does not
see PII; a Parquet export leaves them out unless an admin asks with include_pii=true. A
Parquet export is raw data, so it needs the edit permission (the report itself: read).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

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
from monitoring.access import Action, Principal, allows, denial
from monitoring.pii import hidden_for
from monitoring.report import csv_zip, render_html
from storage.exports import parquet_bytes, range_predictions

FORMATS = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "application/zip",
    "parquet": "application/vnd.apache.parquet",
}
SUFFIXES = {"html": "html", "pdf": "pdf", "csv": "zip", "parquet": "parquet"}
ONLY_ADMINS = "only admins may export PII: include_pii=true needs an admin (role or token)"


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
    hidden: Collection[str] | None = None,
) -> bytes:
    """Gather the range's data and render it in one format (parquet: the raw predictions).

    hidden: the PII features to mask in the report, or to leave out of a Parquet export;
    None means every feature the model marks PII (the safe choice for an unknown reader).
    """
    if hidden is None:
        hidden = settings.model(model.name).pii  # type: ignore[attr-defined]
    if data_format == "parquet":
        table = range_predictions(con, model, start, end, version, exclude=hidden)  # type: ignore[arg-type]
        return parquet_bytes(table)
    data = gather(con, settings, model, start, end, version, generated_by, hidden)  # type: ignore[arg-type]
    return render(data_format, paper)(data)


def include_pii(params: Mapping[str, str]) -> bool:
    """The include_pii query parameter: true or false (default); 400 otherwise."""
    text = (params.get("include_pii") or "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise ApiError(400, f"include_pii={text!r}: use true or false")
    return text in ("true", "1")


def export_hidden(
    principal: Principal | None,
    model: str,
    pii: Collection[str],
    data_format: str,
    with_pii: bool,
) -> frozenset[str]:
    """The PII features kept from this caller's export; ApiError 403 when it may not have it.

    Parquet is raw data: it needs the edit permission and drops every PII column unless an
    admin asks for them. The report masks them for callers who do not see PII.
    """
    if with_pii and (principal is None or not principal.is_admin):
        raise ApiError(403, f"forbidden: {ONLY_ADMINS}")
    if data_format != "parquet":
        return hidden_for(principal, pii)
    if principal is None or not allows(principal, Action.EDIT, model):
        why = "nobody is signed in" if principal is None else denial(principal, Action.EDIT, model)
        raise ApiError(
            403, f"forbidden: a Parquet export holds raw predictions and needs edit access; {why}"
        )
    return frozenset() if with_pii else frozenset(pii)


def report_routes(ctx: ApiContext, settings: Settings) -> list[Route]:
    """The report route."""

    async def get_report(request: Request) -> Response:
        params = request.query_params
        start, end, version = range_params(params, ("format", "paper", "include_pii"))
        data_format = params.get("format", "html")
        if data_format not in FORMATS:
            raise ApiError(400, f"format={data_format!r}: use html, pdf, csv or parquet")
        paper = params.get("paper", "a4")
        if paper not in PAPERS:
            raise ApiError(400, f"paper={paper!r}: use a4 or letter")
        name = request.path_params["model"]
        with_pii = include_pii(params)
        request.state.audit_detail = {"format": data_format, "include_pii": with_pii}
        principal = getattr(request.state, "principal", None)
        hidden = export_hidden(principal, name, settings.model(name).pii, data_format, with_pii)

        def build() -> bytes:
            model = ctx.ingest.model(name)
            con = ctx.ingest.store.cursor()
            return report_bytes(
                con,
                settings,
                model,
                start,
                end,
                version,
                data_format,
                "the Vigil API",
                paper,
                hidden,
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

    return [
        Route(
            "/api/v1/models/{model}/report",
            guarded(ctx, get_report, audit="report.export"),
            methods=["GET"],
        )
    ]
