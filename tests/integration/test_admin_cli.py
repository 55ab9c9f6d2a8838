"""`vigil users|tokens|erase` against a real server, and straight on the file when none runs;
the admin API's answers to bad input."""

from __future__ import annotations

import getpass
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from storage.tokens import hash_token
from tests.integration.conftest import FEATURES, record
from tests.integration.server import TOKEN, ServerProcess, free_port, start_server

CLI = [sys.executable, "-m", "dashboard.cli"]
PASSWORD = "correct horse battery"


def vigil(
    *args: str, url: str, token: str | None = TOKEN, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, with stdin piped (so passwords come from its first line)."""
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    for name in ("VIGIL_API_TOKEN", "VIGIL_API_TOKEN_FILE", "VIGIL_URL", "VIGIL_DB"):
        env.pop(name, None)
    if token is not None:
        env["VIGIL_API_TOKEN"] = token
    return subprocess.run(
        [*CLI, *args, "--url", url],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The error line of a refused command; it must be one readable line, no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def register(server: ServerProcess, events: int = 5) -> str:
    body = {"task": "binary", "positive_class": 1, "features": FEATURES}
    assert server.request("PUT", "/api/v1/models/credit", body).status == 200
    records = [record(i, tags={"channel": "web" if i < 3 else "app"}) for i in range(events)]
    sent = server.request("POST", "/api/v1/models/credit/predictions", {"records": records})
    assert sent.status == 200, sent.body
    labels = [{"event_id": f"e{i}", "label": i % 2} for i in range(events)]
    assert server.request("POST", "/api/v1/models/credit/labels", {"records": labels}).status == 200
    return "credit"


def counts(server: ServerProcess) -> tuple[int, int]:
    (model,) = server.request("GET", "/api/v1/models").body["models"]
    return model["predictions"], model["labels"]


def test_users_through_the_server(server: ServerProcess) -> None:
    url = server.url
    added = ok(vigil("users", "add", "ana", "--role", "viewer", url=url, stdin=PASSWORD + "\n"))
    assert added.strip() == "Added user ana (viewer)."
    listed = server.request("GET", "/api/v1/users")
    assert listed.status == 200
    (ana,) = listed.body["users"]
    assert ana["name"] == "ana" and ana["role"] == "viewer" and ana["last_login_at"] is None
    assert set(ana) == {"name", "role", "created_at", "updated_at", "last_login_at", "locked_until"}
    assert "argon2" not in str(listed.body)

    table = ok(vigil("users", "list", url=url)).splitlines()
    assert table[0].split() == ["NAME", "ROLE", "CREATED", "LAST", "LOGIN", "LOCKED"]
    assert table[1].split()[:2] == ["ana", "viewer"] and "never" in table[1] and "UTC" in table[1]

    changed = ok(vigil("users", "set-role", "ana", "--role", "editor", url=url))
    assert changed.strip() == "ana is now an editor."
    assert server.request("GET", "/api/v1/users").body["users"][0]["role"] == "editor"
    new_password = "another long passphrase"
    assert "Changed the password of ana" in ok(
        vigil("users", "passwd", "ana", url=url, stdin=new_password + "\n")
    )

    again = failed(vigil("users", "add", "ana", "--role", "admin", url=url, stdin=PASSWORD))
    assert "(409)" in again and "exists" in again

    audit = server.request("GET", "/api/v1/audit?action=user.").body["entries"]
    assert [e["action"] for e in audit] == ["user.password", "user.role", "user.add"]
    newest = audit[0]
    assert newest["actor"] == "token VIGIL_API_TOKEN" and newest["source"] == "127.0.0.1"
    assert audit[1]["detail"] == {"role": "editor"}  # parsed back from its JSON text
    assert new_password not in str(audit) and PASSWORD not in str(audit)

    assert "Removed user ana" in ok(vigil("users", "remove", "ana", url=url))
    assert "No users yet" in ok(vigil("users", "list", url=url))
    gone = failed(vigil("users", "remove", "ana", url=url))
    assert "(404)" in gone and gone.endswith("'ana'")


def test_bad_user_input(server: ServerProcess) -> None:
    url = server.url
    weak = failed(vigil("users", "add", "bo", "--role", "viewer", url=url, stdin="short\n"))
    assert weak.startswith("vigil: the server refused it (422)") and "at least 12" in weak
    empty = failed(vigil("users", "add", "bo", "--role", "viewer", url=url, stdin=""))
    assert "no password on stdin" in empty
    role = vigil("users", "add", "bo", "--role", "boss", url=url, stdin=PASSWORD)
    assert "invalid choice: 'boss'" in failed(role, 2)

    api = server.request(
        "POST", "/api/v1/users", {"name": "bo", "role": "boss", "password": PASSWORD}
    )
    assert api.status == 422 and "unknown role 'boss'" in api.body["error"]
    bad_name = {"name": "b o", "role": "viewer", "password": PASSWORD}
    assert server.request("POST", "/api/v1/users", bad_name).status == 422
    missing = server.request("POST", "/api/v1/users", {"name": "bo", "role": "viewer"})
    assert missing.status == 400 and "'password' is missing" in missing.body["error"]
    unknown = server.request("PATCH", "/api/v1/users/nobody", {"role": "viewer"})
    assert unknown.status == 404 and "nobody" in unknown.body["error"]
    nothing = server.request("PATCH", "/api/v1/users/nobody", {})
    assert nothing.status == 400 and "nothing to change" in nothing.body["error"]
    assert server.request("GET", "/api/v1/users").body["users"] == []


def test_tokens_create_list_revoke(server: ServerProcess) -> None:
    url = server.url
    model = register(server)
    made = vigil("tokens", "create", "--name", "dash", "--scope", "read", url=url)
    secret = ok(made).strip()
    assert secret.startswith("vgl_") and len(ok(made).splitlines()) == 1
    assert "will not be shown again" in made.stderr and "scope read" in made.stderr
    assert server.request("GET", "/api/v1/models", token=secret).status == 200
    refused = server.request(
        "POST", f"/api/v1/models/{model}/labels", {"records": []}, token=secret
    )
    assert refused.status == 403 and "scope 'read'" in refused.body["error"]
    ingest = ok(
        vigil("tokens", "create", "--name", "svc", "--scope", "ingest", "--model", model, url=url)
    ).strip()

    listed = server.request("GET", "/api/v1/tokens").body["tokens"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["svc"]["model"] == model and by_name["svc"]["last_used_at"] is None
    assert by_name["dash"]["created_by"] == "token VIGIL_API_TOKEN"
    for leaked in (secret, ingest, hash_token(secret), hash_token(ingest)):
        assert leaked not in str(listed)
    table = ok(vigil("tokens", "list", url=url)).splitlines()
    assert table[0].split() == [
        "ID",
        "NAME",
        "SCOPE",
        "MODEL",
        "CREATED",
        "BY",
        "LAST",
        "USED",
        "STATUS",
    ]
    svc = next(line for line in table if " svc " in line)
    assert " ingest " in svc and " credit " in svc and "never" in svc and svc.endswith("active")

    duplicate = failed(vigil("tokens", "create", "--name", "dash", "--scope", "admin", url=url))
    assert "(409)" in duplicate and "dash" in duplicate
    revoked = ok(vigil("tokens", "revoke", "dash", url=url))
    assert revoked.startswith("Revoked token dash (id ")
    after = server.request("GET", "/api/v1/models", token=secret)
    assert after.status == 401 and "revoked" in after.body["error"]
    line = next(x for x in ok(vigil("tokens", "list", url=url)).splitlines() if " dash " in x)
    assert "revoked" in line
    # The id works as well as the name.
    assert ok(vigil("tokens", "revoke", by_name["svc"]["id"], url=url)).startswith(
        "Revoked token svc"
    )

    unknown = failed(vigil("tokens", "revoke", "nope", url=url))
    assert "(404)" in unknown
    assert "invalid choice: 'root'" in failed(
        vigil("tokens", "create", "--name", "x", "--scope", "root", url=url), 2
    )
    bad_scope = server.request("POST", "/api/v1/tokens", {"name": "x", "scope": "root"})
    assert bad_scope.status == 422 and "unknown token scope 'root'" in bad_scope.body["error"]
    no_model = server.request(
        "POST", "/api/v1/tokens", {"name": "x", "scope": "read", "model": "nope"}
    )
    assert no_model.status == 404 and "nope" in no_model.body["error"]
    # A read token is no admin: the CLI says what the server said.
    reader = ok(vigil("tokens", "create", "--name", "reader", "--scope", "read", url=url)).strip()
    denied = failed(vigil("tokens", "list", url=url, token=reader))
    assert "(403)" in denied and "scope 'read'" in denied


def test_erase_through_the_server(server: ServerProcess) -> None:
    url = server.url
    model = register(server)
    assert counts(server) == (5, 5)
    out = ok(vigil("erase", "--model", model, "--event-id", "e0", "e1", "e9", url=url))
    assert out.splitlines()[0] == f"Erased 4 rows from model {model}:"
    rows = {" ".join(line.split()[:-1]): line.split()[-1] for line in out.splitlines()[1:]}
    assert rows == {"predictions": "2", "labels": "2", "explanations": "0", "reference rows": "0"}
    assert counts(server) == (3, 3)

    by_tag = server.request(
        "POST", f"/api/v1/models/{model}/erase", {"tag": "channel", "value": "web"}
    )
    assert by_tag.status == 200 and by_tag.body["erased"]["predictions"] == 1  # e2 is left
    assert "note" in by_tag.body
    by_number = server.request(
        "POST", f"/api/v1/models/{model}/erase", {"feature": "age", "value": 33}
    )
    assert by_number.status == 200 and by_number.body["erased"]["predictions"] == 1  # e3
    assert counts(server) == (1, 1)
    audit = server.request("GET", "/api/v1/audit?action=erase").body["entries"]
    assert len(audit) == 3 and audit[0]["detail"]["matched_on"] == "age"
    assert "33" not in str(audit[0]["detail"])  # the value identifies the subject: not logged

    assert "one of the arguments --event-id --feature --tag is required" in failed(
        vigil("erase", "--model", model, url=url), 2
    )
    for body in ({}, {"event_ids": ["e4"], "tag": "channel", "value": "app"}):
        resp = server.request("POST", f"/api/v1/models/{model}/erase", body)
        assert resp.status == 400 and '{"event_ids": [...]}' in resp.body["error"]
    no_value = server.request("POST", f"/api/v1/models/{model}/erase", {"feature": "age"})
    assert no_value.status == 400 and "value" in no_value.body["error"]
    unknown = server.request("POST", "/api/v1/models/nope/erase", {"event_ids": ["e4"]})
    assert unknown.status == 404 and "nope" in unknown.body["error"]
    assert "(404)" in failed(vigil("erase", "--model", "nope", "--event-id", "e4", url=url))
    feature = failed(vigil("erase", "--model", model, "--feature", "height=3", url=url))
    assert "(422)" in feature and "height" in feature


def test_the_admin_token_is_needed(server: ServerProcess) -> None:
    url = server.url
    missing = failed(vigil("users", "list", url=url, token=None))
    assert "set VIGIL_API_TOKEN" in missing and "admin" in missing
    wrong = failed(vigil("tokens", "list", url=url, token="not-a-token-not-a-token"))
    assert wrong.startswith("vigil: the server refused it (401)") and "API token" in wrong
    for method, path in [
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/tokens"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/models/credit/erase"),
    ]:
        resp = server.request(method, path, {}, token=None)
        assert resp.status == 401 and "Bearer" in resp.body["error"], (method, path)


def test_without_a_server_the_cli_opens_the_file(tmp_path: Path) -> None:
    db = tmp_path / "vigil.duckdb"
    server = start_server(db)
    try:
        model = register(server)
        locked = failed(
            vigil("users", "list", "--db", str(db), url=f"http://127.0.0.1:{free_port()}")
        )
        assert "is already open in" in locked and "--url" in locked
    finally:
        server.stop()
    away = f"http://127.0.0.1:{free_port()}"

    added = vigil(
        "users", "add", "bob", "--role", "admin", "--db", str(db), url=away, stdin=PASSWORD
    )
    assert ok(added).strip() == "Added user bob (admin)."
    assert f"no server answers at {away}; using {db} directly" in added.stderr
    assert "bob" in ok(vigil("users", "list", "--db", str(db), url=away, token=None))
    made = vigil(
        "tokens", "create", "--name", "offline", "--scope", "admin", "--db", str(db), url=away
    )
    secret = ok(made).strip()
    assert "will not be shown again" in made.stderr
    erased = ok(vigil("erase", "--model", model, "--tag", "channel=app", "--db", str(db), url=away))
    assert erased.splitlines()[0] == f"Erased 4 rows from model {model}:"  # e3, e4 and labels
    assert "compacted" in erased  # the file is rewritten at once: nothing erased lingers in it
    assert "no database" in failed(
        vigil("users", "list", "--db", str(tmp_path / "none.duckdb"), url=away)
    )
    with duckdb.connect(str(db), read_only=True) as con:  # closed cleanly: no lock is left
        assert con.execute("SELECT count(*) FROM users").fetchone() == (1,)

    again = start_server(db, token=None)
    try:
        again.token = secret  # made offline, it works against the server
        assert again.request("GET", "/api/v1/users").body["users"][0]["name"] == "bob"
        assert counts(again) == (3, 3)
        audit = again.request("GET", "/api/v1/audit").body["entries"]
        actions = [(e["action"], e["actor"], e["source"]) for e in audit]
        me = getpass.getuser()
        assert ("erase", me, "cli") in actions and ("user.add", me, "cli") in actions
        assert ("token.create", me, "cli") in actions
    finally:
        again.stop(signal.SIGTERM)


def at_terminal(args: list[str], answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, typing each answer once its prompt shows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its controlling tty, as in a shell
        os.execve(sys.executable, [sys.executable, *CLI[1:], *args], env)
    seen, deadline = "", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if answers and answers[0][0] in seen:
                os.write(fd, (answers.pop(0)[1] + "\n").encode())
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk.decode(errors="replace")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen


def test_passwords_are_asked_twice_at_a_terminal(tmp_path: Path) -> None:
    where = ["--db", str(tmp_path / "vigil.duckdb"), "--url", f"http://127.0.0.1:{free_port()}"]
    add = ["users", "add", "tia", "--role", "viewer", *where]
    code, shown = at_terminal(add, [("Password for tia:", PASSWORD), ("Again:", PASSWORD)])
    assert code == 0 and "Added user tia (viewer)." in shown
    assert PASSWORD not in shown  # not echoed
    other = "a different passphrase"
    passwd = ["users", "passwd", "tia", *where]
    code, shown = at_terminal(passwd, [("Password for tia:", PASSWORD), ("Again:", other)])
    assert code == 1 and "the two passwords differ; nothing was changed" in shown
    code, shown = at_terminal(passwd, [("Password for tia:", "short")])
    assert code == 1 and "use at least 12" in shown and "Again:" not in shown
