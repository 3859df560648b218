"""A real server: `scaffold run` of this service on free ports of 127.0.0.1, with one worker.

`live_server` serves the same config as the other tests' `client`, through gunicorn and
real sockets, and is stopped after the test. It takes a second to start: keep such tests few.
"""


def test_serves_over_http(live_server):
    """The app and admin ports answer real HTTP requests."""
    answer = live_server.request("POST", "/v1/greetings", json={"name": "Ada", "language": "es"})
    assert answer.status == 201
    assert answer.json() == {"greeting": "¡Hola, Ada!", "language": "es"}
    assert live_server.request("GET", "/health/ready", admin=True).status == 200
