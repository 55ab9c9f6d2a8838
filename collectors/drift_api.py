"""HTTP routes of references, drift and data quality under /api/v1/models/{model}/."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from collectors.drift_service import DriftService, NoReference
from collectors.http_api import ApiContext, ApiError, guarded, ok, read_body
from collectors.metrics_query import parse_time
from collectors.reference_input import ReferenceInvalid
from collectors.reference_input import read_body as read_reference
from monitoring.access import Action
from monitoring.pii import hidden_for
from monitoring.windows import check_window
from storage import drift_store
from storage.references import list_references

RANGE_PARAMS = ("start", "end", "version")
# (cursor, model, granularity, start, end, version) -> the stored rows to answer with
StoredParts = Callable[..., dict[str, Any]]


def range_params(
    params: Mapping[str, str], extra: tuple[str, ...] = ()
) -> tuple[datetime, datetime, str | None]:
    """start, end (required, ISO-8601) and version; ApiError 400 names a bad one."""
    allowed = (*RANGE_PARAMS, *extra)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ApiError(
            400, f"unknown query parameter {', '.join(unknown)}: use {', '.join(allowed)}"
        )
    try:
        for name in ("start", "end"):
            if not params.get(name):
                raise ValueError(f"{name} is required: ?start=ISO-8601&end=ISO-8601")
        start, end = parse_time(params["start"], "start"), parse_time(params["end"], "end")
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if end <= start:
        raise ApiError(400, f"end {end.isoformat()} must be after start {start.isoformat()}")
    return start, end, params.get("version") or None


def _granularity(params: Mapping[str, str]) -> str:
    window = params.get("window") or "1h"
    try:
        check_window(window)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if window not in ("1h", "1d"):
        raise ApiError(400, f"window={window!r}: drift is stored per 1h and 1d window")
    return window


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN as null, timestamps as ISO text."""
    out = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="us"))
    return list(out)


def _range_body(data: object) -> dict[str, Any] | None:
    if isinstance(data, dict) and "range" in data:
        if not isinstance(data["range"], dict):
            raise ApiError(400, '"range" must be an object {"start": ISO, "end": ISO}')
        return data["range"]
    return None


def drift_routes(ctx: ApiContext, service: DriftService) -> list[Route]:
    """PUT/GET reference, GET drift (on demand), drift/windows, quality and drift/report."""

    async def put_reference(request: Request) -> Response:
        model = request.path_params["model"]
        params = request.query_params
        version = params.get("version") or None
        description = params.get("name") or "upload"
        limit = max(ctx.max_body_bytes, service.settings.max_reference_bytes)
        body = await read_body(request, limit)
        content_type = request.headers.get("content-type", "application/json")
        try:
            wanted = None
            if "json" in content_type or not content_type:
                try:
                    wanted = _range_body(json.loads(body))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    wanted = None
            if wanted is not None:
                start = parse_time(str(wanted.get("start", "")), "range.start")
                end = parse_time(str(wanted.get("end", "")), "range.end")
                source = wanted.get("version")
                info = await run_in_threadpool(
                    service.range_reference,
                    model,
                    start,
                    end,
                    version,
                    None if source is None else str(source),
                )
            else:
                frame = await run_in_threadpool(read_reference, body, content_type)
                info = await run_in_threadpool(
                    service.upload_reference, model, frame, version, description
                )
        except (ReferenceInvalid, ValueError) as exc:
            raise ApiError(422, str(exc)) from None
        return ok({"reference": info.as_dict()})

    async def get_reference(request: Request) -> Response:
        name = request.path_params["model"]
        version = request.query_params.get("version") or None

        def read() -> dict[str, Any]:
            model = service.ingest.model(name)
            con = service.ingest.store.cursor()
            try:
                active = service.reference(con, model, version).as_dict()
            except NoReference:
                active = None
            return {
                "reference": active,
                "references": [r.as_dict() for r in list_references(con, model)],
            }

        return ok(await run_in_threadpool(read))

    async def get_drift(request: Request) -> Response:
        start, end, version = range_params(request.query_params)
        try:
            result = await run_in_threadpool(
                service.range_drift, request.path_params["model"], start, end, version
            )
        except NoReference as exc:
            raise ApiError(409, str(exc)) from None
        return ok(result.as_api())

    async def stored(request: Request, parts: StoredParts) -> Response:
        """Stored windows of a range: {"window", "version", **parts(...)}."""
        start, end, version = range_params(request.query_params, ("window",))
        granularity = _granularity(request.query_params)

        def read() -> dict[str, Any]:
            model = service.ingest.model(request.path_params["model"])
            con = service.ingest.store.cursor()
            wanted = version or drift_store.ALL_VERSIONS
            found = parts(con, model, granularity, start, end, wanted)
            return {"window": granularity, "version": version, **found}

        return ok(await run_in_threadpool(read))

    async def get_drift_windows(request: Request) -> Response:
        return await stored(
            request,
            lambda con, model, granularity, start, end, wanted: {
                "windows": _records(
                    drift_store.drift_windows(con, model, granularity, start, end, wanted)
                ),
                "results": _records(
                    drift_store.drift_results(con, model, granularity, start, end, wanted)
                ),
            },
        )

    async def get_quality(request: Request) -> Response:
        return await stored(
            request,
            lambda con, model, granularity, start, end, wanted: {
                "quality": _records(
                    drift_store.quality_results(con, model, granularity, start, end, wanted)
                ),
                "rejections": _records(drift_store.rejections(con, model.name, start, end)),
            },
        )

    async def get_report(request: Request) -> Response:
        start, end, version = range_params(request.query_params)
        name = request.path_params["model"]
        # Evidently draws every column's values: PII columns stay out for who may not see them.
        caller = getattr(request.state, "principal", None)
        hidden = hidden_for(caller, service.settings.model(name).pii)
        try:
            page = await run_in_threadpool(
                service.evidently_report, name, start, end, version, hidden
            )
        except NoReference as exc:
            raise ApiError(409, str(exc)) from None
        except ReferenceInvalid as exc:
            raise ApiError(422, str(exc)) from None
        filename = f"{name}-drift-{start:%Y%m%d}-{end:%Y%m%d}.html"
        return HTMLResponse(
            page, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    base = "/api/v1/models/{model}"
    return [
        Route(
            f"{base}/reference",
            guarded(ctx, put_reference, action=Action.EDIT, audit="reference.set"),
            methods=["PUT"],
        ),
        Route(f"{base}/reference", guarded(ctx, get_reference), methods=["GET"]),
        Route(f"{base}/drift", guarded(ctx, get_drift), methods=["GET"]),
        Route(f"{base}/drift/windows", guarded(ctx, get_drift_windows), methods=["GET"]),
        Route(f"{base}/drift/report", guarded(ctx, get_report), methods=["GET"]),
        Route(f"{base}/quality", guarded(ctx, get_quality), methods=["GET"]),
    ]
