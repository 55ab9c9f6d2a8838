"""HTTP handlers of the ingest and read API (Starlette), mounted by the server under /api/v1."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.access import SESSION_COOKIE, AccessService
from collectors.ingest import IngestService
from collectors.metrics_query import check_segment, parse_metrics_query
from collectors.performance import metric_rows
from collectors.records import RecordsInvalid
from collectors.window_parts import PartCache
from monitoring.access import Action, Principal, allows, denial
from monitoring.pii import hidden_for, segment_refusal
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
    access: AccessService | None = None  # tokens with scopes, the audit log (else token_hashes)
    pii: Callable[[str], frozenset[str]] = lambda model: frozenset()  # a model's PII features


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


def query_time(value: str | None, name: str) -> datetime | None:
    """An ISO-8601 query parameter as an aware time (UTC when it has no zone); 400 if bad."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, f"{name}={value!r} is not an ISO-8601 time (e.g. 2026-11-25T10:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def client_address(request: Request) -> str:
    """Where a request came from, for the audit log."""
    return request.client.host if request.client else "-"


def _same_origin(request: Request) -> bool:
    """False for a browser request sent from another site (its Origin names another host)."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _principal(ctx: ApiContext, request: Request) -> Principal | None:
    """Who sent the request: its bearer token, else a dashboard session cookie."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if token:
        if ctx.access is not None:
            return ctx.access.token_principal(token)
        # Without an access service (unit tests of handlers) the configured tokens are admins.
        return (
            Principal("api", "token", scope="admin") if matches(token, ctx.token_hashes) else None
        )
    session = request.cookies.get(SESSION_COOKIE)
    if not session or ctx.access is None or not _same_origin(request):
        return None  # a cross-site page cannot use the signed-in person's cookie
    return await run_in_threadpool(ctx.access.session_principal, session)


def _audit(
    ctx: ApiContext, request: Request, principal: Principal, action: str, outcome: str
) -> None:
    if ctx.access is None:
        return
    target = getattr(request.state, "audit_target", None) or request.path_params.get("model", "")
    detail = dict(getattr(request.state, "audit_detail", {}))
    if outcome != "ok":
        detail.setdefault("request", f"{request.method} {request.url.path}")
    ctx.access.audit(principal, action, str(target), detail, client_address(request), outcome)


def guarded(
    ctx: ApiContext,
    handler: Handler,
    *,
    auth: bool = True,
    action: Action = Action.READ,
    audit: str | None = None,
) -> Handler:
    """Wrap a handler: who is asking (401), may they (403), errors as JSON, the audit log.

    `action` is what the route does; a token's scope and model, or a person's role, must
    allow it. `audit` names the audit-log action recorded for every attempt, with its outcome.
    """

    async def endpoint(request: Request) -> Response:
        principal = None
        if auth:
            principal = await _principal(ctx, request)
            if principal is None:
                ctx.ingest.metrics.rejected.labels("unauthorized").inc()
                return error(
                    401,
                    "missing, invalid or revoked API token: send 'Authorization: Bearer <token>' "
                    "(or sign in to the dashboard first)",
                    **{"WWW-Authenticate": "Bearer"},
                )
            model = request.path_params.get("model")
            if not allows(principal, action, model):
                ctx.ingest.metrics.rejected.labels("forbidden").inc()
                if action is not Action.READ:
                    await run_in_threadpool(
                        _audit, ctx, request, principal, audit or "denied", "denied"
                    )
                return error(403, f"forbidden: {denial(principal, action, model)}")
            request.state.principal = principal
        response = await _handle(ctx, handler, request)
        if audit and principal is not None:
            outcome = "ok" if response.status_code < 400 else f"failed ({response.status_code})"
            await run_in_threadpool(_audit, ctx, request, principal, audit, outcome)
        return response

    return endpoint


async def _handle(ctx: ApiContext, handler: Handler, request: Request) -> Response:
    """Run the handler, mapping its errors to JSON responses."""
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
        if query.segment is not None:
            hidden = hidden_for(getattr(request.state, "principal", None), ctx.pii(model.name))
            refusal = segment_refusal(query.segment[0], hidden)
            if refusal:
                raise ApiError(403, f"forbidden: {refusal}")
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
        Route(
            "/api/v1/models/{model}",
            guarded(ctx, put_model, action=Action.INGEST),
            methods=["PUT"],
        ),
        Route(
            "/api/v1/models/{model}/predictions",
            guarded(ctx, post_predictions, action=Action.INGEST),
            methods=["POST"],
        ),
        Route(
            "/api/v1/models/{model}/labels",
            guarded(ctx, post_labels, action=Action.INGEST),
            methods=["POST"],
        ),
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
