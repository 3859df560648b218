"""The admin port: ping, health checks, metrics, threads and tasks, for operators and probes."""

from __future__ import annotations

from scaffold.runtime.admin._app import Flag, Lifecycle, add_task_route, build_admin_app
from scaffold.runtime.admin._health import (
    DEFAULT_TIMEOUT,
    CheckOutcome,
    HealthCheck,
    HealthRegistry,
    HealthResult,
)
from scaffold.runtime.admin._profile import ProfileTask
from scaffold.runtime.admin._tasks import (
    Download,
    LogLevelTask,
    Task,
    TaskError,
    TaskFunc,
    TaskRegistry,
    run_gc,
)


def builtin_tasks(service_name: str = "service") -> TaskRegistry:
    """A registry holding the tasks every service offers: ``gc``, ``log-level``, ``profile``."""
    tasks = TaskRegistry()
    tasks.add("gc", run_gc, "Run a full garbage collection in the worker that answers.")
    tasks.add(
        "log-level",
        LogLevelTask(),
        "Set ?logger=NAME (default root) to ?level=LEVEL for ?duration=SECONDS (600).",
    )
    tasks.add(
        "profile",
        ProfileTask(service_name),
        "Profile every thread of the worker that answers for ?seconds=N (1-60; ?clock=cpu "
        "or wall) and download the pstats file (snakeviz, python -m pstats).",
    )
    return tasks


__all__ = [
    "DEFAULT_TIMEOUT",
    "CheckOutcome",
    "Download",
    "Flag",
    "HealthCheck",
    "HealthRegistry",
    "HealthResult",
    "Lifecycle",
    "LogLevelTask",
    "ProfileTask",
    "Task",
    "TaskError",
    "TaskFunc",
    "TaskRegistry",
    "add_task_route",
    "build_admin_app",
    "builtin_tasks",
    "run_gc",
]
