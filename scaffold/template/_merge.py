"""Three-way merge of one file, by ``git merge-file`` (standard conflict markers)."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scaffold.exceptions import TemplateError

# git merge-file exits with the number of conflicts, capped at 127; above that is an error.
_MAX_CONFLICTS = 127


@dataclass(frozen=True)
class Merge:
    """The result of merging one file: its new content and how many hunks conflict."""

    content: bytes
    conflicts: int


def merge_file(ours: bytes, base: bytes, theirs: bytes, *, theirs_label: str) -> Merge:
    """Merge the change from ``base`` to ``theirs`` into ``ours``.

    Conflicting hunks keep both sides between ``<<<<<<< yours`` and ``>>>>>>> theirs_label``.

    Raises:
        TemplateError: git is missing or cannot merge the files.
    """
    with tempfile.TemporaryDirectory(prefix="scaffold-merge-") as tmp:
        paths = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(content)
            paths.append(str(path))
        command = ["git", "merge-file", "-p", "-L", "yours", "-L", "base", "-L", theirs_label]
        try:
            done = subprocess.run([*command, *paths], capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as ex:
            msg = f"scaffold update merges with `git merge-file`, which failed to run: {ex}"
            raise TemplateError(msg) from ex
    if not 0 <= done.returncode <= _MAX_CONFLICTS:
        msg = f"git merge-file failed: {done.stderr.decode(errors='replace').strip()}"
        raise TemplateError(msg)
    return Merge(done.stdout, done.returncode)
