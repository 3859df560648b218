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
    assert effective["app"] == {"default_language": "en"}
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


def test_tls_files_that_do_not_load_are_named(service_dir: Path, tmp_path: Path) -> None:
    """A missing certificate or a key that is not a key fails check, one line per section."""
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    edit(
        service_dir / "config.yml",
        "  # TLS for the app listeners",
        f"  tls:\n    certfile: {tmp_path / 'missing.pem'}\n    keyfile: {tmp_path / 'k.pem'}\n"
        f"  admin_tls:\n    certfile: {tmp_path / 'junk.pem'}\n    keyfile: {tmp_path / 'junk.pem'}\n"
        "  # TLS for the app listeners",
    )
    code, out, err = check()
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"server.tls: cannot load certfile {tmp_path / 'missing.pem'}")
    assert lines[0].endswith("No such file or directory")
    assert lines[1].startswith(f"server.admin_tls: cannot load certfile {tmp_path / 'junk.pem'}")
