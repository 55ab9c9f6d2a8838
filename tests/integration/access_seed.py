"""Prepare a database's users and tokens before the server starts (the real AccessService
on the real file; the server then opens the same file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collectors.access import AccessService
from collectors.settings import Settings
from monitoring.access import Principal, Role
from storage import Store, Writer
from storage.models import ModelInfo, register_model

SEEDER = Principal("test-seed", "local", role=Role.ADMIN)
PASSWORDS = {
    "vera": "viewer-password-1234",
    "ed": "editor-password-1234",
    "ada": "admin-password-12345",
    "lou": "lockout-password-1234",  # the lock-out test's victim
}
ROLES = {"vera": Role.VIEWER, "ed": Role.EDITOR, "ada": Role.ADMIN, "lou": Role.VIEWER}
FEATURES = {"age": "numeric", "income": "numeric", "region": "categorical"}


@dataclass
class Seeded:
    tokens: dict[str, str] = field(default_factory=dict)  # name -> secret
    ids: dict[str, str] = field(default_factory=dict)  # name -> public id


def seed(db: Path, models: tuple[str, ...] = ("credit", "other")) -> Seeded:
    """Models, one user per role and one token per (scope, model) on a closed database."""
    store = Store(db)
    writer = Writer(store)
    access = AccessService(store, writer, Settings(db=db))
    out = Seeded()
    try:
        for model in models:
            writer.run(lambda con, m=model: register_model(con, m, "binary", 1, FEATURES))
        for name, role in ROLES.items():
            access.add_user(name, role, PASSWORDS[name], SEEDER, "test")
        for name, scope, model in (
            ("ingest-any", "ingest", None),
            ("ingest-credit", "ingest", "credit"),
            ("read-any", "read", None),
            ("read-credit", "read", "credit"),
            ("admin-tok", "admin", None),
            ("revoked", "admin", None),
        ):
            secret, record = access.create_token(name, scope, model, SEEDER, "test")
            out.tokens[name], out.ids[name] = secret, record.id
        access.revoke_token("revoked", SEEDER, "test")
    finally:
        writer.stop()
        store.close()
    return out


def model_info(db: Path, name: str) -> ModelInfo:
    from storage.models import get_model

    with Store(db) as store:
        found = get_model(store.cursor(), name)
    assert found is not None
    return found
