"""Request limits: max_in_flight sheds with 503 + Retry-After; bodies over the limit are 413."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import falcon
import pytest
from asgiclient import call_asgi
from falcon import testing

from scaffold.runtime import Service, parse_config
from scaffold.runtime.bodytap import BodyTap

TOO_LARGE = "The request body is larger than the limit of 64 bytes."


class Slow:
    """A plain responder that blocks its pool thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.entered.release()
        self.release.wait(10)
        resp.media = {"ok": True}


@pytest.mark.parametrize("limit", [1, 2], ids=["one", "two"])
def test_requests_over_the_limit_get_503_with_retry_after(limit: int) -> None:
    """With max_in_flight requests in flight the next is shed; once they end, as many pass."""
    service = Service("x", parse_config(f"server: {{max_in_flight: {limit}, threads: 4}}", env={}))
    slow = Slow()
    service.add_route("/slow", slow)

    async def fill(conductor: testing.ASGIConductor) -> list[asyncio.Future[testing.Result]]:
        slow.release.clear()
        held = [asyncio.ensure_future(conductor.simulate_get("/slow")) for _ in range(limit)]
        for _ in range(limit):
            assert await asyncio.to_thread(slow.entered.acquire, True, 10)
        return held

    async def scenario() -> None:
        async with testing.ASGIConductor(service.app) as conductor:
            for _ in range(2):  # the second round proves every slot came back
                held = await fill(conductor)
                shed = await conductor.simulate_get("/slow")
                assert shed.status_code == 503
                assert shed.headers["retry-after"] == "1"
                assert shed.json["status"] == 503
                assert shed.json["detail"] == (
                    f"More than {limit} requests are in flight; retry shortly."
                )
                slow.release.set()
                assert [(await h).status_code for h in held] == [200] * limit

    asyncio.run(scenario())
    service.close()


def test_slots_are_returned_after_errors() -> None:
    """A failing request gives its slot back."""
    service = Service("x", parse_config("server: {max_in_flight: 1}", env={}))
    client = testing.TestClient(service.app)
    for _ in range(3):
        assert client.simulate_get("/missing").status_code == 404


@pytest.mark.parametrize(
    ("size", "status"), [(64, 201), (65, 413)], ids=["exactly-the-limit", "one-byte-more"]
)
def test_declared_length_at_the_limit(small_body_service: Service, size: int, status: int) -> None:
    """A Content-Length of exactly max_body_bytes is read; one byte more is refused unread."""
    body = json.dumps({"name": "A"}).encode()
    body = body[:-1] + b" " * (size - len(body)) + b"}"
    result = testing.TestClient(small_body_service.app).simulate_post(
        "/v1/greetings", body=body, headers={"Content-Type": "application/json"}
    )
    assert result.status_code == status
    if status == 413:
        assert result.json["detail"] == TOO_LARGE


CHUNKED_JSON = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def test_the_limit_holds_for_chunked_bodies_with_the_request_log_on(tmp_path: Path) -> None:
    """The request log's copy of the body does not lift the limit on chunked bodies."""
    config = parse_config(
        f"server: {{max_body_bytes: 64}}\nlogging: {{request_log: {tmp_path / 'r.log'}}}", env={}
    )
    service = Service("x", config)

    class Echo:
        async def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.data = await req.stream.read()

    service.add_route("/echo", Echo())
    status, _, content = asyncio.run(
        call_asgi(service.app, "POST", b"/echo", headers=CHUNKED_JSON, chunks=[b"x" * 40] * 2)
    )
    assert status == 413
    assert json.loads(content)["detail"] == TOO_LARGE
    small = [b'{"name": ', b'"Ada"}']
    status, _, content = asyncio.run(
        call_asgi(service.app, "POST", b"/echo", headers=CHUNKED_JSON, chunks=small)
    )
    assert (status, content) == (200, b'{"name": "Ada"}')
    assert '> {"name": "Ada"}' in (tmp_path / "r.log").read_text()


@pytest.mark.parametrize(
    ("chunks", "copy"),
    [
        ([b"abc"], b"abc"),
        ([b"abcdef"], b"abcde"),
        ([b"ab", b"cd", b"ef", b"gh"], b"abcde"),
        ([b"abcd", b"", b"e", b"f"], b"abcde"),
    ],
    ids=["short", "one-long-event", "many-events", "empty-event"],
)
def test_body_copy_holds_at_most_keep_plus_one_bytes(chunks: list[bytes], copy: bytes) -> None:
    """The request log's copy of a body stops at keep + 1 bytes, however the body arrives."""
    tap = BodyTap(keep=4)
    for chunk in chunks:
        tap.see(chunk)
    assert bytes(tap.copy) == copy
    assert tap.total == sum(map(len, chunks))
