"""Who may do what: roles for people, scopes for API tokens, and PII masking.

Pure: the server decides *who* is asking (a session, a token, a proxy header, OIDC); this
module decides whether they may, and what they may see.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import pandas as pd


class Role(IntEnum):
    """A person's role; each includes the ones below it."""

    VIEWER = 1  # read everything
    EDITOR = 2  # rules, silences, references, reports
    ADMIN = 3  # users, tokens, channels, model artifacts, deletion

    @property
    def label(self) -> str:
        return self.name.lower()


class Action(StrEnum):
    """What a route or a page action does."""

    READ = "read"  # see monitoring data
    INGEST = "ingest"  # send predictions, labels, register a model
    EDIT = "edit"  # rules, silences, references, raw-data exports
    ADMIN = "admin"  # users, tokens, channels, artifacts, erasure, the audit log


SCOPES = ("ingest", "read", "admin")
KINDS = ("user", "token", "local", "oidc", "proxy", "system")
MASK = "•••"  # what a hidden PII value shows as
_ROLE_NEEDED = {
    Action.READ: Role.VIEWER,
    Action.EDIT: Role.EDITOR,
    Action.ADMIN: Role.ADMIN,
    Action.INGEST: Role.ADMIN,
}
_SCOPE_ALLOWS = {
    "ingest": {Action.INGEST},
    "read": {Action.READ},
    "admin": set(Action),
}


def parse_role(text: str) -> Role:
    """A role from its name; ValueError naming the choices."""
    try:
        return Role[text.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown role {text!r}: use viewer, editor or admin") from None


def check_scope(text: str) -> str:
    """A token scope; ValueError naming the choices."""
    if text not in SCOPES:
        raise ValueError(f"unknown token scope {text!r}: use {', '.join(SCOPES)}")
    return text


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in person (role) or an API token (scope, maybe one model)."""

    name: str
    kind: str  # one of KINDS
    role: Role | None = None
    scope: str | None = None
    model: str | None = None  # a token limited to one model

    @property
    def is_admin(self) -> bool:
        return allows(self, Action.ADMIN)

    @property
    def sees_pii(self) -> bool:
        """Editors and admins see PII features; viewers and read tokens see them masked."""
        if self.role is not None:
            return self.role >= Role.EDITOR
        return self.scope == "admin"

    @property
    def title(self) -> str:
        """How the principal reads in the audit log and the sidebar, e.g. 'token ci-ingest'."""
        return f"token {self.name}" if self.kind == "token" else self.name


# A dashboard on loopback without login: the person at the machine is its admin.
LOCAL = Principal("local", "local", role=Role.ADMIN)


def allows(principal: Principal, action: Action, model: str | None = None) -> bool:
    """True if the principal may do `action` (on `model`, where the action is about one)."""
    if principal.model is not None and model != principal.model:
        return False
    if principal.role is not None:
        return principal.role >= _ROLE_NEEDED[action]
    return principal.scope is not None and action in _SCOPE_ALLOWS[principal.scope]


def denial(principal: Principal, action: Action, model: str | None = None) -> str:
    """Why `allows` said no, in words that say what would be needed."""
    if principal.model is not None and model != principal.model:
        where = f"model {model!r}" if model else "anything but one model"
        return f"{principal.title} is limited to model {principal.model!r} and cannot reach {where}"
    if principal.role is not None:
        need = _ROLE_NEEDED[action].label
        have = principal.role.label
        article = "an" if have[0] in "aeiou" else "a"
        return f"this needs the {need} role; {principal.name} is {article} {have}"
    needed = [s for s in SCOPES if action in _SCOPE_ALLOWS[s]]
    return (
        f"{principal.title} has scope {principal.scope!r}; this needs a token with scope "
        f"{' or '.join(repr(s) for s in needed)}"
    )


def mask_frame(frame: pd.DataFrame, pii: Collection[str], principal: Principal) -> pd.DataFrame:
    """The frame with PII columns' values replaced by MASK unless the principal sees PII."""
    hidden = [c for c in frame.columns if c in pii]
    if not hidden or principal.sees_pii:
        return frame
    out = frame.copy()
    for column in hidden:
        out[column] = out[column].where(out[column].isna(), MASK).astype(object)
    return out


def drop_pii(frame: pd.DataFrame, pii: Collection[str]) -> pd.DataFrame:
    """The frame without its PII columns (for exports)."""
    return frame.drop(columns=[c for c in frame.columns if c in pii])
