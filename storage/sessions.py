"""Dashboard login sessions; only the SHA-256 of a session token is stored, never the token."""

from __future__ import annotations

from datetime import datetime

import duckdb


def create_session(
    con: duckdb.DuckDBPyConnection,
    session_hash: str,
    user_name: str,
    now: datetime,
    expires_at: datetime,
    source: str | None,
) -> None:
    """Store a new session of `user_name`, valid until expires_at."""
    if expires_at <= now:
        raise ValueError(f"session would expire at {expires_at.isoformat()}, not after now")
    con.execute(
        "INSERT INTO sessions (session_hash, user_name, created_at, expires_at, source) "
        "VALUES (?, ?, ?, ?, ?)",
        [session_hash, user_name, now, expires_at, source],
    ).fetchall()


def session_user(con: duckdb.DuckDBPyConnection, session_hash: str, now: datetime) -> str | None:
    """The user of a session that is unexpired, not ended, and whose user still exists."""
    rows = con.execute(
        "SELECT s.user_name FROM sessions s JOIN users u ON u.name = s.user_name "
        "WHERE s.session_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?",
        [session_hash, now],
    ).fetchall()
    return str(rows[0][0]) if rows else None


def end_session(con: duckdb.DuckDBPyConnection, session_hash: str, now: datetime) -> None:
    """End one session (a logout); ending an unknown or ended session does nothing."""
    con.execute(
        "UPDATE sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
        [now, session_hash],
    ).fetchall()


def end_user_sessions(con: duckdb.DuckDBPyConnection, user_name: str, now: datetime) -> int:
    """End every open session of a user (say after a password or role change); return how many."""
    rows = con.execute(
        "UPDATE sessions SET ended_at = ? WHERE user_name = ? AND ended_at IS NULL "
        "AND expires_at > ?",
        [now, user_name, now],
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def purge_sessions(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Delete expired and ended sessions; return how many."""
    rows = con.execute(
        "DELETE FROM sessions WHERE ended_at IS NOT NULL OR expires_at <= ?", [now]
    ).fetchall()
    return int(rows[0][0]) if rows else 0
