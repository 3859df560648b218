"""Build hook: put Swagger UI's files for ``GET /docs`` inside the package, verified.

hatchling runs it before every build of scaffold (wheel, editable, sdist). The files live in
``scaffold/runtime/docs_assets/swagger-ui/`` (ignored by git, shipped as a hatch artefact) with
``SOURCE.json``, which names the release they came from and each file's SHA-256. When that
record matches the pin and every file matches its digest, the hook does nothing, so builds
from a prepared tree or from the sdist (which carries the files) never touch the network, as
``scaffold vendor`` needs. Otherwise it downloads the pinned ``swagger-ui-dist`` tarball from
the npm registry with the standard library, refuses it unless its SHA-512 equals the pinned
``integrity`` (the registry's own ``dist.integrity``), and extracts only what the page uses.

The pin (``swagger-ui-version``, ``swagger-ui-integrity``) has one home: this hook's table
``[tool.hatch.build.hooks.custom]`` in ``pyproject.toml``. ``$npm_config_registry`` (npm's own
setting) names a mirror; the integrity check makes any mirror as safe as the registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "swagger-ui-dist"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
# Where the files go, relative to the project root.
TARGET = Path("scaffold", "runtime", "docs_assets", "swagger-ui")
RECORD = "SOURCE.json"
# What the page uses, and the licence texts that must travel with it.
FILES = (
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "index.css",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
)
_MAX_TARBALL = 64 * 1024 * 1024
_TIMEOUT = 60.0


class AssetError(RuntimeError):
    """The Swagger UI files cannot be had, or what was downloaded is not what was pinned."""


def tarball_url(version: str, registry: str = DEFAULT_REGISTRY) -> str:
    """Return the registry URL of ``swagger-ui-dist``'s tarball at ``version``."""
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE}-{version}.tgz"


def sri(data: bytes) -> str:
    """Return the ``sha512-<base64>`` integrity string of ``data`` (npm's ``dist.integrity``)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def is_current(target: Path, version: str, integrity: str) -> bool:
    """Tell whether ``target`` holds the files of the pinned release, each intact."""
    try:
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or (record.get("version"), record.get("integrity")) != (
        version,
        integrity,
    ):
        return False
    digests = record.get("files")
    if not isinstance(digests, dict) or set(digests) != set(FILES):
        return False
    for name, digest in digests.items():
        try:
            data = (target / name).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != digest:
            return False
    return True


def ensure_assets(
    target: Path,
    version: str,
    integrity: str,
    *,
    registry: str = DEFAULT_REGISTRY,
    say: Callable[[str], None] = print,
) -> bool:
    """Make ``target`` hold the pinned release's files; return True if they were downloaded.

    Raises:
        AssetError: The download failed, or the tarball's integrity differs from the pin
            (``target`` is left as it was), or it lacks a file.
    """
    if not integrity.startswith("sha512-"):
        msg = f"swagger-ui-integrity must be npm's sha512-<base64> string, not {integrity!r}"
        raise AssetError(msg)
    if is_current(target, version, integrity):
        return False
    url = tarball_url(version, registry)
    say(f"Fetching {PACKAGE} {version} for GET /docs from {url}")
    data = _download(url)
    got = sri(data)
    if not hmac.compare_digest(got, integrity):
        msg = (
            f"refusing {url}: its integrity is {got}, but pyproject.toml pins {integrity} "
            f"for {PACKAGE} {version} (a corrupt download, or a registry or mirror serving "
            "other bytes); nothing was written"
        )
        raise AssetError(msg)
    _install(target, _extract(data, url), version, integrity)
    return True


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
            data: bytes = response.read(_MAX_TARBALL + 1)
    except (urllib.error.URLError, OSError) as ex:
        reason = getattr(ex, "reason", ex)
        msg = (
            f"cannot download {url} ({reason}); the build needs the npm registry once, or "
            "npm_config_registry naming a mirror, to put Swagger UI's files in "
            f"{TARGET.as_posix()}/"
        )
        raise AssetError(msg) from ex
    if len(data) > _MAX_TARBALL:
        msg = f"{url} is larger than {_MAX_TARBALL} bytes; refusing it"
        raise AssetError(msg)
    return data


def _extract(data: bytes, url: str) -> dict[str, bytes]:
    """The regular files ``FILES`` from the tarball's ``package/`` folder, by name."""
    wanted = {f"package/{name}": name for name in FILES}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                name = wanted.get(member.name)
                if name is None or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    found[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as ex:
        msg = f"{url} is not a readable npm tarball: {ex}"
        raise AssetError(msg) from ex
    missing = sorted(set(FILES) - set(found))
    if missing:
        msg = f"{url} lacks {', '.join(missing)}; pin a {PACKAGE} release that has them"
        raise AssetError(msg)
    return found


def _install(target: Path, files: dict[str, bytes], version: str, integrity: str) -> None:
    """Write ``files`` and their record into ``target``, replacing it whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="swagger-ui.partial-", dir=target.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        record = {
            "package": PACKAGE,
            "version": version,
            "integrity": integrity,
            "files": {
                name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())
            },
        }
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _registry() -> str:
    """The registry npm itself would use: ``$npm_config_registry`` (any case), or npm's own."""
    # npm documents the lower-case name; it reads the upper-case one too.
    for name in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_REGISTRY


class SwaggerUIHook(BuildHookInterface[BuilderConfig]):
    """hatchling's custom build hook: ensure the Swagger UI files before any build."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Fetch and verify the files unless the tree already holds the pinned ones."""
        pin = {key: self.config.get(f"swagger-ui-{key}") for key in ("version", "integrity")}
        if not all(isinstance(value, str) and value for value in pin.values()):
            msg = (
                "[tool.hatch.build.hooks.custom] needs swagger-ui-version and "
                "swagger-ui-integrity strings"
            )
            raise AssetError(msg)
        ensure_assets(
            Path(self.root) / TARGET,
            str(pin["version"]),
            str(pin["integrity"]),
            registry=_registry(),
            say=self.app.display_info,
        )
