"""The generated tests keep passing after the first edits a team makes to its service.

Each test renders a service, makes one edit as config.yml's comments suggest (or adds a
counter, as the README shows), checks the edit took, and runs the service's own tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scaffold.new import create_service
from scaffold.runtime import load_config
from scaffold.runtime.passwords import hash_password

RunTests = Callable[[Path], subprocess.CompletedProcess[str]]

AUTH_COMMENTED = """\
  # basic:
  #   realm: acme-widgets
  #   users:
  #     alice: "${ALICE_PASSWORD_HASH}"
"""
STATSD_COMMENTED = """\
  # statsd:
  #   host: 127.0.0.1
  #   port: 8125
  #   prefix: acme-widgets
  #   tags: false"""
SERVICE_LINE = '    service = Service("acme-widgets", config)\n'
COUNTER = """\
    served = service.counter("greetings.served")
    service.guard(lambda req: served.inc())
"""
# Builds the service in its folder, makes one request, prints the admin port's counters.
COUNTERS_PROBE = """\
from scaffold.loader import load_service
from scaffold.runtime.testing import admin_client, client

service = load_service()
client(service).simulate_get("/v1/greetings/Ada")
print(sorted(admin_client(service).simulate_get("/metrics").json["counters"]))
service.close()
"""


def uncomment(block: str) -> str:
    return "\n".join(line.replace("# ", "", 1) for line in block.split("\n"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def assert_tests_pass(root: Path, run_service_tests: RunTests) -> None:
    result = run_service_tests(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.fixture
def service_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A freshly rendered service, run without the variables its config.yml mentions."""
    for name in ("ALICE_PASSWORD_HASH", "ACME_WIDGETS_WORKERS", "ACME_WIDGETS_BIND"):
        monkeypatch.delenv(name, raising=False)
    return create_service("acme-widgets", tmp_path)


def test_turning_basic_auth_on_breaks_no_generated_test(
    service_root: Path, run_service_tests: RunTests
) -> None:
    """With config.yml's auth.basic block uncommented and its hash variable unset, tests pass."""
    config = service_root / "config.yml"
    edit(config, AUTH_COMMENTED, uncomment(AUTH_COMMENTED))
    loaded = load_config(config, env={"ALICE_PASSWORD_HASH": hash_password("alice's")})
    assert loaded.auth.basic is not None and list(loaded.auth.basic.users) == ["alice"]
    assert_tests_pass(service_root, run_service_tests)


def test_turning_statsd_on_breaks_no_generated_test(
    service_root: Path, run_service_tests: RunTests
) -> None:
    """With config.yml's metrics.statsd block uncommented, the tests pass."""
    config = service_root / "config.yml"
    edit(config, STATSD_COMMENTED, uncomment(STATSD_COMMENTED))
    statsd = load_config(config, env={}).metrics.statsd
    assert statsd is not None and (statsd.port, statsd.prefix) == (8125, "acme-widgets")
    assert_tests_pass(service_root, run_service_tests)


def test_adding_a_counter_breaks_no_generated_test(
    service_root: Path, run_service_tests: RunTests
) -> None:
    """A counter the service increments on every request leaves the metrics tests passing."""
    edit(service_root / "acme_widgets" / "app.py", SERVICE_LINE, SERVICE_LINE + COUNTER)
    probe = subprocess.run(
        [sys.executable, "-c", COUNTERS_PROBE],
        cwd=service_root,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    counters = probe.stdout.strip().splitlines()[-1]  # after the access log line
    assert counters == "['greetings.served', 'v1.greetings.name.GET.200']"
    assert_tests_pass(service_root, run_service_tests)
