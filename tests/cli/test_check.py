"""`scaffold check`: validate without opening ports; masked effective config; one line per problem."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffold.cli import main
from scaffold.runtime.passwords import hash_password

HASH = hash_password("s3cret")


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def edit(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))


def test_valid_config_prints_effective_config(service_dir: Path) -> None:
    """A valid config exits 0 and prints every key with its effective value."""
    code, out, _ = check()
    assert code == 0
    effective = yaml.safe_load(out)
    assert effective["server"]["bind"] == "127.0.0.1:8080"
    assert effective["server"]["workers"] == 2
    assert effective["logging"]["redact_fields"] == ["password", "token", "secret"]
    assert effective["app"] == {"default_language": "en", "min_free_mb": 16}
    assert "2 route(s)" in out


def test_environment_overrides_are_applied(
    service_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """${VAR:-default} in the generated config takes the operator's value."""
    monkeypatch.setenv("ACME_WIDGETS_WORKERS", "7")
    code, out, _ = check()
    assert code == 0
    assert yaml.safe_load(out)["server"]["workers"] == 7


def test_secrets_are_masked(service_dir: Path) -> None:
    """Password hashes and anything under auth are masked."""
    edit(
        service_dir / "config.yml",
        "auth:\n",
        f"auth:\n  basic:\n    realm: acme\n    users:\n      alice: '{HASH}'\n",
    )
    code, out, _ = check()
    assert code == 0, out
    assert HASH not in out
    assert HASH.split("$")[-1] not in out
    assert yaml.safe_load(out)["auth"]["basic"]["users"] == {"alice": "********"}


def test_problems_one_line_each(service_dir: Path) -> None:
    """An invalid config exits 1 with exactly one line per problem, naming the dotted key."""
    config = service_dir / "config.yml"
    edit(config, "threads: 4", "threads: 0")
    edit(config, "level: ${ACME_WIDGETS_LOG_LEVEL:-INFO}", "level: LOUD")
    code, out, err = check()
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        "server.threads: must be >= 1",
        "logging.level: must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ]


def test_workers_below_one(service_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DESIGN's example message, word for word."""
    monkeypatch.setenv("ACME_WIDGETS_WORKERS", "0")
    code, _, err = check()
    assert code == 1
    assert err.strip() == "server.workers: must be >= 1"


def test_unknown_key_did_you_mean(service_dir: Path) -> None:
    """A typo in a key gets a suggestion."""
    edit(service_dir / "config.yml", "graceful_timeout:", "graceful_timout:")
    code, _, err = check()
    assert code == 1
    assert err.strip() == "server.graceful_timout: unknown key; did you mean 'graceful_timeout'?"


def test_app_section_problem(service_dir: Path) -> None:
    """The service's own schema validates app:, named app.<key>."""
    edit(service_dir / "config.yml", "default_language: en", "default_language: de")
    code, _, err = check()
    assert code == 1
    assert err.strip() == "app.default_language: must be one of: en, fr, es"


def test_other_config_file(service_dir: Path, tmp_path: Path) -> None:
    """--config checks another file."""
    other = tmp_path / "prod.yml"
    other.write_text("server:\n  workers: 8\n")
    code, out, _ = check("--config", str(other))
    assert code == 0
    assert yaml.safe_load(out)["server"]["workers"] == 8


def test_missing_config_file(service_dir: Path) -> None:
    """A missing --config file is one clear line."""
    code, _, err = check("--config", "nope.yml")
    assert code == 1
    assert "nope.yml: cannot read" in err
    assert len(err.strip().splitlines()) == 1


def test_undefined_variable(service_dir: Path) -> None:
    """An unset variable with no default names itself and its line."""
    edit(service_dir / "config.yml", "max_in_flight: null", "max_in_flight: ${MAX_IN_FLIGHT}")
    code, _, err = check()
    assert code == 1
    assert "${MAX_IN_FLIGHT} is not set and has no default" in err


def test_broken_factory(service_dir: Path) -> None:
    """A factory that cannot be imported is reported, without a traceback."""
    (service_dir / "acme_widgets" / "app.py").write_text("import does_not_exist\n")
    code, _, err = check()
    assert code == 1
    assert err.startswith("Error: cannot import acme_widgets.app")
    assert "Traceback" not in err


def test_check_opens_no_ports(service_dir: Path) -> None:
    """check validates the config even when its ports are taken (it never binds)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        edit(
            service_dir / "config.yml",
            "${ACME_WIDGETS_BIND:-127.0.0.1:8080}",
            f"127.0.0.1:{port}",
        )
        code, _, _ = check()
    assert code == 0


def test_factory_that_raises(service_dir: Path) -> None:
    """A factory bug is reported in one line naming the factory; --debug shows the traceback."""
    (service_dir / "acme_widgets" / "app.py").write_text(
        "def create_service(config):\n    raise RuntimeError('boom')\n"
    )
    code, _, err = check()
    assert code == 1
    assert err.strip() == "Error: acme_widgets.app:create_service raised RuntimeError: boom"
    debug = CliRunner().invoke(main, ["--debug", "check"])
    assert isinstance(debug.exception, Exception)
    assert "boom" in str(debug.exception)


def test_module_that_fails_to_import(service_dir: Path) -> None:
    """A syntax error in the service is reported without a traceback."""
    (service_dir / "acme_widgets" / "app.py").write_text("def create_service(:\n")
    code, _, err = check()
    assert code == 1
    assert err.startswith("Error: importing acme_widgets.app raised SyntaxError")


def tls_section(key: str, certfile: Path, keyfile: Path, client_ca: Path | None = None) -> str:
    block = f"  {key}:\n    certfile: {certfile}\n    keyfile: {keyfile}\n"
    return block + (f"    client_ca: {client_ca}\n" if client_ca else "")


def with_tls(service_dir: Path, *sections: str) -> None:
    marker = "  # TLS for the app listeners"
    edit(service_dir / "config.yml", marker, "".join(sections) + marker)


def test_tls_that_cannot_serve_is_refused_naming_each_key(
    service_dir: Path, tmp_path: Path, make_pki
) -> None:
    """Missing files, a mismatched key, dates and a client_ca that is no CA: one line each."""
    pki = make_pki()
    good_cert, good_key = pki.leaf("good")
    _, other_key = pki.leaf("other")
    expired_cert, expired_key = pki.leaf("expired", valid_from_days=-10, valid_days=5)
    future_cert, future_key = pki.leaf("future", valid_from_days=3)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = [
        (
            tls_section("tls", tmp_path / "missing.pem", good_key),
            f"server.tls.certfile: cannot read {tmp_path / 'missing.pem'}: No such file or directory",
        ),
        (
            tls_section("tls", good_cert, tmp_path / "nokey.pem"),
            f"server.tls.keyfile: cannot read {tmp_path / 'nokey.pem'}: No such file or directory",
        ),
        (
            tls_section("tls", good_cert, other_key),
            f"server.tls.keyfile: {other_key} does not match the certificate in {good_cert}",
        ),
        (
            tls_section("tls", junk, junk),
            f"server.tls.certfile: {junk} and {junk} are not a PEM certificate and key",
        ),
        (
            tls_section("tls", expired_cert, expired_key),
            f"server.tls.certfile: {expired_cert} expired on ",
        ),
        (
            tls_section("tls", future_cert, future_key),
            f"server.tls.certfile: {future_cert} is not valid before ",
        ),
        (
            tls_section("admin_tls", good_cert, good_key, client_ca=good_cert),
            f"server.admin_tls.client_ca: {good_cert} holds no CA certificate",
        ),
    ]
    original = (service_dir / "config.yml").read_text()
    for section, expected in cases:
        (service_dir / "config.yml").write_text(original)
        with_tls(service_dir, section)
        code, out, err = check()
        assert (code, out) == (1, ""), section
        assert err.startswith(expected), (section, err)
        assert len(err.strip().splitlines()) == 1


def test_both_sections_are_checked(service_dir: Path, tmp_path: Path, make_pki) -> None:
    """Problems in server.tls and server.admin_tls are all listed."""
    pki = make_pki()
    cert, key = pki.leaf("good")
    with_tls(
        service_dir,
        tls_section("tls", tmp_path / "a.pem", key),
        tls_section("admin_tls", cert, tmp_path / "b.key"),
    )
    code, _, err = check()
    assert code == 1
    assert [line.split(":")[0] for line in err.strip().splitlines()] == [
        "server.tls.certfile",
        "server.admin_tls.keyfile",
    ]


def test_a_certificate_expiring_soon_is_a_warning(service_dir: Path, make_pki) -> None:
    """Within 14 days of expiry, check passes and says so; further out it says nothing."""
    pki = make_pki()
    soon_cert, soon_key = pki.leaf("soon", valid_from_days=-20, valid_days=22.5)
    later_cert, later_key = pki.leaf("later")
    with_tls(
        service_dir,
        tls_section("tls", soon_cert, soon_key, client_ca=pki.ca),
        tls_section("admin_tls", later_cert, later_key),
    )
    code, out, _ = check()
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("# warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"# warning: server.tls.certfile: {soon_cert} expires in 2.5 days"
    )
