"""People who sign in: name, role, password hash (argon2id, made above this layer), lockout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

ROLES = ("viewer", "editor", "admin")
USER_NAME_RE = re.compile(r"^[A-Za-z0-9._@+\-]{1,64}$")
_COLUMNS = "name, role, created_at, updated_at, last_login_at, failed_logins, locked_until"


class UserError(ValueError):
    """A user name, role or change that cannot be accepted; the message says why."""


class UnknownUserError(LookupError):
    """No user has that name."""


@dataclass(frozen=True)
class UserRecord:
    """A user as stored, without the password hash."""

    name: str
    role: str
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    failed_logins: int
    locked_until: datetime | None


def check_user_name(name: str) -> str:
    """Return `name` if it is a valid user name, else raise UserError naming the rule."""
    if not isinstance(name, str) or not USER_NAME_RE.fullmatch(name):
        raise UserError(
            f"invalid user name {name!r}: use 1-64 characters from letters, digits and "
            "'.', '_', '@', '+', '-' (an e-mail address works)"
        )
    return name


def check_role(role: str) -> str:
    """Return `role` if it is a stored role name, else raise UserError naming the choices."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    return role


def _record(row: tuple[Any, ...]) -> UserRecord:
    return UserRecord(
        name=row[0],
        role=row[1],
        created_at=row[2],
        updated_at=row[3],
        last_login_at=row[4],
        failed_logins=int(row[5]),
        locked_until=row[6],
    )


def _unknown(name: str) -> UnknownUserError:
    return UnknownUserError(f"no user is called {name!r}")


def add_user(
    con: duckdb.DuckDBPyConnection, name: str, password_hash: str, role: str, now: datetime
) -> UserRecord:
    """Create a user; UserError if the name is taken (or invalid)."""
    check_user_name(name)
    check_role(role)
    if not password_hash:
        raise UserError("a user needs a password hash")
    if get_user(con, name) is not None:
        raise UserError(f"user {name!r} already exists: choose another name or change that user")
    rows = con.execute(
        "INSERT INTO users (name, password_hash, role, created_at, updated_at) "
        f"VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
        [name, password_hash, role, now, now],
    ).fetchall()
    return _record(rows[0])


def get_user(con: duckdb.DuckDBPyConnection, name: str) -> UserRecord | None:
    """The user called `name`, or None."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", [name]).fetchall()
    return _record(rows[0]) if rows else None


def password_hash(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The stored password hash of a user, or None when there is no such user."""
    rows = con.execute("SELECT password_hash FROM users WHERE name = ?", [name]).fetchall()
    return str(rows[0][0]) if rows else None


def list_users(con: duckdb.DuckDBPyConnection) -> list[UserRecord]:
    """Every user, by name."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name").fetchall()
    return [_record(r) for r in rows]


def set_role(con: duckdb.DuckDBPyConnection, name: str, role: str, now: datetime) -> UserRecord:
    """Change a user's role; UnknownUserError if there is no such user."""
    check_role(role)
    rows = con.execute(
        f"UPDATE users SET role = ?, updated_at = ? WHERE name = ? RETURNING {_COLUMNS}",
        [role, now, name],
    ).fetchall()
    if not rows:
        raise _unknown(name)
    return _record(rows[0])


def set_password_hash(
    con: duckdb.DuckDBPyConnection, name: str, password_hash: str, now: datetime
) -> None:
    """Replace a user's password hash and lift any lockout; UnknownUserError if unknown."""
    if not password_hash:
        raise UserError("a user needs a password hash")
    rows = con.execute(
        "UPDATE users SET password_hash = ?, updated_at = ?, failed_logins = 0, "
        "locked_until = NULL WHERE name = ? RETURNING name",
        [password_hash, now, name],
    ).fetchall()
    if not rows:
        raise _unknown(name)


def remove_user(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Delete a user and their sessions; UnknownUserError if there is no such user."""
    rows = con.execute("DELETE FROM users WHERE name = ? RETURNING name", [name]).fetchall()
    if not rows:
        raise _unknown(name)
    # Deleted, not just ended: a later user of the same name must not inherit them.
    con.execute("DELETE FROM sessions WHERE user_name = ?", [name]).fetchall()


def record_failure(
    con: duckdb.DuckDBPyConnection,
    name: str,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> datetime | None:
    """Count a failed login; return the new locked_until when it reaches max_failures.

    Reaching the limit locks the user until now + lockout and resets the counter, so the
    next `max_failures` attempts after the lockout are counted afresh. An unknown name is a
    no-op (None): nothing is stored about names that do not exist.
    """
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
        raise ValueError(f"max_failures must be a positive integer, got {max_failures!r}")
    rows = con.execute(
        "UPDATE users SET failed_logins = failed_logins + 1 WHERE name = ? RETURNING failed_logins",
        [name],
    ).fetchall()
    if not rows or int(rows[0][0]) < max_failures:
        return None
    until = now + lockout
    con.execute(
        "UPDATE users SET failed_logins = 0, locked_until = ? WHERE name = ?", [until, name]
    ).fetchall()
    return until


def record_success(con: duckdb.DuckDBPyConnection, name: str, now: datetime) -> None:
    """A successful login: clear failures and lockout, note the time."""
    con.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE name = ?",
        [now, name],
    ).fetchall()
