"""Render the bundled template, and the manifest that lets ``scaffold update`` merge later.

``scaffold new`` writes ``.scaffold-template.json`` into every service: the answers the
template was rendered with, the scaffold version, and the SHA-256 of each file as rendered.
``scaffold update`` re-renders with the same answers and compares three versions of each file:
as rendered then (the manifest), as it is now in the service, and as the template renders it
today. A file the team never edited can be replaced safely; an edited one cannot.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import CookiecutterException
from cookiecutter.main import cookiecutter

from scaffold import DISTRIBUTION, __version__
from scaffold.bundled import template_path
from scaffold.exceptions import TemplateError
from scaffold.extras import NEW_EXTRA

MANIFEST = ".scaffold-template.json"
MANIFEST_FORMAT = 1
ANSWERS = ("project_slug", "package_name", "description")
# What may sit in the installed template folder without being part of the template.
_NOT_TEMPLATE = shutil.ignore_patterns(
    "__pycache__", "*.py[co]", "*~", ".*.sw[po]", ".#*", ".DS_Store"
)


def scaffold_requirement(version: str = __version__, *, extra: str | None = None) -> str:
    """The dependency a new service declares on scaffold: this minor series (0.x) or major.

    ``extra`` names one of the distribution's extras, e.g. ``new`` for the test extra.
    """
    name = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return name
    if major == 0:
        return f"{name}>={major}.{minor},<{major}.{minor + 1}"
    return f"{name}>={major}.{minor},<{major + 1}"


def template_requirements(version: str = __version__) -> dict[str, str]:
    """The template's requirement variables: the core, and with the extra for ``new``."""
    return {
        "_scaffold_requirement": scaffold_requirement(version),
        "_scaffold_new_requirement": scaffold_requirement(version, extra=NEW_EXTRA),
    }


def render(answers: dict[str, str], work: Path) -> Path:
    """Render the service template with ``answers`` under ``work``; return the new folder.

    ``work`` also receives cookiecutter's replay and cache folders, so nothing is written
    outside it (cookiecutter's user config is ignored: renders are reproducible).

    Raises:
        TemplateError: cookiecutter failed (including the template's own name check).
    """
    context: dict[str, Any] = {**answers, **template_requirements()}
    try:
        # A clean copy first: pip compiles the installed template's .py files, and an editor
        # leaves its own beside them; neither is template source, so neither reaches a service.
        source = shutil.copytree(template_path(), work / "template", ignore=_NOT_TEMPLATE)
        result = cookiecutter(
            str(source),
            no_input=True,
            extra_context=context,
            output_dir=str(work / "out"),
            default_config={
                "replay_dir": str(work / "replay"),
                "cookiecutters_dir": str(work / "cookiecutters"),
            },
        )
    except (CookiecutterException, OSError) as ex:
        msg = f"rendering the service template failed: {ex}"
        raise TemplateError(msg) from ex
    return Path(result)


def file_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by POSIX relative path (the manifest excluded)."""
    digests = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            digests[path.relative_to(root).as_posix()] = digest(path)
    return digests


def digest(path: Path) -> str:
    """SHA-256 of one file's bytes, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(root: Path, answers: dict[str, str], files: dict[str, str]) -> None:
    """Write ``root/.scaffold-template.json``."""
    document = {
        "format": MANIFEST_FORMAT,
        "template": "service",
        "scaffold_version": __version__,
        "answers": {key: answers[key] for key in ANSWERS if key in answers},
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_manifest(root: Path) -> dict[str, Any]:
    """Read ``root/.scaffold-template.json``.

    Raises:
        TemplateError: It is missing or unreadable (the folder was not made by ``scaffold new``).
    """
    path = root / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        msg = f"{path} is missing: only services made by `scaffold new` can be updated"
        raise TemplateError(msg) from ex
    except (OSError, ValueError) as ex:
        msg = f"{path} is unreadable ({ex}); restore it from version control"
        raise TemplateError(msg) from ex
    if (
        not isinstance(document, dict)
        or document.get("format") != MANIFEST_FORMAT
        or not isinstance(document.get("answers"), dict)
        or not isinstance(document.get("files"), dict)
    ):
        msg = f"{path} is not a format-{MANIFEST_FORMAT} scaffold manifest"
        raise TemplateError(msg)
    return document
