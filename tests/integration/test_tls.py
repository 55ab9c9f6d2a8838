"""The server speaks HTTPS when given a certificate and key (a self-signed pair made here
with `cryptography`), and refuses to start with only one of them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.server import TOKEN, free_port


def _self_signed(root: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _start(db: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "serve", "--db", str(db), "--port", str(port)],
        env={**env, "VIGIL_API_TOKEN": TOKEN, "DO_NOT_TRACK": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    proc = _start(
        tmp_path / "v.duckdb",
        port,
        {**os.environ, "VIGIL_TLS_CERT": str(cert), "VIGIL_TLS_KEY": str(key)},
    )
    context = ssl.create_default_context(cafile=str(cert))
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
    cert, _ = _self_signed(tmp_path)
    proc = _start(tmp_path / "v.duckdb", free_port(), {**os.environ, "VIGIL_TLS_CERT": str(cert)})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "tls_cert and tls_key go together" in out
