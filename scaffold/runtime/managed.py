"""Managed objects (Dropwizard's ``Managed``): started in each worker, stopped at its end."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Protocol

from scaffold.runtime.exceptions import ServiceError
from scaffold.runtime.threadpool import ThreadPool

log = logging.getLogger("scaffold.runtime.managed")


class Managed(Protocol):
    """What :meth:`~scaffold.runtime.Service.manage` takes: ``start()`` and ``stop()``.

    Either may be ``async def``; plain ones run on the worker's thread pool, so they may block.
    """

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


class ManagedStartError(ServiceError):
    """A managed object's ``start()`` raised; the worker does not serve."""


def managed_name(obj: object) -> str:
    """How logs and errors name ``obj``: its class, qualified."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class ManagedObjects:
    """The managed objects of one service, in registration order."""

    def __init__(self, pool: ThreadPool) -> None:
        self._pool = pool
        self._objects: list[object] = []
        self._started: list[object] = []

    def add(self, obj: object) -> None:
        for method in ("start", "stop"):
            if not callable(getattr(obj, method, None)):
                msg = f"{managed_name(obj)} has no {method}() method; a managed object needs both"
                raise TypeError(msg)
        self._objects.append(obj)

    def __len__(self) -> int:
        return len(self._objects)

    async def _call(self, func: Any) -> None:
        if inspect.iscoroutinefunction(func):
            await func()
        else:
            result = await self._pool.run(func)
            if inspect.isawaitable(result):
                await result

    async def start(self) -> None:
        """Start every object in order; if one fails, stop those started, in reverse, and raise.

        Raises:
            ManagedStartError: Naming the object and its error.
        """
        for obj in self._objects:
            try:
                await self._call(obj.start)  # type: ignore[attr-defined]
            except Exception as ex:
                await self.stop()
                msg = f"{managed_name(obj)}.start() failed: {type(ex).__name__}: {ex}"
                raise ManagedStartError(msg) from ex
            self._started.append(obj)

    async def stop(self) -> None:
        """Stop the started objects in reverse order; a failing ``stop()`` is logged, not raised."""
        while self._started:
            obj = self._started.pop()
            try:
                await self._call(obj.stop)  # type: ignore[attr-defined]
            except Exception:
                log.exception("%s.stop() failed", managed_name(obj))
