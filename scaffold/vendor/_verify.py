"""Prove a new lock installs from ``vendor/`` alone, before it replaces the old one.

On this machine the lock and the service install into a throwaway venv with no index, and
the service's factory is imported there. For another target nothing can run, so only pip's
offline resolution of the lock is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from scaffold.exceptions import VendorError
from scaffold.vendor._inputs import Target
from scaffold.vendor._pip import pip_environment, run_pip
from scaffold.vendor._report import Progress


def verify_install(
    wheels: Path,
    lock: Path,
    *,
    project_root: Path,
    factory: str,
    target: Target,
    workdir: Path,
    progress: Progress,
) -> str:
    """Install the lock from ``wheels`` alone into a throwaway venv and import the factory.

    For a foreign target only pip's offline resolution is checked (nothing can run).

    Returns:
        A short description of what was verified.
    """
    offline = ["--no-index", "--find-links", str(wheels)]
    if target.cross:
        progress("Verifying: resolving the lock offline from vendor/ for the target")
        run_pip(
            [
                "install",
                "--dry-run",
                "--ignore-installed",
                *offline,
                "--require-hashes",
                *target.dry_run_options(workdir),
                "-r",
                str(lock),
            ],
            what="verifying the lock offline for the target",
            progress=progress,
            offline=True,
        )
        return f"the lock resolves offline from vendor/ for Python {target.python_version}"
    import venv

    env_dir = workdir / "verify-venv"
    progress("Verifying: installing the lock from vendor/ into a throwaway venv")
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    into = ["--python", str(python), "install", "--no-compile", *offline]
    run_pip(
        [*into, "--require-hashes", "-r", str(lock)],
        what="verifying: pip install --no-index --find-links vendor --require-hashes "
        "-r requirements.lock",
        progress=progress,
        offline=True,
    )
    progress("Verifying: installing the service itself offline")
    run_pip(
        [*into, "."],
        what="verifying: pip install --no-index --find-links vendor . (the service)",
        progress=progress,
        offline=True,
        cwd=project_root,
    )
    progress(f"Verifying: importing {factory}")
    _import_factory(python, factory, cwd=workdir)
    return f"installed offline into a fresh venv and imported {factory}"


_IMPORT_CHECK = """
import importlib, sys
module_name, _, attribute = sys.argv[1].partition(":")
module = importlib.import_module(module_name)
factory = module
for part in attribute.split("."):
    factory = getattr(factory, part)
if not callable(factory):
    raise SystemExit(f"{sys.argv[1]} is not callable")
"""


def _import_factory(python: Path, factory: str, *, cwd: Path) -> None:
    try:
        result = subprocess.run(
            [str(python), "-I", "-c", _IMPORT_CHECK, factory],
            capture_output=True,
            text=True,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            env=pip_environment(offline=True),
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as ex:
        msg = f"verifying: cannot run {python}: {ex}"
        raise VendorError(msg) from ex
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        missing = re.search(r"No module named '([^']+)'", last)
        hint = (
            f"; is the package providing {missing[1]!r} missing from [project].dependencies?"
            if missing
            else ""
        )
        msg = f"verifying: importing {factory} from vendor/ failed: {last}{hint}"
        raise VendorError(msg)
