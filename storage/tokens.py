"""API tokens: only SHA-256 hashes are stored (tokens are random, so a fast hash suffices)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import duckdb


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token with a recognisable prefix."""
    return "vgl_" + secrets.token_urlsafe(32)


def store_token(con: duckdb.DuckDBPyConnection, token: str, name: str) -> None:
    con.execute("INSERT OR IGNORE INTO api_tokens VALUES (?, ?, now())", [hash_token(token), name])


def token_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT token_hash FROM api_tokens").fetchall()}


def matches(token: str, hashes: set[str]) -> bool:
    """True if the token's hash is among `hashes` (compared in constant time)."""
    candidate = hash_token(token)
    return any(hmac.compare_digest(candidate, h) for h in hashes)
