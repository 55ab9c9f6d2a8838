"""What the `vigil` subcommands that talk to a running server share: its URL, the token
from the environment, and JSON calls with errors turned into one readable line."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

DEFAULT_URL = "http://127.0.0.1:8501"


def server_flags(parser: argparse.ArgumentParser) -> None:
    """--url, defaulting to $VIGIL_URL or the local server."""
    parser.add_argument(
        "--url",
        default=os.environ.get("VIGIL_URL", DEFAULT_URL),
        help=f"the server (default {DEFAULT_URL}; env VIGIL_URL)",
    )


def token() -> str:
    """The API token from VIGIL_API_TOKEN or VIGIL_API_TOKEN_FILE; exits saying how when unset."""
    value = os.environ.get("VIGIL_API_TOKEN", "")
    path = os.environ.get("VIGIL_API_TOKEN_FILE")
    if not value and path:
        value = Path(path).read_text(encoding="utf-8").strip()
    if not value:
        raise SystemExit(
            "vigil: set VIGIL_API_TOKEN (or VIGIL_API_TOKEN_FILE) to an API token of the server"
        )
    return value


def call(method: str, url: str, body: bytes | None = None, kind: str = "") -> dict[str, Any]:
    """One authenticated call; SystemExit with the server's error message on failure."""
    headers = {"Authorization": f"Bearer {token()}"}
    if kind:
        headers["Content-Type"] = kind
    # model_url only builds http(s) URLs.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=600) as reply:  # noqa: S310
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        raise SystemExit(f"vigil: the server refused it ({exc.code}): {message}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(
            f"vigil: cannot reach the server at {url.split('/api/')[0]}: {exc.reason}. "
            "Is `vigil serve` running? Set --url or VIGIL_URL"
        ) from None


def fetch(url: str) -> bytes:
    """One authenticated GET of a non-JSON body (a report); SystemExit on failure."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token()}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=600) as reply:  # noqa: S310
            return bytes(reply.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        raise SystemExit(f"vigil: the server refused it ({exc.code}): {message}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"vigil: cannot reach {url.split('/api/')[0]}: {exc.reason}") from None


def model_url(base: str, model: str, path: str, params: dict[str, str]) -> str:
    """The URL of a model's API path with its query parameters."""
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"vigil: --url {base!r} must start with http:// or https://")
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{base.rstrip('/')}/api/v1/models/{quote(model, safe='')}/{path}" + (
        f"?{query}" if query else ""
    )


def api_url(base: str, path: str, params: dict[str, str] | None = None) -> str:
    """The URL of an /api/v1 path that is not about one model (users, tokens, audit)."""
    if not base.startswith(("http://", "https://")):
        raise SystemExit(f"vigil: --url {base!r} must start with http:// or https://")
    query = urlencode({k: v for k, v in (params or {}).items() if v})
    return f"{base.rstrip('/')}/api/v1/{path}" + (f"?{query}" if query else "")


def call_json(method: str, url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """`call` with a JSON body (POST, PATCH) or none (GET, DELETE)."""
    if payload is None:
        return call(method, url)
    return call(method, url, json.dumps(payload).encode("utf-8"), "application/json")


def server_answers(url: str) -> bool:
    """True if a Vigil server answers its health check at `url`."""
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"vigil: --url {url!r} must start with http:// or https://")
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/health", timeout=3):  # noqa: S310
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False
