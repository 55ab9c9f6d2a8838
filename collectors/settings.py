"""All of Vigil's settings in one validated place: defaults < TOML file < environment < flags."""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting is wrong; the message names it and says what would be right."""


@dataclass(frozen=True)
class Settings:
    """Server settings; see the README's Configuration section for each one."""

    db: Path = Path("vigil-data/vigil.duckdb")
    host: str = "127.0.0.1"
    port: int = 8501
    api_token: str | None = field(default=None, repr=False)
    api_token_hashes: tuple[str, ...] = ()
    sample_interval_s: float = 5.0
    raw_retention_days: float = 7.0
    rollup_retention_days: float = 90.0
    spool_interval_s: float = 2.0
    max_body_bytes: int = 32 * 1024 * 1024
    write_queue_size: int = 64
    dashboard_refresh_s: float = 5.0

    @property
    def data_dir(self) -> Path:
        return self.db.parent

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"


ENV_VARS = {
    "VIGIL_DB": "db",
    "VIGIL_API_TOKEN": "api_token",
    "VIGIL_HOST": "host",
    "VIGIL_PORT": "port",
}
_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    if name not in _TYPES:
        raise SettingsError(f"unknown setting {name!r}; known: {', '.join(sorted(_TYPES))}")
    kind = _TYPES[name]
    try:
        if kind == "Path":
            return Path(str(value))
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError  # TOML and float() take nan and inf
            return float(value)
        if kind == "tuple[str, ...]":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return tuple(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r} must be {kind}, got {value!r}") from None


def _check(settings: Settings) -> Settings:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"port {settings.port} is out of range: use 1-65535")
    for name in ("sample_interval_s", "spool_interval_s", "dashboard_refresh_s"):
        if getattr(settings, name) < 0.1:
            raise SettingsError(f"{name} must be at least 0.1 seconds")
    for name in (
        "raw_retention_days",
        "rollup_retention_days",
        "max_body_bytes",
        "write_queue_size",
    ):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name} must be positive")
    if settings.api_token is not None and len(settings.api_token) < 16:
        raise SettingsError(
            "the API token must be at least 16 characters: use `vigil token` to make one"
        )
    return settings


def _read_secret(path: Path) -> str:
    """The token in a secret file (e.g. a Docker or Kubernetes secret), stripped."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"VIGIL_API_TOKEN_FILE {path} cannot be read: {exc.strerror}") from None


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from a TOML file (its [server] table), the environment and flags."""
    values: dict[str, Any] = {}
    if config is not None:
        try:
            data = tomllib.loads(Path(config).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {config} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {config} is not valid TOML: {exc}") from None
        server = data.get("server", {})
        if not isinstance(server, dict):
            raise SettingsError(f"[server] in {config} must be a table")
        for key, value in server.items():
            if key == "api_token":
                raise SettingsError(
                    f"{config} [server] holds a plain API token: secrets stay out of config "
                    "files. Set VIGIL_API_TOKEN or VIGIL_API_TOKEN_FILE, or put its SHA-256 "
                    "in api_token_hashes (`vigil token` prints both)"
                )
            if key not in _TYPES:
                known = ", ".join(sorted(_TYPES))
                raise SettingsError(f"unknown setting {key!r} in {config} [server]; known: {known}")
            values[key] = _coerce(key, value)
    env = os.environ if env is None else env
    for var, name in ENV_VARS.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    if env.get("VIGIL_API_TOKEN_FILE") and not env.get("VIGIL_API_TOKEN"):
        values["api_token"] = _read_secret(Path(env["VIGIL_API_TOKEN_FILE"]))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _check(replace(Settings(), **values))
