"""Webhook channel: POST the group as JSON (Vigil's schema or a Slack message), signed with HMAC.

Signature: ``X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, body bytes)>`` over the exact
body bytes, nothing else (no timestamp), so a receiver checks it with ``verify_signature``.
Redirects are never followed (a 3xx could move the alert, and its signature, to another host),
and environment proxies (``HTTP(S)_PROXY``) are ignored: the channel connects straight to the
host that ``allowed_hosts`` checked.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from monitoring.notifiers import DeliveryError, NotificationGroup, check_destination, slack_body

KINDS = ("json", "slack")
SIGNATURE_HEADER = "X-Vigil-Signature"
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "x-vigil-signature"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 header field name
_SNIPPET = 200


@cache
def user_agent() -> str:
    """``vigil/<installed version>``."""
    try:
        return f"vigil/{metadata.version('vigil-ml')}"
    except metadata.PackageNotFoundError:
        return "vigil/dev"


def sign(secret: str, body: bytes) -> str:
    """The X-Vigil-Signature header value for a body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of ``body`` with ``secret`` (constant-time)."""
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back as an HTTPError instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@cache
def _opener() -> urllib.request.OpenerDirector:
    # ProxyHandler({}) replaces the default one that reads HTTP(S)_PROXY.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True)
class WebhookChannel:
    """An HTTP(S) endpoint; url and headers stay out of repr (Slack URLs carry a token)."""

    name: str
    url: str = field(repr=False)
    kind: str = "json"
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0
    allowed_hosts: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.allowed_hosts, list):  # from TOML/JSON; keep the channel hashable
            object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))

    @property
    def destination(self) -> str:
        """``scheme://host[:port]`` of the URL: safe to log, unlike the path or query."""
        try:
            parts = urlsplit(self.url)
            host = parts.hostname or ""
            host = f"[{host}]" if ":" in host else host  # IPv6
            return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        except ValueError:
            return "<invalid url>"

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and how to fix it."""
        where = f"webhook channel {self.name!r}"
        if not self.name:
            raise ValueError("webhook channel: name is empty; give every channel a name")
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 -- raises ValueError for a bad port
        except ValueError:
            raise ValueError(f"{where}: url is not a valid URL") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(
                f"{where}: url must start with https:// or http://, got scheme {parts.scheme!r}"
            )
        if not parts.hostname:
            raise ValueError(f"{where}: url has no host; give e.g. https://hooks.example.com/x")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                f"{where}: credentials in the url (user:password@) are not sent; "
                "put them in headers, e.g. Authorization"
            )
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {list(KINDS)}")
        if (
            isinstance(self.timeout_s, bool)
            or not isinstance(self.timeout_s, int | float)
            or not self.timeout_s > 0
        ):
            raise ValueError(f"{where}: timeout_s must be > 0 seconds, got {self.timeout_s!r}")
        if self.secret is not None and not self.secret:
            raise ValueError(f"{where}: secret is empty; remove it or set a long random value")
        for key, value in self.headers.items():
            if not _TOKEN.fullmatch(key):
                raise ValueError(f"{where}: header name {key!r} is not a valid HTTP header name")
            if key.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{where}: header {key!r} is set by Vigil and cannot be changed")
            if not isinstance(value, str) or "\r" in value or "\n" in value:
                raise ValueError(f"{where}: header {key!r} must be one line of text")

    def body(self, group: NotificationGroup) -> bytes:
        """The exact bytes POSTed (and signed)."""
        payload = group.to_json() if self.kind == "json" else slack_body(group)
        return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")

    def request(self, group: NotificationGroup) -> urllib.request.Request:
        """The POST request with body, content type, user agent and signature."""
        data = self.body(group)
        headers = {**self.headers, "Content-Type": "application/json", "User-Agent": user_agent()}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, data)
        # validate() (run by send) admits http and https URLs only.
        return urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310

    def send(self, group: NotificationGroup) -> None:
        """POST the group; any failure (non-2xx, redirect, timeout, network) is a DeliveryError."""
        try:
            self.validate()
        except ValueError as exc:
            raise DeliveryError(str(exc)) from None
        check_destination(self.url, self.allowed_hosts)
        request = self.request(group)
        where = f"webhook channel {self.name!r} ({self.destination})"
        try:
            with _opener().open(request, timeout=self.timeout_s) as response:
                response.read(64 * 1024)  # drain a little so the server sees a clean close
        except urllib.error.HTTPError as exc:
            with exc:
                if 300 <= exc.code < 400:
                    location = exc.headers.get("Location", "(none)")
                    raise DeliveryError(
                        f"{where}: answered {exc.code} redirect to {location}; redirects are "
                        "not followed, set the channel url to the final address"
                    ) from None
                raise DeliveryError(
                    f"{where}: answered HTTP {exc.code} {exc.reason}: {_snippet(exc)}"
                ) from None
        except TimeoutError:
            raise DeliveryError(f"{where}: no answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise DeliveryError(f"{where}: no answer within {self.timeout_s:g} s") from None
            text = getattr(reason, "strerror", None) or reason
            raise DeliveryError(f"{where}: could not connect: {text}") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, bad status
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(_SNIPPET + 1)
    except OSError:
        return "(no body)"
    text = " ".join(raw.decode("utf-8", "replace").split())
    if not text:
        return "(no body)"
    return text if len(raw) <= _SNIPPET else text[:_SNIPPET] + "…"
