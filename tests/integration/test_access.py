"""Every API route against every kind of caller, on the real server with sign-in on.

Tokens and users are made with the real AccessService on the database file before the
server opens it. The expected action of each route is written out here, independently of
the server's own table, and a test checks that the table covers every route it serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.access import AccessService
from collectors.http_api import ApiContext
from collectors.settings import Settings
from dashboard.server import http_routes
from storage import Store, Writer
from tests.integration.access_seed import PASSWORDS, Seeded, seed
from tests.integration.conftest import record
from tests.integration.server import ServerProcess, start_server

# (method, path) -> the action it needs; {model} is filled with "credit".
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/models"): "read",
    ("PUT", "/api/v1/models/{model}"): "ingest",
    ("POST", "/api/v1/models/{model}/predictions"): "ingest",
    ("POST", "/api/v1/models/{model}/labels"): "ingest",
    ("GET", "/api/v1/models/{model}/metrics"): "read",
    ("GET", "/api/v1/alerts"): "read",
    ("GET", "/api/v1/alerts/history"): "read",
    ("PUT", "/api/v1/models/{model}/reference"): "edit",
    ("GET", "/api/v1/models/{model}/reference"): "read",
    ("GET", "/api/v1/models/{model}/drift"): "read",
    ("GET", "/api/v1/models/{model}/drift/windows"): "read",
    ("GET", "/api/v1/models/{model}/drift/report"): "read",
    ("GET", "/api/v1/models/{model}/quality"): "read",
    ("PUT", "/api/v1/models/{model}/versions/{version}/artifact"): "admin",
    ("GET", "/api/v1/models/{model}/artifacts"): "read",
    ("GET", "/api/v1/models/{model}/explanations/{event_id}"): "read",
    ("GET", "/api/v1/models/{model}/importance"): "read",
    ("GET", "/api/v1/models/{model}/report"): "read",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{name}"): "admin",
    ("DELETE", "/api/v1/users/{name}"): "admin",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{ident}"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("POST", "/api/v1/models/{model}/erase"): "admin",
    ("GET", "/api/v1/rules"): "read",
    ("PUT", "/api/v1/rules/{name}"): "edit",
    ("DELETE", "/api/v1/rules/{name}"): "edit",
    ("GET", "/api/v1/silences"): "read",
    ("POST", "/api/v1/silences"): "edit",
    ("DELETE", "/api/v1/silences/{id}"): "edit",
}
OPEN = {("GET", "/api/v1/health"), ("GET", "/metrics")}
# What each token may do, by scope; model-limited tokens only on "credit".
TOKENS = {
    "ingest-any": ({"ingest"}, None),
    "ingest-credit": ({"ingest"}, "credit"),
    "read-any": ({"read"}, None),
    "read-credit": ({"read"}, "credit"),
    "admin-tok": ({"read", "ingest", "edit", "admin"}, None),
}
QUERY = "?start=2025-11-24T00:00:00Z&end=2025-11-26T00:00:00Z"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Seeded]]:
    root = tmp_path_factory.mktemp("access")
    db = root / "vigil.duckdb"
    seeded = seed(db)
    config = root / "vigil.toml"
    config.write_text('[server]\nlogin = "always"\n', encoding="utf-8")
    server = start_server(db, config=config)
    yield server, seeded
    server.stop()


def test_the_table_covers_every_route_the_server_serves(store: Store, writer: Writer) -> None:
    served = set()
    # Building the routes reads nothing from the other services, so placeholders do.
    access = AccessService(store, writer, Settings(db=store.path))
    ctx = ApiContext(None, "test", 1, access=access)  # type: ignore[arg-type]
    for route in http_routes(ctx, None, None, None, None):  # type: ignore[arg-type]
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, route.path))
    assert served == set(ROUTES) | OPEN


def _call(server: ServerProcess, method: str, path: str, token: str | None) -> Any:
    concrete = (
        path.replace("{model}", "credit")
        .replace("{version}", "1")
        .replace("{event_id}", "nope")
        .replace("{name}", "nobody-here")
        .replace("{ident}", "nothing-here")
        .replace("{id}", "no-such-silence")
    )
    if method == "GET" and "/models/" in concrete and "{" not in path.split("/")[-1]:
        concrete += QUERY
    body: Any = {} if method in ("PUT", "POST", "PATCH") else None
    return server.request(method, concrete, body, token=token)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_token_scope_against_each_route(
    world: tuple[ServerProcess, Seeded], route: tuple[str, str]
) -> None:
    server, seeded = world
    method, path = route
    needed = ROUTES[route]
    for name, (actions, model) in TOKENS.items():
        reply = _call(server, method, path, seeded.tokens[name])
        on_model = "{model}" in path
        allowed = needed in actions and (model is None or on_model)
        if allowed:
            assert reply.status not in (401, 403), (name, route, reply.body)
        else:
            assert reply.status == 403, (name, route, reply.status, reply.body)
            assert "forbidden" in reply.body["error"], reply.body
    for bad in (None, "not-a-token-at-all", seeded.tokens["revoked"]):
        reply = _call(server, method, path, bad)
        assert reply.status == 401, (bad, route, reply.body)
        assert {k.lower(): v for k, v in reply.headers.items()}["www-authenticate"] == "Bearer"


def _count(server: ServerProcess, model: str) -> int:
    models = server.request("GET", "/api/v1/models").body["models"]
    return next(m["predictions"] for m in models if m["name"] == model)


def test_an_ingest_token_for_one_model_cannot_write_to_another(
    world: tuple[ServerProcess, Seeded],
) -> None:
    server, seeded = world
    token = seeded.tokens["ingest-credit"]
    before = _count(server, "other")
    reply = server.request(
        "POST", "/api/v1/models/other/predictions", {"records": [record(1)]}, token=token
    )
    assert reply.status == 403
    assert "limited to model 'credit'" in reply.body["error"]
    assert _count(server, "other") == before
    ok = server.request(
        "POST", "/api/v1/models/credit/predictions", {"records": [record(2)]}, token=token
    )
    assert ok.status == 200, ok.body
    # ...and it reads nothing, not even its own model.
    assert server.request("GET", "/api/v1/models/credit/metrics" + QUERY, token=token).status == 403


def test_a_read_token_cannot_change_the_reference(world: tuple[ServerProcess, Seeded]) -> None:
    server, seeded = world
    body = {"records": [{"age": 1, "income": 2.0, "region": "north"}] * 20}
    reply = server.request(
        "PUT", "/api/v1/models/credit/reference", body, token=seeded.tokens["read-any"]
    )
    assert reply.status == 403
    assert "scope 'read'" in reply.body["error"]
    got = server.request("GET", "/api/v1/models/credit/reference", token=seeded.tokens["read-any"])
    assert got.status == 409 or got.body.get("reference") is None, got.body
    audit = server.request(
        "GET", "/api/v1/audit?action=reference.set", token=seeded.tokens["admin-tok"]
    ).body["entries"]
    assert any(e["outcome"] == "denied" and e["actor"] == "token read-any" for e in audit)


def test_a_revoked_token_fails_at_once(world: tuple[ServerProcess, Seeded]) -> None:
    server, seeded = world
    admin = seeded.tokens["admin-tok"]
    made = server.request(
        "POST", "/api/v1/tokens", {"name": "short-lived", "scope": "read"}, token=admin
    )
    assert made.status == 200, made.body
    secret = made.body["token"]
    assert server.request("GET", "/api/v1/models", token=secret).status == 200
    gone = server.request("DELETE", f"/api/v1/tokens/{made.body['id']}", token=admin)
    assert gone.status == 200, gone.body
    assert server.request("GET", "/api/v1/models", token=secret).status == 401
    listed = server.request("GET", "/api/v1/tokens", token=admin).body["tokens"]
    row = next(t for t in listed if t["id"] == made.body["id"])
    assert row["revoked_at"] is not None and row["last_used_at"] is not None
    assert secret not in json.dumps(listed)


def test_the_database_file_holds_no_clear_password_or_token(
    tmp_path: Path,
) -> None:
    db = tmp_path / "vigil.duckdb"
    seeded = seed(db)
    raw = db.read_bytes() + (Path(f"{db}.wal").read_bytes() if Path(f"{db}.wal").exists() else b"")
    for password in PASSWORDS.values():
        assert password.encode() not in raw
    for secret in seeded.tokens.values():
        assert secret.encode() not in raw
    assert b"$argon2id$" in raw  # the hashes are there instead
