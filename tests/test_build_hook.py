"""hatch_build.py: Swagger UI's files fetched once, verified against the pin, never refetched.

The registry is a real HTTP server on 127.0.0.1 serving tarballs made here; the pin and the
files of this checkout are checked as they are.
"""

from __future__ import annotations

import importlib.util
import io
import socket
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from scaffold.runtime.docs import ASSETS_DIR

ROOT = Path(__file__).resolve().parents[1]


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load_hook()


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


GOOD = {name: f"{name} of 9.9.9\n".encode() for name in hook.FILES}
EXTRA = {"index.html": b"<script>not wanted</script>", "swagger-ui.js.map": b"{}"}
TARBALL = _tarball({**GOOD, **EXTRA})


class Registry:
    """An npm-like registry on 127.0.0.1 that serves one tarball and counts requests."""

    def __init__(self) -> None:
        self.body = TARBALL
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                if self.path != "/swagger-ui-dist/-/swagger-ui-dist-9.9.9.tgz":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(registry.body)))
                self.end_headers()
                self.wfile.write(registry.body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def registry() -> Iterator[Registry]:
    """A local registry, stopped after the test."""
    served = Registry()
    yield served
    served.close()


@pytest.fixture
def closed_registry() -> Iterator[str]:
    """The URL of a 127.0.0.1 port that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


def _ensure(target: Path, url: str, integrity: str = hook.sri(TARBALL)) -> bool:
    return hook.ensure_assets(target, "9.9.9", integrity, registry=url, say=lambda _: None)


def test_the_pin_lives_in_pyproject_and_this_tree_holds_its_files() -> None:
    """One home for version and integrity; the files beside the runtime are that release's."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        pin = tomllib.load(handle)["tool"]["hatch"]["build"]["hooks"]["custom"]
    version, integrity = pin["swagger-ui-version"], pin["swagger-ui-integrity"]
    assert version.startswith("5.")
    assert integrity.startswith("sha512-")
    assert ASSETS_DIR / "swagger-ui" == ROOT / hook.TARGET
    assert hook.is_current(ROOT / hook.TARGET, version, integrity)


def test_fetches_verifies_and_extracts_only_what_the_page_needs(
    registry: Registry, tmp_path: Path
) -> None:
    """A first build downloads the tarball once and keeps only the listed files and a record."""
    target = tmp_path / "swagger-ui"
    assert _ensure(target, registry.url)
    assert registry.requests == ["/swagger-ui-dist/-/swagger-ui-dist-9.9.9.tgz"]
    assert sorted(path.name for path in target.iterdir()) == sorted([*GOOD, hook.RECORD])
    assert all((target / name).read_bytes() == data for name, data in GOOD.items())
    assert [path.name for path in tmp_path.iterdir()] == ["swagger-ui"]


def test_verified_files_need_no_network(
    registry: Registry, closed_registry: str, tmp_path: Path
) -> None:
    """Once the files match the pin, the registry is never asked again."""
    target = tmp_path / "swagger-ui"
    _ensure(target, registry.url)
    assert not _ensure(target, closed_registry)
    assert not _ensure(target, registry.url)
    assert len(registry.requests) == 1


def test_a_changed_file_is_fetched_again(registry: Registry, tmp_path: Path) -> None:
    """A file that no longer matches its recorded digest brings the pinned release back."""
    target = tmp_path / "swagger-ui"
    _ensure(target, registry.url)
    (target / "swagger-ui-bundle.js").write_bytes(b"tampered")
    assert _ensure(target, registry.url)
    assert (target / "swagger-ui-bundle.js").read_bytes() == GOOD["swagger-ui-bundle.js"]
    assert len(registry.requests) == 2


def test_refuses_a_tarball_that_differs_from_the_pin(registry: Registry, tmp_path: Path) -> None:
    """Other bytes than the pinned integrity: a clear refusal, and the old files stay."""
    target = tmp_path / "swagger-ui"
    _ensure(target, registry.url)
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    registry.body = _tarball({**GOOD, "swagger-ui-bundle.js": b"evil()"})
    with pytest.raises(hook.AssetError, match=r"refusing .*integrity is sha512-.*pins sha512-"):
        _ensure(target, registry.url, hook.sri(b"the release we pinned"))
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before
    assert [path.name for path in tmp_path.iterdir()] == ["swagger-ui"]


def test_unreachable_registry_says_what_the_build_needs(
    closed_registry: str, tmp_path: Path
) -> None:
    """Missing files and no registry: the error names the URL and how to get the files."""
    with pytest.raises(hook.AssetError, match=r"cannot download http://127\.0\.0\.1:\d+/"):
        _ensure(tmp_path / "swagger-ui", closed_registry)
    assert list(tmp_path.iterdir()) == []


def test_a_tarball_without_a_needed_file_is_refused(registry: Registry, tmp_path: Path) -> None:
    """A release that dropped a file the page uses is named, not half-installed."""
    registry.body = _tarball({k: v for k, v in GOOD.items() if k != "swagger-ui.css"})
    with pytest.raises(hook.AssetError, match=r"lacks swagger-ui\.css"):
        _ensure(tmp_path / "swagger-ui", registry.url, hook.sri(registry.body))


def test_the_page_uses_only_files_the_hook_ships() -> None:
    """Every Swagger UI file the runtime serves is one the build hook extracts."""
    from scaffold.runtime import docs

    used = {path.split("/", 1)[1] for path in docs.PAGE_FILES.values() if "/" in path}
    assert used <= set(hook.FILES)
    assert {"LICENSE", "NOTICE"} <= set(hook.FILES)
