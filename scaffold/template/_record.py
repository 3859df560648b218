"""The template record a service carries: its answers and the pristine render, the merge base.

``scaffold new`` writes ``.scaffold/template.json`` into every service, committed with it: the
scaffold version, the answers the template was rendered with, and every file exactly as
rendered. ``scaffold update`` renders today's template with the same answers and merges the
change from that base into the service, then moves the record to the new base.

Format 1 (``.scaffold-template.json``, scaffold 0.1.0) kept only each file's SHA-256. It is
read and migrated: a base file's content is the service's own copy when that still has the
recorded digest, else the version in the service's git history that has it; a file found in
neither has an unknown base, which ``scaffold update`` merges as if both sides had added it.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold._digest import sha256
from scaffold.exceptions import TemplateError
from scaffold.template._bundled import TEMPLATE

RECORD_DIR = ".scaffold"
RECORD_NAME = "template.json"
RECORD = f"{RECORD_DIR}/{RECORD_NAME}"
RECORD_FORMAT = 2
LEGACY_MANIFEST = ".scaffold-template.json"


@dataclass
class TemplateRecord:
    """What a service was rendered from.

    Attributes:
        scaffold_version: The scaffold that rendered the base.
        answers: The template's answers (``project_slug``, ``package_name``, ...).
        files: The base: each file as rendered, by POSIX path.
        digests: SHA-256 of every base file, including those whose content is unknown.
        legacy: Read from a format-1 manifest (migrated when written back).
    """

    scaffold_version: str
    answers: dict[str, str]
    files: dict[str, bytes]
    digests: dict[str, str] = field(default_factory=dict)
    legacy: bool = False

    def __post_init__(self) -> None:
        for path, content in self.files.items():
            self.digests.setdefault(path, sha256(content))

    def unknown(self) -> set[str]:
        """Base files known only by digest."""
        return set(self.digests) - set(self.files)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by POSIX relative path, the record left out."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not _is_record(relative):
            files[relative] = path.read_bytes()
    return files


def _is_record(relative: str) -> bool:
    return relative == LEGACY_MANIFEST or relative.startswith(f"{RECORD_DIR}/")


def has_record(root: Path) -> bool:
    """Whether ``root`` carries a template record, of any format."""
    return (root / RECORD).is_file() or (root / LEGACY_MANIFEST).is_file()


def write_record(root: Path, record: TemplateRecord) -> None:
    """Write ``root/.scaffold/template.json`` (and drop a format-1 manifest)."""
    document = {
        "format": RECORD_FORMAT,
        "template": TEMPLATE,
        "scaffold_version": record.scaffold_version,
        "answers": dict(sorted(record.answers.items())),
        "files": {path: _encode(record.files[path]) for path in sorted(record.files)},
    }
    (root / RECORD_DIR).mkdir(exist_ok=True)
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    (root / RECORD).write_text(text, encoding="utf-8")
    (root / LEGACY_MANIFEST).unlink(missing_ok=True)


def _encode(content: bytes) -> str | dict[str, str]:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


def _decode(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("base64"), str):
        return base64.b64decode(value["base64"])
    msg = f"a file of {RECORD} is neither text nor base64"
    raise ValueError(msg)


def read_record(root: Path) -> TemplateRecord:
    """Read the record of the service at ``root``, migrating a format-1 manifest.

    Raises:
        TemplateError: There is none, or it cannot be read.
    """
    path = root / RECORD
    if not path.is_file():
        if (root / LEGACY_MANIFEST).is_file():
            return _read_legacy(root)
        msg = (
            f"{path} is missing: only services made by `scaffold new` can be updated "
            "(restore it from version control if it was deleted)"
        )
        raise TemplateError(msg)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != RECORD_FORMAT:
            msg = f"format {document.get('format')!r}, this scaffold reads {RECORD_FORMAT}"
            raise ValueError(msg)
        return TemplateRecord(
            scaffold_version=str(document["scaffold_version"]),
            answers={str(k): str(v) for k, v in document["answers"].items()},
            files={str(k): _decode(v) for k, v in document["files"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as ex:
        msg = f"{path} is unreadable ({ex}); restore it from version control"
        raise TemplateError(msg) from ex


def _read_legacy(root: Path) -> TemplateRecord:
    path = root / LEGACY_MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        answers = {str(k): str(v) for k, v in document["answers"].items()}
        digests = {str(k): str(v) for k, v in document["files"].items()}
        version = str(document.get("scaffold_version", "0.1.0"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as ex:
        msg = f"{path} is unreadable ({ex}); restore it from version control"
        raise TemplateError(msg) from ex
    files: dict[str, bytes] = {}
    for name, expected in digests.items():
        content = _recover(root, name, expected)
        if content is not None:
            files[name] = content
    return TemplateRecord(version, answers, files, digests=digests, legacy=True)


def _recover(root: Path, name: str, expected: str) -> bytes | None:
    """The content with digest ``expected`` of ``name``: the service's copy, or from git."""
    current = root / name
    if current.is_file() and sha256(current.read_bytes()) == expected:
        return current.read_bytes()
    commits = _git(root, "log", "--all", "--format=%H", "--", name)
    for commit in (commits or b"").decode().split():
        content = _git(root, "show", f"{commit}:./{name}")
        if content is not None and sha256(content) == expected:
            return content
    return None


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
