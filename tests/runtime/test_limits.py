"""server.max_in_flight: requests beyond the limit are shed early with 503 + Retry-After."""

from __future__ import annotations

import asyncio
import threading

import falcon
from falcon import testing

from scaffold.runtime import Service, parse_config


class Slow:
    """A plain responder that blocks its pool thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.entered.set()
        self.release.wait(10)
        resp.media = {"ok": True}


def test_requests_over_the_limit_get_503_with_retry_after() -> None:
    """With one request in flight and max_in_flight 1, the next is shed; later ones pass."""
    service = Service("x", parse_config("server: {max_in_flight: 1}", env={}))
    slow = Slow()
    service.add_route("/slow", slow)

    async def scenario() -> None:
        async with testing.ASGIConductor(service.app) as conductor:
            first = asyncio.ensure_future(conductor.simulate_get("/slow"))
            assert await asyncio.to_thread(slow.entered.wait, 10)
            shed = await conductor.simulate_get("/slow")
            assert shed.status_code == 503
            assert shed.headers["retry-after"] == "1"
            assert shed.json["status"] == 503
            slow.release.set()
            assert (await first).status_code == 200
            assert (await conductor.simulate_get("/slow")).status_code == 200

    asyncio.run(scenario())
    service.close()


def test_slots_are_returned_after_errors() -> None:
    """A failing request gives its slot back."""
    service = Service("x", parse_config("server: {max_in_flight: 1}", env={}))
    client = testing.TestClient(service.app)
    for _ in range(3):
        assert client.simulate_get("/missing").status_code == 404
