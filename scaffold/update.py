"""``scaffold update``: merge what changed in the template since a service was rendered.

The service's record (:mod:`scaffold.template`) holds the base: every file as the template
rendered it then. Today's template is rendered with the recorded answers, and each file is
decided from three versions, the base, the service's copy ("yours") and today's render:

* the template did not change it: unchanged, whatever the team did;
* the team did not change it: replaced by today's render (``updated``);
* both changed it: a three-way merge in place (``merged``), or, where the edits overlap,
  standard conflict markers (``conflicted``: listed, exit 1);
* new in the template: ``added`` (merged like a conflict if the team made one there too);
* dropped by the template: ``removed`` if the team never touched it, else ``kept``.

The record then moves to the new base, so a second run changes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scaffold import __version__
from scaffold._digest import sha256
from scaffold.exceptions import ScaffoldError, TemplateError
from scaffold.template import (
    RECORD,
    TemplateRecord,
    merge_file,
    read_record,
    read_tree,
    render,
    write_record,
)

ADDED = "added"
UPDATED = "updated"
MERGED = "merged"
CONFLICTED = "conflicted"
REMOVED = "removed"
KEPT = "kept"
UNCHANGED = "unchanged"
# The order the plan is printed in.
ACTIONS = (ADDED, UPDATED, MERGED, CONFLICTED, REMOVED, KEPT)


class UpdateAvailableError(ScaffoldError):
    """``scaffold update --check``: the service's template base is behind the template."""


class UpdateConflictError(ScaffoldError):
    """``scaffold update`` left conflict markers to resolve."""


class DirtyTreeError(ScaffoldError):
    """The service has uncommitted changes, which an update would mix with its own."""


@dataclass
class Step:
    """What happens to one file; ``content`` is what is written (``None``: deleted)."""

    action: str
    path: str
    content: bytes | None = None
    why: str = ""


@dataclass
class UpdatePlan:
    """Every file's step, for ``--dry-run`` to print and an update to apply."""

    root: Path
    from_version: str
    behind: bool
    steps: list[Step] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    new_base: dict[str, bytes] = field(default_factory=dict)
    migrated: bool = False

    def of(self, action: str) -> list[Step]:
        """The steps with ``action``."""
        return [step for step in self.steps if step.action == action]

    @property
    def conflicts(self) -> list[str]:
        """Paths left with conflict markers."""
        return [step.path for step in self.of(CONFLICTED)]

    def lines(self) -> list[str]:
        """One line per file that changes, the summary, then the conflicts to resolve."""
        shown = [
            f"{step.action:>10}  {step.path}" + (f"  ({step.why})" if step.why else "")
            for action in ACTIONS
            for step in self.of(action)
        ]
        lines = [*shown, self.summary()]
        if self.conflicts:
            lines.append("resolve the conflict markers (<<<<<<< yours ... >>>>>>>), then commit:")
            lines += [f"  {path}" for path in self.conflicts]
        return lines

    def summary(self) -> str:
        """One line: versions, whether the base is behind, and a count per action."""
        counts = ", ".join(
            f"{len(self.of(action))} {action}"
            for action in (*ACTIONS, UNCHANGED)
            if self.of(action)
        )
        state = "behind the template" if self.behind else "the template is unchanged"
        summary = f"template {self.from_version} -> {__version__} ({state}): {counts or 'no files'}"
        if self.migrated:
            summary += f"; the record moves to {RECORD}"
        return summary


def plan_update(
    root: Path, *, overrides: Mapping[str, str] | None = None, template: Path | None = None
) -> UpdatePlan:
    """Work out what ``scaffold update`` would do to the service at ``root``; write nothing.

    Args:
        root: The service folder.
        overrides: Answers to set (``--set key=value``); new questions take their defaults.
        template: Another template folder (default: the bundled one).

    Raises:
        TemplateError: The record is missing or unreadable, or the template fails to render.
    """
    record = read_record(root)
    answers = {**record.answers, **(overrides or {})}
    with tempfile.TemporaryDirectory(prefix="scaffold-update-") as work:
        rendered = render(answers, Path(work), template=template)
        new = read_tree(rendered.root)
    new_digests = {path: sha256(content) for path, content in new.items()}
    plan = UpdatePlan(
        root=root,
        from_version=record.scaffold_version,
        behind=new_digests != record.digests or rendered.answers != record.answers,
        answers=rendered.answers,
        new_base=new,
        migrated=record.legacy,
    )
    for path in sorted(set(new) | set(record.digests)):
        plan.steps.append(_step(root, path, record, new.get(path)))
    return plan


def _step(root: Path, path: str, record: TemplateRecord, new: bytes | None) -> Step:
    current_file = root / path
    yours = current_file.read_bytes() if current_file.is_file() else None
    base_digest = record.digests.get(path)
    base = record.files.get(path)
    if new is None:  # dropped by the template
        if yours is None:
            return Step(UNCHANGED, path)
        if sha256(yours) == base_digest:
            return Step(REMOVED, path, None)
        return Step(KEPT, path, yours, "dropped by the template, edited here")
    if base_digest is not None and sha256(new) == base_digest:
        return Step(UNCHANGED, path)
    if yours is None:
        if base_digest is None:
            return Step(ADDED, path, new)
        return Step(KEPT, path, None, "deleted here, changed in the template")
    if yours == new:
        return Step(UNCHANGED, path)
    if base_digest is not None and sha256(yours) == base_digest:
        return Step(UPDATED, path, new)
    merge = merge_file(yours, base or b"", new, theirs_label=f"template {__version__}")
    if merge.conflicts:
        why = f"{merge.conflicts} conflict(s)"
        if base is None:
            why += "; no base: " + ("added on both sides" if base_digest is None else "unknown")
        return Step(CONFLICTED, path, merge.content, why)
    return Step(MERGED, path, merge.content)


def apply_update(plan: UpdatePlan) -> None:
    """Write the plan's files and move the record to the new base."""
    for step in plan.steps:
        target = plan.root / step.path
        if step.action == REMOVED:
            target.unlink()
        elif step.action in (ADDED, UPDATED, MERGED, CONFLICTED) and step.content is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_keeping_mode(target, step.content)
    write_record(plan.root, TemplateRecord(__version__, plan.answers, plan.new_base))


def _write_keeping_mode(target: Path, content: bytes) -> None:
    existed = target.exists()
    mode = target.stat().st_mode if existed else None
    tmp = target.with_name(f".{target.name}.scaffold-tmp")
    tmp.write_bytes(content)
    if mode is not None:
        tmp.chmod(mode)
    tmp.replace(target)


def require_clean_tree(root: Path) -> None:
    """Refuse to update a service whose git work tree has uncommitted changes.

    Raises:
        DirtyTreeError: It has some, or it is not in a git work tree at all.
    """
    if shutil.which("git") is None:
        msg = "scaffold update needs git; install it (or pass --force to update anyway)"
        raise DirtyTreeError(msg)
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "--", "."],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as ex:
        msg = f"cannot run git status in {root}: {ex}"
        raise TemplateError(msg) from ex
    if done.returncode != 0:
        msg = (
            f"{root} is not in a git work tree; commit the service first so the update can be "
            "reviewed and undone (or pass --force)"
        )
        raise DirtyTreeError(msg)
    dirty = done.stdout.splitlines()
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:3]) + (", ..." if len(dirty) > 3 else "")
        msg = f"uncommitted changes ({shown}); commit or stash them first (or pass --force)"
        raise DirtyTreeError(msg)
