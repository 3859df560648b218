"""TLS profiles and mutual TLS on a real gunicorn: real handshakes with certificates made here."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from serving import BIN, ServerProcess, request

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


def enable_tls(
    root: Path,
    pki: Path,
    profile: str,
    client_ca: bool = False,
    *,
    key: str = "tls",
    certfile: str = "server.pem",
) -> None:
    """Add a server.tls (or server.admin_tls) section to the service's config.yml."""
    config = root / "config.yml"
    block = (
        f"  {key}:\n"
        f"    certfile: {pki / certfile}\n"
        f"    keyfile: {pki / 'server.key'}\n"
        f"    profile: {profile}\n" + (f"    client_ca: {pki / 'ca.pem'}\n" if client_ca else "")
    )
    text = config.read_text()
    marker = "  # TLS for the app listeners"
    assert marker in text
    config.write_text(text.replace(marker, block + marker, 1))


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
    """intermediate accepts TLS 1.2 and 1.3 on the app port; the admin port stays plain HTTP."""
    enable_tls(service_root, pki, "intermediate")
    server = serve("--workers", "1")
    assert "app listening on https://" in server.output
    assert "admin listening on http://" in server.output
    status, body = get(server.app, client_context(pki, maximum=ssl.TLSVersion.TLSv1_2))
    assert (status, json.loads(body)["greeting"]) == (200, "Hello, Ada!")
    assert get(server.app, client_context(pki))[0] == 200
    assert request(server.admin, "GET", "/ping")[::2] == (200, b"pong")
    with pytest.raises((ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected)):
        request(server.app, "GET", "/v1/greetings/Ada")


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
    # Probes and operators need no client certificate on the admin port.
    assert request(server.admin, "GET", "/health/ready")[0] == 200


def test_admin_tls_serves_the_admin_port_with_its_own_context(
    serve: Callable[..., ServerProcess], service_root: Path, pki: Path
) -> None:
    """server.admin_tls puts the admin port on TLS without the app port's client CA."""
    enable_tls(service_root, pki, "intermediate", client_ca=True)
    enable_tls(service_root, pki, "modern", key="admin_tls")
    server = serve("--workers", "1")
    assert "admin listening on https://" in server.output
    assert get(server.admin, client_context(pki), "/ping") == (200, b"pong")
    with pytest.raises(ssl.SSLError):
        get(server.admin, client_context(pki, maximum=ssl.TLSVersion.TLSv1_2), "/ping")
    with pytest.raises(
        (ssl.SSLError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
    ):
        get(server.app, client_context(pki))
    assert get(server.app, client_context(pki, cert=True))[0] == 200


def test_a_certificate_that_does_not_load_stops_before_serving(
    service_root: Path, pki: Path
) -> None:
    """A missing certificate file ends `scaffold run` at once, naming the key."""
    enable_tls(service_root, pki, "intermediate", certfile="missing.pem")
    result = subprocess.run(
        [str(BIN / "scaffold"), "run", "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"],
        cwd=service_root,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("server.tls.certfile: cannot read ")
    assert "missing.pem: No such file or directory" in result.stderr
    assert "Booting worker" not in result.stderr


def ecdsa_tls(root: Path, cert: Path, key: Path, profile: str) -> None:
    config = root / "config.yml"
    block = f"  tls:\n    certfile: {cert}\n    keyfile: {key}\n    profile: {profile}\n"
    marker = "  # TLS for the app listeners"
    config.write_text(config.read_text().replace(marker, block + marker, 1))


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_sslyze_finds_the_app_port_compliant(
    serve: Callable[..., ServerProcess], service_root: Path, make_pki, profile: str
) -> None:
    """sslyze's Mozilla check passes for the profile: protocols, ciphers, curves, certificate."""
    pki = make_pki()
    cert, key = pki.leaf("server")
    ecdsa_tls(service_root, cert, key, profile)
    server = serve("--workers", "1")
    assert server.app is not None
    result = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "sslyze",
            f"--mozilla_config={profile}",
            f"--certinfo_ca_file={pki.ca}",
            f"{server.app[0]}:{server.app[1]}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert f"{server.app[0]}:{server.app[1]}: OK - Compliant." in result.stdout, result.stdout
    assert result.returncode == 0
    assert "secp256r1" in result.stdout  # the one curve offered


def test_hup_serves_a_renewed_certificate(
    serve: Callable[..., ServerProcess], service_root: Path, make_pki
) -> None:
    """Replace the certificate files, send HUP: new connections get the new certificate."""
    pki = make_pki()
    cert, key = pki.leaf("server")
    ecdsa_tls(service_root, cert, key, "intermediate")
    server = serve("--workers", "1")
    assert server.app is not None
    context = ssl.create_default_context(cafile=str(pki.ca))

    def served_serial() -> int:
        with (
            socket.create_connection(server.app, timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number

    before = served_serial()
    assert before == x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    renewed_cert, renewed_key = pki.leaf("renewed")
    cert.write_bytes(renewed_cert.read_bytes())
    key.write_bytes(renewed_key.read_bytes())
    renewed = x509.load_pem_x509_certificate(renewed_cert.read_bytes()).serial_number
    server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while served_serial() != renewed:
        assert time.monotonic() < deadline, "the renewed certificate was never served"
        time.sleep(0.2)
