"""Render the bundled service template with given answers (``scaffold new`` and ``update``).

The render is reproducible: cookiecutter's user config is ignored, the template is copied
clean first, and the answers it used come back with it, for the service's template record
(:mod:`scaffold.template._record`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import CookiecutterException
from cookiecutter.main import cookiecutter

from scaffold import DISTRIBUTION, __version__
from scaffold.exceptions import TemplateError
from scaffold.extras import NEW_EXTRA
from scaffold.template._bundled import template_path

# The folder name of the template's clean copy, which names cookiecutter's replay file too.
TEMPLATE_COPY = "template"
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


@contextlib.contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """Point :mod:`tempfile` at ``folder`` for a while.

    cookiecutter writes each rendered hook to a temporary file it never deletes; inside the
    work folder, it goes when the work folder does.
    """
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def template_requirements(version: str = __version__) -> dict[str, str]:
    """The template's requirement variables: the core, and with the extra for ``new``."""
    return {
        "_scaffold_requirement": scaffold_requirement(version),
        "_scaffold_new_requirement": scaffold_requirement(version, extra=NEW_EXTRA),
    }


@dataclass(frozen=True)
class Rendered:
    """A render of the template.

    Attributes:
        root: The rendered service folder.
        answers: Every answer the render used: those given, and the template's defaults for
            the rest (private ``_`` variables left out).
    """

    root: Path
    answers: dict[str, str]


def render(answers: dict[str, str], work: Path, *, template: Path | None = None) -> Rendered:
    """Render the service template with ``answers`` under ``work``.

    ``work`` also receives cookiecutter's replay and cache folders, so nothing is written
    outside it (cookiecutter's user config is ignored: renders are reproducible).

    Args:
        answers: Answers for the template's variables; the rest take their defaults.
        work: An empty folder to render in.
        template: Another template folder (default: the bundled ``service`` template).

    Raises:
        TemplateError: cookiecutter failed (including the template's own name check).
    """
    context: dict[str, Any] = {**answers, **template_requirements()}
    try:
        # A clean copy first: pip compiles the installed template's .py files, and an editor
        # leaves its own beside them; neither is template source, so neither reaches a service.
        source = shutil.copytree(
            template or template_path(), work / TEMPLATE_COPY, ignore=_NOT_TEMPLATE
        )
        with _temporary_files_in(work / "tmp"):
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
        replay = json.loads((work / "replay" / f"{TEMPLATE_COPY}.json").read_text("utf-8"))
    except (CookiecutterException, OSError, ValueError) as ex:
        msg = f"rendering the service template failed: {ex}"
        raise TemplateError(msg) from ex
    used = {
        str(key): str(value)
        for key, value in replay["cookiecutter"].items()
        if not str(key).startswith("_") and isinstance(value, str)
    }
    return Rendered(Path(result), used)
