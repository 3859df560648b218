"""The service's own health checks (shown on the admin port's /healthcheck)."""

import shutil
from collections.abc import Callable

from scaffold.runtime import HealthResult

MIB = 2**20


def disk_space_check(folder: str, min_free_mb: int) -> Callable[[], HealthResult]:
    """Return a check that fails when `folder` has less than `min_free_mb` MiB free.

    The service writes to the temporary folder: gunicorn's worker heartbeat files and each
    worker's Prometheus metrics live there. When it is full, workers cannot show they are
    alive (gunicorn kills and restarts them) and metrics stop, so say so before it happens.
    """

    def check() -> HealthResult:
        free_mb = shutil.disk_usage(folder).free // MIB
        if free_mb < min_free_mb:
            return HealthResult.fail(
                f"{free_mb} MiB free in {folder}, below app.min_free_mb ({min_free_mb})"
            )
        return HealthResult.ok(f"{free_mb} MiB free in {folder}")

    return check
