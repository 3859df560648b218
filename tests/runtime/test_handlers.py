"""Handlers in both forms: async def on the event loop, plain def on the worker's thread pool."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import falcon
import pytest
from asgiclient import call_asgi
from falcon import testing
from marshmallow import Schema, fields

from scaffold.runtime import Service, parse_config, typed
from scaffold.runtime.threadpool import ThreadPool

log = logging.getLogger("tests.handlers")


class Where(Schema):
    thread = fields.String()


def typed_resource() -> object:
    """A resource with a plain and an async @typed responder (declared per test, not at import)."""

    class Typed:
        @typed(response=Where)
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> dict[str, str]:
            log.info("plain handler speaking")
            return {"thread": threading.current_thread().name}

        @typed(response=Where, status=201)
        async def on_post(self, req: falcon.Request, resp: falcon.Response) -> dict[str, str]:
            return {"thread": threading.current_thread().name}

    return Typed()


class PlainFalcon:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"thread": threading.current_thread().name}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise SystemExit(3)


@pytest.fixture
def service() -> Iterator[Service]:
    service = Service(
        "x", parse_config("logging: {access_log: null}\nserver: {threads: 2}", env={})
    )
    service.add_route("/typed", typed_resource())
    service.add_route("/plain", PlainFalcon())
    yield service
    service.close()


def test_plain_typed_handler_runs_on_the_pool(service: Service) -> None:
    """A plain @typed responder runs on one of the pool's threads, not the loop's."""
    result = testing.TestClient(service.app).simulate_get("/typed")
    assert result.status_code == 200
    assert result.json["thread"].startswith("handler-")
    assert threading.current_thread().name not in result.json["thread"]


def test_async_typed_handler_runs_on_the_loop(service: Service) -> None:
    """An async def @typed responder runs on the event loop's thread."""
    result = testing.TestClient(service.app).simulate_post("/typed")
    assert result.status_code == 201
    assert not result.json["thread"].startswith("handler-")


def test_plain_falcon_responder_runs_on_the_pool(service: Service) -> None:
    """A plain Falcon responder without @typed keeps working, on the pool."""
    result = testing.TestClient(service.app).simulate_get("/plain")
    assert result.status_code == 200
    assert result.json["thread"].startswith("handler-")


def test_log_lines_in_a_plain_handler_carry_the_request_id(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """The request id reaches the pool thread with the call (context variables follow)."""
    from scaffold.runtime.observability._logconfig import RequestIdFilter

    with caplog.at_level(logging.INFO, logger="tests.handlers"):
        caplog.handler.addFilter(RequestIdFilter())
        testing.TestClient(service.app).simulate_get("/typed", headers={"X-Request-Id": "rid-77"})
    [record] = [r for r in caplog.records if r.name == "tests.handlers"]
    assert record.request_id_suffix == " request_id=rid-77"


def test_request_id_is_cleared_once_the_response_is_done() -> None:
    """Lines logged after a request, on the same task, carry no stale request id."""
    from scaffold.runtime.observability._logconfig import RequestIdFilter

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[str] = []
            self.addFilter(RequestIdFilter())
            self.setFormatter(logging.Formatter("%(message)s%(request_id_suffix)s"))

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(self.format(record))

    class Speaks:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            log.info("inside")

    service = Service("x", parse_config("logging: {access_log: null}", env={}))
    service.add_route("/speaks", Speaks())
    handler = Lines()
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def connection() -> None:
        # As a server serves one keep-alive connection: requests in turn, on one task.
        log.info("before")
        await call_asgi(service.app, "GET", b"/speaks", headers={"X-Request-Id": "rid-1"})
        log.info("between")
        await call_asgi(service.app, "GET", b"/missing", headers={"X-Request-Id": "rid-2"})
        log.info("after")

    try:
        asyncio.run(connection())
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
        service.close()
    assert handler.lines == ["before", "inside request_id=rid-1", "between", "after"]


@pytest.mark.parametrize("form", ["plain", "async"])
def test_typed_responders_get_the_request_and_the_response(form: str) -> None:
    """A typed responder, plain or async, reads the request and sets headers on the response."""

    def answer(req: falcon.Request, resp: falcon.Response) -> dict[str, str]:
        resp.set_header("X-Seen", req.get_header("X-Name") or "-")
        return {"thread": req.get_header("X-Name") or "-"}

    class Plain:
        @typed(response=Where)
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> dict[str, str]:
            return answer(req, resp)

    class Async:
        @typed(response=Where)
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> dict[str, str]:
            return answer(req, resp)

    service = Service("x", parse_config("logging: {access_log: null}", env={}))
    service.add_route("/who", Plain() if form == "plain" else Async())
    result = testing.TestClient(service.app).simulate_get("/who", headers={"X-Name": "ada"})
    service.close()
    assert (result.status_code, result.headers["x-seen"], result.json) == (
        200,
        "ada",
        {"thread": "ada"},
    )


def test_system_exit_in_a_handler_is_a_500_not_a_dead_worker(service: Service) -> None:
    """A handler that raises SystemExit on a pool thread gets a 500; the pool serves on."""
    client = testing.TestClient(service.app)
    result = client.simulate_delete("/plain")
    assert result.status_code == 500
    assert client.simulate_get("/plain").status_code == 200


def test_pool_runs_at_most_size_calls_at_once() -> None:
    """With size 2, a third call waits until one of the first two returns."""
    pool = ThreadPool(2, "t")
    release = threading.Event()
    running: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            running.append(n)
            peak.append(len(running))
        release.wait(5)
        with lock:
            running.remove(n)
        return n * 10

    async def scenario() -> list[Any]:
        futures = [pool.run(work, n) for n in range(3)]
        await asyncio.sleep(0.2)
        assert len(running) == 2
        release.set()
        return list(await asyncio.gather(*futures))

    assert asyncio.run(scenario()) == [0, 10, 20]
    assert max(peak) == 2
    pool.shutdown()


def test_pool_delivers_exceptions_and_refuses_work_after_shutdown() -> None:
    """An exception reaches the awaiting caller; after shutdown, run() raises."""
    pool = ThreadPool(1, "t")

    def boom() -> None:
        raise ValueError("no")

    async def scenario() -> None:
        with pytest.raises(ValueError, match="no"):
            await pool.run(boom)

    asyncio.run(scenario())
    pool.shutdown()

    async def after() -> None:
        pool.run(boom)

    with pytest.raises(RuntimeError, match="shut down"):
        asyncio.run(after())
