"""TLS profiles and mutual TLS on a real gunicorn: real handshakes with certificates made here."""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import ServerProcess

pytestmark = pytest.mark.e2e


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is required for the TLS tests (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("pki")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=folder,
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=client")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=folder,
        )
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.pem",
            *extra,
            cwd=folder,
        )
    return folder


def enable_tls(root: Path, pki: Path, profile: str, client_ca: bool = False) -> None:
    config = root / "config.yml"
    block = (
        "  tls:\n"
        f"    certfile: {pki / 'server.pem'}\n"
        f"    keyfile: {pki / 'server.key'}\n"
        f"    profile: {profile}\n" + (f"    client_ca: {pki / 'ca.pem'}\n" if client_ca else "")
    )
    text = config.read_text()
    config.write_text(
        text.replace("  # TLS for every listener", block + "  # TLS for every listener", 1)
    )


def client_context(
    pki: Path, *, maximum: ssl.TLSVersion | None = None, cert: bool = False
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if maximum is not None:
        context.maximum_version = maximum
    if cert:
        context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    return context


def get(
    address: tuple[str, int], context: ssl.SSLContext, path: str = "/v1/greetings/Ada"
) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection(*address, context=context, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_intermediate_profile_serves_tls12_and_tls13(
    serve: Callable[..., ServerProcess], service_root: Path, pki: Path
) -> None:
    """intermediate accepts TLS 1.2 and 1.3 and serves the app over HTTPS."""
    enable_tls(service_root, pki, "intermediate")
    server = serve("--workers", "1")
    assert "app listening on https://" in server.output
    status, body = get(server.app, client_context(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert (status, json.loads(body)["greeting"]) == (200, "Hello, Ada!")
    assert get(server.app, client_context(pki))[0] == 200
    assert get(server.admin, client_context(pki), "/ping") == (200, b"pong")


def test_modern_profile_refuses_tls12(
    serve: Callable[..., ServerProcess], service_root: Path, pki: Path
) -> None:
    """modern is TLS 1.3 only: a TLS 1.2 client fails the handshake."""
    enable_tls(service_root, pki, "modern")
    server = serve("--workers", "1")
    with pytest.raises(ssl.SSLError):
        get(server.app, client_context(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert get(server.app, client_context(pki))[0] == 200


def test_client_ca_requires_a_client_certificate(
    serve: Callable[..., ServerProcess], service_root: Path, pki: Path
) -> None:
    """With client_ca set, a client without a certificate is refused; one with it is served."""
    enable_tls(service_root, pki, "intermediate", client_ca=True)
    server = serve("--workers", "1")
    with pytest.raises(
        (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
    ):
        get(server.app, client_context(pki))
    assert get(server.app, client_context(pki, cert=True))[0] == 200
