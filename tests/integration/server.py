"""Start the real `vigil serve` as a subprocess on a free loopback port, for tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = "test-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ServerProcess:
    """A running server and helpers to call it."""

    db: Path
    port: int
    proc: subprocess.Popen[str]
    log: Path
    token: str = TOKEN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        raw: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 60,
    ) -> Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", content_type)
        if token is not None:
            req.add_header("Authorization", f"Bearer {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, _decode(resp.read()), dict(resp.headers))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _decode(exc.read()), dict(exc.headers))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def start_server(
    db: Path,
    *,
    port: int | None = None,
    config: Path | None = None,
    token: str | None = TOKEN,
    command: str = "serve",
    extra: list[str] | None = None,
    wait: bool = True,
) -> ServerProcess:
    """Start `vigil <command>` and wait until /api/v1/health answers."""
    port = port or free_port()
    env = {**os.environ, "DO_NOT_TRACK": "1", "VIGIL_LOG_LEVEL": "WARNING"}
    env.pop("VIGIL_API_TOKEN", None)
    if token is not None:
        env["VIGIL_API_TOKEN"] = token
    args = [sys.executable, "-m", "dashboard.cli", command, "--db", str(db), "--port", str(port)]
    if config is not None:
        args += ["--config", str(config)]
    log = db.parent / f"server-{port}.log"
    handle = log.open("w")
    proc = subprocess.Popen(
        args + (extra or []),
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=db.parent,
    )
    server = ServerProcess(db, port, proc, log, token or "")
    if wait:
        wait_healthy(server)
    return server


def wait_healthy(server: ServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.output()}")
        try:
            if server.request("GET", "/api/v1/health", token=None, timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy in {timeout} s:\n{server.output()}")
