"""The admin port's app: ping, health, metrics, threads and tasks."""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import Any, Protocol

import falcon

from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.health import HealthRegistry
from scaffold.runtime.metrics import MetricsRegistry
from scaffold.runtime.requestid import RequestIdMiddleware
from scaffold.runtime.routing import Router
from scaffold.runtime.tasks import Task, TaskError, TaskRegistry


class Flag(Protocol):
    """Anything with ``is_set()``: a :class:`threading.Event`, or a flag shared by processes."""

    def is_set(self) -> bool:
        """Whether the flag is up."""


class Lifecycle:
    """Process state the admin port reports: draining flips readiness to 503."""

    def __init__(self) -> None:
        self._draining = threading.Event()
        self._shared: Flag | None = None

    @property
    def draining(self) -> bool:
        """Whether the process is draining before shutdown."""
        if self._shared is not None and self._shared.is_set():
            return True
        return self._draining.is_set()

    def follow(self, flag: Flag) -> None:
        """Also report draining while ``flag`` is set (the gunicorn master raises it)."""
        self._shared = flag

    def start_draining(self) -> None:
        """Fail readiness from now on, so load balancers stop sending traffic."""
        self._draining.set()


class _Ping:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "pong"


class _HealthCheck:
    def __init__(self, registry: HealthRegistry) -> None:
        self.registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        outcomes = self.registry.run()
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({o.name: o.as_json() for o in outcomes})
        if not all(o.healthy for o in outcomes):
            resp.status = falcon.HTTP_503


class _Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"live": True})


class _Ready:
    def __init__(self, registry: HealthRegistry, lifecycle: Lifecycle) -> None:
        self.registry = registry
        self.lifecycle = lifecycle

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        if self.lifecycle.draining:
            resp.status = falcon.HTTP_503
            resp.text = json.dumps({"ready": False, "reason": "draining"})
            return
        failed = [o.name for o in self.registry.run() if o.critical and not o.healthy]
        if failed:
            resp.status = falcon.HTTP_503
            resp.text = json.dumps({"ready": False, "failed_checks": failed})
            return
        resp.text = json.dumps({"ready": True})


class _Metrics:
    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps(self.registry.snapshot())


class _Threads:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        frames = sys._current_frames()
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

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"tasks": [task.as_json() for task in self.tasks.all()]})


class _TaskRunner:
    def __init__(self, task: Task) -> None:
        self.task = task

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        params = {key: str(value) for key, value in req.params.items()}
        try:
            result = self.task.func(params)
        except TaskError as ex:
            raise falcon.HTTPBadRequest(description=f"task {self.task.name}: {ex}") from ex
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps(
            {"task": self.task.name, "pid": os.getpid(), "result": result}, default=str
        )


def add_task_route(app: falcon.App[Any, Any], task: Task) -> None:
    """Serve ``task`` at ``POST /tasks/<name>`` (other methods: 405)."""
    app.add_route(f"/tasks/{task.name}", _TaskRunner(task))


def build_admin_app(
    registry: HealthRegistry,
    lifecycle: Lifecycle,
    metrics: MetricsRegistry | None = None,
    tasks: TaskRegistry | None = None,
) -> falcon.App[Any, Any]:
    """Return the admin WSGI app for one service.

    Args:
        registry: The health checks.
        lifecycle: Draining state, for readiness.
        metrics: The metrics registry behind ``/metrics``.
        tasks: The tasks under ``/tasks``.
    """
    app = falcon.App(middleware=[RequestIdMiddleware()], router=Router())
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handling(app)
    app.add_route("/ping", _Ping())
    app.add_route("/healthcheck", _HealthCheck(registry))
    app.add_route("/health/live", _Live())
    app.add_route("/health/ready", _Ready(registry, lifecycle))
    app.add_route("/metrics", _Metrics(metrics or MetricsRegistry()))
    app.add_route("/threads", _Threads())
    tasks = tasks or TaskRegistry()
    app.add_route("/tasks", _TaskList(tasks))
    for task in tasks.all():
        add_task_route(app, task)
    return app
