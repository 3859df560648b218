"""``scaffold update``: bring a service's generated files up to the installed template.

Each file the template renders is compared three ways (see :mod:`scaffold.render`):

* the service's copy equals today's render: up to date;
* the service's copy equals the render it was made from (nobody edited it): replaced;
* it is new in the template: added;
* the team edited it and the template changed it too: a conflict; today's render is
  written beside it as ``FILE.scaffold-new`` to merge by hand, the file itself is untouched;
* the team deleted it: left deleted.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from scaffold import __version__
from scaffold.exceptions import ScaffoldError
from scaffold.render import digest, file_digests, read_manifest, render, write_manifest

NEW_SUFFIX = ".scaffold-new"

ADD = "add"
UPDATE = "update"
CONFLICT = "conflict"
KEPT_DELETED = "kept deleted"
REMOVED_UPSTREAM = "no longer in template"


class UpdateAvailableError(ScaffoldError):
    """``scaffold update --check`` found files that differ from the template."""


@dataclass
class UpdatePlan:
    """What ``scaffold update`` does (or did) to each file that is not up to date."""

    root: Path
    from_version: str
    changes: list[tuple[str, str]] = field(default_factory=list)
    up_to_date: int = 0

    @property
    def pending(self) -> bool:
        """Whether an update would write anything."""
        return any(action in (ADD, UPDATE, CONFLICT) for action, _ in self.changes)

    def lines(self) -> list[str]:
        """One line per change, then a summary line."""
        shown = [f"{action:>20}  {path}" for action, path in self.changes]
        conflicts = sum(1 for action, _ in self.changes if action == CONFLICT)
        summary = (
            f"template {self.from_version} -> {__version__}: {self.up_to_date} file(s) up to date, "
            f"{len(self.changes)} to look at"
        )
        if conflicts:
            summary += f"; merge the {conflicts} *{NEW_SUFFIX} file(s), then delete them"
        return [*shown, summary]


def update_service(root: Path, *, dry_run: bool = False) -> UpdatePlan:
    """Compare ``root`` with the installed template and (unless ``dry_run``) update it.

    Raises:
        TemplateError: ``root`` has no manifest or the template fails to render.
    """
    manifest = read_manifest(root)
    answers = {str(k): str(v) for k, v in manifest["answers"].items()}
    pristine: dict[str, str] = manifest["files"]
    work = Path(tempfile.mkdtemp(prefix="scaffold-update-"))
    try:
        rendered = render(answers, work)
        fresh = file_digests(rendered)
        plan = UpdatePlan(root, str(manifest.get("scaffold_version", "?")))
        for path, new_digest in fresh.items():
            action = _action(root / path, new_digest, pristine.get(path))
            if action is None:
                plan.up_to_date += 1
                continue
            plan.changes.append((action, path))
            if not dry_run:
                _apply(action, rendered / path, root / path)
        for path in sorted(set(pristine) - set(fresh)):
            if (root / path).is_file():
                plan.changes.append((REMOVED_UPSTREAM, path))
        if not dry_run:
            write_manifest(root, answers, fresh)
        return plan
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _action(current: Path, new_digest: str, old_digest: str | None) -> str | None:
    if not current.is_file():
        return KEPT_DELETED if old_digest is not None else ADD
    now = digest(current)
    if now == new_digest:
        return None
    if now == old_digest:
        return UPDATE
    return CONFLICT


def _apply(action: str, source: Path, target: Path) -> None:
    if action in (ADD, UPDATE):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    elif action == CONFLICT:
        shutil.copy2(source, target.with_name(target.name + NEW_SUFFIX))
