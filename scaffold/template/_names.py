"""Service name rules (DESIGN 4.1): what ``scaffold new NAME`` and the template's hook accept.

One implementation and one table, shared with plain cookiecutter: the rules are the function
``name_problem`` in the template's ``hooks/pre_gen_project.py`` (which imports nothing from
scaffold), applied to the table ``_name_rules`` in its ``cookiecutter.json``. Here they are
loaded from the bundled template, and the table's ``taken`` import names are joined by those of
the dependencies installed right now, read from their metadata.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any, cast

from packaging.requirements import Requirement

from scaffold import DISTRIBUTION
from scaffold._distnames import canonical_name
from scaffold.exceptions import InvalidServiceNameError, TemplateError
from scaffold.extras import NEW_EXTRA
from scaffold.template._bundled import template_path

RULES_KEY = "_name_rules"
_IMPORT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

NameProblem = Callable[[str, str, dict[str, Any]], "str | None"]


def package_name(name: str) -> str:
    """The Python package of service ``name``: ``acme-widgets`` -> ``acme_widgets``."""
    return name.replace("-", "_")


def validate_service_name(name: str) -> str:
    """Return ``name`` if it is a valid service name.

    Raises:
        InvalidServiceNameError: With a one-line reason and an example of a valid name.
    """
    rules = dict(name_rules())
    rules["taken"] = {**dependency_import_names(), **rules["taken"]}
    problem = _name_problem()(name, package_name(name), rules)
    if problem is not None:
        msg = f"invalid service name {name!r}: {problem} (e.g. acme-widgets)"
        raise InvalidServiceNameError(msg)
    return name


@functools.cache
def name_rules() -> dict[str, Any]:
    """The template's ``_name_rules`` table: pattern, max_length, reserved and taken."""
    path = template_path() / "cookiecutter.json"
    rules = json.loads(path.read_text(encoding="utf-8")).get(RULES_KEY)
    if not isinstance(rules, dict):
        msg = f"{path} has no {RULES_KEY} table; reinstall scaffold"
        raise TemplateError(msg)
    return rules


@functools.cache
def _name_problem() -> NameProblem:
    path = template_path() / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("scaffold_template_name_rules", path)
    if spec is None or spec.loader is None:
        msg = f"cannot load the name rules from {path}; reinstall scaffold"
        raise TemplateError(msg)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(NameProblem, module.name_problem)


@functools.cache
def dependency_import_names(
    root: str = DISTRIBUTION, extras: tuple[str, ...] = (NEW_EXTRA,)
) -> dict[str, str]:
    """Top-level import names of ``root``'s installed dependency closure -> their distribution.

    ``root`` itself is left out (its package, ``scaffold``, is reserved by the table); so
    are names a service package cannot take anyway (``_yaml``, ``PIL``).
    """
    names: dict[str, str] = {}
    for dist in _closure(root, extras):
        for name in _top_level(dist):
            if _IMPORT_NAME.match(name):
                names.setdefault(name, dist.metadata["Name"])
    return names


def _closure(root: str, extras: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``root[extras]`` needs, following markers; not ``root``."""
    seen: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    while pending:
        name, wanted = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in wanted or {""}
            ):
                key = canonical_name(requirement.name)
                if key not in seen and key != canonical_name(root):
                    try:
                        seen[key] = metadata.distribution(requirement.name)
                    except metadata.PackageNotFoundError:
                        continue
                    pending.append((requirement.name, frozenset(requirement.extras)))
    return list(seen.values())


def _top_level(dist: metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".pth")):
            continue
        if len(file.parts) > 1 or first.endswith((".py", ".so", ".pyd")):
            names.add(first.partition(".")[0])
    return names
