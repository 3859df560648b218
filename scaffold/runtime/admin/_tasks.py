"""Admin tasks: named operations run with ``POST /tasks/<name>`` on the admin port.

A task is a callable taking the query parameters (``dict[str, str]``) and returning what the
response's ``result`` member shows (JSON-able, or ``None``), or a :class:`Download`, which is
sent as a file. It raises :class:`TaskError` for bad parameters (400). A task runs in the
worker process that received the request.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scaffold.runtime.config_schema import LOG_LEVELS
from scaffold.runtime.exceptions import DefinitionError

log = logging.getLogger("scaffold.tasks")

TaskFunc = Callable[[Mapping[str, str]], Any]
DEFAULT_LOG_LEVEL_SECONDS = 600.0
MAX_LOG_LEVEL_SECONDS = 7 * 24 * 3600.0
_TASK_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class TaskError(Exception):
    """Raised by a task for bad input: the admin port answers 400 with this message."""


@dataclass(frozen=True)
class Download:
    """What a task returns to answer with a file instead of JSON."""

    data: bytes
    filename: str
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Task:
    """A registered task."""

    name: str
    func: TaskFunc
    description: str

    def as_json(self) -> dict[str, str]:
        """The task's entry in ``GET /tasks``."""
        return {
            "name": self.name,
            "method": "POST",
            "path": f"/tasks/{self.name}",
            "description": self.description,
        }


class TaskRegistry:
    """The tasks of one service, built-in ones included."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, name: str, func: TaskFunc, description: str | None = None) -> Task:
        """Register ``func`` as task ``name``.

        Raises:
            DefinitionError: The name is taken or malformed, or ``func`` is not callable.
        """
        if not _TASK_NAME.match(name):
            msg = f"task name {name!r} must be lowercase letters, digits, '-' or '_'"
            raise DefinitionError(msg)
        if name in self._tasks:
            msg = f"a task named {name!r} is already registered"
            raise DefinitionError(msg)
        if not callable(func):
            msg = f"task {name!r} must be callable, not {func!r}"
            raise DefinitionError(msg)
        doc = (getattr(func, "__doc__", None) or "").strip().splitlines()
        task = Task(name, func, description or (doc[0] if doc else ""))
        self._tasks[name] = task
        return task

    def all(self) -> list[Task]:
        """Every task, sorted by name."""
        return [self._tasks[name] for name in sorted(self._tasks)]


def run_gc(params: Mapping[str, str]) -> dict[str, Any]:
    """Run a full garbage collection in this worker."""
    collected = gc.collect()
    return {"collected": collected, "counts": list(gc.get_count())}


class LogLevelTask:
    """Set a logger's level for a while, then put the previous level back.

    Parameters: ``logger`` (default: the root logger), ``level`` (required) and
    ``duration`` in seconds (default 600). Asking again before the revert restarts the
    clock and still reverts to the level from before the first change.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, threading.Timer]] = {}

    def __call__(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Apply the change; return what was done and when it reverts."""
        name = params.get("logger", "").strip()
        level = params.get("level", "").strip().upper()
        if level not in LOG_LEVELS:
            msg = f"level must be one of {', '.join(LOG_LEVELS)}, not {level or 'nothing'!r}"
            raise TaskError(msg)
        duration = _duration(params.get("duration"))
        logger = logging.getLogger(name or None)
        with self._lock:
            pending = self._pending.pop(name, None)
            if pending is not None:
                pending[1].cancel()
            original = pending[0] if pending is not None else logger.level
            timer = threading.Timer(duration, self._revert, (name, original))
            timer.daemon = True
            self._pending[name] = (original, timer)
            logger.setLevel(level)
            timer.start()
        log.warning("log level of %s set to %s for %gs", name or "root", level, duration)
        return {
            "logger": name or "root",
            "level": level,
            "reverts_to": logging.getLevelName(original),
            "reverts_in_seconds": duration,
        }

    def _revert(self, name: str, original: int) -> None:
        with self._lock:
            self._pending.pop(name, None)
            logging.getLogger(name or None).setLevel(original)
        log.warning(
            "log level of %s reverted to %s", name or "root", logging.getLevelName(original)
        )


def _duration(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return DEFAULT_LOG_LEVEL_SECONDS
    try:
        value = float(raw)
    except ValueError as ex:
        msg = f"duration must be a number of seconds, not {raw!r}"
        raise TaskError(msg) from ex
    if not 0 < value <= MAX_LOG_LEVEL_SECONDS:
        msg = f"duration must be > 0 and <= {MAX_LOG_LEVEL_SECONDS:g} seconds"
        raise TaskError(msg)
    return value
