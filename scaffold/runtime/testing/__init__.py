"""Test helpers for services, and the pytest plugin that gives them as fixtures.

With scaffold installed, pytest loads its plugin (entry point ``pytest11``, name
``scaffold``; ``-p no:scaffold`` turns it off). In a service's tests it finds the service
from the nearest ``pyproject.toml`` with ``[tool.scaffold]`` and gives these fixtures:

- ``client``: a :class:`falcon.testing.TestClient` on the app port of the service built from
  ``config.yml``; it sends the test user's credentials (:func:`basic_auth`) when the config
  turns Basic auth on. ``anonymous_client`` sends none; ``admin_client`` is the admin port.
- ``service``: that :class:`~scaffold.runtime.Service`, built by the project's factory, its
  managed objects started; stopped and closed after the test.
- ``scaffold_config``: its :class:`~scaffold.runtime.Config`. ``${VAR:-default}`` takes its
  default, whatever the shell holds. A test changes it with the marker
  ``@pytest.mark.scaffold_config({"server": {"max_in_flight": 1}}, env={"VAR": "value"})``
  or ``@pytest.mark.parametrize("scaffold_config", [{...}, ...], indirect=True)``.
- ``statsd``: a :class:`StatsdCapture` the service's metrics go to (prefix: the service's).
- ``live_server``: a :class:`LiveServer`, a real ``scaffold run`` of that config on OS-chosen
  ports of 127.0.0.1 with one worker, stopped by its pid after the test.

Example::

    import pytest
    from scaffold.runtime.testing import basic_auth


    def test_greeting(client, statsd):
        assert client.simulate_get("/v1/greetings/Ada").status_code == 200
        assert statsd.counter("v1.greetings.name.GET.200") == 1


    @pytest.mark.scaffold_config({"auth": {"basic": {}}})
    def test_wrong_password_is_refused(client):
        result = client.simulate_get("/v1/greetings/Ada", headers=basic_auth("ada", "guess"))
        assert result.status_code == 401


    def test_served_over_http(live_server):
        assert live_server.request("GET", "/ping", admin=True).text == "pong"

Without pytest, the same parts: :func:`client` and :func:`admin_client` on a service you
built, :func:`load_test_config`, :class:`StatsdCapture` and :class:`LiveServer`.
"""

from scaffold.runtime.testing._auth import TEST_PASSWORD, TEST_USER, basic_auth
from scaffold.runtime.testing._clients import admin_client, client
from scaffold.runtime.testing._config import load_test_config
from scaffold.runtime.testing._live import LiveResponse, LiveServer, write_config
from scaffold.runtime.testing._statsd import StatsdCapture

__all__ = [
    "TEST_PASSWORD",
    "TEST_USER",
    "LiveResponse",
    "LiveServer",
    "StatsdCapture",
    "admin_client",
    "basic_auth",
    "client",
    "load_test_config",
    "write_config",
]
