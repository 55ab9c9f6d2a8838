"""The admin API under /api/v1: users, API tokens, the audit log and erasure of a subject's
rows. Every route needs an admin (a person with the admin role or an admin-scope token)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.access import AccessService, ConflictError
from collectors.http_api import (
    ApiContext,
    ApiError,
    client_address,
    guarded,
    ok,
    parse_json,
    query_time,
    read_body,
)
from monitoring.access import Action, Principal, check_scope, parse_role

T = TypeVar("T")
AUDIT_LIMIT = 10_000
ERASE_NOTE = (
    "The rows are deleted and the erasure is in the audit log. Deleted values stay in the "
    "database file's free blocks until the file is compacted, which the server does when it "
    "next starts: restart it to complete the erasure."
)
_USER_FIELDS = ("name", "role", "created_at", "updated_at", "last_login_at", "locked_until")
_TOKEN_FIELDS = (
    "id",
    "name",
    "scope",
    "model",
    "created_at",
    "created_by",
    "last_used_at",
    "revoked_at",
)


def user_dict(record: Any) -> dict[str, Any]:
    """A user as the API shows it: never the password hash or the failure counter."""
    return {key: getattr(record, key) for key in _USER_FIELDS}


def token_dict(record: Any) -> dict[str, Any]:
    """A token's public record: its id (a prefix of the hash) but never the hash itself."""
    return {**{key: getattr(record, key) for key in _TOKEN_FIELDS}, "active": record.active}


async def access_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an AccessService call off the event loop, its errors turned into API errors."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except ConflictError as exc:
        raise ApiError(409, str(exc)) from None
    except KeyError:
        raise  # a bug, not an unknown user or token: let it be a 500
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


def _principal(request: Request) -> Principal:
    """The admin asking, as `guarded` found them."""
    principal: Principal = request.state.principal
    return principal


async def _body(request: Request, ctx: ApiContext, example: str) -> dict[str, Any]:
    data = parse_json(await read_body(request, ctx.max_body_bytes))
    if not isinstance(data, dict):
        raise ApiError(400, f"body must be a JSON object like {example}")
    return data


def _text(body: dict[str, Any], key: str, example: str, required: bool = True) -> str | None:
    """A string field of the body; 400 when it is missing (if required) or not a string."""
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        problem = "is missing" if value is None else "must be a string"
        raise ApiError(400, f"{key!r} {problem}: send a JSON object like {example}")
    return value


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 1000
    if not value.isdigit() or not 1 <= int(value) <= AUDIT_LIMIT:
        raise ApiError(400, f"limit={value!r} must be a whole number from 1 to {AUDIT_LIMIT:,}")
    return int(value)


def _detail(text: Any) -> Any:
    """The audit entry's detail, stored as JSON text, as an object again."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _erase_value(value: Any, what: str) -> str:
    # Booleans are ints in Python, but no feature or tag is compared against true/false.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(400, f'erasing by {what} needs "value": a string or a number')
    return str(value)


def erase_selector(body: dict[str, Any]) -> tuple[list[str], str | None, str | None]:
    """(event_ids, column, value) from one of the three body forms; 400 naming them."""
    forms = [key for key in ("event_ids", "feature", "tag") if key in body]
    if len(forms) != 1:
        raise ApiError(
            400,
            'send exactly one of {"event_ids": [...]}, {"feature": NAME, "value": V} or '
            '{"tag": KEY, "value": V}' + (f"; got {', '.join(forms)}" if forms else ""),
        )
    if forms[0] == "event_ids":
        ids = body["event_ids"]
        if (
            not isinstance(ids, list)
            or not ids
            or not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids)
        ):
            raise ApiError(400, '"event_ids" must be a non-empty list of event ids')
        return [str(i) for i in ids], None, None
    name = body[forms[0]]
    if not isinstance(name, str) or not name:
        raise ApiError(400, f'"{forms[0]}" must be a {forms[0]} name')
    column = name if forms[0] == "feature" else f"tag:{name}"
    return [], column, _erase_value(body.get("value"), f"{forms[0]} {name!r}")


def admin_routes(ctx: ApiContext) -> list[Route]:
    """The admin routes; `guarded` refuses anyone who is not an admin before they run."""

    def service() -> AccessService:
        # Looked up per request so the routes can be listed without a server (README test).
        if ctx.access is None:
            raise RuntimeError("the admin routes need the access service (ApiContext.access)")
        return ctx.access

    user_example = '{"name": "ana", "role": "viewer", "password": "..."}'
    issue_example = '{"name": "ci", "scope": "ingest", "model": "credit"}'

    async def list_users(request: Request) -> Response:
        users = await access_call(service().list_users)
        return ok({"users": [user_dict(u) for u in users]})

    async def add_user(request: Request) -> Response:
        body = await _body(request, ctx, user_example)
        name = _text(body, "name", user_example)
        role_text = _text(body, "role", user_example)
        password = _text(body, "password", user_example)
        try:
            role = parse_role(str(role_text))
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        user = await access_call(
            service().add_user, name, role, password, _principal(request), client_address(request)
        )
        return ok({"user": user_dict(user)})

    async def change_user(request: Request) -> Response:
        example = '{"role": "editor"} or {"password": "..."}'
        name = request.path_params["name"]
        body = await _body(request, ctx, example)
        role_text = _text(body, "role", example, required=False)
        password = _text(body, "password", example, required=False)
        if role_text is None and password is None:
            raise ApiError(400, f"nothing to change: send {example}")
        try:
            role = None if role_text is None else parse_role(role_text)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        by, source = _principal(request), client_address(request)
        if password is not None:
            await access_call(service().set_password, name, password, by, source)
        if role is not None:
            user = await access_call(service().set_role, name, role, by, source)
        else:
            users = await access_call(service().list_users)
            user = next(u for u in users if u.name == name)
        return ok({"user": user_dict(user)})

    async def remove_user(request: Request) -> Response:
        name = request.path_params["name"]
        await access_call(service().remove_user, name, _principal(request), client_address(request))
        return ok({"removed": name})

    async def list_tokens(request: Request) -> Response:
        tokens = await access_call(service().list_tokens)
        return ok({"tokens": [token_dict(t) for t in tokens]})

    async def create_token(request: Request) -> Response:
        body = await _body(request, ctx, issue_example)
        name = _text(body, "name", issue_example)
        scope = _text(body, "scope", issue_example)
        model = _text(body, "model", issue_example, required=False) or None
        try:
            check_scope(str(scope))
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        secret, record = await access_call(
            service().create_token, name, scope, model, _principal(request), client_address(request)
        )
        return ok({"token": secret, **token_dict(record)})

    async def revoke_token(request: Request) -> Response:
        ident = request.path_params["ident"]
        record = await access_call(
            service().revoke_token, ident, _principal(request), client_address(request)
        )
        return ok({"revoked": token_dict(record)})

    async def audit(request: Request) -> Response:
        params = request.query_params
        start, end = query_time(params.get("start"), "start"), query_time(params.get("end"), "end")
        if start is not None and end is not None and end <= start:
            raise ApiError(400, f"end {end.isoformat()} must be after start {start.isoformat()}")
        frame = await access_call(
            service().audit_entries,
            start=start,
            end=end,
            actor=params.get("actor") or None,
            action=params.get("action") or None,
            limit=_limit(params.get("limit")),
        )
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return ok({"entries": [{**r, "detail": _detail(r.get("detail"))} for r in rows]})

    async def erase(request: Request) -> Response:
        example = '{"event_ids": ["e1", "e2"]}'
        body = await _body(request, ctx, example)
        event_ids, column, value = erase_selector(body)
        # An unknown model raises UnknownModelError, which `guarded` answers with 404.
        erased = await access_call(
            service().erase,
            request.path_params["model"],
            _principal(request),
            client_address(request),
            event_ids=event_ids,
            column=column,
            value=value,
        )
        return ok({"erased": erased.as_dict(), "note": ERASE_NOTE})

    def admin(handler: Any) -> Any:
        return guarded(ctx, handler, action=Action.ADMIN)

    return [
        Route("/api/v1/users", admin(list_users), methods=["GET"]),
        Route("/api/v1/users", admin(add_user), methods=["POST"]),
        Route("/api/v1/users/{name}", admin(change_user), methods=["PATCH"]),
        Route("/api/v1/users/{name}", admin(remove_user), methods=["DELETE"]),
        Route("/api/v1/tokens", admin(list_tokens), methods=["GET"]),
        Route("/api/v1/tokens", admin(create_token), methods=["POST"]),
        Route("/api/v1/tokens/{ident}", admin(revoke_token), methods=["DELETE"]),
        Route("/api/v1/audit", admin(audit), methods=["GET"]),
        Route("/api/v1/models/{model}/erase", admin(erase), methods=["POST"]),
    ]
