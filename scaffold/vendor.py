"""``scaffold vendor``: lock a service's dependencies with hashes, keep their wheels in ``vendor/``.

pip does the work (see :mod:`scaffold._vendor_pip`): ``pip install --dry-run --report`` resolves,
``pip wheel`` / ``pip download`` fetch exactly the files resolved (by URL and hash), and a
throwaway venv proves the result installs with ``--no-index --require-hashes``. ``scaffold``
itself never comes from an index (see :mod:`scaffold._vendor_self`).

A run whose inputs and files already match the lock touches no network: it only rebuilds
scaffold's own wheel (offline) to confirm the pinned one is still current.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scaffold import DISTRIBUTION, __version__
from scaffold._digest import sha256
from scaffold._distnames import requirement_key, wheel_name
from scaffold._lockfile import (
    LOCK_NAME,
    VENDOR_NAME,
    Lock,
    LockInputs,
    Pin,
    find_drift,
    render_lock,
)
from scaffold._vendor_inputs import (
    make_target,
    read_inputs,
    read_lock,
    vendor_command_line,
)
from scaffold._vendor_pip import Resolved, Target, fetch, pip_version, resolve, verify_install
from scaffold._vendor_self import own_wheel
from scaffold.exceptions import VendorDriftError, VendorError
from scaffold.project import ServiceProject

__all__ = ["VendorReport", "check_vendor", "vendor"]

Progress = Callable[[str], None]
_OWN_SOURCE = "the running scaffold, never an index"


def _silent(_: str) -> None:
    return None


@dataclass
class VendorReport:
    """What a ``scaffold vendor`` run did.

    Attributes:
        lock_path: The lock written or confirmed.
        target: The interpreter and platform vendored for.
        pins: How many distributions the lock pins.
        up_to_date: True when nothing needed to change (and nothing was fetched).
        downloaded: Wheels fetched from the index.
        built: Wheels built (from sdists, and scaffold's own when it changed).
        reused: How many wheels already in ``vendor/`` were kept.
        removed: Wheels deleted from ``vendor/`` because the lock no longer names them.
        verified: What the verification proved, or None when nothing changed.
        seconds: Wall time of the run.
    """

    lock_path: Path
    target: Target
    pins: int
    up_to_date: bool = False
    downloaded: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    verified: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """Return a few lines saying what was done."""
        where = f"Python {self.target.python_version} on {self.target.platform}"
        if self.up_to_date:
            return (
                f"{LOCK_NAME} and {VENDOR_NAME}/ are up to date ({self.pins} wheels for {where}); "
                f"nothing downloaded ({self.seconds:.1f} s)"
            )
        lines = [
            f"Locked {self.pins} distributions for {where} in {LOCK_NAME}",
            f"{VENDOR_NAME}/: {len(self.downloaded)} downloaded, {len(self.built)} built, "
            f"{self.reused} reused, {len(self.removed)} removed",
        ]
        if self.verified:
            lines.append(f"Verified: {self.verified}")
        lines.append(f"Done in {self.seconds:.1f} s")
        return "\n".join(lines)


def vendor(
    project: ServiceProject,
    *,
    extras: Sequence[str] = (),
    python_version: str | None = None,
    platform: str | None = None,
    progress: Progress = _silent,
) -> VendorReport:
    """Write ``requirements.lock`` and ``vendor/`` for ``project``, then verify they install.

    Args:
        project: The service.
        extras: Optional dependency groups to add, e.g. ``("test",)``.
        python_version: Target ``X.Y`` (default: the running interpreter).
        platform: Target platform tag (default: this machine).
        progress: Called with one line per step; the CLI silences it in CI.

    Raises:
        VendorError: Resolution, download, build or verification failed; the message names
            the package. ``requirements.lock`` and ``vendor/`` are then left as they were.
    """
    started = time.monotonic()
    try:
        report = _vendor(project, extras, python_version, platform, progress)
    except OSError as ex:
        msg = f"scaffold vendor: {ex.filename or 'a file'}: {ex.strerror or ex}"
        raise VendorError(msg) from ex
    report.seconds = time.monotonic() - started
    return report


def _vendor(
    project: ServiceProject,
    extras: Sequence[str],
    python_version: str | None,
    platform: str | None,
    progress: Progress,
) -> VendorReport:
    pip = pip_version()
    target = make_target(python_version, platform)
    inputs, requirements = read_inputs(project, extras, target)
    lock_path, vendor_dir = project.root / LOCK_NAME, project.root / VENDOR_NAME
    old = read_lock(lock_path)
    with tempfile.TemporaryDirectory(prefix="scaffold-vendor-") as tmp:
        work = Path(tmp)
        own: Path | None = None
        if DISTRIBUTION in {requirement_key(req) for req in requirements}:
            (work / "own").mkdir()
            existing = vendor_dir if vendor_dir.is_dir() else None
            own = own_wheel(work / "own", find_links=existing, progress=progress)
        reasons = _update_reasons(old, inputs, vendor_dir, own)
        if not reasons:
            return VendorReport(
                lock_path,
                target,
                len(old.pins) if old else 0,
                up_to_date=True,
                reused=len(old.pins) if old else 0,
            )
        for reason in reasons:
            progress(f"Updating: {reason}")
        report = VendorReport(lock_path, target, 0)
        pins, staged = _lock_and_stage(
            project, inputs, requirements, old, own, target, work, report, progress
        )
        text = render_lock(
            inputs,
            pins,
            command=vendor_command_line(inputs, target),
            tools=f"scaffold {__version__}, pip {pip}",
        )
        candidate = work / LOCK_NAME
        candidate.write_text(text, encoding="utf-8")
        report.verified = verify_install(
            staged,
            candidate,
            project_root=project.root,
            factory=project.factory,
            target=target,
            workdir=work,
            progress=progress,
        )
        report.removed = _commit(staged, pins, candidate, vendor_dir, lock_path)
    report.pins = len(pins)
    return report


def check_vendor(
    project: ServiceProject,
    *,
    extras: Sequence[str] = (),
    python_version: str | None = None,
    platform: str | None = None,
) -> None:
    """Check offline that the lock matches the inputs and ``vendor/`` matches the lock.

    Raises:
        VendorDriftError: One line per drift (stale lock, missing wheel, extra wheel, hash
            mismatch), then the command that fixes it.
    """
    target = make_target(python_version, platform)
    inputs, _ = read_inputs(project, extras, target)
    try:
        lock = read_lock(project.root / LOCK_NAME)
        drift = find_drift(lock, inputs, project.root / VENDOR_NAME)
    except OSError as ex:
        msg = f"cannot read {ex.filename}: {ex.strerror}"
        raise VendorDriftError(msg) from ex
    if drift:
        command = vendor_command_line(inputs, target)
        fix = f"fix: run `{command}` and commit {LOCK_NAME} and {VENDOR_NAME}/"
        raise VendorDriftError("\n".join([*drift, fix]))


def _update_reasons(
    old: Lock | None, inputs: LockInputs, vendor_dir: Path, own: Path | None
) -> list[str]:
    """Return why the lock or ``vendor/`` must change; empty when both are current."""
    if old is None:
        return [f"there is no {LOCK_NAME} yet"]
    reasons = find_drift(old, inputs, vendor_dir)
    pinned = [pin for pin in old.pins if pin.key == DISTRIBUTION]
    if own is not None and not (len(pinned) == 1 and pinned[0].sha256 == sha256(own)):
        reasons.append("the running scaffold's wheel differs from the locked one")
    return reasons


def _lock_and_stage(
    project: ServiceProject,
    inputs: LockInputs,
    requirements: list[str],
    old: Lock | None,
    own: Path | None,
    target: Target,
    work: Path,
    report: VendorReport,
    progress: Progress,
) -> tuple[list[Pin], Path]:
    """Resolve, then gather every wheel of the new lock in a staging folder."""
    staged = work / "wheels"
    fetched = work / "fetched"
    staged.mkdir()
    fetched.mkdir()
    own_lines = [f"{DISTRIBUTION} @ {own.as_uri()}"] if own else []
    # Our own wheel goes first: pip then takes our distribution from this file only.
    resolved = _resolve_keeping_pins(
        [*own_lines, *requirements], old, requirements, target, work, progress
    )
    own_hash = sha256(own) if own else ""
    vendor_dir = project.root / VENDOR_NAME
    previous = {pin.key: pin for pin in old.pins} if old else {}
    pins: list[Pin] = []
    missing: list[Resolved] = []
    for item in resolved:
        if item.key == DISTRIBUTION:
            if own is None or item.sha256 != own_hash:
                msg = (
                    f"pip resolved {DISTRIBUTION} from {item.url}, not from the running "
                    f"scaffold; add {DISTRIBUTION} to [project].dependencies of {project.name}"
                )
                raise VendorError(msg)
            pin = Pin(item.name, item.version, own_hash, own.name, _OWN_SOURCE)
            if _reusable(vendor_dir, pin):
                report.reused += 1
            else:
                report.built.append(own.name)
            shutil.copy2(own, staged / own.name)
            pins.append(pin)
            continue
        kept = _kept_pin(item, previous.get(item.key), vendor_dir)
        if kept is None:
            missing.append(item)
            continue
        shutil.copy2(vendor_dir / kept.filename, staged / kept.filename)
        report.reused += 1
        pins.append(kept)
    if missing:
        progress(f"Fetching {len(missing)} wheels: {', '.join(item.name for item in missing)}")
        fetch(missing, target=target, dest=fetched, workdir=work, progress=progress)
    pins += _collect_fetched(missing, fetched, staged, report)
    return pins, staged


def _resolve_keeping_pins(
    lines: list[str],
    old: Lock | None,
    requirements: list[str],
    target: Target,
    work: Path,
    progress: Progress,
) -> list[Resolved]:
    """Resolve, preferring the versions the old lock pinned, so only what changed moves.

    pip has no "prefer" option, so the old pins are tried as constraints; if they conflict
    with the new inputs, the directly required names are freed, then all of them.
    """
    kept = [
        pin
        for pin in (old.pins if old else [])
        if pin.key != DISTRIBUTION and (pin.built_from is None or "sha256:" in pin.built_from)
    ]
    direct = {requirement_key(req) for req in requirements}
    freed = [pin for pin in kept if pin.key not in direct]
    attempts = [kept, *([freed] if freed != kept else [])] if kept else []
    where = f"Python {target.python_version} on {target.platform}"
    for pins in attempts:
        progress(f"Resolving dependencies for {where}, keeping {len(pins)} locked versions")
        try:
            return resolve(
                lines,
                [f"{pin.name}=={pin.version}" for pin in pins],
                target=target,
                workdir=work,
                progress=progress,
            )
        except VendorError:
            progress("  the locked versions conflict with the new inputs; loosening")
    progress(f"Resolving dependencies for {where}")
    return resolve(lines, [], target=target, workdir=work, progress=progress)


def _kept_pin(item: Resolved, previous: Pin | None, vendor_dir: Path) -> Pin | None:
    """Return the pin for ``item`` if ``vendor/`` already holds its wheel, else None."""
    if item.is_wheel:
        assumed = Pin(item.name, item.version, str(item.sha256), item.filename)
        return assumed if _reusable(vendor_dir, assumed) else None
    if (
        previous is not None
        and item.source_id is not None
        and previous.built_from == item.source_id
        and previous.version == item.version
        and _reusable(vendor_dir, previous)
    ):
        return previous
    return None


def _reusable(vendor_dir: Path, pin: Pin) -> bool:
    path = vendor_dir / pin.filename
    return bool(pin.filename) and path.is_file() and sha256(path) == pin.sha256


def _collect_fetched(
    items: list[Resolved], fetched: Path, staged: Path, report: VendorReport
) -> list[Pin]:
    """Match each fetched wheel to its item, check its hash, and move it to ``staged``."""
    files = {wheel_name(path.name): path for path in fetched.glob("*.whl")}
    pins: list[Pin] = []
    for item in items:
        path = files.get(item.key)
        if path is None:
            msg = f"pip fetched no wheel for {item.name} {item.version} from {item.url}"
            raise VendorError(msg)
        digest = sha256(path)
        if item.is_wheel:
            if digest != item.sha256:
                msg = (
                    f"{item.filename}: downloaded sha256:{digest}, the index said "
                    f"sha256:{item.sha256}; try again, or check the index or proxy"
                )
                raise VendorError(msg)
            report.downloaded.append(path.name)
            built_from = None
        else:
            report.built.append(path.name)
            built_from = item.source_id or f"{item.url} (rebuilt on every run)"
        shutil.move(path, staged / path.name)
        pins.append(Pin(item.name, item.version, digest, path.name, built_from))
    return pins


def _commit(
    staged: Path, pins: list[Pin], candidate: Path, vendor_dir: Path, lock: Path
) -> list[str]:
    """Move the verified set into place: new wheels first, then the lock, then deletions.

    Returns:
        The names of the wheels removed from ``vendor/``.
    """
    vendor_dir.mkdir(exist_ok=True)
    wanted = {pin.filename for pin in pins}
    for pin in pins:
        if not _reusable(vendor_dir, pin):
            _replace(staged / pin.filename, vendor_dir / pin.filename)
    _replace(candidate, lock)
    removed: list[str] = []
    for path in sorted(vendor_dir.iterdir()):
        if path.name in wanted or path.name.startswith(".") or path.is_dir():
            continue
        path.unlink()
        removed.append(path.name)
    return removed


def _replace(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically (through a temporary file beside it)."""
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
