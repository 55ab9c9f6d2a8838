"""Wire side of the client SDK: JSON encoding, one kept-alive HTTP connection, retry timing.

Standard library only (orjson when installed): model services import this through
collectors.client and must not pay for pandas, numpy or the dashboard.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

log = logging.getLogger("collectors.client")

ARROW_STREAM: Final = "application/vnd.apache.arrow.stream"
MAX_RETRY_AFTER_S: Final = 300.0
_CHUNK: Final = 200  # records per encoder call: ~2-3 ms with 20 features (stdlib json)
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
Record = dict[str, Any]


class Reply(NamedTuple):
    """A server's answer; status 0 when no answer came (connection error or timeout)."""

    status: int
    retry_after: float | None
    data: bytes


def _default(obj: Any) -> Any:
    """Encode what json cannot: numpy scalars and arrays, datetimes."""
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    for attr in ("tolist", "item"):  # tolist first: an array's item() raises
        convert = getattr(obj, attr, None)
        if callable(convert):
            return convert()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable; log numbers or strings")


def _make_dumps() -> Callable[[Any], bytes]:
    """Pick orjson when it is installed (several times faster), else the stdlib encoder."""
    try:
        import orjson
    except ImportError:
        encoder = json.JSONEncoder(default=_default, allow_nan=False, separators=(",", ":"))
        return lambda obj: encoder.encode(obj).encode("ascii")
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return lambda obj: bytes(orjson.dumps(obj, default=_default, option=option))


dumps: Final = _make_dumps()


def _clean(value: Any) -> Any:
    """Make a value plain JSON: NaN/inf become null, numpy scalars and keys become Python."""
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Mapping):
        return {_clean_key(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    try:
        return _clean(_default(value))
    except (TypeError, ValueError):
        return value  # left for the encoder to reject with its own message


def _clean_key(key: Any) -> Any:
    """Dict keys: numpy scalars to Python, anything else unusual to str."""
    key = _clean(key)
    return key if key is None or isinstance(key, str | int | float) else str(key)


def encode_records(records: list[Record]) -> tuple[bytes, list[Record], list[str]]:
    """{"records": [...]} as bytes, the records it holds, and why any were left out.

    The fast path encodes whole chunks; only if that fails (NaN, numpy keys, an odd
    object) is each record cleaned and encoded alone, so one bad record costs only itself.
    """
    try:
        # in chunks: the C encoder holds the GIL throughout, and the caller may be waiting
        chunks = [dumps(records[i : i + _CHUNK])[1:-1] for i in range(0, len(records), _CHUNK)]
        return b'{"records":[' + b",".join(chunks) + b"]}", records, []
    except (TypeError, ValueError):
        pass
    kept: list[Record] = []
    parts: list[bytes] = []
    errors: list[str] = []
    for record in records:
        clean = _clean(record)
        try:
            parts.append(dumps(clean))
        except (TypeError, ValueError) as exc:
            errors.append(f"event_id {record.get('event_id')!r}: {exc}")
            continue
        kept.append(clean)
    return b'{"records":[' + b",".join(parts) + b"]}", kept, errors


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_delay(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Server's Retry-After if given, else capped exponential backoff with equal jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_S)
    ceiling = min(cap, base * 2.0 ** min(attempt, 32))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def error_text(data: bytes) -> str:
    """The server's error message and first details, short enough for one log line."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data[:300].decode("utf-8", "replace") or "(empty body)"
    if not isinstance(doc, dict):
        return str(doc)[:300]
    text = str(doc.get("error", doc))[:300]
    details = doc.get("details")
    if isinstance(details, list) and details:
        text += f"; details: {json.dumps(details[:5], default=str)[:500]}"
    return text


def invalid_indices(data: bytes, n: int) -> set[int]:
    """Record indices named in a 422 answer's details ([{index, field, reason}])."""
    try:
        details = json.loads(data).get("details")
    except (ValueError, AttributeError):
        return set()
    if not isinstance(details, list):
        return set()
    found = (d.get("index") for d in details if isinstance(d, dict))
    return {i for i in found if type(i) is int and 0 <= i < n}


class Transport:
    """One kept-alive HTTP(S) connection to a Vigil server, sending the bearer token."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url={url!r} must look like http://host:port (or https://...)")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"url={url!r} has a bad port: {exc}") from None
        self._https, self._host, self._port = parts.scheme == "https", parts.hostname, port
        # userinfo is left out: this string goes into logs
        self.base_url = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        self.root = parts.path.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "vigil-client/0.1",
        }
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes) -> Reply:
        """One request; a connection error is logged and answered as status 0."""
        try:
            return self._request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("vigil: %s %s%s failed: %r", method, self.base_url, path, exc)
            return Reply(0, None, b"")

    def close(self) -> None:
        """Close the connection; the next send opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def detach(self) -> None:
        """Forget the connection without closing it: after fork() it is the parent's."""
        self._conn = None

    def _request(self, method: str, path: str, body: bytes) -> Reply:
        """Send on the kept-alive connection; reopen once if the server had closed it."""
        reused = self._conn is not None
        try:
            return self._exchange(method, path, body)
        except _STALE_CONNECTION:
            if not reused:
                raise
        return self._exchange(method, path, body)

    def _exchange(self, method: str, path: str, body: bytes) -> Reply:
        """One request and response, closing the connection after any error."""
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self._timeout)
        try:
            headers = self._headers
            if body[:1] not in (b"{", b""):  # an Arrow IPC stream (JSON bodies are objects)
                headers = {**headers, "Content-Type": ARROW_STREAM}
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        return Reply(response.status, retry_after_s(response.getheader("Retry-After")), data)
