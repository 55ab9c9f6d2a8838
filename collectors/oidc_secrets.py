"""Hand the [auth.oidc] settings to Streamlit's st.login, which reads them from secrets.toml.

The file is written under the data directory with mode 0600 at each start, from the
settings and the environment (the client secret never sits in the config file).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from collectors.auth_settings import OidcSettings

COOKIE_SECRET_ENV = "VIGIL_COOKIE_SECRET"  # noqa: S105 (a variable name)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cookie_secret(data_dir: Path) -> str:
    """$VIGIL_COOKIE_SECRET, else one made once and kept beside the database."""
    configured = os.environ.get(COOKIE_SECRET_ENV)
    if configured:
        return configured
    path = data_dir / "oidc-cookie-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_hex(32)
    _write_private(path, value + "\n")
    return value


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def write_secrets(oidc: OidcSettings, data_dir: Path) -> Path:
    """Write Streamlit's [auth] secrets for st.login; the file's path."""
    lines = [
        "# Written by `vigil serve` from [auth.oidc]; rewritten at every start.",
        "[auth]",
        f"redirect_uri = {_toml_string(oidc.redirect_uri)}",
        f"cookie_secret = {_toml_string(_cookie_secret(data_dir))}",
        f"client_id = {_toml_string(oidc.client_id)}",
        f"client_secret = {_toml_string(oidc.client_secret)}",
        f"server_metadata_url = {_toml_string(oidc.server_metadata_url)}",
    ]
    path = data_dir / "streamlit-secrets.toml"
    _write_private(path, "\n".join(lines) + "\n")
    return path
