"""Email channel: one message per notification group over SMTP (STARTTLS, implicit TLS or plain)."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from monitoring.notifiers import (
    DeliveryError,
    NotificationGroup,
    check_destination,
    html_body,
    subject,
    text_body,
)

SECURITY_MODES = ("starttls", "tls", "none")
# Deliberately loose: the SMTP server is the judge of an address; this catches typos such as
# a missing "@" or two addresses in one string.
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]+")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailChannel:
    """An SMTP destination; ``ssl_context`` None means the system CAs with verification on."""

    name: str
    host: str
    port: int
    security: str
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    allowed_hosts: tuple[str, ...] = ()
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Lists from TOML/JSON become tuples so the channel stays hashable; a lone string is
        # left for validate() to refuse rather than split into characters.
        for name in ("recipients", "allowed_hosts"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and how to fix it."""
        where = f"email channel {self.name!r}"
        if not self.name:
            raise ValueError("email channel: name is empty; give every channel a name")
        if not self.host or not _HOST.fullmatch(self.host):
            raise ValueError(f"{where}: host {self.host!r} is not a host name or IP address")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"{where}: port must be an integer, got {self.port!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(
                f"{where}: port {self.port} is out of range 1-65535 "
                "(usually 587 for starttls, 465 for tls, 25 for none)"
            )
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"{where}: security {self.security!r} is not one of {list(SECURITY_MODES)}"
            )
        if not _ADDRESS.fullmatch(self.sender or ""):
            raise ValueError(
                f"{where}: sender {self.sender!r} is not an address like alerts@example.com"
            )
        if isinstance(self.recipients, str) or not self.recipients:
            raise ValueError(
                f"{where}: recipients must be a non-empty list of addresses, "
                f"got {self.recipients!r}"
            )
        for address in self.recipients:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(
                    f"{where}: recipient {address!r} is not an address like "
                    "oncall@example.com (one address per list entry)"
                )
        if bool(self.username) != bool(self.password):
            raise ValueError(
                f"{where}: login needs both username and password; set both or neither"
            )
        if self.security == "none" and self.password:
            raise ValueError(
                f"{where}: a password over plain SMTP would travel unencrypted; "
                'use security = "starttls" or "tls", or remove username and password'
            )
        if not self.timeout_s > 0:
            raise ValueError(f"{where}: timeout_s must be > 0 seconds, got {self.timeout_s}")

    def message(self, group: NotificationGroup) -> EmailMessage:
        """The email: text/plain with a text/html alternative."""
        msg = EmailMessage()
        msg["Subject"] = subject(group)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        # Domain from the sender: make_msgid's default asks DNS for this machine's FQDN.
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
        msg.set_content(text_body(group))
        msg.add_alternative(html_body(group), subtype="html")
        return msg

    def send(self, group: NotificationGroup) -> None:
        """Deliver the group by SMTP; every failure becomes a DeliveryError without secrets."""
        try:
            self.validate()  # before building headers from the addresses
        except ValueError as exc:
            raise DeliveryError(str(exc)) from None
        self.deliver(self.message(group))

    def deliver(self, msg: EmailMessage, recipients: tuple[str, ...] | None = None) -> None:
        """Send any message (a scheduled report too) to recipients (default: the channel's)."""
        try:
            self.validate()
        except ValueError as exc:
            raise DeliveryError(str(exc)) from None
        check_destination(self.host, self.allowed_hosts)
        try:
            refused = self._deliver(msg, recipients or self.recipients)
        except DeliveryError:
            raise
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise DeliveryError(self._scrub(self._explain(exc))) from None
        if refused:
            # Some recipients have the message: raising would make a retry send it twice.
            log.warning(
                "email channel %r: the server refused %s; the others received the message",
                self.name,
                sorted(refused),
            )

    def _deliver(
        self, msg: EmailMessage, recipients: tuple[str, ...]
    ) -> dict[str, tuple[int, bytes]]:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"email channel {self.name!r}: {self._dest()} does not offer STARTTLS; "
                        'use security = "tls" if it expects TLS from the start'
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            return smtp.send_message(msg, self.sender, list(recipients))

    def _dest(self) -> str:
        return f"{self.host}:{self.port}"

    def _explain(self, exc: BaseException) -> str:
        where = f"email channel {self.name!r} ({self._dest()}, security={self.security})"
        if isinstance(exc, ssl.SSLCertVerificationError):
            return (
                f"{where}: the server's TLS certificate was refused ({exc.verify_message}); "
                "fix the server's certificate or trust its CA"
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return f"{where}: login as {self.username!r} refused: {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return f"{where}: every recipient was refused: {sorted(exc.recipients)}"
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return f"{where}: sender {self.sender!r} refused: {_reply(exc)}"
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return f"{where}: the server does not support this: {exc}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"{where}: the server answered {_reply(exc)}"
        if isinstance(exc, TimeoutError):
            return f"{where}: no answer within {self.timeout_s:g} s"
        if isinstance(exc, ssl.SSLError):
            return f"{where}: TLS failed ({exc.reason or exc}); check security and port"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"{where}: the server closed the connection ({exc})"
        if not isinstance(exc, smtplib.SMTPException):  # a socket error
            return f"{where}: could not connect: {getattr(exc, 'strerror', None) or exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _scrub(self, text: str) -> str:
        """Belt and braces: a server could echo what it was sent."""
        if self.password:
            text = text.replace(self.password, "***")
        return text


def _reply(exc: smtplib.SMTPResponseException) -> str:
    message = exc.smtp_error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{exc.smtp_code} {message}"
