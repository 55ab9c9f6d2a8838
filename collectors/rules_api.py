"""Alert rules and silences over HTTP: list them (read), change them (editor).

Rules saved here are the same as those saved on the Alerts page (the `alert_rules` table);
rules of the config file can be read but not changed. Every change is audited by `guarded`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.alerting import Alerting
from collectors.http_api import ApiContext, ApiError, guarded, ok, parse_json, read_body
from monitoring.access import Action
from monitoring.alert_lifecycle import Silence, validate_silence
from monitoring.alert_rules import parse_rule, rule_to_table
from storage import alert_definitions as store_definitions
from storage import alerts as store_alerts
from storage.models import list_models

RULE_EXAMPLE = '{"metric": "accuracy", "comparison": "<", "threshold": 0.9, "model": "churn"}'


def _models(alerting: Alerting) -> set[str]:
    return {m.name for m in list_models(alerting.ingest.store.cursor())}


def rule_routes(ctx: ApiContext, alerting: Alerting) -> list[Route]:
    """GET/PUT/DELETE of rules and GET/POST/DELETE of silences."""

    async def body_of(request: Request, example: str) -> dict[str, Any]:
        body = parse_json(await read_body(request, ctx.max_body_bytes))
        if not isinstance(body, dict):
            raise ApiError(400, f"body must be a JSON object like {example}")
        return body

    async def list_rules(request: Request) -> Response:
        def collect() -> list[dict[str, Any]]:
            config = {r.name for r in alerting.settings.rules}
            return [
                {
                    "name": r.name,
                    "source": "config" if r.name in config else "api",
                    **rule_to_table(r),
                }
                for r in alerting.rules()
            ]

        return ok({"rules": await run_in_threadpool(collect)})

    async def put_rule(request: Request) -> Response:
        name = request.path_params["name"]
        request.state.audit_target = name
        table = await body_of(request, RULE_EXAMPLE)
        if any(r.name == name for r in alerting.settings.rules):
            raise ApiError(409, f"rule {name!r} is in the config file: change it there")

        def save() -> dict[str, Any]:
            try:
                rule = parse_rule(
                    name, dict(table), models=_models(alerting), channels=alerting.channels()
                )
            except ValueError as exc:
                raise ApiError(422, str(exc)) from None
            definition = rule_to_table(rule)
            by = request.state.principal.title
            at = datetime.now(UTC)
            alerting.ingest.writer.run(
                lambda con: store_definitions.save_rule(con, name, definition, by, at)
            )
            return definition

        definition = await run_in_threadpool(save)
        request.state.audit_detail = {"metric": definition.get("metric")}
        return ok({"rule": {"name": name, **definition}})

    async def delete_rule(request: Request) -> Response:
        name = request.path_params["name"]
        request.state.audit_target = name
        done = await run_in_threadpool(
            alerting.ingest.writer.run, lambda con: store_definitions.delete_rule(con, name)
        )
        if not done:
            raise ApiError(404, f"no rule {name!r} saved through the dashboard or the API")
        return ok({"deleted": name})

    async def list_silences(request: Request) -> Response:
        rows = await run_in_threadpool(
            lambda: store_alerts.list_silences(alerting.ingest.store.cursor())
        )
        return ok({"silences": rows})

    async def post_silence(request: Request) -> Response:
        body = await body_of(
            request, '{"rule": "low-accuracy", "minutes": 60, "comment": "deploying v3"}'
        )
        now = datetime.now(UTC)
        try:
            minutes = float(body.get("minutes", 60))
            ends_at = now + timedelta(minutes=minutes)
        except (TypeError, ValueError, OverflowError):
            raise ApiError(422, f"minutes must be a number, got {body.get('minutes')!r}") from None
        labels = body.get("labels") or {}
        if not isinstance(labels, dict):
            raise ApiError(422, 'labels must be an object like {"team": "risk"}')
        author = request.state.principal.title
        silence = Silence(
            "new",
            body.get("rule"),
            body.get("model"),
            {str(k): str(v) for k, v in labels.items()},
            now,
            ends_at,
            author,
            str(body.get("comment") or ""),
        )

        def create() -> str:
            try:
                validate_silence(silence, now, rules={r.name for r in alerting.rules()})
            except ValueError as exc:
                raise ApiError(422, str(exc).removeprefix("silence 'new': ")) from None
            row = {
                "rule": silence.rule,
                "model": silence.model,
                "labels": dict(silence.labels),
                "starts_at": now,
                "ends_at": ends_at,
                "author": author,
                "comment": silence.comment,
                "created_at": now,
            }
            return alerting.ingest.writer.run(lambda con: store_alerts.add_silence(con, row))

        silence_id = await run_in_threadpool(create)
        request.state.audit_target = silence_id
        request.state.audit_detail = {"rule": silence.rule, "model": silence.model}
        return ok({"id": silence_id, "ends_at": ends_at})

    async def expire(request: Request) -> Response:
        silence_id = request.path_params["id"]
        request.state.audit_target = silence_id
        now = datetime.now(UTC)
        done = await run_in_threadpool(
            alerting.ingest.writer.run,
            lambda con: store_alerts.expire_silence(con, silence_id, now),
        )
        if not done:
            raise ApiError(404, f"no active silence {silence_id!r}")
        return ok({"expired": silence_id})

    edit = {"action": Action.EDIT}
    return [
        Route("/api/v1/rules", guarded(ctx, list_rules), methods=["GET"]),
        Route(
            "/api/v1/rules/{name}",
            guarded(ctx, put_rule, audit="rule.save", **edit),
            methods=["PUT"],
        ),
        Route(
            "/api/v1/rules/{name}",
            guarded(ctx, delete_rule, audit="rule.delete", **edit),
            methods=["DELETE"],
        ),
        Route("/api/v1/silences", guarded(ctx, list_silences), methods=["GET"]),
        Route(
            "/api/v1/silences",
            guarded(ctx, post_silence, audit="silence.create", **edit),
            methods=["POST"],
        ),
        Route(
            "/api/v1/silences/{id}",
            guarded(ctx, expire, audit="silence.expire", **edit),
            methods=["DELETE"],
        ),
    ]
