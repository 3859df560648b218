"""The ``scaffold`` command line: parse arguments, call the API, map errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from scaffold import __version__
from scaffold.failure import report


class _Group(click.Group):
    """A group that turns every :class:`ScaffoldError` into a short message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as ex:
            if ctx.meta.get("scaffold.debug"):
                raise
            ctx.exit(report(ex))


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: [tool.scaffold] config).",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="scaffold")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Create, run and ship production-ready Python web services."""
    ctx.meta["scaffold.debug"] = debug


@main.command("new")
@click.argument("name")
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the service in.",
)
@click.option("--description", help="One-line description of the service.")
@click.option("--no-input", is_flag=True, help="Do not prompt; use defaults for what is not given.")
@click.option(
    "--force",
    is_flag=True,
    help="Write into an empty folder, or replace one that `scaffold new` made.",
)
def new_command(
    name: str, output_dir: Path, description: str | None, no_input: bool, force: bool
) -> None:
    """Create the service NAME (lowercase words joined by '-', e.g. acme-widgets)."""
    from scaffold.extras import require_new_extra

    require_new_extra("new")
    from scaffold.new import create_service
    from scaffold.template import validate_service_name

    validate_service_name(name)
    if description is None and not no_input and sys.stdin.isatty():
        description = click.prompt("Description", default=f"The {name} service.", show_default=True)
    target = create_service(name, output_dir, description=description, force=force)
    relative = os.path.relpath(target)
    shown = str(target) if relative.startswith("..") else f".{os.sep}{relative}"
    click.echo(f"Created {name} in {shown}")
    click.echo("Next steps:")
    click.echo(f"  cd {shown}")
    click.echo("  pip install -e '.[test]'")
    click.echo("  pytest")
    click.echo("  scaffold run")


@main.command("run")
@config_option
@click.option(
    "--bind", "binds", multiple=True, help="App address, e.g. 127.0.0.1:8080 (repeatable)."
)
@click.option("--admin-bind", "admin_binds", multiple=True, help="Admin address (repeatable).")
@click.option("--workers", type=click.IntRange(min=1), help="Number of worker processes.")
@click.option(
    "--reload",
    is_flag=True,
    help="Development: one worker, reloaded when code or config is saved; survives mistakes.",
)
@click.pass_context
def run_command(
    ctx: click.Context,
    config_file: Path | None,
    binds: Sequence[str],
    admin_binds: Sequence[str],
    workers: int | None,
    reload: bool,
) -> None:
    """Serve the service in this folder with gunicorn."""
    from scaffold.run import RunOptions, exec_master

    options = RunOptions(
        config_file=config_file,
        binds=tuple(binds),
        admin_binds=tuple(admin_binds),
        workers=workers,
        reload=reload,
    )
    exec_master(options, debug=bool(ctx.meta.get("scaffold.debug")))


@main.command("check")
@config_option
def check_command(config_file: Path | None) -> None:
    """Validate the config without opening ports; print it with secrets masked."""
    from scaffold.check import check_service

    click.echo(check_service(config_file), nl=False)


@main.command("vendor")
@click.option("--check", "check_only", is_flag=True, help="Verify lock and vendor/; no network.")
@click.option("--extra", "extras", multiple=True, help="Add an optional dependency group.")
@click.option("--python-version", help="Target Python version X.Y (binary wheels only).")
@click.option("--platform", "platform_tag", help="Target platform tag (binary wheels only).")
def vendor_command(
    check_only: bool,
    extras: Sequence[str],
    python_version: str | None,
    platform_tag: str | None,
) -> None:
    """Lock dependencies with hashes and download their wheels into vendor/."""
    from scaffold.project import find_project
    from scaffold.vendor import LOCK_NAME, VENDOR_NAME, check_vendor, vendor

    project = find_project()
    quiet = os.environ.get("CI", "").lower() in {"1", "true", "yes"} or not sys.stderr.isatty()

    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    if check_only:
        check_vendor(
            project, extras=tuple(extras), python_version=python_version, platform=platform_tag
        )
        click.echo(f"{LOCK_NAME} and {VENDOR_NAME}/ are up to date")
        return
    report = vendor(
        project,
        extras=tuple(extras),
        python_version=python_version,
        platform=platform_tag,
        progress=progress,
    )
    click.echo(report.summary())


@main.command("hash-password")
def hash_password_command() -> None:
    """Print a hash for auth.basic.users; the password is read from a prompt or stdin."""
    from scaffold.exceptions import UsageError
    from scaffold.runtime.passwords import hash_password

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        msg = "the password is empty; type it at the prompt or pipe one line on stdin"
        raise UsageError(msg)
    click.echo(hash_password(password))


@main.command("routes")
@config_option
def routes_command(config_file: Path | None) -> None:
    """List the service's routes: methods, template and resource."""
    from scaffold.inspect_service import route_table
    from scaffold.loader import ServiceLoader, load_service

    for line in route_table(load_service(ServiceLoader.find(config_file))):
        click.echo(line)


@main.command("openapi")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the document to FILE instead of stdout.",
)
@config_option
def openapi_command(output: Path | None, config_file: Path | None) -> None:
    """Print the OpenAPI 3.1 document built from the service's typed routes."""
    from scaffold.inspect_service import openapi_json
    from scaffold.loader import ServiceLoader, load_service

    document = openapi_json(load_service(ServiceLoader.find(config_file)))
    if output is None:
        click.echo(document, nl=False)
    else:
        output.write_text(document, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)


@main.command("update")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Exit 1 if the service's template base is behind the installed template.",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--force", is_flag=True, help="Update even with uncommitted changes.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Answer a template question (repeatable); new questions otherwise take defaults.",
)
def update_command(check_only: bool, dry_run: bool, force: bool, settings: Sequence[str]) -> None:
    """Merge what changed in the template since this service was rendered."""
    from scaffold.extras import require_new_extra

    require_new_extra("update")
    from scaffold.project import find_project
    from scaffold.update import (
        UpdateAvailableError,
        UpdateConflictError,
        apply_update,
        plan_update,
        require_clean_tree,
    )

    overrides = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{setting!r} is not KEY=VALUE", param_hint="--set")
        overrides[key] = value
    root = find_project().root
    if not (check_only or dry_run or force):
        require_clean_tree(root)
    plan = plan_update(root, overrides=overrides)
    if check_only:
        click.echo(plan.summary())
        if plan.behind:
            msg = "the service's template base is behind the template; run `scaffold update`"
            raise UpdateAvailableError(msg)
        return
    for line in plan.lines():
        click.echo(line)
    if dry_run:
        return
    apply_update(plan)
    if plan.conflicts:
        msg = f"{len(plan.conflicts)} file(s) have conflict markers to resolve"
        raise UpdateConflictError(msg)
