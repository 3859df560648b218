"""One ``scaffold vendor`` run (decide, resolve, stage, verify, commit), and its offline check."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold import DISTRIBUTION, __version__
from scaffold._digest import sha256
from scaffold._distnames import requirement_key, wheel_name
from scaffold.exceptions import VendorDriftError, VendorError
from scaffold.project import ServiceProject
from scaffold.vendor._inputs import (
    Target,
    make_target,
    read_inputs,
    read_lock,
    vendor_command_line,
)
from scaffold.vendor._lockfile import (
    LOCK_NAME,
    VENDOR_NAME,
    Lock,
    LockInputs,
    Pin,
    find_drift,
    render_lock,
)
from scaffold.vendor._own_wheel import own_wheel
from scaffold.vendor._pip import Resolved, fetch, pip_version, resolve
from scaffold.vendor._report import Progress, VendorReport, silent
from scaffold.vendor._verify import verify_install

_OWN_SOURCE = "the running scaffold, never an index"


@dataclass(frozen=True)
class VendorRun:
    """What one ``scaffold vendor`` run works from, fixed once its inputs are read.

    Attributes:
        project: The service.
        inputs: What the lock is made from.
        requirements: The requirement lines to resolve: dependencies, extras, build system.
        target: The interpreter and platform vendored for.
        old: The lock before the run, or None when there was none.
        own: The running scaffold's wheel, or None when the service does not depend on it.
        work: The run's temporary folder.
        progress: Called with one line per step.
    """

    project: ServiceProject
    inputs: LockInputs
    requirements: tuple[str, ...]
    target: Target
    old: Lock | None
    own: Path | None
    work: Path
    progress: Progress

    @property
    def lock_path(self) -> Path:
        """Return where the lock is written."""
        return self.project.root / LOCK_NAME

    @property
    def vendor_dir(self) -> Path:
        """Return the folder of the locked wheels."""
        return self.project.root / VENDOR_NAME


def vendor(
    project: ServiceProject,
    *,
    extras: Sequence[str] = (),
    python_version: str | None = None,
    platform: str | None = None,
    progress: Progress = silent,
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
    old = read_lock(project.root / LOCK_NAME)
    with tempfile.TemporaryDirectory(prefix="scaffold-vendor-") as tmp:
        work = Path(tmp)
        vendor_dir = project.root / VENDOR_NAME
        own: Path | None = None
        if DISTRIBUTION in {requirement_key(req) for req in requirements}:
            (work / "own").mkdir()
            existing = vendor_dir if vendor_dir.is_dir() else None
            own = own_wheel(work / "own", find_links=existing, progress=progress)
        run = VendorRun(project, inputs, tuple(requirements), target, old, own, work, progress)
        reasons = _update_reasons(run)
        if not reasons:
            return VendorReport(
                run.lock_path,
                target,
                len(old.pins) if old else 0,
                up_to_date=True,
                reused=len(old.pins) if old else 0,
            )
        for reason in reasons:
            progress(f"Updating: {reason}")
        report = VendorReport(run.lock_path, target, 0)
        pins, staged = _lock_and_stage(run, report)
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
        report.removed = _commit(run, staged, pins, candidate)
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


def _update_reasons(run: VendorRun) -> list[str]:
    """Return why the lock or ``vendor/`` must change; empty when both are current."""
    if run.old is None:
        return [f"there is no {LOCK_NAME} yet"]
    reasons = find_drift(run.old, run.inputs, run.vendor_dir)
    pinned = [pin for pin in run.old.pins if pin.key == DISTRIBUTION]
    if run.own is not None and not (len(pinned) == 1 and pinned[0].sha256 == sha256(run.own)):
        reasons.append("the running scaffold's wheel differs from the locked one")
    return reasons


def _lock_and_stage(run: VendorRun, report: VendorReport) -> tuple[list[Pin], Path]:
    """Resolve, then gather every wheel of the new lock in a staging folder."""
    staged = run.work / "wheels"
    fetched = run.work / "fetched"
    staged.mkdir()
    fetched.mkdir()
    own = run.own
    own_lines = [f"{DISTRIBUTION} @ {own.as_uri()}"] if own else []
    # Our own wheel goes first: pip then takes our distribution from this file only.
    resolved = _resolve_keeping_pins(run, [*own_lines, *run.requirements])
    own_hash = sha256(own) if own else ""
    previous = {pin.key: pin for pin in run.old.pins} if run.old else {}
    pins: list[Pin] = []
    missing: list[Resolved] = []
    for item in resolved:
        if item.key == DISTRIBUTION:
            if own is None or item.sha256 != own_hash:
                msg = (
                    f"pip resolved {DISTRIBUTION} from {item.url}, not from the running "
                    f"scaffold; add {DISTRIBUTION} to [project].dependencies of {run.project.name}"
                )
                raise VendorError(msg)
            pin = Pin(item.name, item.version, own_hash, own.name, _OWN_SOURCE)
            if _reusable(run.vendor_dir, pin):
                report.reused += 1
            else:
                report.built.append(own.name)
            shutil.copy2(own, staged / own.name)
            pins.append(pin)
            continue
        kept = _kept_pin(item, previous.get(item.key), run.vendor_dir)
        if kept is None:
            missing.append(item)
            continue
        shutil.copy2(run.vendor_dir / kept.filename, staged / kept.filename)
        report.reused += 1
        pins.append(kept)
    if missing:
        run.progress(f"Fetching {len(missing)} wheels: {', '.join(item.name for item in missing)}")
        fetch(missing, target=run.target, dest=fetched, workdir=run.work, progress=run.progress)
    pins += _collect_fetched(missing, fetched, staged, report)
    return pins, staged


def _resolve_keeping_pins(run: VendorRun, lines: list[str]) -> list[Resolved]:
    """Resolve ``lines``, preferring the versions the old lock pinned, so only what changed moves.

    pip has no "prefer" option, so the old pins are tried as constraints; if they conflict
    with the new inputs, the directly required names are freed, then all of them.
    """
    kept = [
        pin
        for pin in (run.old.pins if run.old else [])
        if pin.key != DISTRIBUTION and (pin.built_from is None or "sha256:" in pin.built_from)
    ]
    direct = {requirement_key(req) for req in run.requirements}
    freed = [pin for pin in kept if pin.key not in direct]
    attempts = [kept, *([freed] if freed != kept else [])] if kept else []
    for pins in attempts:
        run.progress(
            f"Resolving dependencies for {run.target}, keeping {len(pins)} locked versions"
        )
        try:
            return resolve(
                lines,
                [f"{pin.name}=={pin.version}" for pin in pins],
                target=run.target,
                workdir=run.work,
                progress=run.progress,
            )
        except VendorError:
            run.progress("  the locked versions conflict with the new inputs; loosening")
    run.progress(f"Resolving dependencies for {run.target}")
    return resolve(lines, [], target=run.target, workdir=run.work, progress=run.progress)


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


def _commit(run: VendorRun, staged: Path, pins: list[Pin], candidate: Path) -> list[str]:
    """Move the verified set into place: new wheels first, then the lock, then deletions.

    Returns:
        The names of the wheels removed from ``vendor/``.
    """
    vendor_dir = run.vendor_dir
    vendor_dir.mkdir(exist_ok=True)
    wanted = {pin.filename for pin in pins}
    for pin in pins:
        if not _reusable(vendor_dir, pin):
            _replace(staged / pin.filename, vendor_dir / pin.filename)
    _replace(candidate, run.lock_path)
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
