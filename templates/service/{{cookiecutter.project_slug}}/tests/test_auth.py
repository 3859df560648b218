"""Basic auth, turned on for this module as `auth.basic` in config.yml would turn it on.

With auth on, tests never use config.yml's users (their hashes come from the environment):
the only user is a test user, whose credentials the `client` fixture sends. So turning
auth on breaks no test. `anonymous_client` sends no credentials; `basic_auth(user, password)`
makes the header of anyone else.
"""

import pytest
from scaffold.runtime.testing import basic_auth

pytestmark = pytest.mark.scaffold_config(
    {"auth": {"basic": {"realm": "{{ cookiecutter.project_slug }}"}}}
)


def test_anonymous_requests_are_refused(anonymous_client):
    """Without credentials: 401, a Basic challenge, the one error envelope."""
    result = anonymous_client.simulate_get("/v1/greetings/Ada")
    assert result.status_code == 401
    challenge = result.headers["www-authenticate"]
    assert challenge.startswith('Basic realm="{{ cookiecutter.project_slug }}"')
    assert result.headers["content-type"] == "application/problem+json"


def test_a_known_user_is_served(client):
    """The `client` fixture is the test user."""
    assert client.simulate_get("/v1/greetings/Ada").status_code == 200


def test_a_wrong_password_is_refused(client):
    """A request's own headers replace the client's."""
    result = client.simulate_get("/v1/greetings/Ada", headers=basic_auth("alice", "guess"))
    assert result.status_code == 401


def test_the_admin_port_has_no_auth(admin_client):
    """Keep the admin port on loopback or a private network: it asks for no credentials."""
    assert admin_client.simulate_get("/ping").status_code == 200
