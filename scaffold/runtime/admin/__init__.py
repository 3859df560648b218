"""The admin port: ping, health checks, metrics, threads and tasks, for operators and probes."""

from scaffold.runtime.admin._app import Flag, Lifecycle, add_task_route, build_admin_app
from scaffold.runtime.admin._health import (
    DEFAULT_TIMEOUT,
    CheckOutcome,
    HealthCheck,
    HealthRegistry,
    HealthResult,
)
from scaffold.runtime.admin._tasks import (
    LogLevelTask,
    Task,
    TaskError,
    TaskFunc,
    TaskRegistry,
    builtin_tasks,
    run_gc,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "CheckOutcome",
    "Flag",
    "HealthCheck",
    "HealthRegistry",
    "HealthResult",
    "Lifecycle",
    "LogLevelTask",
    "Task",
    "TaskError",
    "TaskFunc",
    "TaskRegistry",
    "add_task_route",
    "build_admin_app",
    "builtin_tasks",
    "run_gc",
]
