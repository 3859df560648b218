"""Find a service's root and read its ``[tool.scaffold]`` table."""

from __future__ import annotations

import importlib.metadata
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.exceptions import ProjectNotFoundError

DEFAULT_CONFIG = "config.yml"


@dataclass(frozen=True)
class ServiceProject:
    """A service folder as ``scaffold`` commands see it.

    Attributes:
        root: The folder holding ``pyproject.toml``.
        name: ``[project].name``.
        factory: ``module:callable`` that builds the :class:`~scaffold.runtime.Service`.
        config_path: The service's YAML config, absolute.
        pyproject: The parsed ``pyproject.toml``.
    """

    root: Path
    name: str
    factory: str
    config_path: Path
    pyproject: dict[str, Any]

    @property
    def version(self) -> str | None:
        """``[project].version``; for a dynamic version, that of the installed distribution."""
        static = self.pyproject.get("project", {}).get("version")
        if isinstance(static, str):
            return static
        try:
            return importlib.metadata.version(self.name)
        except importlib.metadata.PackageNotFoundError:
            return None


def find_project(start: Path | None = None) -> ServiceProject:
    """Return the nearest service project at or above ``start`` (default: the cwd).

    Raises:
        ProjectNotFoundError: No ``pyproject.toml`` with ``[tool.scaffold]`` on the way up,
            or that table lacks ``service``.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        data = _read_pyproject(candidate)
        table = _scaffold_table(data)
        if data is not None and table is not None:
            return _project_from(folder, data, table, candidate)
    msg = (
        f"no pyproject.toml with a [tool.scaffold] table in {here} or above; "
        "run this inside a service made by `scaffold new`"
    )
    raise ProjectNotFoundError(msg)


def declares_service(folder: Path) -> bool:
    """Whether ``folder``'s ``pyproject.toml`` has a ``[tool.scaffold]`` table naming a service.

    Only that the table names one is checked (:func:`find_project` checks the rest); a missing
    or unreadable ``pyproject.toml`` declares nothing.
    """
    try:
        data = _read_pyproject(folder / "pyproject.toml")
    except ProjectNotFoundError:
        return False
    table = _scaffold_table(data)
    return isinstance(table, dict) and "service" in table


def _read_pyproject(path: Path) -> dict[str, Any] | None:
    """Return the parsed ``path``, or None when there is no such file.

    Raises:
        ProjectNotFoundError: It cannot be read or is not TOML.
    """
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as ex:
        msg = f"{path}: cannot read it: {ex}"
        raise ProjectNotFoundError(msg) from ex


def _scaffold_table(pyproject: dict[str, Any] | None) -> Any:
    """Return the ``[tool.scaffold]`` table of a parsed ``pyproject.toml``, or None."""
    return None if pyproject is None else pyproject.get("tool", {}).get("scaffold")


def _project_from(root: Path, data: dict[str, Any], table: Any, source: Path) -> ServiceProject:
    if not isinstance(table, dict):
        msg = f"{source}: [tool.scaffold] must be a table"
        raise ProjectNotFoundError(msg)
    factory = table.get("service")
    if not isinstance(factory, str) or ":" not in factory:
        msg = (
            f'{source}: [tool.scaffold] service must be "module:callable", '
            'e.g. service = "acme_widgets.app:create_service"'
        )
        raise ProjectNotFoundError(msg)
    config = table.get("config", DEFAULT_CONFIG)
    if not isinstance(config, str):
        msg = f"{source}: [tool.scaffold] config must be a path string"
        raise ProjectNotFoundError(msg)
    name = data.get("project", {}).get("name", root.name)
    return ServiceProject(
        root=root,
        name=str(name),
        factory=factory,
        config_path=(root / config).resolve(),
        pyproject=data,
    )
