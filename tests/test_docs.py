"""Every setting, environment variable, command, flag and route is documented in the README."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest

from collectors.http_api import api_routes
from collectors.settings import ENV_VARS, Settings
from dashboard.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", [f.name for f in fields(Settings) if f.name != "api_token"])
def test_every_setting_is_documented(name: str) -> None:
    assert f"| `{name}` |" in README, f"README's Configuration table lacks `{name}`"


@pytest.mark.parametrize("var", [*ENV_VARS, "VIGIL_API_TOKEN_FILE", "VIGIL_LOG_LEVEL"])
def test_every_environment_variable_is_documented(var: str) -> None:
    assert f"`{var}`" in README


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_command_and_flag_is_documented(command: str) -> None:
    assert f"`vigil {command}" in README, f"README does not document `vigil {command}`"
    for action in _subcommands()[command]._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert f"`{flag}" in README, f"README does not document {flag} of {command}"


def test_every_route_is_documented() -> None:
    class _Ctx:
        ingest = None
        version = ""
        max_body_bytes = 0
        token_hashes = frozenset[str]()
        system_snapshot = None

    from collectors.drift_api import drift_routes
    from collectors.explain_api import explain_routes
    from collectors.report_api import report_routes

    routes = [
        *api_routes(_Ctx()),  # type: ignore[arg-type]
        *drift_routes(_Ctx(), None),  # type: ignore[arg-type]
        *explain_routes(_Ctx(), None),  # type: ignore[arg-type]
        *report_routes(_Ctx(), None),  # type: ignore[arg-type]
    ]
    for route in routes:
        for method in sorted(route.methods or []):
            if method == "HEAD":
                continue
            assert f"`{method} {route.path}`" in README, f"{method} {route.path} undocumented"


def test_every_alert_route_and_setting_is_documented() -> None:
    from collectors.alert_api import alert_routes
    from collectors.alert_settings import _EMAIL_KEYS, _WEBHOOK_KEYS, ALERT_KEYS
    from monitoring.alert_rules import RULE_KEYS, known_metrics

    for route in alert_routes(None, None):  # type: ignore[arg-type]
        for method in sorted(route.methods or []):
            if method != "HEAD":
                assert f"`{method} {route.path}" in README, f"{method} {route.path} undocumented"
    for key in ALERT_KEYS:
        assert f"| `{key}` |" in README, f"README's [alerts] table lacks `{key}`"
    for key in {*_EMAIL_KEYS, *_WEBHOOK_KEYS, *RULE_KEYS} - {"type"}:
        assert f"`{key}`" in README, f"README does not document the key `{key}`"
    for metric in known_metrics():
        if metric.startswith(("precision_", "recall_", "f1_")) or metric in ("mae", "rmse"):
            continue  # named together in the Metrics API section
        assert f"`{metric}`" in README, f"README does not name the alert metric `{metric}`"


def test_every_drift_setting_is_documented() -> None:
    from collectors.drift_settings import DRIFT_KEYS, FEATURE_KEYS, OUTPUT_KEYS

    for key in (*DRIFT_KEYS, *FEATURE_KEYS, *OUTPUT_KEYS):
        assert f"`{key}`" in README, f"README does not document the drift key `{key}`"
    assert "`VIGIL_URL`" in README


def test_every_report_key_is_documented() -> None:
    from collectors.report_settings import REPORT_KEYS

    for key in REPORT_KEYS:
        assert f"`{key}`" in README, f"README does not document the report key `{key}`"


def test_every_make_target_is_documented() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    targets = re.findall(r"^([a-z]+):.*## ", makefile, flags=re.M)
    assert {"demo", "test", "bench"} <= set(targets)
    for target in targets:
        if target != "help":
            assert f"make {target}" in README, f"README does not mention `make {target}`"


def test_every_access_key_route_and_audit_action_is_documented(tmp_path: Path) -> None:
    from collectors.access import AccessService
    from collectors.admin_api import admin_routes
    from collectors.auth_api import auth_routes
    from collectors.auth_settings import AUTH_KEYS, FEATURE_KEYS, OIDC_KEYS, RETENTION_KEYS
    from collectors.http_api import ApiContext
    from collectors.rules_api import rule_routes
    from storage import Store, Writer

    for key in (*AUTH_KEYS, *OIDC_KEYS, *RETENTION_KEYS, *FEATURE_KEYS):
        assert f"`{key}" in README, f"README does not document the key `{key}`"
    for var in ("VIGIL_OIDC_CLIENT_SECRET", "VIGIL_OIDC_CLIENT_SECRET_FILE", "VIGIL_COOKIE_SECRET"):
        assert f"`{var}`" in README
    with Store(tmp_path / "v.duckdb") as store:
        writer = Writer(store)
        access = AccessService(store, writer, Settings(db=store.path))
        ctx = ApiContext(None, "", 0, access=access)  # type: ignore[arg-type]
        routes = [
            *admin_routes(ctx),
            *auth_routes(access, Settings()),
            *rule_routes(ctx, None),  # type: ignore[arg-type]
        ]
        writer.stop()
    for route in routes:
        for method in sorted(route.methods or []):
            if method != "HEAD":
                assert f"`{method} {route.path}" in README, f"{method} {route.path} undocumented"
    actions = re.findall(
        r'audit\([^)]*?"([a-z_.]+)"',
        "".join(p.read_text() for p in Path(__file__).resolve().parents[1].glob("*/*.py")),
    )
    for action in {a for a in actions if "." in a or a in ("login", "erase", "retention")}:
        assert f"`{action}`" in README, f"README does not list the audit action `{action}`"
