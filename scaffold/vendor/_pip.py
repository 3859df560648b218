"""Run pip for ``scaffold vendor``: resolve, and fetch the wheels resolved.

Every pip call runs as a subprocess of the running interpreter with an environment that ignores
pip's config files and every ``PIP_*`` variable that changes *what* is resolved (find-links, extra
indexes, constraints, pre-releases, binary rules), so a lock made on a laptop matches one made in
CI. Transport settings (``PIP_INDEX_URL`` for a mirror, certificates, proxy, timeouts) are kept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from scaffold._distnames import canonical_name
from scaffold.exceptions import VendorError
from scaffold.vendor._inputs import Target
from scaffold.vendor._report import Progress

MIN_PIP = (23, 1)
_KEPT_VARIABLES = frozenset(
    {
        "PIP_INDEX_URL",
        "PIP_CERT",
        "PIP_CLIENT_CERT",
        "PIP_PROXY",
        "PIP_TRUSTED_HOST",
        "PIP_TIMEOUT",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_RETRIES",
        "PIP_CACHE_DIR",
        "PIP_NO_CACHE_DIR",
    }
)
RESOLVING = ("Collecting",)
FETCHING = ("Downloading", "Building wheel for")


@dataclass(frozen=True)
class Resolved:
    """One distribution of pip's resolution.

    Attributes:
        name: Its name as its metadata spells it.
        version: Its version.
        url: Where pip would fetch it from.
        filename: The file name at that URL.
        sha256: The file's digest when the index gave one.
        requirement: A requirement line that fetches exactly this file.
        source_id: A stable description of the source, or None when it may change
            (a local folder), used to decide whether an earlier build can be reused.
    """

    name: str
    version: str
    url: str
    filename: str
    sha256: str | None
    requirement: str
    source_id: str | None

    @property
    def key(self) -> str:
        """Return the canonical name."""
        return canonical_name(self.name)

    @property
    def is_wheel(self) -> bool:
        """Return whether pip fetches a ready wheel (else it builds one)."""
        return self.filename.endswith(".whl") and self.sha256 is not None


def pip_environment(*, offline: bool = False) -> dict[str, str]:
    """Return the environment for pip subprocesses (see the module docstring)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PIP_") or key in _KEPT_VARIABLES
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if offline:
        env.pop("PIP_INDEX_URL", None)
    return env


def pip_version() -> str:
    """Return the version of the pip next to the running interpreter, checking it is usable."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        found = version("pip")
    except PackageNotFoundError as ex:
        msg = (
            "scaffold vendor needs pip in the environment running scaffold; "
            f"install it with `{sys.executable} -m ensurepip`"
        )
        raise VendorError(msg) from ex
    numbers = tuple(int(part) for part in re.findall(r"\d+", found)[:2])
    if numbers < MIN_PIP:
        msg = (
            f"scaffold vendor needs pip >= {'.'.join(map(str, MIN_PIP))}, found pip {found}; "
            f"upgrade it with `{sys.executable} -m pip install -U pip`"
        )
        raise VendorError(msg)
    return found


def run_pip(
    args: Sequence[str],
    *,
    what: str,
    progress: Progress,
    offline: bool = False,
    cwd: Path | None = None,
    echo: tuple[str, ...] = (),
) -> str:
    """Run ``python -m pip ARGS``; pass its lines starting with ``echo`` to ``progress``.

    Raises:
        VendorError: pip failed; the message names ``what`` was being done and quotes
            pip's ``ERROR:`` lines, which name the package.
    """
    command = [sys.executable, "-m", "pip", *args]
    lines: list[str] = []
    try:
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=pip_environment(offline=offline),
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
        ) as process:
            for line in process.stdout or ():
                lines.append(line.rstrip("\n"))
                shown = line.strip()
                if echo and shown.startswith(echo):
                    progress("  " + shown.split(" (from ", 1)[0])
            code = process.wait()
    except OSError as ex:
        msg = f"{what}: cannot run pip: {ex}"
        raise VendorError(msg) from ex
    output = "\n".join(lines)
    if code != 0:
        raise VendorError(f"{what} failed:\n" + pip_errors(output))
    return output


def pip_errors(output: str) -> str:
    """Return the lines of pip's output that explain a failure (its ``ERROR:`` lines)."""
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
    hashes = [
        line.strip()
        for line in output.splitlines()
        if re.match(r"^\s+\S+==\S+ from ", line) or "Expected sha256" in line or "Got " in line
    ]
    picked = errors + hashes or [line for line in output.splitlines() if line.strip()][-5:]
    return "\n".join(f"  {line.strip()}" for line in picked)


def resolve(
    requirements: Sequence[str],
    constraints: Sequence[str],
    *,
    target: Target,
    workdir: Path,
    progress: Progress,
) -> list[Resolved]:
    """Resolve ``requirements`` with pip and return every distribution it would install.

    Uses ``pip install --dry-run --ignore-installed --report``: pip's own resolver, reading
    only metadata where the index offers it (PEP 658), never installing anything.
    """
    req_file = workdir / "requirements.in"
    req_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    report = workdir / "report.json"
    args = [
        "install",
        "--dry-run",
        "--ignore-installed",
        "--report",
        str(report),
        *target.dry_run_options(workdir),
        "-r",
        str(req_file),
    ]
    if constraints:
        constraint_file = workdir / "constraints.txt"
        constraint_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
        args += ["-c", str(constraint_file)]
    what = "resolving the dependencies"
    if target.cross:
        what += f" (for {target}: binary wheels only)"
    run_pip(args, what=what, progress=progress, echo=RESOLVING)
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return [_resolved(item) for item in data["install"]]
    except (OSError, ValueError, KeyError, TypeError) as ex:
        msg = f"cannot read pip's installation report {report}: {ex}"
        raise VendorError(msg) from ex


def _resolved(item: dict[str, Any]) -> Resolved:
    name = str(item["metadata"]["name"])
    version = str(item["metadata"]["version"])
    info = item["download_info"]
    url = str(info["url"])
    filename = unquote(urlparse(url).path.rsplit("/", 1)[-1])
    archive = info.get("archive_info")
    vcs = info.get("vcs_info")
    sha256 = None
    if archive is not None:
        sha256 = archive.get("hashes", {}).get("sha256")
        if sha256 is None and str(archive.get("hash", "")).startswith("sha256="):
            sha256 = str(archive["hash"]).removeprefix("sha256=")
    if vcs is not None:
        location = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
        return Resolved(name, version, location, filename, None, f"{name} @ {location}", location)
    requirement = f"{name} @ {url}" + (f" --hash=sha256:{sha256}" if sha256 else "")
    source_id = f"{filename} sha256:{sha256}" if sha256 else None
    return Resolved(name, version, url, filename, sha256, requirement, source_id)


def fetch(
    items: Sequence[Resolved], *, target: Target, dest: Path, workdir: Path, progress: Progress
) -> None:
    """Put a wheel of each item into ``dest``: downloaded as is, or built from its sdist.

    Each file is fetched by its exact URL and checked against the hash the resolver saw.
    """
    hashed = [item for item in items if item.sha256]
    unhashed = [item for item in items if not item.sha256]
    # One requirement with --hash puts pip in hash-checking mode for the whole file, so
    # sources without a digest (a local folder, a VCS checkout) go in a call of their own.
    for batch, name in ((hashed, "fetch-hashed.txt"), (unhashed, "fetch-unhashed.txt")):
        if not batch:
            continue
        req_file = workdir / name
        req_file.write_text("\n".join(item.requirement for item in batch) + "\n", encoding="utf-8")
        common = ["--no-deps", "-r", str(req_file)]
        if target.cross:
            args = ["download", *common, *target.pip_options(), "--dest", str(dest)]
        else:
            args = ["wheel", *common, "--wheel-dir", str(dest)]
        names = ", ".join(item.name for item in batch)
        run_pip(args, what=f"fetching {names}", progress=progress, echo=FETCHING)
