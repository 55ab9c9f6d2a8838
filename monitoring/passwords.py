"""Password hashes for dashboard users: argon2id (OWASP's first choice), never clear text."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
_HASHER = PasswordHasher()  # argon2id; RFC 9106's low-memory profile (64 MiB, t=3)
# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password and the timing does not tell which names exist.
_DUMMY = _HASHER.hash("vigil-no-such-user-padding")


def check_password(password: str) -> str:
    """The password if it is acceptable; ValueError saying what is wrong."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password has {len(password)} characters: use at least {MIN_LENGTH}")
    if password.strip() != password:
        raise ValueError("the password starts or ends with whitespace: remove it")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash string that embeds its salt and parameters."""
    return _HASHER.hash(check_password(password))


def verify_password(stored: str | None, password: str) -> bool:
    """True if `password` matches `stored`; a None hash is checked against a dummy."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)
