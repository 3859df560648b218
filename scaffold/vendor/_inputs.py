"""What a ``scaffold vendor`` run is made from: the pyproject's lists, the target, the lock."""

from __future__ import annotations

import re
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import __version__
from scaffold._distnames import canonical_name, requirement_key
from scaffold.exceptions import VendorError
from scaffold.project import ServiceProject
from scaffold.vendor._lockfile import Lock, LockInputs, parse_lock


@dataclass(frozen=True)
class Target:
    """The interpreter and platform a lock is made for.

    Attributes:
        python_version: ``X.Y``.
        platform: A platform tag such as ``manylinux_2_17_x86_64``.
        cross: True when vendoring for another machine (binary wheels only, no import check).
    """

    python_version: str
    platform: str
    cross: bool

    def __str__(self) -> str:
        """Return ``Python X.Y on PLATFORM``, as messages name the target."""
        return f"Python {self.python_version} on {self.platform}"

    def pip_options(self) -> list[str]:
        """Return pip's target options (empty for this machine)."""
        if not self.cross:
            return []
        return [
            "--only-binary=:all:",
            "--python-version",
            self.python_version,
            "--platform",
            self.platform,
        ]

    def dry_run_options(self, workdir: Path) -> list[str]:
        """Target options for ``pip install --dry-run``.

        pip before 23.3 accepts ``--platform`` and ``--python-version`` only together with
        ``--target``; a dry run installs nothing, so an unused folder satisfies it.
        """
        if not self.cross:
            return []
        return [*self.pip_options(), "--target", str(workdir / "dry-run-target")]


def make_target(python_version: str | None, platform: str | None) -> Target:
    """Return the target for the given options (None = this interpreter and machine).

    Raises:
        VendorError: ``python_version`` is not ``X.Y`` or ``platform`` is not a tag.
    """
    native_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    native_platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    if python_version is not None and not re.fullmatch(r"\d\.\d{1,2}", python_version):
        msg = f"--python-version must look like 3.12, not {python_version!r}"
        raise VendorError(msg)
    if platform is not None and not re.fullmatch(r"[A-Za-z0-9_.]+", platform):
        msg = f"--platform must be a platform tag such as manylinux_2_17_x86_64, not {platform!r}"
        raise VendorError(msg)
    chosen = (python_version or native_python, platform or native_platform)
    return Target(*chosen, cross=chosen != (native_python, native_platform))


def read_inputs(
    project: ServiceProject, extras: Sequence[str], target: Target
) -> tuple[LockInputs, list[str]]:
    """Return the lock inputs of ``project`` and the requirement lines to resolve.

    Raises:
        VendorError: The dependency lists are missing, dynamic or malformed, or an extra
            is unknown.
    """
    source = project.root / "pyproject.toml"
    table: dict[str, Any] = project.pyproject.get("project") or {}
    if "dependencies" in table.get("dynamic", []):
        msg = f"{source}: [project].dependencies is dynamic; scaffold vendor needs it written out"
        raise VendorError(msg)
    dependencies = _string_list(table.get("dependencies", []), f"{source}: [project].dependencies")
    optional: dict[str, Any] = table.get("optional-dependencies") or {}
    by_key = {canonical_name(name): name for name in optional}
    selected: dict[str, tuple[str, ...]] = {}
    for extra in extras:
        name = by_key.get(canonical_name(extra))
        if name is None:
            known = ", ".join(sorted(optional)) or "none"
            msg = f"unknown extra {extra!r}: [project.optional-dependencies] has {known}"
            raise VendorError(msg)
        where = f"{source}: [project.optional-dependencies].{name}"
        selected[name] = tuple(_string_list(optional[name], where))
    build_system: dict[str, Any] = project.pyproject.get("build-system") or {}
    # pip's fallback for a project without [build-system] (PEP 518).
    build = _string_list(
        build_system.get("requires", ["setuptools>=40.8.0"]), f"{source}: [build-system].requires"
    )
    inputs = LockInputs(
        dependencies=tuple(dependencies),
        extras=tuple(sorted(selected.items())),
        build_requires=tuple(build),
        python_version=target.python_version,
        platform=target.platform,
        scaffold_version=__version__,
    )
    requirements = [*dependencies, *(req for _, reqs in inputs.extras for req in reqs), *build]
    own_name = canonical_name(project.name)
    for req in requirements:
        if requirement_key(req) == own_name:
            msg = (
                f"{source}: {req!r} names the service itself; list the packages of that "
                "extra directly instead"
            )
            raise VendorError(msg)
    return inputs, requirements


def read_lock(path: Path) -> Lock | None:
    """Return the parsed lock at ``path``, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as ex:
        msg = f"cannot read {path}: {ex}; delete it and run `scaffold vendor`"
        raise VendorError(msg) from ex
    return parse_lock(text)


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        msg = f"{where} must be a list of requirement strings"
        raise VendorError(msg)
    return [item.strip() for item in value]


def vendor_command_line(inputs: LockInputs, target: Target) -> str:
    """Return the ``scaffold vendor ...`` command line that re-creates a lock of ``inputs``."""
    parts = ["scaffold vendor", *(f"--extra {name}" for name in inputs.extra_names)]
    if target.cross:
        parts += [f"--python-version {target.python_version}", f"--platform {target.platform}"]
    return " ".join(parts)
