"""HTTP routes of model artifacts and explanations under /api/v1/models/{model}/."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.drift_api import range_params
from collectors.explain_service import ArtifactInvalid, ExplainService, NoArtifact, UnknownEvent
from collectors.http_api import ApiContext, ApiError, guarded, ok, read_body
from collectors.metrics_query import parse_segment
from monitoring.access import Action
from monitoring.pii import hidden_for, mask_explanation, segment_refusal


def explain_routes(ctx: ApiContext, service: ExplainService) -> list[Route]:
    """PUT artifact, GET artifacts, GET explanations/{event_id}, GET importance."""

    async def put_artifact(request: Request) -> Response:
        model, version = request.path_params["model"], request.path_params["version"]
        body = await read_body(request, service.settings.max_artifact_bytes)
        try:
            info = await run_in_threadpool(service.register_artifact, model, version, body)
        except ArtifactInvalid as exc:
            raise ApiError(422, str(exc)) from None
        return ok({"artifact": info.as_dict()})

    async def get_artifacts(request: Request) -> Response:
        found = await run_in_threadpool(service.artifacts, request.path_params["model"])
        return ok({"artifacts": [a.as_dict() for a in found]})

    def hidden(request: Request) -> frozenset[str]:
        """The model's PII features the caller must not see (none for editors, admins)."""
        caller = getattr(request.state, "principal", None)
        return hidden_for(caller, service.settings.model(request.path_params["model"]).pii)

    async def get_explanation(request: Request) -> Response:
        model, event_id = request.path_params["model"], request.path_params["event_id"]
        try:
            payload = await run_in_threadpool(service.explain_event, model, event_id)
        except UnknownEvent as exc:
            raise ApiError(404, str(exc)) from None
        except NoArtifact as exc:
            raise ApiError(409, str(exc)) from None
        return ok(mask_explanation(payload, hidden(request)))

    async def get_importance(request: Request) -> Response:
        params = request.query_params
        start, end, version = range_params(params, ("segment",))
        try:
            segment = parse_segment(params["segment"]) if params.get("segment") else None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        refusal = segment_refusal(segment[0], hidden(request)) if segment else None
        if refusal is not None:  # a segment names a value: a probe for who is in the data
            raise ApiError(403, f"forbidden: {refusal}")
        name = request.path_params["model"]
        try:
            payload = await run_in_threadpool(
                service.importance, name, start, end, version, segment
            )
        except ValueError as exc:  # an unknown segment dimension
            raise ApiError(400, str(exc)) from None
        return ok({"model": name, "version": version, **payload})

    base = "/api/v1/models/{model}"
    return [
        Route(
            f"{base}/versions/{{version}}/artifact",
            guarded(ctx, put_artifact, action=Action.ADMIN, audit="artifact.upload"),
            methods=["PUT"],
        ),
        Route(f"{base}/artifacts", guarded(ctx, get_artifacts), methods=["GET"]),
        Route(f"{base}/explanations/{{event_id}}", guarded(ctx, get_explanation), methods=["GET"]),
        Route(f"{base}/importance", guarded(ctx, get_importance), methods=["GET"]),
    ]
