"""``scaffold new``: validate the name, render the template beside the target, move it in."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from scaffold import __version__
from scaffold.exceptions import TargetExistsError, TemplateError
from scaffold.project import declares_service
from scaffold.template import (
    TemplateRecord,
    has_record,
    package_name,
    read_tree,
    render,
    validate_service_name,
    write_record,
)


def made_by_scaffold(folder: Path) -> bool:
    """Whether ``folder`` holds a service: ``[tool.scaffold]`` names one, or a template record."""
    return declares_service(folder) or has_record(folder)


def _check_target(target: Path, force: bool) -> None:
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        msg = (
            f"{target} already exists; pick another name or --output-dir "
            "(--force replaces only an empty folder or one made by `scaffold new`)"
        )
        raise TargetExistsError(msg)
    if target.is_symlink() or not target.is_dir():
        msg = f"{target} exists and is not a folder; --force will not replace it"
        raise TargetExistsError(msg)
    if any(target.iterdir()) and not made_by_scaffold(target):
        msg = f"{target} is not empty and was not made by `scaffold new`; --force will not touch it"
        raise TargetExistsError(msg)


def create_service(
    name: str,
    output_dir: Path,
    *,
    description: str | None = None,
    force: bool = False,
    template: Path | None = None,
) -> Path:
    """Render a new service called ``name`` into ``output_dir / name``.

    Nothing is written when the name is invalid or the target may not be touched. The
    template renders into a temporary folder beside the target and is renamed into place,
    so a failure leaves nothing behind.

    Args:
        name: The service name, e.g. ``acme-widgets``.
        output_dir: The folder to create the service in (created if missing).
        description: One-line description for README and package metadata.
        force: Replace an empty folder or one made by ``scaffold new``.
        template: Another template folder (default: the bundled ``service`` template).

    Returns:
        The new service's folder.

    Raises:
        InvalidServiceNameError: ``name`` breaks the naming rules.
        TargetExistsError: The target exists and may not be replaced.
        TemplateError: Rendering failed.
    """
    validate_service_name(name)
    output_dir = Path(output_dir).expanduser().resolve()
    target = output_dir / name
    _check_target(target, force)
    answers = {"project_slug": name, "package_name": package_name(name)}
    if description:
        answers["description"] = " ".join(description.split())
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=output_dir))
    except OSError as ex:
        msg = f"cannot write in {output_dir}: {ex.strerror or ex}"
        raise TemplateError(msg) from ex
    try:
        rendered = render(answers, work, template=template)
        record = TemplateRecord(__version__, rendered.answers, read_tree(rendered.root))
        write_record(rendered.root, record)
        _move_into_place(rendered.root, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _move_into_place(rendered: Path, target: Path, work: Path) -> None:
    old = work / "replaced"
    try:
        if target.exists():
            os.rename(target, old)
        os.rename(rendered, target)
    except OSError as ex:
        if old.exists() and not target.exists():
            os.rename(old, target)
        msg = f"cannot move the new service into {target}: {ex.strerror or ex}"
        raise TemplateError(msg) from ex
