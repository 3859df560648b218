"""The ``requirements.lock`` format: its inputs header, its pins, and drift against ``vendor/``.

The lock is a plain pip requirements file (``name==version --hash=sha256:...``), so
``pip install --require-hashes -r requirements.lock`` reads it natively. Everything ``scaffold``
needs besides the pins lives in ``# key: value`` comment lines that pip ignores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scaffold._digest import sha256
from scaffold._distnames import canonical_name

LOCK_NAME = "requirements.lock"
VENDOR_NAME = "vendor"

_HEADER = re.compile(r"^#\s*([a-z-]+)(?:\[([^\]]+)\])?:\s*(.*?)\s*$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(.*)$")
_HASH = re.compile(r"--hash[=\s]sha256:([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class LockInputs:
    """What a lock is made from; any change makes the lock stale.

    Attributes:
        dependencies: ``[project].dependencies`` as written.
        extras: The selected ``[project.optional-dependencies]`` groups, sorted by name.
        build_requires: ``[build-system].requires`` (vendored so the service builds offline).
        python_version: Targeted Python, ``X.Y``.
        platform: Targeted platform tag.
        scaffold_version: Version of the running scaffold, whose wheel the lock pins.
    """

    dependencies: tuple[str, ...]
    extras: tuple[tuple[str, tuple[str, ...]], ...]
    build_requires: tuple[str, ...]
    python_version: str
    platform: str
    scaffold_version: str

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Return the names of the selected extras."""
        return tuple(name for name, _ in self.extras)

    def digest(self) -> str:
        """Return ``sha256:<hex>`` over every input, in a canonical JSON form."""
        document = {
            "dependencies": list(self.dependencies),
            "optional-dependencies": {name: list(reqs) for name, reqs in self.extras},
            "build-system.requires": list(self.build_requires),
            "python-version": self.python_version,
            "platform": self.platform,
            "scaffold": self.scaffold_version,
        }
        blob = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + sha256(blob)

    def header_lines(self) -> list[str]:
        """Return the ``# key: value`` lines that record these inputs in the lock."""
        lines = [
            f"# inputs-digest: {self.digest()}",
            f"# python-version: {self.python_version}",
            f"# platform: {self.platform}",
            f"# extras: {', '.join(self.extra_names) or '(none)'}",
            f"# scaffold: {self.scaffold_version}",
        ]
        lines += [f"# requirement: {req}" for req in self.dependencies]
        for name, reqs in self.extras:
            lines += [f"# requirement[{name}]: {req}" for req in reqs]
        lines += [f"# build-requirement: {req}" for req in self.build_requires]
        return lines

    def differences(self, old: LockInputs) -> list[str]:
        """Name each way these inputs differ from ``old`` (those a lock was made from)."""
        found: list[str] = []
        if (old.python_version, old.platform) != (self.python_version, self.platform):
            found.append(
                f"stale lock: it targets Python {old.python_version} on {old.platform}, "
                f"this run targets Python {self.python_version} on {self.platform} "
                "(pass --python-version/--platform to match)"
            )
        if old.extra_names != self.extra_names:
            had = ", ".join(old.extra_names) or "none"
            has = ", ".join(self.extra_names) or "none"
            found.append(f"stale lock: it was made with extras [{had}], this run has [{has}]")
        if old.scaffold_version != self.scaffold_version:
            found.append(
                f"stale lock: it pins scaffold {old.scaffold_version}, "
                f"the running scaffold is {self.scaffold_version}"
            )
        found += _list_changes("requirement", old.all_requirements(), self.all_requirements())
        return found

    def all_requirements(self) -> list[str]:
        """Return every requirement, labelled by the list it comes from."""
        labelled = [f"{req} (dependencies)" for req in self.dependencies]
        for name, reqs in self.extras:
            labelled += [f"{req} (extra {name})" for req in reqs]
        labelled += [f"{req} (build-system)" for req in self.build_requires]
        return labelled


def _list_changes(what: str, old: Iterable[str], new: Iterable[str]) -> list[str]:
    old_set, new_set = set(old), set(new)
    return [f"stale lock: {what} added: {item}" for item in sorted(new_set - old_set)] + [
        f"stale lock: {what} removed: {item}" for item in sorted(old_set - new_set)
    ]


@dataclass(frozen=True)
class Pin:
    """One locked distribution and the one file of it in ``vendor/``.

    Attributes:
        name: Distribution name as its metadata spells it.
        version: Its exact version.
        sha256: Hex digest of the wheel in ``vendor/``.
        filename: The wheel's file name in ``vendor/``.
        built_from: What the wheel was built from (``file sha256:...`` for an sdist,
            ``the running scaffold`` for scaffold itself), or None for a downloaded wheel.
    """

    name: str
    version: str
    sha256: str
    filename: str
    built_from: str | None = None

    @property
    def key(self) -> str:
        """Return the canonical name."""
        return canonical_name(self.name)

    def render(self) -> list[str]:
        """Return the lock lines of this pin."""
        lines = [f"# file: {self.filename}"]
        if self.built_from:
            lines.append(f"# built-from: {self.built_from}")
        lines += [f"{self.name}=={self.version} \\", f"    --hash=sha256:{self.sha256}"]
        return lines


@dataclass
class Lock:
    """A parsed ``requirements.lock``.

    Attributes:
        digest: The recorded ``inputs-digest``, or None when the file has no header.
        inputs: The inputs reconstructed from the header, when complete enough.
        pins: Every pinned distribution.
        problems: Lines that could not be understood.
    """

    digest: str | None
    inputs: LockInputs | None
    pins: list[Pin] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def render_lock(inputs: LockInputs, pins: Iterable[Pin], *, command: str, tools: str) -> str:
    """Return the text of a lock made from ``inputs`` pinning ``pins``.

    Args:
        inputs: What the lock was made from.
        pins: The pins, in any order (they are written sorted by name).
        command: The ``scaffold vendor ...`` command line that re-creates it.
        tools: Which tools made it, e.g. ``scaffold 0.1.0, pip 26.3``.
    """
    lines = [
        f"# {LOCK_NAME}: written by `scaffold vendor` ({tools}); do not edit by hand.",
        f"# Re-create it with: {command}",
        f"# {VENDOR_NAME}/ holds exactly the wheels pinned here, for the target below, including",
        "# the service's build backend. Install offline from this folder with:",
        f"#   pip install --no-index --find-links {VENDOR_NAME} --require-hashes -r {LOCK_NAME}",
        f"#   pip install --no-index --find-links {VENDOR_NAME} --no-deps .",
        "#",
        *inputs.header_lines(),
        "",
    ]
    for pin in sorted(pins, key=lambda pin: pin.key):
        lines += [*pin.render(), ""]
    return "\n".join(lines)


def parse_lock(text: str) -> Lock:
    """Parse the text of a lock written by :func:`render_lock`; never raises."""
    values: dict[str, list[str]] = {}
    extras: dict[str, list[str]] = {}
    lock = Lock(digest=None, inputs=None)
    notes: dict[str, str] = {}
    for number, line in _logical_lines(text):
        header = _HEADER.match(line)
        if header:
            key, extra, value = header.groups()
            if key == "requirement" and extra:
                extras.setdefault(extra, []).append(value)
            elif key in {"file", "built-from"}:
                notes[key] = value
            else:
                values.setdefault(key, []).append(value)
            continue
        if not line or line.startswith("#"):
            continue
        pin = _PIN.match(line)
        hashes = _HASH.findall(line)
        if not pin or len(hashes) != 1:
            lock.problems.append(f"line {number}: not a `name==version --hash=sha256:...` pin")
            notes = {}
            continue
        name, version, _ = pin.groups()
        filename = notes.get("file", "")
        lock.pins.append(Pin(name, version, hashes[0].lower(), filename, notes.get("built-from")))
        notes = {}
    digests = values.get("inputs-digest")
    lock.digest = digests[0] if digests else None
    lock.inputs = _inputs_from_header(values, extras)
    return lock


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Yield ``(first line number, text)`` with backslash continuations joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending:
            start = number
        if line.endswith("\\") and not line.startswith("#"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(part.strip() for part in pending).strip()
        pending = []
    if pending:
        yield start, " ".join(pending).strip()


def _inputs_from_header(
    values: dict[str, list[str]], extras: dict[str, list[str]]
) -> LockInputs | None:
    try:
        extra_names = [
            name.strip()
            for name in values["extras"][0].split(",")
            if name.strip() and name.strip() != "(none)"
        ]
        return LockInputs(
            dependencies=tuple(values.get("requirement", [])),
            extras=tuple((name, tuple(extras.get(name, []))) for name in extra_names),
            build_requires=tuple(values.get("build-requirement", [])),
            python_version=values["python-version"][0],
            platform=values["platform"][0],
            scaffold_version=values["scaffold"][0],
        )
    except (KeyError, IndexError):
        return None


def find_drift(lock: Lock | None, inputs: LockInputs, vendor_dir: Path) -> list[str]:
    """Return one line per way ``lock`` and ``vendor_dir`` differ from ``inputs``; empty = in sync.

    Only reads files: no network, no pip.
    """
    if lock is None:
        return [f"missing lock: there is no {LOCK_NAME}"]
    drift = list(lock.problems)
    if lock.digest is None:
        drift.append(f"stale lock: {LOCK_NAME} has no `# inputs-digest:` line")
    elif lock.digest != inputs.digest():
        changes = inputs.differences(lock.inputs) if lock.inputs else []
        drift += changes or [
            f"stale lock: its inputs digest {lock.digest} is not {inputs.digest()} "
            "([project] dependency lists, target or scaffold version changed)"
        ]
    drift += _vendor_drift(lock.pins, vendor_dir)
    return drift


def _vendor_drift(pins: list[Pin], vendor_dir: Path) -> list[str]:
    if not vendor_dir.is_dir():
        return [f"missing wheel: {VENDOR_NAME}/ does not exist ({len(pins)} wheels expected)"]
    present = {
        path.name: path
        for path in vendor_dir.iterdir()
        if not path.name.startswith(".") and (path.is_file() or path.is_symlink())
    }
    drift: list[str] = []
    claimed: set[str] = set()
    for pin in pins:
        path = present.get(pin.filename)
        if path is None:
            shown = pin.filename or f"a wheel of {pin.name}"
            drift.append(f"missing wheel: {VENDOR_NAME}/{shown} ({pin.name}=={pin.version})")
            continue
        claimed.add(pin.filename)
        actual = sha256(path)
        if actual != pin.sha256:
            drift.append(
                f"hash mismatch: {VENDOR_NAME}/{pin.filename} is sha256:{actual}, "
                f"{LOCK_NAME} expects sha256:{pin.sha256} ({pin.name}=={pin.version})"
            )
    for name in sorted(set(present) - claimed):
        kind = "extra wheel" if name.endswith(".whl") else "extra file"
        drift.append(f"{kind}: {VENDOR_NAME}/{name} is not in {LOCK_NAME}")
    for entry in sorted(vendor_dir.iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and not entry.is_symlink():
            drift.append(f"extra file: {VENDOR_NAME}/{entry.name}/ is a folder")
    return drift
