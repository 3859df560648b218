"""scaffold installed from its wheel, as a team installs it: the right name, the extras, clean renders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaffold import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTEFACTS = ("__pycache__", ".pyc", ".pyo")

pytestmark = pytest.mark.network


def run(
    *command: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


# What the build hook puts beside the runtime for GET /docs (hatch_build.py's FILES + record).
SWAGGER_UI = "scaffold/runtime/docs_assets/swagger-ui"
DOCS_FILES = {
    "scaffold/runtime/docs_assets/docs.js",
    *(
        f"{SWAGGER_UI}/{name}"
        for name in (
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "index.css",
            "favicon-32x32.png",
            "LICENSE",
            "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt",
            "SOURCE.json",
        )
    ),
}


@pytest.fixture(scope="module")
def no_npm() -> Iterator[dict[str, str]]:
    """An environment whose npm registry refuses connections: builds must not need it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield {"npm_config_registry": f"http://127.0.0.1:{sock.getsockname()[1]}/"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, no_npm: dict[str, str]) -> Path:
    """scaffold's wheel, built from this checkout with its own build backend, npm unreachable.

    The checkout's editable install already holds the verified Swagger UI files, so the build
    hook must not touch the network, as when ``scaffold vendor`` rebuilds scaffold offline.
    """
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, ROOT, env=no_npm)
    (built,) = out.glob("*.whl")
    assert built.name.startswith("scaffold_chassis-")
    return built


def docs_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if "/docs_assets/" in name}


def test_the_wheel_carries_swagger_ui_and_its_licence(wheel: Path) -> None:
    """The files /docs serves, Swagger UI's LICENSE and NOTICE, and their record: nothing more."""
    assert docs_files(wheel) == DOCS_FILES


def test_the_installed_wheel_serves_the_docs_page(wheel: Path, tmp_path: Path) -> None:
    """/docs and every file it loads answer 200 from the installed wheel's own files."""
    site = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel)
    script = """
import json, re, scaffold
from falcon import testing
from scaffold.runtime import Service
client = testing.TestClient(Service("acme").app)
page = client.simulate_get("/docs")
urls = re.findall(r'(?:href|src)="(/docs/[^"]+)"', page.text)
statuses = [client.simulate_get(url).status_code for url in urls]
print(json.dumps([scaffold.__file__, page.status_code, statuses]))
"""
    env = {"PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    done = run(sys.executable, "-S", "-c", script, cwd=tmp_path, env=env)
    where, status, assets = json.loads(done.stdout.strip().splitlines()[-1])
    assert where == str(site / "scaffold" / "__init__.py")
    assert status == 200
    assert assets == [200] * 5


def test_the_sdist_carries_the_files_and_builds_the_same_wheel_offline(
    tmp_path: Path, no_npm: dict[str, str]
) -> None:
    """sdist, then wheel from it, with no npm registry: the hook finds the files verified."""
    run(BIN / "hatchling", "build", "-t", "sdist", "-d", tmp_path / "sdist", cwd=ROOT, env=no_npm)
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    out = tmp_path / "wheel"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    # --no-build-isolation: this environment's hatchling builds it, so no index is needed.
    run(*pip_wheel, "--no-build-isolation", "--no-index", "-w", out, sdist, env=no_npm)
    (built,) = out.glob("*.whl")
    assert docs_files(built) == DOCS_FILES


def artefacts(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.name == "__pycache__" or path.suffix in ARTEFACTS
    )


def test_a_service_rendered_from_an_installed_wheel_holds_only_the_template(
    wheel: Path, tmp_path: Path
) -> None:
    """pip compiles the installed template's .py files; none of that reaches a service."""
    site = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel)
    template = site / "scaffold" / "templates" / "service"
    assert artefacts(template), "pip compiled nothing: this test would prove nothing"
    # -S: no .pth files, so this environment's editable scaffold stays out of the way; its
    # site-packages still provides the dependencies, after the installed wheel.
    env = {"PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}"}
    python = [sys.executable, "-S"]
    where = run(*python, "-c", "import scaffold; print(scaffold.__file__)", cwd=tmp_path, env=env)
    assert where.stdout.strip() == str(site / "scaffold" / "__init__.py")
    run(*python, "-m", "scaffold", "new", "acme-widgets", "--no-input", cwd=tmp_path, env=env)
    service = tmp_path / "acme-widgets"
    assert artefacts(service) == []
    manifest = json.loads((service / ".scaffold" / "template.json").read_text())
    assert not [name for name in manifest["files"] if "__pycache__" in name or ".pyc" in name]


def test_a_fresh_venv_installs_our_runtime_under_our_name(wheel: Path, tmp_path: Path) -> None:
    """Core wheel, then the [new] extra, `scaffold new`, and the service's own editable install."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    pip = [bin_dir / "python", "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "install", "--quiet", wheel)

    without = run(
        bin_dir / "scaffold", "new", "acme-widgets", "--no-input", cwd=tmp_path, check=False
    )
    assert without.returncode == 1
    lines = without.stderr.strip().splitlines()
    assert lines == [
        "Error: scaffold new needs the [new] extra, which is not installed: "
        f"pip install '{DISTRIBUTION}[new]'"
    ]
    assert not (tmp_path / "acme-widgets").exists()
    check = run(bin_dir / "python", "-c", "import cookiecutter", check=False)
    assert check.returncode == 1, "the core pulled in cookiecutter"

    run(*pip, "install", "--quiet", f"{wheel}[new]")
    run(bin_dir / "scaffold", "new", "acme-widgets", "--no-input", cwd=tmp_path)
    service = tmp_path / "acme-widgets"
    assert artefacts(service) == []

    run(*pip, "install", "--quiet", "-e", ".[test]", cwd=service)
    listed = json.loads(run(*pip, "list", "--format=json").stdout)
    names = {item["name"].lower() for item in listed}
    assert "scaffold" not in names, "PyPI's unrelated `scaffold` was installed"
    assert DISTRIBUTION in names
    imported = run(
        bin_dir / "python",
        "-c",
        "import scaffold.runtime, acme_widgets.app; print(scaffold.__file__)",
        cwd=tmp_path,
    )
    assert imported.stdout.strip().startswith(str(env_dir))
    tests = run(
        bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=service, check=False
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
