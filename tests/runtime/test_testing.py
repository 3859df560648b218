"""scaffold.runtime.testing without pytest's fixtures: test config, statsd capture, clients."""

from __future__ import annotations

import base64
from pathlib import Path

import falcon
import pytest

import scaffold.runtime.testing
from scaffold.runtime import Config, ConfigError, Service, load_config, parse_config
from scaffold.runtime.passwords import hash_password, verify_password
from scaffold.runtime.testing import (
    TEST_PASSWORD,
    TEST_USER,
    StatsdCapture,
    basic_auth,
    client,
    load_test_config,
    write_config,
)

QUIET = "logging:\n  access_log: null\n"
FILE = """\
server:
  workers: ${WIDGETS_WORKERS:-2}
  threads: 3
logging:
  access_log: null
auth:
  basic:
    realm: widgets
    users:
      alice: "${ALICE_PASSWORD_HASH}"
app:
  greeting: ${WIDGETS_GREETING:-hello}
"""


class Who:
    async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"user": req.context.user}


def build(config: Config) -> Service:
    service = Service("widgets", config)
    service.add_route("/who", Who())
    return service


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A config.yml as a team writes it: operators' variables, production users."""
    path = tmp_path / "config.yml"
    path.write_text(FILE)
    return path


def test_the_face_exports_exactly_its_all() -> None:
    """Every public name of scaffold.runtime.testing is in ``__all__``, and nothing else is."""
    face = scaffold.runtime.testing
    public = {name for name in vars(face) if not name.startswith("_")}
    assert public == set(face.__all__)


def test_the_shell_is_not_read(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``${VAR:-default}`` takes its default whatever the environment holds; ``env`` wins."""
    monkeypatch.setenv("WIDGETS_WORKERS", "9")
    assert load_test_config(config_file).server.workers == 2
    assert load_test_config(config_file, env={"WIDGETS_WORKERS": "3"}).server.workers == 3


def test_production_users_give_way_to_the_test_user(config_file: Path) -> None:
    """The file's users (and their unset variables) are replaced by the test user."""
    config = load_test_config(config_file)
    assert config.auth.basic is not None
    assert config.auth.basic.realm == "widgets"
    assert list(config.auth.basic.users) == [TEST_USER]
    assert verify_password(TEST_PASSWORD, config.auth.basic.users[TEST_USER])


def test_overrides_merge_into_the_file(config_file: Path) -> None:
    """Mappings merge key by key before validation; other values replace the file's."""
    config = load_test_config(
        config_file,
        overrides={"server": {"max_in_flight": 1}, "app": {"extra": [1]}, "auth": {"basic": None}},
    )
    assert (config.server.threads, config.server.max_in_flight) == (3, 1)
    assert config.app == {"greeting": "hello", "extra": [1]}
    assert config.auth.basic is None


def test_overrides_can_turn_auth_on_and_add_users(tmp_path: Path) -> None:
    """Turning Basic auth on in a test gives it the test user, beside any user the test adds."""
    path = tmp_path / "config.yml"
    path.write_text(QUIET)
    bob = hash_password("bob's password")
    config = load_test_config(path, overrides={"auth": {"basic": {"users": {"bob": bob}}}})
    assert config.auth.basic is not None
    assert config.auth.basic.users == {"bob": bob, TEST_USER: config.auth.basic.users[TEST_USER]}
    assert verify_password(TEST_PASSWORD, config.auth.basic.users[TEST_USER])


def test_overrides_are_validated(config_file: Path) -> None:
    """An override the schema refuses is a config problem naming its dotted key."""
    with pytest.raises(ConfigError) as caught:
        load_test_config(config_file, overrides={"server": {"workers": 0}})
    assert caught.value.problems == ["server.workers: must be >= 1"]


def test_an_unset_variable_elsewhere_is_named_with_the_fix(tmp_path: Path) -> None:
    """A ``${VAR}`` without default outside the users is an error saying how a test sets it."""
    path = tmp_path / "config.yml"
    path.write_text("app:\n  token: ${WIDGETS_TOKEN}\n")
    with pytest.raises(ConfigError) as caught:
        load_test_config(path)
    assert caught.value.problems == [
        "config.yml: app.token: ${WIDGETS_TOKEN} is not set and has no default; a test gives "
        "it with @pytest.mark.scaffold_config(env={'WIDGETS_TOKEN': ...})"
    ]
    assert load_test_config(path, env={"WIDGETS_TOKEN": "t"}).app == {"token": "t"}


def test_statsd_points_at_the_capture_with_the_services_prefix(tmp_path: Path) -> None:
    """The capture replaces host and port, keeps the file's prefix and tags, else the name."""
    path = tmp_path / "config.yml"
    path.write_text("metrics:\n  statsd:\n    host: statsd.example\n    tags: true\n")
    with StatsdCapture() as statsd:
        config = load_test_config(path, statsd=statsd, name="widgets")
        assert config.metrics.statsd is not None
        assert config.metrics.statsd.host == "127.0.0.1"
        assert config.metrics.statsd.port == statsd.port
        assert (config.metrics.statsd.prefix, config.metrics.statsd.tags) == ("widgets", True)
        assert statsd.prefix == "widgets"
        path.write_text("metrics:\n  statsd:\n    prefix: widgets-prod\n")
        load_test_config(path, statsd=statsd, name="widgets")
        assert statsd.prefix == "widgets-prod"


def test_one_counter_and_one_timer_are_read_without_the_prefix() -> None:
    """counter() sums one counter and timings() lists one timer, whatever else arrives."""
    with StatsdCapture(prefix="widgets") as statsd:
        service = build(statsd.apply(parse_config(QUIET, env={})))
        app = client(service)
        app.simulate_get("/who")
        app.simulate_get("/who")
        service.counter("widgets.made").inc(5)
        assert statsd.counter("who.GET.200") == 2
        assert len(statsd.timings("who.GET")) == 2
        assert statsd.counter("widgets.made") == 5
        assert statsd.counter("who.GET.500", timeout=0.1) == 0
        assert statsd.timings("nothing.GET", timeout=0.1) == []
        assert statsd.counters()["widgets.who.GET.200"] == 2
        service.close()


def test_counter_waits_for_a_late_datagram() -> None:
    """counter() waits for a counter that has not arrived yet (a server sends once a second)."""
    import socket
    import threading

    with StatsdCapture(prefix="widgets") as statsd:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        late = threading.Timer(
            0.3, sender.sendto, (b"widgets.late:1|c", ("127.0.0.1", statsd.port))
        )
        late.start()
        try:
            assert statsd.counter("late") == 1
        finally:
            late.join()
            sender.close()


def test_basic_auth_is_an_authorization_header() -> None:
    """basic_auth() gives the test user's header by default, anyone's when named."""
    assert basic_auth() == basic_auth(TEST_USER, TEST_PASSWORD)
    token = base64.b64encode(b"ada:s3cret:x").decode()
    assert basic_auth("ada", "s3cret:x") == {"Authorization": f"Basic {token}"}


def test_client_headers_go_with_every_request(config_file: Path) -> None:
    """client(headers=) sends them each time; a request's own headers replace them."""
    service = build(load_test_config(config_file))
    app = client(service, headers=basic_auth())
    assert app.simulate_get("/who").json == {"user": TEST_USER}
    assert app.simulate_get("/who", headers={"Authorization": ""}).status_code == 401
    assert app.simulate_get("/who", headers=basic_auth("alice", "x")).status_code == 401
    service.close()


def test_write_config_reads_back_the_same(config_file: Path, tmp_path: Path) -> None:
    """The file the live server serves means the test's config: secrets, ``${``, no tracing."""
    config = load_test_config(config_file, overrides={"app": {"template": "literal ${x}"}})
    written = write_config(config, tmp_path / "live.yml")
    again = load_config(written, env={})
    assert again.effective(mask_secrets=False) == config.effective(mask_secrets=False)
    assert again.tracing is None
