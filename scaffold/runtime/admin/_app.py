"""The admin port's ASGI app: ping, health, metrics, threads and tasks."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import traceback
from types import FrameType
from typing import Any, Protocol

import falcon
import falcon.asgi

from scaffold.runtime.admin._health import HealthRegistry
from scaffold.runtime.admin._tasks import Download, Task, TaskError, TaskRegistry
from scaffold.runtime.context import Request
from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.jsonio import dumps, install_media_handlers
from scaffold.runtime.observability import MetricsRegistry, ObserveMiddleware, PrometheusSink
from scaffold.runtime.routing import Router
from scaffold.runtime.threadpool import ThreadPool


class Flag(Protocol):
    """Anything with ``is_set()``: a :class:`threading.Event`, or a flag shared by processes."""

    def is_set(self) -> bool:
        """Whether the flag is up."""


class Lifecycle:
    """Process state the admin port reports: draining flips readiness to 503."""

    def __init__(self) -> None:
        self._shared: Flag | None = None

    @property
    def draining(self) -> bool:
        """Whether the process is draining before shutdown."""
        return self._shared is not None and self._shared.is_set()

    def follow(self, flag: Flag) -> None:
        """Report draining while ``flag`` is set (the gunicorn master raises it)."""
        self._shared = flag


class _Ping:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "pong"


class _HealthCheck:
    def __init__(self, registry: HealthRegistry) -> None:
        self.registry = registry

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        outcomes = await asyncio.to_thread(self.registry.run)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = dumps({o.name: o.as_json() for o in outcomes})
        if not all(o.healthy for o in outcomes):
            resp.status = falcon.HTTP_503


class _Live:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = dumps({"live": True})


class _Ready:
    def __init__(self, registry: HealthRegistry, lifecycle: Lifecycle) -> None:
        self.registry = registry
        self.lifecycle = lifecycle

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        if self.lifecycle.draining:
            resp.status = falcon.HTTP_503
            resp.data = dumps({"ready": False, "reason": "draining"})
            return
        outcomes = await asyncio.to_thread(self.registry.run)
        failed = [o.name for o in outcomes if o.critical and not o.healthy]
        if failed:
            resp.status = falcon.HTTP_503
            resp.data = dumps({"ready": False, "failed_checks": failed})
            return
        resp.data = dumps({"ready": True})


class _Metrics:
    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = dumps(self.registry.snapshot())


class _Prometheus:
    def __init__(self, sink: PrometheusSink) -> None:
        self.sink = sink

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        # Reading every worker's files is file I/O: off the loop.
        resp.data, resp.content_type = await asyncio.to_thread(self.sink.exposition)


def current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()`` with the garbage collector paused.

    On Python 3.11 a collection that starts inside it (it makes frame objects while holding
    the interpreter's thread-list lock) runs finalizers that may need that lock, and the
    process hangs for ever (CPython gh-106883, fixed in 3.12).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if enabled:
            gc.enable()


class _Threads:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        frames = current_frames()
        threads = threading.enumerate()
        out = [f"pid {os.getpid()}: {len(threads)} threads\n"]
        for thread in sorted(threads, key=lambda t: t.name):
            daemon = " daemon" if thread.daemon else ""
            out.append(f'\n"{thread.name}" id={thread.ident}{daemon}\n')
            frame = frames.get(thread.ident) if thread.ident is not None else None
            if frame is not None:
                out.extend(traceback.format_stack(frame))
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "".join(out)


class _TaskList:
    def __init__(self, tasks: TaskRegistry) -> None:
        self.tasks = tasks

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = dumps({"tasks": [task.as_json() for task in self.tasks.all()]})


class _TaskRunner:
    def __init__(self, task: Task) -> None:
        self.task = task

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        params = {key: str(value) for key, value in req.params.items()}
        try:
            result = await asyncio.to_thread(self.task.func, params)
        except TaskError as ex:
            raise falcon.HTTPBadRequest(description=f"task {self.task.name}: {ex}") from ex
        if isinstance(result, Download):
            resp.content_type = result.content_type
            resp.downloadable_as = result.filename
            resp.data = result.data
            return
        resp.content_type = falcon.MEDIA_JSON
        document = {"task": self.task.name, "pid": os.getpid(), "result": result}
        resp.data = dumps(document, default=str)


def add_task_route(app: falcon.asgi.App[Any, Any], task: Task) -> None:
    """Serve ``task`` at ``POST /tasks/<name>`` (other methods: 405)."""
    app.add_route(f"/tasks/{task.name}", _TaskRunner(task))


def build_admin_app(
    registry: HealthRegistry,
    lifecycle: Lifecycle,
    metrics: MetricsRegistry | None = None,
    tasks: TaskRegistry | None = None,
    *,
    prometheus: PrometheusSink | None = None,
) -> falcon.asgi.App[Any, Any]:
    """Return the admin ASGI app for one service.

    Every responder is ``async def``; checks and tasks (the service's own code, which may
    block) run on the event loop's default executor.

    Args:
        registry: The health checks.
        lifecycle: Draining state, for readiness.
        metrics: The metrics registry behind ``/metrics``.
        tasks: The tasks under ``/tasks``.
        prometheus: The export behind ``/metrics/prometheus`` (none: no such route).
    """
    app = falcon.asgi.App(
        middleware=[ObserveMiddleware(access_log=None, request_log=None, metrics=None)],
        router=Router(ThreadPool(1, "admin")),
        request_type=Request,
    )
    install_media_handlers(app)
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handling(app)
    app.add_route("/ping", _Ping())
    app.add_route("/healthcheck", _HealthCheck(registry))
    app.add_route("/health/live", _Live())
    app.add_route("/health/ready", _Ready(registry, lifecycle))
    app.add_route("/metrics", _Metrics(metrics or MetricsRegistry()))
    if prometheus is not None:
        app.add_route("/metrics/prometheus", _Prometheus(prometheus))
    app.add_route("/threads", _Threads())
    tasks = tasks or TaskRegistry()
    app.add_route("/tasks", _TaskList(tasks))
    for task in tasks.all():
        add_task_route(app, task)
    return app
