"""Dashboard sign-in for local users: GET/POST /login and /logout, a session cookie.

Streamlit cannot set cookies, so the form is a plain page served beside the app; the
pages then read the HttpOnly cookie through st.context.cookies and look the session up.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from collectors.access import SESSION_COOKIE, AccessService
from collectors.http_api import client_address
from collectors.settings import Settings

CSRF_COOKIE = "vigil_csrf"
FAILURE_DELAY_S = 1.0  # slows password guessing on top of the lock-out
MAX_FORM_BYTES = 16 * 1024

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f6f9; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem 2.2rem;
  border-radius: 10px; box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.4rem; margin: 0 0 1.2rem; }}
label {{ display: block; font-size: .9rem; margin: .8rem 0 .3rem; color: #333; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem .6rem; font-size: 1rem;
  border: 1px solid #c8ccd2; border-radius: 6px; }}
button {{ margin-top: 1.3rem; width: 100%; padding: .6rem; font-size: 1rem; border: 0;
  border-radius: 6px; background: #ff4b4b; color: #fff; cursor: pointer; }}
.error {{ background: #fdecea; color: #8a1c14; padding: .6rem .8rem; border-radius: 6px;
  font-size: .9rem; }}
.note {{ color: #666; font-size: .8rem; margin-top: 1.2rem; }}
</style></head>
<body><main>
<h1>Sign in to Vigil</h1>
{message}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="note">{note}</p>
</main></body></html>
"""


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) becomes '/'."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def secure_request(request: Request, settings: Settings) -> bool:
    """True when the browser reached us over HTTPS (directly or through a proxy)."""
    return settings.tls or request.headers.get("x-forwarded-proto", "").lower() == "https"


def login_page(
    request: Request, settings: Settings, message: str = "", status: int = 200
) -> Response:
    """The sign-in form with a fresh CSRF token (double-submit cookie)."""
    csrf = secrets.token_urlsafe(24)
    note = f"Sessions last {settings.session_hours:g} hours."
    if settings.auth.oidc is not None:
        note += ' Single sign-on: <a href="/">open the dashboard</a>.'
    body = PAGE.format(
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
        csrf=csrf,
        next=html.escape(safe_next(request.query_params.get("next"))),
        note=note,
    )
    response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=secure_request(request, settings),
        path="/login",
    )
    return response


def auth_routes(access: AccessService, settings: Settings) -> list[Route]:
    """/login (form and submit) and /logout."""

    async def show(request: Request) -> Response:
        if not settings.login_required:
            return RedirectResponse("/", 303)
        return login_page(request, settings)

    async def submit(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return login_page(request, settings, "The form is too large.", 413)
        form = await request.form()
        nxt = safe_next(str(form.get("next") or "/"))
        request.scope["query_string"] = f"next={quote(nxt)}".encode()
        sent, expected = str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(sent, expected):
            return login_page(request, settings, "The form expired: sign in again.", 400)
        name = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        result = await run_in_threadpool(access.login, name, password, client_address(request))
        if not result.ok or result.session is None:
            await asyncio.sleep(FAILURE_DELAY_S)
            return login_page(request, settings, result.message, 401)
        response = RedirectResponse(nxt, 303)
        response.set_cookie(
            SESSION_COOKIE,
            result.session,
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=secure_request(request, settings),
            path="/",
        )
        response.delete_cookie(CSRF_COOKIE, path="/login")
        return response

    async def logout(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        await run_in_threadpool(access.logout, session, client_address(request))
        response = RedirectResponse("/login" if settings.login_required else "/", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/login", show, methods=["GET"]),
        Route("/login", submit, methods=["POST"]),
        Route("/logout", logout, methods=["GET", "POST"]),
    ]


EXEMPT = (
    "/api/",
    "/_stcore/",
    "/static/",
    "/media/",
    "/component/",
    "/login",
    "/logout",
    "/auth/",
    "/oauth2callback",
    "/metrics",
    "/favicon",
    "/robots.txt",
)


class LoginRedirect:
    """ASGI middleware: a page request without a valid session goes to the sign-in form.

    Only a convenience: the page script checks the session again at every run, and the
    API checks tokens. With single sign-on or a trusted proxy header the app's own sign-in
    screen decides instead.
    """

    def __init__(self, app: ASGIApp, access: AccessService, settings: Settings) -> None:
        self.app, self.access, self.settings = app, access, settings

    def _applies(self, scope: Scope) -> bool:
        settings = self.settings
        return (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and settings.login_required
            and settings.auth.oidc is None
            and not settings.trusted_user_header
            and not str(scope["path"]).startswith(EXEMPT)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._applies(scope):
            request = Request(scope)
            session = request.cookies.get(SESSION_COOKIE)
            who = await run_in_threadpool(self.access.session_principal, session)
            if who is None:
                target = safe_next(str(scope["path"]))
                response = RedirectResponse(f"/login?next={quote(target)}", 303)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
