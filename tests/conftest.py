"""Fixtures shared by the whole suite: a typed example service and a rendered service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest
from falcon import testing
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from marshmallow import Schema, fields, validate

from scaffold.new import create_service
from scaffold.runtime import Config, Service, parse_config, typed

BIN = Path(sys.executable).parent

# Tests write only under tmp_path: no example database in the checkout (.hypothesis/).
settings.register_profile("scaffold", database=None)
settings.load_profile("scaffold")


_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="scaffold-tests-hypothesis-")


def pytest_configure(config: pytest.Config) -> None:
    """hypothesis keeps its caches in a temporary folder, never in the checkout.

    It writes them as soon as test modules are collected, before any fixture runs.
    """
    set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove hypothesis's temporary folder."""
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


class GreetingIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "fr"]))
    nick_name = fields.String(data_key="nickName")


class GreetingOut(Schema):
    greeting = fields.String()
    language = fields.String()


class Address(Schema):
    city = fields.String(required=True)


class Person(Schema):
    name = fields.String(required=True)
    address = fields.Nested(Address, required=True)


class Paging(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


def build_example(config: Config | None = None) -> Service:
    """A service exercising every typed-responder feature.

    Its resources are declared here, not at import time, so each service is built by the
    runtime's code as it is when the test runs (a mutation-testing run swaps that code per
    test process, after this module was imported).
    """

    class GreetingItem:
        @typed(response=GreetingOut)
        def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> dict[str, str]:
            return {"greeting": f"Hello, {name}!", "language": "en"}

    class GreetingCollection:
        @typed(query=Paging, response=GreetingOut, many=True)
        def on_get(
            self, req: falcon.Request, resp: falcon.Response, query: dict[str, Any]
        ) -> list[dict[str, str]]:
            return [{"greeting": f"Hello, {i}!", "language": "en"} for i in range(query["limit"])]

        @typed(request=GreetingIn, response=GreetingOut, status=201)
        def on_post(
            self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]
        ) -> dict[str, str]:
            word = "Bonjour" if body["language"] == "fr" else "Hello"
            return {"greeting": f"{word}, {body['name']}!", "language": body["language"]}

    class People:
        @typed(request=Person, status=204)
        def on_put(self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]) -> None:
            return None

    service = Service("example", config)
    v1 = service.namespace("/v1")
    v1.add_route("/greetings", GreetingCollection())
    v1.add_route("/greetings/{name}", GreetingItem())
    v1.add_route("/people", People())
    service.add_route("/broken", Broken())
    service.add_route("/silent", Silent())
    return service


class Broken:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        secret = "do-not-leak"
        raise RuntimeError(f"bug holding {secret}")


class Silent:
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Writes nothing at all."""


@pytest.fixture
def make_example() -> Callable[[Config | None], Service]:
    """The example service's factory, for tests that build it with their own config."""
    return build_example


@pytest.fixture
def example_service() -> Service:
    """The example service with default config."""
    return build_example()


@pytest.fixture
def small_body_service() -> Service:
    """The example service with a 64-byte body limit."""
    return build_example(parse_config("server: {max_body_bytes: 64}", env={}))


@pytest.fixture
def app(example_service: Service) -> testing.TestClient:
    """A test client on the example service's app port."""
    return testing.TestClient(example_service.app)


@pytest.fixture
def local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch the process's local time zone (a POSIX TZ string) for one test."""

    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def rendered_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `acme-widgets` service rendered from the real template (read-only for tests)."""
    return create_service("acme-widgets", tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="session")
def scaffold_bin() -> Path:
    """The installed `scaffold` console script of this interpreter's environment."""
    return BIN / "scaffold"


@pytest.fixture
def service_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh service as the working directory; its modules are forgotten afterwards."""
    root = create_service("acme-widgets", tmp_path)
    monkeypatch.chdir(root)
    for name in ("ACME_WIDGETS_BIND", "ACME_WIDGETS_WORKERS", "ACME_WIDGETS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    saved_path = list(sys.path)
    yield root
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m == "acme_widgets" or m.startswith("acme_widgets.")]:
        del sys.modules[name]


class PKI:
    """Certificates made with `cryptography` for TLS tests: a CA and leaves signed by it."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self._x509, self._hashes, self._ec = x509, hashes, ec
        self._serialization, self._eku, self._name = serialization, ExtendedKeyUsageOID, NameOID
        self.folder = folder
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
        now = self._now()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - self._days(1))
            .not_valid_after(now + self._days(30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca = self._write("ca.pem", self.ca_cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _now() -> Any:
        import datetime

        return datetime.datetime.now(datetime.UTC)

    @staticmethod
    def _days(n: float) -> Any:
        import datetime

        return datetime.timedelta(days=n)

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def leaf(
        self,
        name: str,
        *,
        valid_from_days: float = -1,
        valid_days: float = 30,
        client: bool = False,
    ) -> tuple[Path, Path]:
        """Write ``name.pem`` and ``name.key``: a leaf for 127.0.0.1 (or a client), by the CA."""
        x509, ec = self._x509, self._ec
        key = ec.generate_private_key(ec.SECP256R1())
        now = self._now()
        start = now + self._days(valid_from_days)
        usage = self._eku.CLIENT_AUTH if client else self._eku.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._name.COMMON_NAME, name)]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + self._days(valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        )
        if not client:
            import ipaddress

            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(self.ca_key, self._hashes.SHA256())
        encoding = self._serialization.Encoding.PEM
        key_bytes = key.private_bytes(
            encoding,
            self._serialization.PrivateFormat.PKCS8,
            self._serialization.NoEncryption(),
        )
        return self._write(f"{name}.pem", cert.public_bytes(encoding)), self._write(
            f"{name}.key", key_bytes
        )


@pytest.fixture(scope="session")
def make_pki(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], PKI]:
    """A factory of fresh PKIs (a CA each), in folders of their own."""

    def make() -> PKI:
        return PKI(tmp_path_factory.mktemp("pki"))

    return make


@pytest.fixture
def run_service_tests() -> Callable[[Path], subprocess.CompletedProcess[str]]:
    """Run a generated service's own pytest suite from its folder, with this interpreter."""

    def run(root: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    return run
