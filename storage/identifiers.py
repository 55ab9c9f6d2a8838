"""Validation and quoting of SQL identifiers: names reach SQL only through here."""

from __future__ import annotations

import re

from storage.errors import InvalidIdentifierError

MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
FEATURE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_model_name(name: str) -> str:
    """Return `name` if it is a valid model name, else raise InvalidIdentifierError."""
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        raise InvalidIdentifierError(
            f"invalid model name {name!r}: use 1-64 characters from letters, digits, "
            "'_', '.', '-', starting with a letter or digit"
        )
    return name


def check_feature_name(name: str) -> str:
    """Return `name` if it is a valid feature name, else raise InvalidIdentifierError."""
    if not isinstance(name, str) or not FEATURE_NAME_RE.fullmatch(name):
        raise InvalidIdentifierError(
            f"invalid feature name {name!r}: use 1-63 characters from letters, digits and "
            "'_', not starting with a digit"
        )
    return name


def quote(identifier: str) -> str:
    """Quote an identifier that has already been validated."""
    if '"' in identifier or "\x00" in identifier:
        raise InvalidIdentifierError(f"identifier {identifier!r} contains a quote or NUL")
    return f'"{identifier}"'


def feature_column(feature: str) -> str:
    """The predictions-table column that stores a feature."""
    return "f_" + check_feature_name(feature)


def predictions_table(model_id: int) -> str:
    """The predictions table of a model, by its numeric id (names never reach SQL)."""
    if not isinstance(model_id, int) or model_id < 0:
        raise InvalidIdentifierError(f"invalid model id {model_id!r}")
    return f"predictions_{model_id}"


def attribution_column(feature: str) -> str:
    """The explanations-table column that stores a feature's attribution."""
    return "a_" + check_feature_name(feature)


def explanations_table(model_id: int) -> str:
    """The explanations table of a model, by its numeric id (names never reach SQL)."""
    if isinstance(model_id, bool) or not isinstance(model_id, int) or model_id < 0:
        raise InvalidIdentifierError(f"invalid model id {model_id!r}")
    return f"explanations_{model_id}"
