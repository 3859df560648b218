"""Produce the wheel of the running scaffold, so a lock never resolves ``scaffold`` by name.

``scaffold-chassis`` is never taken from an index, even one that holds it: the lock must pin
the scaffold that renders and runs the service, and anyone can claim a name on an index. The
wheel therefore always comes from the scaffold that runs:

* installed from a wheel, an sdist or a non-editable folder: the files its ``RECORD`` lists are
  checked against their recorded hashes and packed back into a wheel, byte-for-byte reproducibly
  (sorted entries, fixed timestamps), offline and in well under a second;
* installed in editable mode (or imported from a source tree): the source folder named by
  ``direct_url.json`` is built with its own build backend, first offline from ``vendor/`` (which
  usually holds that backend already), then from the index.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from scaffold import DISTRIBUTION
from scaffold._digest import sha256
from scaffold.exceptions import VendorError
from scaffold.vendor._pip import run_pip
from scaffold.vendor._report import Progress, silent

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SKIPPED_METADATA = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"})


def own_wheel(dest: Path, *, find_links: Path | None, progress: Progress) -> Path:
    """Write the running scaffold's wheel into ``dest`` and return its path.

    Args:
        dest: An empty folder for the wheel.
        find_links: A folder of wheels to build from offline first (an existing ``vendor/``).
        progress: Called with a line describing what is done.

    Raises:
        VendorError: The installed files were modified, or the source cannot be built.
    """
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        # A source tree: this file is <tree>/scaffold/vendor/_own_wheel.py.
        tree = Path(__file__).resolve().parents[2]
        if not (tree / "pyproject.toml").is_file():
            msg = "cannot find scaffold's distribution metadata or source; reinstall scaffold"
            raise VendorError(msg) from None
        return _build_from_source(tree, dest, find_links=find_links, progress=progress)
    source = editable_source(dist)
    if source is not None:
        return _build_from_source(source, dest, find_links=find_links, progress=progress)
    progress(f"Packing scaffold {dist.version}'s wheel from its installed files")
    return repack_installed(dist, dest)


def editable_source(dist: metadata.Distribution) -> Path | None:
    """Return the source folder of an editable install, or None for a regular install."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    if not info.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(str(info.get("url", "")))
    source = Path(unquote(url.path))
    if url.scheme != "file" or not (source / "pyproject.toml").is_file():
        msg = (
            f"scaffold is installed in editable mode from {info.get('url')}, which is not a "
            "source folder any more; reinstall scaffold"
        )
        raise VendorError(msg)
    return source


def _build_from_source(
    source: Path, dest: Path, *, find_links: Path | None, progress: Progress
) -> Path:
    progress(f"Building scaffold's own wheel from its source {source}")
    build = ["wheel", "--no-deps", "--wheel-dir", str(dest), str(source)]
    if find_links is not None and any(find_links.glob("*.whl")):
        try:
            run_pip(
                [*build, "--no-index", "--find-links", str(find_links)],
                what="building scaffold offline",
                progress=silent,
                offline=True,
            )
        except VendorError:
            progress("  its build backend is not in vendor/; fetching it from the index")
        else:
            return _single_wheel(dest, source)
    run_pip(build, what=f"building scaffold's wheel from {source}", progress=progress)
    return _single_wheel(dest, source)


def _single_wheel(dest: Path, source: Path) -> Path:
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        msg = f"building scaffold from {source} gave {len(wheels)} wheels instead of one"
        raise VendorError(msg)
    return wheels[0]


def repack_installed(dist: metadata.Distribution, dest: Path) -> Path:
    """Pack an installed distribution's files back into a reproducible wheel in ``dest``.

    Scripts and other files installed outside ``site-packages`` are left out: installers
    regenerate console scripts from ``entry_points.txt``.

    Raises:
        VendorError: A file differs from the hash its ``RECORD`` lists, or is missing.
    """
    files = dist.files
    if not files:
        msg = f"{dist.name} {dist.version} has no RECORD of its files; reinstall it"
        raise VendorError(msg)
    entries: dict[str, bytes] = {}
    info_dir = ""
    for item in files:
        name = item.as_posix()
        parts = name.split("/")
        if parts[0] == ".." or "__pycache__" in parts or name.endswith(".pyc"):
            continue
        if parts[0].endswith(".dist-info"):
            info_dir = parts[0]
            if parts[-1] in _SKIPPED_METADATA:
                continue
        path = Path(str(item.locate()))
        try:
            data = path.read_bytes()
        except OSError as ex:
            msg = f"installed scaffold is incomplete: {path}: {ex}; reinstall scaffold"
            raise VendorError(msg) from ex
        recorded = item.hash
        if (
            recorded is not None
            and recorded.mode == "sha256"
            and _record_digest(data) != recorded.value
        ):
            msg = f"installed scaffold was modified: {path} differs from its RECORD; reinstall it"
            raise VendorError(msg)
        entries[name] = data
    if not info_dir:
        msg = f"{dist.name} {dist.version} lists no .dist-info folder; reinstall it"
        raise VendorError(msg)
    tag = _wheel_tag(entries.get(f"{info_dir}/WHEEL", b""))
    escaped = re.sub(r"[-_.]+", "_", dist.name)
    target = dest / f"{escaped}-{dist.version}-{tag}.whl"
    record_name = f"{info_dir}/RECORD"
    record = [f"{name},sha256={_record_digest(data)},{len(data)}" for name, data in entries.items()]
    entries[record_name] = ("\n".join([*sorted(record), f"{record_name},,"]) + "\n").encode()
    _write_zip(target, entries, last=record_name)
    return target


def _record_digest(data: bytes) -> str:
    """Return a SHA-256 digest as a wheel's ``RECORD`` writes it: URL-safe base64, unpadded."""
    return base64.urlsafe_b64encode(bytes.fromhex(sha256(data))).rstrip(b"=").decode()


def _wheel_tag(wheel_file: bytes) -> str:
    tags = re.findall(r"^Tag:\s*(\S+)\s*$", wheel_file.decode("utf-8", "replace"), re.MULTILINE)
    if not tags:
        return "py3-none-any"
    pythons = ".".join(dict.fromkeys(tag.split("-")[0] for tag in tags))
    abi, platform = tags[0].split("-")[1:3]
    return f"{pythons}-{abi}-{platform}"


def _write_zip(target: Path, entries: dict[str, bytes], *, last: str) -> None:
    # Write beside the target, then rename, so a crash never leaves half a wheel.
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as handle:
        partial = Path(handle.name)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in [*sorted(set(entries) - {last}), last]:
                info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[name])
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
