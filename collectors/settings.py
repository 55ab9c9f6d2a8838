"""All of Vigil's settings in one validated place: defaults < TOML file < environment < flags."""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from collectors.alert_settings import AlertSettings, AlertSettingsError, parse_alerting
from collectors.auth_settings import (
    AuthSettings,
    AuthSettingsError,
    Retention,
    parse_auth,
    parse_pii,
    parse_retention,
)
from collectors.drift_settings import DriftSettings, DriftSettingsError, parse_drift
from collectors.report_settings import ReportSchedule, ReportSettingsError, parse_reports
from monitoring.slo import DEFAULT_OBJECTIVE_TARGET, Objective, parse_objective
from storage.identifiers import check_model_name


class SettingsError(ValueError):
    """A setting is wrong; the message names it and says what would be right."""


@dataclass(frozen=True)
class ModelSettings:
    """One model's settings: a [models.<name>] table of the TOML file."""

    objectives: tuple[Objective, ...] = ()
    provisional_coverage: float = 0.8
    objective_target: float = DEFAULT_OBJECTIVE_TARGET
    drift: DriftSettings = field(default_factory=DriftSettings)
    pii: frozenset[str] = frozenset()  # features marked pii = true
    retention: Retention = field(default_factory=Retention)


LOOPBACK = ("127.0.0.1", "::1", "localhost")
LOGIN_MODES = ("auto", "always")


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
    drift_interval_s: float = 60.0
    drift_lookback_days: float = 30.0
    drift_max_rows: int = 1_000_000
    max_reference_bytes: int = 512 * 1024 * 1024
    evidently_max_rows: int = 50_000
    explain_interval_s: float = 60.0
    explain_rate: float = 0.05
    explain_cap: int = 500
    explain_lookback_days: float = 7.0
    max_artifact_bytes: int = 256 * 1024 * 1024
    login: str = "auto"
    session_hours: float = 12.0
    login_max_failures: int = 5
    login_lockout_minutes: float = 15.0
    retention_interval_s: float = 3600.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_user_header: str | None = None
    models: dict[str, ModelSettings] = field(default_factory=dict, hash=False)
    alerting: AlertSettings = field(default_factory=AlertSettings, hash=False)
    reports: dict[str, ReportSchedule] = field(default_factory=dict, hash=False)
    auth: AuthSettings = field(default_factory=AuthSettings, hash=False)

    @property
    def login_required(self) -> bool:
        """Sign-in is on whenever the server listens beyond loopback, or when asked for."""
        return self.login == "always" or not (self.host in LOOPBACK or self.host.startswith("127."))

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def model(self, name: str) -> ModelSettings:
        """A model's settings; defaults for a model the config does not name."""
        return self.models.get(name, ModelSettings())

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
    "VIGIL_LOGIN": "login",
    "VIGIL_TLS_CERT": "tls_cert",
    "VIGIL_TLS_KEY": "tls_key",
}
TABLES = ("server", "models", "alerts", "channels", "rules", "reports", "auth")  # the file's tables
# Flat settings, the ones [server], the environment and flags may set.
_TYPES = {
    f.name: f.type
    for f in fields(Settings)
    if f.name not in ("models", "alerting", "reports", "auth")
}
_MODEL_KEYS = (
    "objectives",
    "provisional_coverage",
    "objective_target",
    "drift",
    "features",
    "retention",
)


def _coerce(name: str, value: Any) -> Any:
    if name not in _TYPES:
        raise SettingsError(f"unknown setting {name!r}; known: {', '.join(sorted(_TYPES))}")
    kind = str(_TYPES[name]).removesuffix(" | None")
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
    if settings.login not in LOGIN_MODES:
        raise SettingsError(
            f"login {settings.login!r} is not a mode: use auto (sign-in when listening beyond "
            "127.0.0.1) or always"
        )
    _check_tls(settings)
    for name in (
        "sample_interval_s",
        "spool_interval_s",
        "dashboard_refresh_s",
        "drift_interval_s",
        "explain_interval_s",
        "retention_interval_s",
    ):
        if getattr(settings, name) < 0.1:
            raise SettingsError(f"{name} must be at least 0.1 seconds")
    for name in (
        "raw_retention_days",
        "rollup_retention_days",
        "max_body_bytes",
        "write_queue_size",
        "drift_lookback_days",
        "drift_max_rows",
        "max_reference_bytes",
        "evidently_max_rows",
        "explain_cap",
        "explain_lookback_days",
        "max_artifact_bytes",
        "session_hours",
        "login_max_failures",
        "login_lockout_minutes",
    ):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name} must be positive")
    if not 0 < settings.explain_rate <= 1:
        raise SettingsError(
            f"explain_rate is the share of predictions explained: above 0 and at most 1, "
            f"got {settings.explain_rate}"
        )
    if settings.api_token is not None and len(settings.api_token) < 16:
        raise SettingsError(
            "the API token must be at least 16 characters: use `vigil token` to make one"
        )
    return settings


def _check_tls(settings: Settings) -> None:
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError(
            "tls_cert and tls_key go together: set both (the certificate chain and its "
            "private key, PEM files) or neither"
        )
    for name in ("tls_cert", "tls_key"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            raise SettingsError(f"{name} {path} is not a readable file")


def _model_settings(tables: object, config: Path) -> dict[str, ModelSettings]:
    """The [models.<name>] tables, each checked; objectives are parsed here so a bad one
    stops the server at start."""
    if not isinstance(tables, dict):
        raise SettingsError(f"[models] in {config} must hold tables such as [models.churn]")
    return {
        name: _model_table(name, table, f"{config} [models.{name}]")
        for name, table in tables.items()
    }


def _model_table(name: str, table: object, where: str) -> ModelSettings:
    try:
        check_model_name(name)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table, as in [models.{name}]")
    for key in table:
        if key not in _MODEL_KEYS:
            raise SettingsError(f"unknown key {key!r} in {where}; known: {', '.join(_MODEL_KEYS)}")
    defaults = ModelSettings()
    try:
        drift = parse_drift(table.get("drift", {}), f"{where[:-1]}.drift]")
        pii = parse_pii(table.get("features", {}), f"{where[:-1]}.features]")
        retention = parse_retention(table.get("retention", {}), f"{where[:-1]}.retention]")
    except (DriftSettingsError, AuthSettingsError) as exc:
        raise SettingsError(str(exc)) from None
    return ModelSettings(
        objectives=_objectives(table.get("objectives", []), where),
        provisional_coverage=_share(
            table, "provisional_coverage", defaults.provisional_coverage, where, ends=True
        ),
        objective_target=_share(table, "objective_target", defaults.objective_target, where),
        drift=drift,
        pii=pii,
        retention=retention,
    )


def _objectives(texts: object, where: str) -> tuple[Objective, ...]:
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise SettingsError(
            f'{where} objectives must be a list of strings, as in objectives = ["accuracy >= 0.9"]'
        )
    objectives = []
    for i, text in enumerate(texts):
        try:
            objectives.append(parse_objective(text))
        except ValueError as exc:
            raise SettingsError(f"{where} objectives[{i}]: {exc}") from None
    return tuple(objectives)


def _share(
    table: dict[str, Any], key: str, default: float, where: str, ends: bool = False
) -> float:
    """A number between 0 and 1, the ends included only when ``ends``."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(f"{where} {key} must be a number between 0 and 1, got {value!r}")
    if not (0 <= value <= 1 if ends else 0 < value < 1):
        limits = "between 0 and 1" if ends else "above 0 and below 1"
        raise SettingsError(f"{where} {key} must be {limits}, got {value}")
    return float(value)


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
        values["models"] = _model_settings(data.get("models", {}), config)
    env = os.environ if env is None else env
    if config is not None:
        unknown = sorted(set(data) - set(TABLES))
        if unknown:
            raise SettingsError(
                f"unknown table [{unknown[0]}] in {config}; known: {', '.join(TABLES)}"
            )
        try:
            values["alerting"] = parse_alerting(data, Path(config), env)
            channels = values["alerting"].channels
            values["reports"] = parse_reports(data.get("reports", {}), channels, config)
            values["auth"] = parse_auth(data.get("auth", {}), Path(config), env)
        except (AlertSettingsError, ReportSettingsError, AuthSettingsError) as exc:
            raise SettingsError(str(exc)) from None
    for var, name in ENV_VARS.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    if env.get("VIGIL_API_TOKEN_FILE") and not env.get("VIGIL_API_TOKEN"):
        values["api_token"] = _read_secret(Path(env["VIGIL_API_TOKEN_FILE"]))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _check(replace(Settings(), **values))
