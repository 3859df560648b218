"""``scaffold run``: load and validate the service, then hand it to a gunicorn master.

The ``scaffold`` command only parses the options; it then becomes ``python -m scaffold.run``
(:func:`exec_master`: same process, pid, environment and file descriptors, so systemd's
``MAINPID`` and ``LISTEN_FDS`` still hold) and that process serves. Every worker is a fork
of it, so what the CLI alone needs (click and its commands) is in no worker's memory.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.exceptions import ServiceLoadError
from scaffold.failure import report
from scaffold.inspect_service import route_table
from scaffold.loader import Overrides, ServiceLoader, config_problems, load_service
from scaffold.runtime.observability import configure_logging
from scaffold.runtime.server import ServeOptions, ServiceApplication, describe_failure

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
    workers = options.workers
    if options.reload and workers is None:
        workers = 1  # one process: what a handler keeps in memory stays put between requests
    overrides = Overrides(options.binds, options.admin_binds, workers)
    loader = ServiceLoader.find(options.config_file, overrides)
    name = loader.project.name
    serve = ServeOptions(
        name=name,
        reload=options.reload,
        watch=loader.source_patterns() if options.reload else (),
        root=loader.project.root,
    )
    with config_problems():
        application = ServiceApplication(loader.load_config, loader.build, serve)
    configure_logging(application.config.logging)
    if options.reload:
        log.warning(
            "--reload is for development: %d worker, reloaded whenever %s or %s is saved; "
            "a broken save is reported here and answered with 500s until the next good one",
            workers,
            loader.top_module,
            loader.config_path.name,
        )
    try:
        service = load_service(loader, application.config)
    except ServiceLoadError as ex:
        if not options.reload:
            raise
        log.error("%s", describe_failure(ex, loader.project.root))
    else:
        log.info("serving %s from %s", name, loader.config_path)
        for line in route_table(service):
            log.info("route %s", line)
        service.close()  # the workers build their own; keep no log file or socket here
    loader.forget_modules()
    application.run()


def master_argv(options: RunOptions, *, debug: bool = False) -> list[str]:
    """The command line of the master process for ``options``."""
    argv = [sys.executable, "-m", "scaffold.run"]
    if options.config_file is not None:
        argv += ["--config", str(options.config_file)]
    for bind in options.binds:
        argv += ["--bind", bind]
    for bind in options.admin_binds:
        argv += ["--admin-bind", bind]
    if options.workers is not None:
        argv += ["--workers", str(options.workers)]
    if options.reload:
        argv.append("--reload")
    if debug:
        argv.append("--debug")
    return argv


def exec_master(options: RunOptions, *, debug: bool = False) -> None:
    """Become the master process (``python -m scaffold.run``); never returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = master_argv(options, debug=debug)
    os.execv(argv[0], argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The master: parse what :func:`master_argv` wrote, serve, return the exit code."""
    parser = argparse.ArgumentParser(prog="scaffold run")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--bind", action="append", default=[])
    parser.add_argument("--admin-bind", action="append", default=[])
    parser.add_argument("--workers", type=int)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    options = RunOptions(
        config_file=args.config,
        binds=tuple(args.bind),
        admin_binds=tuple(args.admin_bind),
        workers=args.workers,
        reload=args.reload,
    )
    try:
        run_service(options)
    except Exception as ex:
        if args.debug:
            raise
        return report(ex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
