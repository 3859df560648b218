"""scaffold's pytest plugin, as a service's own test run meets it (pytest in a subprocess).

One small service project is written under tmp_path with a test file using the fixtures;
pytest runs it once, and each test here reads the outcome of the inner tests that pin one
behaviour. Its config.yml turns Basic auth on with a user whose hash comes from an unset
variable, and statsd on with a prefix of its own, as a team's would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PYPROJECT = """\
[project]
name = "widgets"
version = "0.1.0"

[tool.scaffold]
service = "widgets_app:create_service"

[tool.pytest.ini_options]
addopts = ["--strict-markers"]
filterwarnings = ["error"]
"""
CONFIG = """\
server:
  workers: ${WIDGETS_WORKERS:-2}
logging:
  access_log: null
metrics:
  statsd:
    host: 127.0.0.1
    port: 9
    prefix: widgets-prod
auth:
  basic:
    realm: widgets
    users:
      alice: "${ALICE_PASSWORD_HASH}"
app:
  greeting: ${WIDGETS_GREETING:-hello}
"""
APP = '''\
import os

from scaffold.runtime import Config, Service


class Door:
    """A managed object that records its calls."""

    calls = []

    def start(self):
        Door.calls.append("start")

    def stop(self):
        Door.calls.append("stop")


class Echo:
    def __init__(self, greeting):
        self.greeting = greeting

    async def on_get(self, req, resp):
        resp.media = {
            "user": req.context.user,
            "greeting": self.greeting,
            "token": os.environ.get("WIDGETS_TOKEN"),
        }


def create_service(config: Config) -> Service:
    service = Service("widgets", config)
    service.add_route("/echo", Echo(config.app["greeting"]))
    service.manage(Door())
    return service
'''
TESTS = """\
import os
from pathlib import Path

import pytest

from widgets_app import Door

pytestmark = pytest.mark.scaffold_config({"app": {"greeting": "module"}, "server": {"threads": 2}})


def test_shell_is_not_read(scaffold_config):
    assert scaffold_config.server.workers == 2


@pytest.mark.scaffold_config(env={"WIDGETS_WORKERS": "3", "WIDGETS_TOKEN": "t0ken"})
def test_marker_env(scaffold_config, client):
    assert scaffold_config.server.workers == 3
    assert os.environ["WIDGETS_TOKEN"] == "t0ken"
    assert client.simulate_get("/echo").json["token"] == "t0ken"


def test_marker_env_is_undone():
    assert "WIDGETS_TOKEN" not in os.environ


@pytest.mark.scaffold_config({"app": {"greeting": "function"}})
def test_nearest_marker_wins(scaffold_config, client):
    assert scaffold_config.server.threads == 2
    assert client.simulate_get("/echo").json["greeting"] == "function"


@pytest.mark.parametrize(
    "scaffold_config", [{"server": {"max_in_flight": 1}}, {"server": {"max_in_flight": 2}}],
    indirect=True, ids=["one", "two"],
)
def test_indirect(scaffold_config, client):
    assert scaffold_config.server.max_in_flight in (1, 2)
    assert scaffold_config.app["greeting"] == "module"


def test_client_is_the_test_user(client, anonymous_client):
    assert client.simulate_get("/echo").json["user"] == "tester"
    refused = anonymous_client.simulate_get("/echo")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def test_managed_started(service):
    assert Door.calls[-1] == "start"


def test_managed_stopped_after_the_test():
    assert Door.calls[-2:] == ["start", "stop"]


def test_admin_client_sees_the_same_service(client, admin_client):
    client.simulate_get("/echo")
    assert admin_client.simulate_get("/metrics").json["counters"]["echo.GET.200"] == 1


def test_statsd(client, statsd):
    client.simulate_get("/echo")
    assert statsd.prefix == "widgets-prod"
    assert statsd.counter("echo.GET.200") == 1


def test_live_server(live_server, statsd):
    Path(os.environ["PID_FILE"]).write_text(str(live_server.pid))
    assert live_server.command[-2:] == ["--workers", "1"]
    answer = live_server.request("GET", "/echo")
    assert (answer.status, answer.json()["user"]) == (200, "tester")
    assert live_server.request("GET", "/echo", headers={"Authorization": ""}).status == 401
    assert live_server.request("GET", "/ping", admin=True).text == "pong"
    assert statsd.counter("echo.GET.200") == 1


@pytest.mark.scaffold_config({"server": {"workers": 2}})
def test_live_server_workers_from_the_test(live_server):
    assert "--workers" not in live_server.command


@pytest.mark.scaffold_config("server.workers=1")
def test_bad_marker(scaffold_config):
    pass


@pytest.mark.scaffold_config({"server": {"workers": 0}})
def test_invalid_override(scaffold_config):
    pass
"""
OUTSIDE = """\
def test_outside_a_service(client):
    pass
"""


def run_pytest(cwd: Path, *args: str, env: dict[str, str]) -> dict[str, str]:
    """Run pytest in ``cwd``; return each test's outcome ("passed", or its failure text)."""
    report = cwd / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert report.is_file(), done.stdout + done.stderr
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        outcomes[case.attrib["name"]] = (
            "passed" if problem is None else f"{problem.tag}: {problem.attrib.get('message')}"
        )
    return outcomes


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], int]:
    """The outcomes of the inner run, and the pid its live server had."""
    root = tmp_path_factory.mktemp("plugin") / "widgets"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "config.yml").write_text(CONFIG)
    (root / "widgets_app.py").write_text(APP)
    (root / "tests" / "test_fixtures.py").write_text(TESTS)
    pid_file = root.parent / "live.pid"
    env = {"WIDGETS_WORKERS": "9", "PID_FILE": str(pid_file), "PYTHONPATH": str(root)}
    outcomes = run_pytest(root, env=env)
    return outcomes, int(pid_file.read_text())


@pytest.mark.parametrize(
    "test",
    [
        "test_shell_is_not_read",
        "test_marker_env",
        "test_marker_env_is_undone",
        "test_nearest_marker_wins",
        "test_indirect[one]",
        "test_indirect[two]",
    ],
)
def test_config_comes_from_the_file_and_the_test_only(
    inner: tuple[dict[str, str], int], test: str
) -> None:
    """The shell is not read; markers (nearest wins), ``env`` and indirect parameters are."""
    assert inner[0][test] == "passed"


@pytest.mark.parametrize(
    "test", ["test_client_is_the_test_user", "test_admin_client_sees_the_same_service"]
)
def test_clients_work_with_production_auth_on(inner: tuple[dict[str, str], int], test: str) -> None:
    """With the file's users unresolvable, ``client`` is the test user, ``anonymous_client`` 401."""
    assert inner[0][test] == "passed"


def test_managed_objects_start_before_and_stop_after(inner: tuple[dict[str, str], int]) -> None:
    """``service`` starts the managed objects before the test and stops them after it."""
    assert inner[0]["test_managed_started"] == "passed"
    assert inner[0]["test_managed_stopped_after_the_test"] == "passed"


def test_statsd_reads_one_counter_under_the_files_prefix(inner: tuple[dict[str, str], int]) -> None:
    """The ``statsd`` fixture receives the service's metrics and reads them without the prefix."""
    assert inner[0]["test_statsd"] == "passed"


def test_live_server_serves_and_is_stopped_by_pid(inner: tuple[dict[str, str], int]) -> None:
    """``live_server`` serves the test's config with one worker, and its master is gone after."""
    outcomes, pid = inner
    assert outcomes["test_live_server"] == "passed"
    assert outcomes["test_live_server_workers_from_the_test"] == "passed"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_misuse_fails_the_test_with_the_fix(inner: tuple[dict[str, str], int]) -> None:
    """A malformed marker or an invalid override errors, saying how to write it."""
    outcomes = inner[0]
    assert (
        "use @pytest.mark.scaffold_config({'server': {'workers': 1}}" in outcomes["test_bad_marker"]
    )
    assert "server.workers: must be >= 1" in outcomes["test_invalid_override"]


def test_outside_a_service_project_the_fixtures_say_so(tmp_path: Path) -> None:
    """A test outside any ``[tool.scaffold]`` project that asks for ``client`` errors plainly."""
    (tmp_path / "test_outside.py").write_text(OUTSIDE)
    outcomes = run_pytest(tmp_path, "test_outside.py", env={})
    assert outcomes["test_outside_a_service"].startswith("error: ")
    assert "scaffold's fixtures serve a service's tests" in outcomes["test_outside_a_service"]
    assert "[tool.scaffold]" in outcomes["test_outside_a_service"]


def test_the_plugin_imports_nothing_heavy() -> None:
    """pytest imports the plugin in every session: it must not import the runtime (or falcon)."""
    probe = textwrap.dedent(
        """
        import sys
        import scaffold._pytest_plugin
        print(sorted(m for m in sys.modules if m.startswith(("scaffold.", "falcon", "yaml"))))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['scaffold._pytest_plugin']"
