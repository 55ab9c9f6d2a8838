"""Who signs in how: the [auth] table (role mapping, OpenID Connect) and per-model privacy.

```toml
[auth]
admins = ["ana@example.com"]          # e-mails, "group:<name>" or "*" (anyone signed in)
editors = ["group:ml-team"]
viewers = ["*"]
[auth.oidc]                           # sign-in through Streamlit's st.login
server_metadata_url = "https://accounts.example.com/.well-known/openid-configuration"
client_id = "vigil"
redirect_uri = "https://vigil.example.com/oauth2callback"
group_claim = "groups"                # the ID-token claim that lists the user's groups
label = "Example SSO"                 # the sign-in button's text
# client secret: VIGIL_OIDC_CLIENT_SECRET or VIGIL_OIDC_CLIENT_SECRET_FILE

[models.credit-risk.features.customer_id]
pii = true                            # masked for viewers, left out of exports
[models.credit-risk.retention]
predictions_days = 365                # older rows are deleted by the retention job
labels_days = 365
explanations_days = 90
```
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring.access import Role

AUTH_KEYS = ("admins", "editors", "viewers", "oidc")
OIDC_KEYS = ("server_metadata_url", "client_id", "redirect_uri", "group_claim", "label")
RETENTION_KEYS = ("predictions_days", "labels_days", "explanations_days")
FEATURE_KEYS = ("pii",)
_SECRET_ENV = "VIGIL_OIDC_CLIENT_SECRET"  # noqa: S105 (the variable's name, not a secret)


class AuthSettingsError(ValueError):
    """A wrong [auth] or privacy setting; the message names the key and what is allowed."""


@dataclass(frozen=True)
class OidcSettings:
    """What Streamlit's st.login needs; the secret comes from the environment only."""

    server_metadata_url: str
    client_id: str
    redirect_uri: str
    client_secret: str = field(repr=False, default="")
    group_claim: str = "groups"
    label: str = "Single sign-on"


@dataclass(frozen=True)
class AuthSettings:
    """Role mapping for people identified by OIDC or a trusted proxy header."""

    admins: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()
    oidc: OidcSettings | None = None

    def role_for(self, email: str | None, groups: Collection[str] = ()) -> Role | None:
        """The highest role whose list names the e-mail, one of the groups, or "*"."""
        wanted = {"*"} | {f"group:{g}".lower() for g in groups}
        if email:
            wanted.add(email.strip().lower())
        for role, names in (
            (Role.ADMIN, self.admins),
            (Role.EDITOR, self.editors),
            (Role.VIEWER, self.viewers),
        ):
            if wanted & {n.lower() for n in names}:
                return role
        return None


@dataclass(frozen=True)
class Retention:
    """How many days each kind of a model's data is kept; None keeps it forever."""

    predictions_days: float | None = None
    labels_days: float | None = None
    explanations_days: float | None = None

    @property
    def any(self) -> bool:
        return any(
            d is not None for d in (self.predictions_days, self.labels_days, self.explanations_days)
        )


def _names(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AuthSettingsError(
            f'{where} {key} must be a list of e-mails, "group:<name>" or "*", '
            f'as in {key} = ["ana@example.com", "group:ml-team"]'
        )
    return tuple(v.strip() for v in value)


def _oidc(table: object, where: str, env: Mapping[str, str]) -> OidcSettings:
    if not isinstance(table, dict):
        raise AuthSettingsError(f"{where} must be a table, as in [auth.oidc]")
    for key in table:
        if key not in OIDC_KEYS:
            raise AuthSettingsError(
                f"unknown key {key!r} in {where}; known: {', '.join(OIDC_KEYS)}"
            )
        if not isinstance(table[key], str) or not table[key].strip():
            raise AuthSettingsError(f"{where} {key} must be a non-empty string")
    missing = [k for k in ("server_metadata_url", "client_id", "redirect_uri") if k not in table]
    if missing:
        raise AuthSettingsError(f"{where} lacks {', '.join(missing)}: OpenID Connect needs them")
    if not str(table["redirect_uri"]).endswith("/oauth2callback"):
        raise AuthSettingsError(
            f"{where} redirect_uri must end with /oauth2callback (Streamlit's callback route), "
            f"got {table['redirect_uri']!r}"
        )
    secret = env.get(_SECRET_ENV, "")
    if not secret and env.get(f"{_SECRET_ENV}_FILE"):
        path = Path(env[f"{_SECRET_ENV}_FILE"])
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AuthSettingsError(
                f"{_SECRET_ENV}_FILE {path} cannot be read: {exc.strerror}"
            ) from None
    if not secret:
        raise AuthSettingsError(
            f"{where} is set but the client secret is not: set {_SECRET_ENV} or {_SECRET_ENV}_FILE"
        )
    return OidcSettings(
        server_metadata_url=table["server_metadata_url"],
        client_id=table["client_id"],
        redirect_uri=table["redirect_uri"],
        client_secret=secret,
        group_claim=table.get("group_claim", "groups"),
        label=table.get("label", "Single sign-on"),
    )


def parse_auth(table: object, config: Path, env: Mapping[str, str]) -> AuthSettings:
    """The [auth] table, checked."""
    where = f"{config} [auth]"
    if not isinstance(table, dict):
        raise AuthSettingsError(f"{where} must be a table")
    for key in table:
        if key not in AUTH_KEYS:
            raise AuthSettingsError(
                f"unknown key {key!r} in {where}; known: {', '.join(AUTH_KEYS)}"
            )
    oidc = _oidc(table["oidc"], f"{config} [auth.oidc]", env) if "oidc" in table else None
    return AuthSettings(
        admins=_names(table, "admins", where),
        editors=_names(table, "editors", where),
        viewers=_names(table, "viewers", where),
        oidc=oidc,
    )


def parse_pii(features: object, where: str) -> frozenset[str]:
    """The features marked `pii = true` in [models.<m>.features.<feature>] tables."""
    if not isinstance(features, dict):
        raise AuthSettingsError(f"{where} must hold tables such as [{where[1:-1]}.customer_id]")
    pii = set()
    for name, table in features.items():
        if not isinstance(table, dict):
            raise AuthSettingsError(f"{where[:-1]}.{name}] must be a table with pii = true")
        for key in table:
            if key not in FEATURE_KEYS:
                raise AuthSettingsError(
                    f"unknown key {key!r} in {where[:-1]}.{name}]; known: {', '.join(FEATURE_KEYS)}"
                )
        flag = table.get("pii", False)
        if not isinstance(flag, bool):
            raise AuthSettingsError(f"{where[:-1]}.{name}] pii must be true or false, got {flag!r}")
        if flag:
            pii.add(name)
    return frozenset(pii)


def parse_retention(table: object, where: str) -> Retention:
    """The [models.<m>.retention] table: days per kind of data."""
    if not isinstance(table, dict):
        raise AuthSettingsError(f"{where} must be a table, as in predictions_days = 365")
    days: dict[str, float] = {}
    for key, value in table.items():
        if key not in RETENTION_KEYS:
            raise AuthSettingsError(
                f"unknown key {key!r} in {where}; known: {', '.join(RETENTION_KEYS)}"
            )
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise AuthSettingsError(
                f"{where} {key} must be a positive number of days, got {value!r}"
            )
        days[key] = float(value)
    return Retention(**days)
