"""The server speaks HTTPS when given a certificate and key (made by a throwaway test CA),
and refuses to start with only one of them."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.integration.server import TOKEN, free_port
from tests.monitoring.tls_certs import make_certs


def _start(db: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--db", str(db), "--port", str(port)],
        env={**env, "VIGIL_API_TOKEN": TOKEN, "DO_NOT_TRACK": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_https_with_a_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    port = free_port()
    proc = _start(
        tmp_path / "v.duckdb",
        port,
        {
            **os.environ,
            "VIGIL_TLS_CERT": str(certs.server_cert),
            "VIGIL_TLS_KEY": str(certs.server_key),
        },
    )
    context = certs.client_context()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"https://127.0.0.1:{port}/api/v1/models",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                with urllib.request.urlopen(request, context=context, timeout=5) as reply:
                    assert reply.status == 200
                    break
            except (OSError, ssl.SSLError):
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "no HTTPS answer in 60 s"
                time.sleep(0.3)
        # Plain HTTP on the same port is not served.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
            raise AssertionError("plain HTTP answered on the TLS port")
        except (OSError, ValueError) as exc:
            assert not isinstance(exc, AssertionError)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"https://localhost:{port}/" in out


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    cert = make_certs(tmp_path).server_cert
    proc = _start(tmp_path / "v.duckdb", free_port(), {**os.environ, "VIGIL_TLS_CERT": str(cert)})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "tls_cert and tls_key go together" in out
