"""Access control in the server: tokens, users, sessions, the audit log and erasure.

One object the API, the pages and the CLI share, so that a revoked token or a removed user
is refused at once everywhere, and every change lands in the audit log the same way.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from collectors.settings import Settings
from monitoring.access import Principal, Role, check_scope
from monitoring.passwords import hash_password, verify_password
from storage import Store, Writer
from storage import audit as audit_store
from storage import sessions as session_store
from storage import tokens as token_store
from storage import users as user_store
from storage.erasure import Erased, erase_events, erase_matching, mark_purge_needed
from storage.errors import UnknownModelError, WriteQueueFullError
from storage.models import get_model
from storage.tokens import TokenRecord, hash_token
from storage.users import UserRecord

log = logging.getLogger(__name__)
SESSION_COOKIE = "vigil_session"  # the dashboard's sign-in cookie (HttpOnly)
SYSTEM = Principal("vigil", "system")
TOUCH_EVERY = timedelta(seconds=60)  # a token's last use is written at most this often


class ConflictError(ValueError):
    """The thing exists already (a user name, an active token name): HTTP 409."""


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    session: str | None
    principal: Principal | None
    message: str


def _session_hash(session: str) -> str:
    return hashlib.sha256(session.encode("utf-8")).hexdigest()


class AccessService:
    """Tokens, users, sessions, audit and erasure over the store; thread-safe."""

    def __init__(
        self,
        store: Store,
        writer: Writer,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.writer, self.settings, self.clock = store, writer, settings, clock
        self._lock = threading.Lock()
        self._static = self._static_tokens(settings)
        self._tokens = token_store.token_records(store.cursor())
        self._used: dict[str, datetime] = {}
        self._touched_at = clock()

    @staticmethod
    def _static_tokens(settings: Settings) -> dict[str, Principal]:
        """Tokens from the environment or the config: admin scope, as before scopes existed."""
        found = {
            h: Principal("api_token_hashes", "token", scope="admin")
            for h in settings.api_token_hashes
        }
        if settings.api_token:
            found[hash_token(settings.api_token)] = Principal(
                "VIGIL_API_TOKEN", "token", scope="admin"
            )
        return found

    # -- tokens ---------------------------------------------------------------------------
    def has_tokens(self) -> bool:
        with self._lock:
            return bool(self._static) or any(r.active for r in self._tokens.values())

    def token_principal(self, token: str) -> Principal | None:
        """Who a bearer token is; None when it is unknown or revoked."""
        digest = hash_token(token)
        static = self._static.get(digest)
        if static is not None:
            return static
        with self._lock:
            record = self._tokens.get(digest)
            if record is None or not record.active:
                return None
            now = self.clock()
            self._used[digest] = now
            flush = now - self._touched_at >= TOUCH_EVERY
        if flush:
            self.flush_token_use()
        return Principal(record.name, "token", scope=record.scope, model=record.model)

    def flush_token_use(self, wait: bool = False) -> None:
        """Write the tokens' last use (batched: a write per request would slow ingest)."""
        with self._lock:
            used, self._used = self._used, {}
            self._touched_at = self.clock()
        if not used:
            return
        try:
            future = self.writer.submit(lambda con: token_store.touch_tokens(con, used))
            if wait:
                future.result(timeout=30)
        except (WriteQueueFullError, RuntimeError):
            with self._lock:  # try again with the next flush
                self._used = {**used, **self._used}

    def reload_tokens(self) -> None:
        records = token_store.token_records(self.store.cursor())
        with self._lock:
            self._tokens = records

    def create_token(
        self, name: str, scope: str, model: str | None, by: Principal, source: str
    ) -> tuple[str, TokenRecord]:
        """A new token (the secret is returned here once and never stored)."""
        name = name.strip()
        if not name:
            raise ValueError(
                "a token needs a name that says who uses it, e.g. --name churn-service"
            )
        check_scope(scope)
        if model is not None and get_model(self.store.cursor(), model) is None:
            raise UnknownModelError(f"model {model!r} is not registered: register it first")
        if any(r.active and r.name == name for r in self.list_tokens()):
            raise ConflictError(
                f"an active token is named {name!r}: revoke it or pick another name"
            )
        secret = token_store.new_token()
        now = self.clock()
        record = self.writer.run(
            lambda con: token_store.store_token(con, secret, name, scope, model, by.title, now)
        )
        self.reload_tokens()
        self.audit(
            by, "token.create", name, {"id": record.id, "scope": scope, "model": model}, source
        )
        return secret, record

    def list_tokens(self) -> list[TokenRecord]:
        self.flush_token_use(wait=True)
        return token_store.list_tokens(self.store.cursor())

    def revoke_token(self, ident: str, by: Principal, source: str) -> TokenRecord:
        """Revoke by id or name; refused at once from then on."""
        now = self.clock()
        record = self.writer.run(lambda con: token_store.revoke_token(con, ident, now))
        self.reload_tokens()
        self.audit(by, "token.revoke", record.name, {"id": record.id}, source)
        return record

    # -- users ----------------------------------------------------------------------------
    def list_users(self) -> list[UserRecord]:
        return user_store.list_users(self.store.cursor())

    def has_users(self) -> bool:
        return bool(self.list_users())

    def add_user(
        self, name: str, role: Role, password: str, by: Principal, source: str
    ) -> UserRecord:
        name = user_store.check_user_name(name)
        if user_store.get_user(self.store.cursor(), name) is not None:
            raise ConflictError(f"user {name!r} exists: use set-role or passwd to change it")
        hashed = hash_password(password)
        now = self.clock()
        record = self.writer.run(
            lambda con: user_store.add_user(con, name, hashed, role.label, now)
        )
        self.audit(by, "user.add", name, {"role": role.label}, source)
        return record

    def set_role(self, name: str, role: Role, by: Principal, source: str) -> UserRecord:
        now = self.clock()
        record = self.writer.run(lambda con: user_store.set_role(con, name, role.label, now))
        self.audit(by, "user.role", name, {"role": role.label}, source)
        return record

    def set_password(self, name: str, password: str, by: Principal, source: str) -> None:
        """A new password; the user's sessions end."""
        hashed = hash_password(password)
        now = self.clock()

        def change(con: Any) -> None:
            user_store.set_password_hash(con, name, hashed, now)
            session_store.end_user_sessions(con, name, now)

        self.writer.run(change)
        self.audit(by, "user.password", name, {}, source)

    def remove_user(self, name: str, by: Principal, source: str) -> None:
        self.writer.run(lambda con: user_store.remove_user(con, name))
        self.audit(by, "user.remove", name, {}, source)

    # -- sessions -------------------------------------------------------------------------
    def login(self, name: str, password: str, source: str) -> LoginResult:
        """Check a password; a session on success, the failure counted (and locked) if not."""
        now = self.clock()
        con = self.store.cursor()
        user = user_store.get_user(con, name) if name else None
        who = Principal(name or "(empty)", "user")
        if user is not None and user.locked_until is not None and user.locked_until > now:
            minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
            self.audit(who, "login_failed", name, {"reason": "locked"}, source, "failed")
            return LoginResult(
                False, None, None, f"Too many failed sign-ins: try again in {minutes} min."
            )
        stored = user_store.password_hash(con, name) if user is not None else None
        if not verify_password(stored, password):
            lockout = timedelta(minutes=self.settings.login_lockout_minutes)
            locked = None
            if user is not None:
                limit = self.settings.login_max_failures
                locked = self.writer.run(
                    lambda c: user_store.record_failure(c, name, now, limit, lockout)
                )
            reason = "unknown user" if user is None else "wrong password"
            detail = {"reason": reason, "locked": locked is not None}
            self.audit(who, "login_failed", name, detail, source, "failed")
            message = "Wrong user name or password."
            if locked is not None:
                message += (
                    f" Too many failures: locked for {self.settings.login_lockout_minutes:g} min."
                )
            return LoginResult(False, None, None, message)
        session = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=self.settings.session_hours)

        def start(c: Any) -> None:
            user_store.record_success(c, name, now)
            session_store.create_session(c, _session_hash(session), name, now, expires, source)

        self.writer.run(start)
        principal = Principal(name, "user", role=Role[user.role.upper()])  # type: ignore[union-attr]
        self.audit(principal, "login", name, {}, source)
        return LoginResult(True, session, principal, "signed in")

    def session_principal(self, session: str | None) -> Principal | None:
        """The signed-in user of a session cookie; None when absent, expired or ended."""
        if not session:
            return None
        con = self.store.cursor()
        name = session_store.session_user(con, _session_hash(session), self.clock())
        user = user_store.get_user(con, name) if name else None
        if user is None:
            return None
        return Principal(user.name, "user", role=Role[user.role.upper()])

    def logout(self, session: str | None, source: str) -> None:
        principal = self.session_principal(session)
        if session is None or principal is None:
            return
        now = self.clock()
        self.writer.run(lambda con: session_store.end_session(con, _session_hash(session), now))
        self.audit(principal, "logout", principal.name, {}, source)

    def purge_sessions(self) -> int:
        now = self.clock()
        return self.writer.run(lambda con: session_store.purge_sessions(con, now))

    # -- audit ----------------------------------------------------------------------------
    def audit(
        self,
        by: Principal,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
        source: str = "",
        outcome: str = "ok",
    ) -> None:
        """Record a change (or a refused one); waits until it is committed."""
        entry = audit_store.AuditEntry(
            by.title, by.kind, action, target, detail or {}, source or "-", outcome
        )
        now = self.clock()
        try:
            self.writer.run(lambda con: audit_store.record(con, entry, now), timeout=30)
        except Exception:
            # The change itself stands; say loudly that its record is missing.
            log.exception("audit entry not recorded: %s %s %s", by.title, action, target)

    def audit_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 1000,
    ) -> pd.DataFrame:
        return audit_store.entries(self.store.cursor(), start, end, actor, action, limit)

    # -- erasure --------------------------------------------------------------------------
    def erase(
        self,
        model: str,
        by: Principal,
        source: str,
        event_ids: Sequence[str] = (),
        column: str | None = None,
        value: str | None = None,
    ) -> Erased:
        """Delete a subject's predictions, labels and explanations; audited without values."""
        info = get_model(self.store.cursor(), model)
        if info is None:
            raise UnknownModelError(f"model {model!r} is not registered")
        ids = [str(e) for e in event_ids if str(e)]
        if bool(ids) == (column is not None):
            raise ValueError(
                "erase by event ids, or by one feature or tag value, not both or neither"
            )
        if column is not None and (value is None or value == ""):
            raise ValueError(f"erasing by {column!r} needs the value to match")
        now = self.clock()

        def delete(con: Any) -> Erased:
            if ids:
                erased = erase_events(con, info, ids)
            else:
                erased = erase_matching(con, info, str(column), str(value))
            if erased.total:
                mark_purge_needed(con, now)
            return erased

        erased = self.writer.run(delete)
        detail: dict[str, Any] = {"erased": erased.as_dict()}
        if ids:
            detail["event_ids_given"] = len(ids)
        else:
            detail["matched_on"] = column  # the column, never the value
        self.audit(by, "erase", model, detail, source)
        return erased
