"""``scaffold run``: load and validate the service, then hand it to a gunicorn master."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from scaffold.inspect_service import route_table
from scaffold.loader import Overrides, ServiceLoader, config_problems
from scaffold.project import find_project
from scaffold.runtime.logconfig import configure_logging
from scaffold.runtime.server import ServeOptions, ServiceApplication

log = logging.getLogger("scaffold.server")


@dataclass(frozen=True)
class RunOptions:
    """``scaffold run``'s options."""

    config_file: Path | None = None
    binds: tuple[str, ...] = ()
    admin_binds: tuple[str, ...] = ()
    workers: int | None = None
    reload: bool = False


def run_service(options: RunOptions) -> None:
    """Serve the service in the current folder until the master exits.

    The service is built once in this process first, so a broken config or factory fails
    here with a clear message; then its modules are forgotten, so each worker (and each
    reload) imports the code afresh.
    """
    project = find_project()
    overrides = Overrides(options.binds, options.admin_binds, options.workers)
    loader = ServiceLoader(project, options.config_file, overrides)
    with config_problems():
        application = ServiceApplication(
            loader.load_config,
            loader.build,
            ServeOptions(name=project.name, reload=options.reload),
        )
        configure_logging(application.config.logging)
        service = loader.build(application.config)
    log.info("serving %s from %s", project.name, loader.config_path)
    for line in route_table(service):
        log.info("route %s", line)
    service.close()  # the workers build their own; keep no log file or socket in the master
    loader.forget_modules()
    application.run()
