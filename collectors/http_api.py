"""HTTP handlers of the ingest and read API (Starlette), mounted by the server under /api/v1."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.ingest import IngestService
from collectors.metrics_query import check_segment, parse_metrics_query
from collectors.performance import metric_rows
from collectors.records import RecordsInvalid
from collectors.window_parts import PartCache
from storage import (
    InvalidIdentifierError,
    SchemaConflictError,
    UnknownModelError,
    WriteQueueFullError,
)
from storage.queries import model_summaries, prediction_counts
from storage.tokens import matches

log = logging.getLogger(__name__)
ARROW_STREAM = "application/vnd.apache.arrow.stream"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class ApiContext:
    """What the handlers need; built by the server's lifespan."""

    ingest: IngestService
    version: str
    max_body_bytes: int
    token_hashes: set[str] = field(default_factory=set)
    system_snapshot: Callable[[], None] | None = None
    provisional_coverage: Callable[[str], float] = lambda model: 0.8
    parts: PartCache | None = None  # per-window performance parts, shared with the pages


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


def error(
    status: int, message: str, details: list[Any] | None = None, **headers: str
) -> JSONResponse:
    return JSONResponse(
        {"error": message, "details": details or []}, status, headers=headers or None
    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def ok(payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, default=_json_default)
    return Response(body, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes with 413 before reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            f"body of {int(declared):,} bytes exceeds the {limit:,}-byte limit: "
            "send smaller batches",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body exceeds the {limit:,}-byte limit: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Parse with orjson; fall back to the stdlib, which also reads NaN/Infinity literals.

    The fallback lets a record with NaN be refused as an invalid record (422) naming its
    field, as a client using Python's json module would send it, rather than as a bad body.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None


def parse_records(body: bytes, content_type: str) -> object:
    """`records` from a JSON body, or an Arrow table from an Arrow IPC stream."""
    if content_type.split(";")[0].strip() == ARROW_STREAM:
        try:
            return pa.ipc.open_stream(body).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ApiError(400, f"body is not a valid Arrow IPC stream: {exc}") from None
    data = parse_json(body)
    if not isinstance(data, dict) or "records" not in data:
        raise ApiError(400, 'body must be a JSON object {"records": [...]}')
    return data["records"]


def guarded(ctx: ApiContext, handler: Handler, *, auth: bool = True) -> Handler:
    """Wrap a handler with token checking and the mapping of errors to JSON responses."""

    async def endpoint(request: Request) -> Response:
        if auth:
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            if not token or not matches(token, ctx.token_hashes):
                ctx.ingest.metrics.rejected.labels("unauthorized").inc()
                return error(
                    401,
                    "missing or invalid API token: send 'Authorization: Bearer <token>'",
                    **{"WWW-Authenticate": "Bearer"},
                )
        try:
            return await handler(request)
        except ApiError as exc:
            ctx.ingest.metrics.rejected.labels(f"http_{exc.status}").inc()
            return error(exc.status, exc.message, exc.details)
        except RecordsInvalid as exc:
            return error(422, str(exc), [e.as_dict() for e in exc.errors])
        except UnknownModelError as exc:
            ctx.ingest.metrics.rejected.labels("unknown_model").inc()
            return error(404, str(exc))
        except (InvalidIdentifierError, SchemaConflictError) as exc:
            ctx.ingest.metrics.rejected.labels("invalid_schema").inc()
            return error(422, str(exc))
        except WriteQueueFullError as exc:
            ctx.ingest.metrics.rejected.labels("queue_full").inc()
            return error(503, str(exc), **{"Retry-After": "1"})
        except Exception:
            log.exception("internal error on %s %s", request.method, request.url.path)
            ctx.ingest.metrics.rejected.labels("internal_error").inc()
            return error(
                500, "internal error: nothing from this request was stored; see the server log"
            )

    return endpoint


def api_routes(ctx: ApiContext) -> list[Route]:
    """Every /api/v1 route and /metrics."""

    async def health(request: Request) -> Response:
        return ok({"status": "ok", "version": ctx.version, "db": str(ctx.ingest.store.path)})

    async def put_model(request: Request) -> Response:
        body = parse_json(await read_body(request, ctx.max_body_bytes))
        if not isinstance(body, dict):
            raise ApiError(400, 'body must be a JSON object like {"task": "binary"}')
        model = await run_in_threadpool(ctx.ingest.register, request.path_params["model"], body)
        return ok(
            {
                "name": model.name,
                "task": model.task,
                "positive_class": model.positive_class,
                "features": model.features,
            }
        )

    async def list_models(request: Request) -> Response:
        models = await run_in_threadpool(lambda: model_summaries(ctx.ingest.store.cursor()))
        return ok({"models": models})

    async def post_predictions(request: Request) -> Response:
        body = await read_body(request, ctx.max_body_bytes)
        records = parse_records(body, request.headers.get("content-type", ""))
        result = await run_in_threadpool(
            ctx.ingest.predictions, request.path_params["model"], records
        )
        return ok({"accepted": result.accepted, "duplicates": result.duplicates})

    async def post_labels(request: Request) -> Response:
        body = await read_body(request, ctx.max_body_bytes)
        records = parse_records(body, "application/json")
        result = await run_in_threadpool(ctx.ingest.labels, request.path_params["model"], records)
        return ok({"accepted": result.accepted, "unmatched": result.unmatched})

    async def get_metrics(request: Request) -> Response:
        try:
            query = parse_metrics_query(request.query_params)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        model = await run_in_threadpool(ctx.ingest.model, request.path_params["model"])
        try:
            check_segment(model, query.segment)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        payload = await run_in_threadpool(
            lambda: metric_rows(
                ctx.ingest.store.cursor(),
                model,
                query.start,
                query.end,
                query.window,
                query.version,
                query.segment,
                provisional_coverage=ctx.provisional_coverage(model.name),
                cache=ctx.parts,
            )
        )
        return ok(payload)

    async def metrics(request: Request) -> Response:
        await run_in_threadpool(_refresh_gauges, ctx)
        return Response(
            generate_latest(ctx.ingest.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return [
        Route("/api/v1/health", guarded(ctx, health, auth=False), methods=["GET"]),
        Route("/api/v1/models", guarded(ctx, list_models), methods=["GET"]),
        Route("/api/v1/models/{model}", guarded(ctx, put_model), methods=["PUT"]),
        Route(
            "/api/v1/models/{model}/predictions", guarded(ctx, post_predictions), methods=["POST"]
        ),
        Route("/api/v1/models/{model}/labels", guarded(ctx, post_labels), methods=["POST"]),
        Route("/api/v1/models/{model}/metrics", guarded(ctx, get_metrics), methods=["GET"]),
        Route("/metrics", guarded(ctx, metrics, auth=False), methods=["GET"]),
    ]


def _refresh_gauges(ctx: ApiContext) -> None:
    metrics = ctx.ingest.metrics
    metrics.queue_depth.set(ctx.ingest.writer.depth)
    for name, count in prediction_counts(ctx.ingest.store.cursor()).items():
        metrics.predictions.labels(name).set(count)
    if ctx.system_snapshot is not None:
        ctx.system_snapshot()
