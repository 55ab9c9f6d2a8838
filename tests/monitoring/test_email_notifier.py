"""Email channel against a real aiosmtpd server on loopback: plain, STARTTLS, TLS, AUTH."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitoring.email_notifier import EmailChannel
from monitoring.notifiers import (
    DeliveryError,
    Notification,
    NotificationGroup,
    html_body,
    subject,
    text_body,
)
from tests.monitoring.tls_certs import CertPaths, make_certs

PASSWORD = "s3cret-Pa55word-xyz"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


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
        dashboard_url="http://127.0.0.1:8501/performance?model=churn",
    )
    return replace(base, **changes)


def group(*alerts: Notification) -> NotificationGroup:
    return NotificationGroup("latency_p95 high/churn", alerts or (notification(),))


@dataclass
class Recorder:
    """aiosmtpd handler keeping every accepted message and its session facts."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bool, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), tls, bool(session.authenticated))
        )
        return "250 Message accepted"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (b"vigil", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_certs(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """Start servers on demand: ``start(**controller_kwargs) -> (port, recorder)``."""
    running: list[Controller] = []

    def start(**kwargs: Any) -> tuple[int, Recorder]:
        recorder = Recorder()
        port = free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, server_hostname="mx.test", **kwargs
        )
        controller.start()
        running.append(controller)
        return port, recorder

    yield start
    for controller in running:
        controller.stop()


def channel(port: int = 25, **changes: Any) -> EmailChannel:
    base = EmailChannel(
        name="oncall-email",
        host="127.0.0.1",
        port=port,
        security="none",
        sender="vigil@example.com",
        recipients=("oncall@example.com", "ml@example.com"),
        timeout_s=5.0,
    )
    return replace(base, **changes)


def parts(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


def test_plain_smtp_delivers_text_and_html(smtp_server: Any) -> None:
    port, rec = smtp_server()
    channel(port).send(group())
    assert len(rec.messages) == 1
    msg = rec.messages[0]
    assert msg["Subject"] == "[FIRING:1] latency_p95 high — churn (critical)"
    assert msg["From"] == "vigil@example.com"
    assert msg["To"] == "oncall@example.com, ml@example.com"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.com>")
    assert rec.envelopes[0][:2] == ("vigil@example.com", ["oncall@example.com", "ml@example.com"])
    assert rec.envelopes[0][2:] == (False, False)  # no TLS, no login
    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    plain, html = body["text/plain"], body["text/html"]
    for text in (plain, html):
        assert "2026-11-25 10:00:00 UTC" in text
        assert "p95 latency above 200 ms" in text
        assert "churn version v3" in text
    assert "latency_p95_ms = 231.5 (threshold > 200)" in plain
    assert "Dashboard: http://127.0.0.1:8501/performance?model=churn" in plain
    assert "Runbook: https://runbooks.example.com/latency" in plain
    assert "latency_p95_ms = 231.5 (threshold &gt; 200)" in html
    assert '<a href="https://runbooks.example.com/latency">' in html
    assert '<a href="http://127.0.0.1:8501/performance?model=churn">' in html


def test_hostile_text_is_escaped_in_html(smtp_server: Any) -> None:
    port, rec = smtp_server()
    hostile = notification(
        rule="<script>x</script>",
        description='<img src=x onerror="alert(1)">',
        runbook_url="javascript:alert(1)",
        labels={"team": "<b>risk</b>"},
    )
    channel(port).send(group(hostile))
    html = parts(rec.messages[0])["text/html"]
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<img" not in html and "<b>" not in html
    assert 'href="javascript:' not in html and "javascript:alert(1)" in html  # text, no link
    assert "&lt;script&gt;" in html_body(group(hostile))


def test_resolved_and_multi_alert_rendering() -> None:
    resolved = notification(status="resolved", value=150.0, ends_at=T0.replace(hour=11))
    g = group(notification(version="v4"), resolved)
    assert g.status == "firing"
    assert subject(g) == "[FIRING:1] latency_p95 high — churn (critical)"
    only_resolved = group(resolved)
    assert subject(only_resolved) == "[RESOLVED] latency_p95 high — churn (critical)"
    text = text_body(only_resolved)
    assert "Resolved at: 2026-11-25 11:00:00 UTC" in text
    assert "latency_p95_ms = 150 (threshold > 200)" in text
    system = notification(model=None, version=None, metric="cpu_percent", value=None)
    assert subject(group(system)) == "[FIRING:1] latency_p95 high (critical)"
    assert "cpu_percent = no data (threshold > 200)" in text_body(group(system))


def test_subject_has_no_newlines() -> None:
    assert "\n" not in subject(group(notification(rule="a\r\nBcc: x@evil.test")))


def test_starttls_with_trusted_ca_delivers(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = smtp_server(tls_context=certs.server_context(), require_starttls=True)
    channel(port, security="starttls", ssl_context=certs.client_context()).send(group())
    assert len(rec.messages) == 1
    assert rec.envelopes[0][2] is True  # the server saw the message under TLS


@pytest.mark.parametrize("case", ["system CAs", "untrusted cert"])
def test_starttls_refuses_unverified_certificate(
    smtp_server: Any, certs: CertPaths, case: str
) -> None:
    if case == "system CAs":  # server cert signed by the test CA, client trusts the system
        port, rec = smtp_server(tls_context=certs.server_context(), require_starttls=True)
        ch = channel(port, security="starttls")
    else:  # client trusts the test CA, server shows a self-signed cert
        server_ctx = certs.server_context(trusted=False)
        port, rec = smtp_server(tls_context=server_ctx, require_starttls=True)
        ch = channel(port, security="starttls", ssl_context=certs.client_context())
    with pytest.raises(DeliveryError, match="certificate") as info:
        ch.send(group())
    assert "oncall-email" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
    assert rec.messages == []


def test_plain_client_against_server_requiring_starttls_fails(
    smtp_server: Any, certs: CertPaths
) -> None:
    port, rec = smtp_server(tls_context=certs.server_context(), require_starttls=True)
    with pytest.raises(DeliveryError, match="530"):
        channel(port).send(group())
    assert rec.messages == []


def test_starttls_not_offered_is_a_clear_error(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = smtp_server()  # no tls_context: no STARTTLS in EHLO
    ch = channel(port, security="starttls", ssl_context=certs.client_context())
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        ch.send(group())
    assert rec.messages == []


def test_implicit_tls_delivers(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = smtp_server(ssl_context=certs.server_context())
    channel(port, security="tls", ssl_context=certs.client_context()).send(group())
    assert len(rec.messages) == 1 and rec.envelopes[0][2] is True


def test_implicit_tls_refuses_untrusted_certificate(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = smtp_server(ssl_context=certs.server_context(trusted=False))
    ch = channel(port, security="tls", ssl_context=certs.client_context())
    with pytest.raises(DeliveryError, match="certificate"):
        ch.send(group())
    assert rec.messages == []


def auth_server(smtp_server: Any, certs: CertPaths) -> tuple[int, Recorder]:
    port, rec = smtp_server(
        tls_context=certs.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    return int(port), rec


def test_login_over_starttls(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = auth_server(smtp_server, certs)
    ch = channel(
        port,
        security="starttls",
        ssl_context=certs.client_context(),
        username="vigil",
        password=PASSWORD,
    )
    ch.send(group())
    assert len(rec.messages) == 1 and rec.envelopes[0][3] is True


def test_wrong_password_hides_the_password(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = auth_server(smtp_server, certs)
    wrong = "not-the-Right-one-123"
    ch = channel(
        port,
        security="starttls",
        ssl_context=certs.client_context(),
        username="vigil",
        password=wrong,
    )
    with pytest.raises(DeliveryError, match="login as 'vigil' refused: 535") as info:
        ch.send(group())
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is not None
    assert wrong not in repr(ch)
    assert rec.messages == []


def test_server_requiring_auth_without_login_fails(smtp_server: Any, certs: CertPaths) -> None:
    port, rec = auth_server(smtp_server, certs)
    ch = channel(port, security="starttls", ssl_context=certs.client_context())
    with pytest.raises(DeliveryError, match="530"):
        ch.send(group())
    assert rec.messages == []


def test_server_down_is_a_delivery_error() -> None:
    port = free_port()  # nothing listens there any more
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port}.*could not connect"):
        channel(port, timeout_s=2.0).send(group())


def test_allowed_hosts_checked_before_connecting(smtp_server: Any) -> None:
    port, rec = smtp_server()
    with pytest.raises(DeliveryError, match=r"'127\.0\.0\.1'.*allowed_hosts"):
        channel(port, allowed_hosts=("smtp.example.com",)).send(group())
    assert rec.messages == []
    channel(port, allowed_hosts=("SMTP.example.com", "127.0.0.1")).send(group())
    assert len(rec.messages) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name is empty"),
        ({"host": ""}, "host '' is not a host name"),
        ({"host": "smtp example.com"}, "host 'smtp example.com'"),
        ({"port": 0}, "port 0 is out of range 1-65535"),
        ({"port": 70000}, "port 70000 is out of range"),
        ({"port": "25"}, "port must be an integer"),
        ({"security": "ssl"}, "security 'ssl' is not one of"),
        ({"sender": "vigil"}, "sender 'vigil' is not an address"),
        ({"recipients": ()}, "recipients must be a non-empty list"),
        ({"recipients": "a@example.com"}, "recipients must be a non-empty list"),
        ({"recipients": ("a@example.com", "b")}, "recipient 'b' is not an address"),
        ({"recipients": ("a@example.com, b@example.com",)}, "one address per list entry"),
        ({"username": "vigil"}, "login needs both username and password"),
        ({"password": PASSWORD}, "login needs both username and password"),
        ({"username": "u", "password": PASSWORD}, "a password over plain SMTP"),
        ({"timeout_s": 0}, "timeout_s must be > 0"),
    ],
)
def test_validate_names_the_bad_field(changes: dict[str, Any], message: str) -> None:
    ch = channel(**changes)
    with pytest.raises(ValueError, match=message) as info:
        ch.validate()
    assert PASSWORD not in str(info.value)
    with pytest.raises(DeliveryError, match=message):  # send refuses the same config
        ch.send(group())


def test_valid_configs_pass_validate() -> None:
    channel(587, security="starttls", username="u", password=PASSWORD).validate()
    channel(465, security="tls", ssl_context=ssl.create_default_context()).validate()
    channel(25).validate()
