"""Webhook channel against a real HTTP receiver on loopback; payload and rendering rules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monitoring.notifiers import (
    DeliveryError,
    Notification,
    NotificationGroup,
    check_destination,
    slack_body,
    slack_escape,
)
from monitoring.webhook_notifier import WebhookChannel, sign, verify_signature

SECRET = "whsec-0123456789abcdef"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
NOTIFICATION_KEYS = {
    "status", "rule", "model", "version", "severity", "labels", "metric", "value",
    "threshold", "comparison", "starts_at", "ends_at", "description", "runbook_url",
    "dashboard_url",
}  # fmt: skip


def notification(**changes: Any) -> Notification:
    base = Notification(
        status="firing",
        rule="latency_p95 high",
        model="churn",
        version="v3",
        severity="critical",
        labels={"team": "risk"},
        metric="latency_p95_ms",
        value=231.5,
        threshold=200.0,
        comparison=">",
        starts_at=T0,
        ends_at=None,
        description="p95 latency above 200 ms",
        runbook_url="https://runbooks.example.com/latency",
        dashboard_url="http://127.0.0.1:8501/performance?model=churn&v=3",
    )
    return replace(base, **changes)


def group(*alerts: Notification) -> NotificationGroup:
    return NotificationGroup("latency_p95 high/churn", alerts or (notification(),))


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test server saw and how it should answer the next requests."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    answer: bytes = b"ok"
    location: str | None = None
    sleep_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000/tokenXYZ"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received("POST", self.path, dict(self.headers.items()), body))
            if state.sleep_s:
                time.sleep(state.sleep_s)
            try:
                self.send_response(state.status)
                if state.location:
                    self.send_header("Location", state.location)
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except OSError:  # the client gave up (timeout test): nothing to answer
                pass

        def do_GET(self) -> None:  # only a followed redirect would GET
            state.requests.append(Received("GET", self.path, dict(self.headers.items()), b""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def channel(url: str, **changes: Any) -> WebhookChannel:
    return replace(WebhookChannel(name="ops-hook", url=url, timeout_s=5.0), **changes)


def test_json_body_is_the_contract_schema(receiver: Receiver) -> None:
    resolved = notification(status="resolved", value=150.0, ends_at=T0 + timedelta(hours=1))
    channel(receiver.url, headers={"X-Team": "risk"}).send(group(notification(), resolved))
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.method == "POST" and req.path == "/hooks/T000/B000/tokenXYZ"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"].startswith("vigil/")
    assert req.headers["X-Team"] == "risk"
    assert "X-Vigil-Signature" not in req.headers  # no secret, no signature
    body = json.loads(req.body)
    assert set(body) == {"version", "group_key", "status", "alerts"}
    assert body["version"] == "1" and body["group_key"] == "latency_p95 high/churn"
    assert body["status"] == "firing"
    assert [set(a) for a in body["alerts"]] == [NOTIFICATION_KEYS, NOTIFICATION_KEYS]
    first, second = body["alerts"]
    assert first == {
        "status": "firing",
        "rule": "latency_p95 high",
        "model": "churn",
        "version": "v3",
        "severity": "critical",
        "labels": {"team": "risk"},
        "metric": "latency_p95_ms",
        "value": 231.5,
        "threshold": 200.0,
        "comparison": ">",
        "starts_at": "2026-11-25T10:00:00+00:00",
        "ends_at": None,
        "description": "p95 latency above 200 ms",
        "runbook_url": "https://runbooks.example.com/latency",
        "dashboard_url": "http://127.0.0.1:8501/performance?model=churn&v=3",
    }
    assert second["status"] == "resolved" and second["ends_at"] == "2026-11-25T11:00:00+00:00"
    assert datetime.fromisoformat(second["ends_at"]) == T0 + timedelta(hours=1)


def test_payload_times_are_utc_and_nan_is_null() -> None:
    paris = timezone(timedelta(hours=1))
    n = notification(starts_at=datetime(2026, 11, 25, 11, 0, tzinfo=paris), value=float("nan"))
    payload = n.to_json()
    assert payload["starts_at"] == "2026-11-25T10:00:00+00:00" and payload["value"] is None
    only_resolved = group(notification(status="resolved", ends_at=T0))
    assert only_resolved.to_json()["status"] == "resolved"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts_at": datetime(2026, 11, 25, 10, 0)}, "starts_at must be timezone-aware"),
        ({"status": "pending"}, "status 'pending' is not one of"),
        ({"severity": "high"}, "severity 'high' is not one of"),
        ({"comparison": "=>"}, "comparison '=>' is not one of"),
    ],
)
def test_notification_refuses_bad_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        notification(**changes)


def test_empty_group_is_refused() -> None:
    with pytest.raises(ValueError, match="has no alerts"):
        NotificationGroup("k", ())


def test_signature_verifies_with_the_secret_only(receiver: Receiver) -> None:
    channel(receiver.url, secret=SECRET).send(group())
    req = receiver.requests[0]
    header = req.headers["X-Vigil-Signature"]
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(SECRET, req.body, header)
    assert not verify_signature("another-secret", req.body, header)
    assert not verify_signature(SECRET, req.body + b" ", header)
    assert not verify_signature(SECRET, req.body, "sha256=" + "0" * 64)
    assert not verify_signature(SECRET, req.body, "garbage")
    # A known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_slack_kind_posts_text_and_blocks(receiver: Receiver) -> None:
    hostile = notification(rule="<!channel> & <script>", description="a < b > c")
    channel(receiver.url, kind="slack").send(group(hostile))
    body = json.loads(receiver.requests[0].body)
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "[FIRING:1] &lt;!channel&gt; &amp; &lt;script&gt; — churn (critical)"
    assert all(b["type"] == "section" and b["text"]["type"] == "mrkdwn" for b in body["blocks"])
    alert = body["blocks"][1]["text"]["text"]
    assert "latency_p95_ms = 231.5 (threshold &gt; 200)" in alert
    assert "a &lt; b &gt; c" in alert and "<!channel>" not in json.dumps(body)
    assert "<https://runbooks.example.com/latency|runbook>" in alert
    assert "<http://127.0.0.1:8501/performance?model=churn&amp;v=3|dashboard>" in alert


def test_slack_body_limits_and_unsafe_links() -> None:
    many = group(*[notification(rule=f"r{i}") for i in range(45)])
    blocks = slack_body(many)["blocks"]
    assert len(blocks) <= 50 and blocks[-1]["text"]["text"] == "…and 5 more alerts"
    long = slack_body(group(notification(description="x" * 5000)))["blocks"][1]["text"]["text"]
    assert len(long) <= 3000
    js = slack_body(group(notification(runbook_url="javascript:alert(1)")))
    assert "<javascript:" not in js["blocks"][1]["text"]["text"]
    assert slack_escape("a&b<c>d") == "a&amp;b&lt;c&gt;d"


def test_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.status, receiver.location = 302, f"http://127.0.0.1:{receiver.port}/elsewhere"
    with pytest.raises(DeliveryError, match=r"302 redirect to .*/elsewhere.*not followed"):
        channel(receiver.url, secret=SECRET).send(group())
    assert [r.method for r in receiver.requests] == ["POST"]
    assert receiver.requests[0].path.startswith("/hooks/")


def test_server_error_raises_with_status_and_snippet(receiver: Receiver) -> None:
    receiver.status, receiver.answer = 500, b"database\n  exploded " + b"x" * 1000
    with pytest.raises(DeliveryError, match="HTTP 500") as info:
        channel(receiver.url, secret=SECRET).send(group())
    message = str(info.value)
    assert "database exploded xxx" in message and len(message) < 400
    # The URL path (Slack-style token) and the secret never appear in errors.
    assert "tokenXYZ" not in message and SECRET not in message
    assert f"ops-hook' (http://127.0.0.1:{receiver.port})" in message


def test_timeout_raises(receiver: Receiver) -> None:
    receiver.sleep_s = 1.0
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no answer within 0\.2 s"):
        channel(receiver.url, timeout_s=0.2).send(group())
    assert time.monotonic() - started < 0.9


def test_connection_refused_raises(receiver: Receiver) -> None:
    url = "http://127.0.0.1:1/hook"  # port 1: nothing listens
    with pytest.raises(DeliveryError, match="could not connect"):
        channel(url).send(group())


def test_allowed_hosts_refuse_before_any_request(receiver: Receiver) -> None:
    with pytest.raises(DeliveryError, match=r"'127\.0\.0\.1' is not in .*allowed_hosts"):
        channel(receiver.url, allowed_hosts=("hooks.example.com",)).send(group())
    assert receiver.requests == []
    channel(receiver.url, allowed_hosts=("hooks.example.com", "127.0.0.1")).send(group())
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("target", "allowed", "ok"),
    [
        ("https://hooks.slack.com/services/x", ("hooks.slack.com",), True),
        ("https://HOOKS.Slack.com./x", ("hooks.slack.com",), True),
        ("https://hooks.slack.com/x", ("HOOKS.SLACK.COM",), True),
        ("https://a.example.com/x", ("*.example.com",), True),
        ("https://a.b.example.com/x", ("*.example.com",), True),
        ("https://example.com/x", ("*.example.com",), False),
        ("https://badexample.com/x", ("*.example.com",), False),
        ("https://example.com.evil.test/x", ("example.com",), False),
        ("https://user@evil.test/x", ("example.com",), False),
        ("smtp.example.com", ("smtp.example.com",), True),
        ("smtp.example.com", ("mail.example.com",), False),
        ("https://anything.test/x", (), True),
    ],
)
def test_check_destination(target: str, allowed: tuple[str, ...], ok: bool) -> None:
    if ok:
        check_destination(target, allowed)
    else:
        with pytest.raises(DeliveryError, match="allowed_hosts"):
            check_destination(target, allowed)


def test_repr_hides_url_secret_and_headers() -> None:
    ch = channel("https://hooks.slack.com/services/T0/B0/tokenXYZ", secret=SECRET)
    ch = replace(ch, headers={"Authorization": "Bearer abc123"})
    text = repr(ch)
    assert "tokenXYZ" not in text and SECRET not in text and "abc123" not in text
    assert ch.destination == "https://hooks.slack.com"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name is empty"),
        ({"url": "ftp://example.com/x"}, "must start with https:// or http://"),
        ({"url": "file:///etc/passwd"}, "must start with https:// or http://"),
        ({"url": "https:///x"}, "url has no host"),
        ({"url": "https://example.com:99999/x"}, "url is not a valid URL"),
        ({"url": "https://u:p@example.com/x"}, "credentials in the url"),
        ({"kind": "teams"}, "kind 'teams' is not one of"),
        ({"timeout_s": 0}, "timeout_s must be > 0"),
        ({"timeout_s": -1.0}, "timeout_s must be > 0"),
        ({"secret": ""}, "secret is empty"),
        ({"headers": {"Bad Name": "x"}}, "header name 'Bad Name'"),
        ({"headers": {"X-A": "a\r\nX-B: b"}}, "must be one line"),
        ({"headers": {"content-type": "text/plain"}}, "set by Vigil"),
    ],
)
def test_validate_names_the_bad_field(
    receiver: Receiver, changes: dict[str, Any], message: str
) -> None:
    ch = replace(channel(receiver.url), **changes)
    with pytest.raises(ValueError, match=message):
        ch.validate()
    with pytest.raises(DeliveryError, match=message):
        ch.send(group())
    assert receiver.requests == []
    channel(receiver.url).validate()  # the base config is fine
