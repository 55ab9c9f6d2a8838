"""API tokens: only SHA-256 hashes are stored (tokens are random, so a fast hash suffices).

A token has a public id (the first 12 hex characters of its hash, safe to show and log), a
name, a scope (ingest, read or admin), optionally the one model it may act on, and its
history. Revoking keeps the row, so the audit log's ids still resolve.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from storage.errors import InvalidIdentifierError
from storage.identifiers import check_model_name

SCOPES = ("ingest", "read", "admin")  # as monitoring.access.SCOPES (storage imports nothing)
ID_LENGTH = 12
_COLUMNS = "token_hash, id, name, scope, model, created_at, created_by, last_used_at, revoked_at"


class TokenError(ValueError):
    """A token request that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class TokenRecord:
    """A stored token, without its hash."""

    id: str
    name: str
    scope: str
    model: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token_hash: str) -> str:
    """The public id of a token, from its hash."""
    return token_hash[:ID_LENGTH]


def new_token() -> str:
    """A fresh random token with a recognisable prefix."""
    return "vgl_" + secrets.token_urlsafe(32)


def _record(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(
        id=row[1],
        name=row[2],
        scope=row[3],
        model=row[4],
        created_at=row[5],
        created_by=row[6],
        last_used_at=row[7],
        revoked_at=row[8],
    )


def _rows(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return con.execute(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE {where} ORDER BY created_at DESC, id", params
    ).fetchall()


def store_token(
    con: duckdb.DuckDBPyConnection,
    token: str,
    name: str,
    scope: str = "admin",
    model: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> TokenRecord:
    """Store a token's hash; storing the same token again is a no-op returning its record.

    TokenError when the name is empty, the scope unknown, the model name invalid (it need not
    be registered yet), or an active token has the name.
    """
    if not token:
        raise TokenError("a token cannot be empty")
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not name or len(name) > 128:
        raise TokenError(f"invalid token name {name!r}: use 1-128 characters")
    if scope not in SCOPES:
        raise TokenError(f"unknown token scope {scope!r}: use {', '.join(SCOPES)}")
    if model is not None:
        try:
            check_model_name(model)
        except InvalidIdentifierError as exc:
            raise TokenError(str(exc)) from None
    digest = hash_token(token)
    stored = _rows(con, "token_hash = ?", [digest])
    if stored:
        return _record(stored[0])
    if _rows(con, "name = ? AND revoked_at IS NULL", [name]):
        raise TokenError(
            f"an active token is already called {name!r}: choose another name or revoke it first"
        )
    rows = con.execute(
        "INSERT INTO api_tokens (token_hash, name, created_at, id, scope, model, created_by) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        [digest, name, now or datetime.now(UTC), token_id(digest), scope, model, created_by],
    ).fetchall()
    return _record(rows[0])


def token_records(con: duckdb.DuckDBPyConnection) -> dict[str, TokenRecord]:
    """Every stored token by its SHA-256, revoked ones included."""
    return {row[0]: _record(row) for row in _rows(con, "true", [])}


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[TokenRecord]:
    """Every stored token, newest first."""
    return [_record(row) for row in _rows(con, "true", [])]


def revoke_token(con: duckdb.DuckDBPyConnection, ident: str, now: datetime) -> TokenRecord:
    """Revoke the active token whose id or name is `ident`; return it as revoked.

    LookupError when no active token matches; TokenError when several do (tokens stored
    before names were unique may share one: revoke those by id).
    """
    found = _rows(con, "revoked_at IS NULL AND id = ?", [ident])
    if not found:
        found = _rows(con, "revoked_at IS NULL AND name = ?", [ident])
    if not found:
        raise LookupError(f"no active token has the id or name {ident!r}")
    if len(found) > 1:
        ids = ", ".join(row[1] for row in found)
        raise TokenError(f"{len(found)} active tokens match {ident!r} ({ids}): revoke one by id")
    rows = con.execute(
        f"UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? RETURNING {_COLUMNS}",
        [now, found[0][0]],
    ).fetchall()
    return _record(rows[0])


def touch_tokens(con: duckdb.DuckDBPyConnection, used: Mapping[str, datetime]) -> None:
    """Record when tokens were last used (sha256 -> time); a stored later time is kept."""
    for digest, at in used.items():
        con.execute(
            "UPDATE api_tokens SET last_used_at = greatest(coalesce(last_used_at, ?), ?) "
            "WHERE token_hash = ?",
            [at, at, digest],
        ).fetchall()


def token_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The hashes of the active (not revoked) tokens."""
    rows = con.execute("SELECT token_hash FROM api_tokens WHERE revoked_at IS NULL").fetchall()
    return {r[0] for r in rows}


def matches(token: str, hashes: set[str]) -> bool:
    """True if the token's hash is among `hashes` (compared in constant time)."""
    candidate = hash_token(token)
    return any(hmac.compare_digest(candidate, h) for h in hashes)
