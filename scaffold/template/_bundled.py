"""Locate the bundled cookiecutter templates (in the wheel, or in a source checkout)."""

from __future__ import annotations

from pathlib import Path

from scaffold.exceptions import TemplateError

# This file is scaffold/template/_bundled.py; the templates sit relative to scaffold/.
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The template `scaffold new` renders, as the templates folder and a service's record name it.
TEMPLATE = "service"


def template_path(name: str = TEMPLATE) -> Path:
    """Return the folder of template ``name``.

    A wheel carries the templates as ``scaffold/templates``; an editable install or a
    source checkout has them at the repository's top-level ``templates/``.
    """
    for base in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        candidate = base / name
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    msg = f"the {name!r} template is missing from this scaffold installation; reinstall scaffold"
    raise TemplateError(msg)
