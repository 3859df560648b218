"""``scaffold vendor``: hash-locked, offline-installable dependencies, end to end with real pip.

One service is generated and vendored against the real index once per module (``vendored``);
each test works on its own copy. Tests that need the index carry ``network``; the ones that
need a second resolution use a local ``file://`` index built from the vendored wheels, so they
stay offline and fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffold import DISTRIBUTION
from scaffold._distnames import canonical_name, wheel_name
from scaffold.cli import main
from scaffold.exceptions import VendorDriftError, VendorError
from scaffold.new import create_service
from scaffold.project import ServiceProject, find_project
from scaffold.vendor import LOCK_NAME, check_vendor, vendor
from scaffold.vendor._lockfile import parse_lock
from scaffold.vendor._own_wheel import repack_installed

NAME = "acme-widgets"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wheels(root: Path) -> dict[str, Path]:
    return {path.name: path for path in (root / "vendor").iterdir()}


def _copy(source: Path, target: Path) -> ServiceProject:
    shutil.copytree(source, target)
    return find_project(target)


def _add_dependency(root: Path, requirement: str) -> None:
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert "dependencies = [\n" in text
    pyproject.write_text(
        text.replace("dependencies = [\n", f'dependencies = [\n    "{requirement}",\n', 1),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound but never listens, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def pip_env() -> Iterator[pytest.MonkeyPatch]:
    """pip as on a fresh CI machine: no config files, no find-links from this machine."""
    kept = {"PIP_CERT", "PIP_DEFAULT_TIMEOUT"}
    with pytest.MonkeyPatch.context() as patch:
        for key in [key for key in os.environ if key.startswith("PIP_") and key not in kept]:
            patch.delenv(key)
        patch.setenv("PIP_CONFIG_FILE", os.devnull)
        yield patch


@pytest.fixture(scope="module")
def vendored(tmp_path_factory: pytest.TempPathFactory, pip_env: pytest.MonkeyPatch) -> Path:
    """A freshly generated service, vendored once against the real index."""
    root = create_service(NAME, tmp_path_factory.mktemp("vendored"))
    lines: list[str] = []
    report = vendor(find_project(root), progress=lines.append)
    assert report.verified is not None
    assert any(line.startswith("Resolving") for line in lines)
    return root


@pytest.fixture
def service(vendored: Path, tmp_path: Path) -> ServiceProject:
    """A private copy of the vendored service."""
    return _copy(vendored, tmp_path / NAME)


@pytest.mark.network
def test_second_run_downloads_nothing(
    service: ServiceProject, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged inputs: no index is needed, nothing is fetched, no file is rewritten."""
    vendor(service)  # catches up if scaffold's own source changed since the fixture ran
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{closed_port}/simple")
    before = {path.name: path.stat().st_mtime_ns for path in service.root.rglob("*")}
    lines: list[str] = []
    report = vendor(service, progress=lines.append)
    assert not [line for line in lines if line.startswith("Updating")]
    assert report.up_to_date
    assert report.downloaded == []
    assert report.built == []
    assert report.seconds < 10
    assert {path.name: path.stat().st_mtime_ns for path in service.root.rglob("*")} == before
    assert "nothing downloaded" in report.summary()


@pytest.mark.network
def test_lock_pins_exactly_the_vendored_wheels(vendored: Path) -> None:
    """Every pin has one hash, vendor/ holds exactly its wheels, the header names the inputs."""
    text = (vendored / LOCK_NAME).read_text(encoding="utf-8")
    lock = parse_lock(text)
    assert not lock.problems
    wheels = _wheels(vendored)
    assert sorted(pin.filename for pin in lock.pins) == sorted(wheels)
    for pin in lock.pins:
        assert f"{pin.name}=={pin.version} \\\n    --hash=sha256:{pin.sha256}" in text
        assert _sha256(wheels[pin.filename]) == pin.sha256
    names = {pin.key for pin in lock.pins}
    assert {DISTRIBUTION, "falcon", "gunicorn", "hatchling"} <= names
    assert not names & {"cookiecutter", "jinja2", "requests", "rich", "arrow"}
    assert "pytest" not in names
    major, minor = sys.version_info[:2]
    assert lock.digest is not None
    assert lock.digest.startswith("sha256:")
    assert f"# python-version: {major}.{minor}\n" in text
    assert "# platform: " in text
    assert f"# requirement: {DISTRIBUTION}>=" in text


@pytest.mark.network
def test_scaffold_wheel_is_the_running_scaffold(vendored: Path) -> None:
    """The vendored scaffold is built from this scaffold: its runtime and templates are inside."""
    lock = parse_lock((vendored / LOCK_NAME).read_text(encoding="utf-8"))
    (pin,) = [pin for pin in lock.pins if pin.key == DISTRIBUTION]
    assert pin.version == metadata.version(DISTRIBUTION)
    assert pin.built_from is not None
    assert "running scaffold" in pin.built_from
    with zipfile.ZipFile(vendored / "vendor" / pin.filename) as wheel:
        names = set(wheel.namelist())
        assert "scaffold/runtime/__init__.py" in names
        assert "scaffold/vendor/__init__.py" in names
        assert "scaffold/templates/service/cookiecutter.json" in names
        assert "scaffold/runtime/docs_assets/swagger-ui/swagger-ui-bundle.js" in names  # /docs
        ours = Path(__file__).resolve().parents[2] / "scaffold" / "runtime" / "__init__.py"
        assert wheel.read("scaffold/runtime/__init__.py") == ours.read_bytes()


@pytest.mark.network
def test_installs_offline_and_answers_requests(
    service: ServiceProject, tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no index reachable, the lock and the service install from vendor/ and serve."""
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{closed_port}/simple")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    offline = ["-m", "pip", "install", "--no-index", "--find-links", "vendor"]
    for args in ([*offline, "--require-hashes", "-r", LOCK_NAME], [*offline, "."]):
        subprocess.run(
            [str(python), *args], cwd=service.root, check=True, capture_output=True, timeout=300
        )
    script = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        from falcon import testing
        import scaffold
        from scaffold.runtime import load_config
        from acme_widgets.app import create_service

        service = create_service(load_config(Path(sys.argv[1]), env={}))
        result = testing.TestClient(service.app).simulate_get("/v1/greetings/Ada")
        print(json.dumps([scaffold.__file__, result.status_code, result.json]))
        """
    )
    done = subprocess.run(
        [str(python), "-I", "-c", script, str(service.config_path)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    where, status, body = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(where).is_relative_to(env_dir)
    assert status == 200
    assert body == {"greeting": "Hello, Ada!", "language": "en"}


@pytest.mark.network
def test_check_passes_when_in_sync(service: ServiceProject) -> None:
    """A freshly vendored service passes --check."""
    check_vendor(service)


def _stale(root: Path) -> str:
    _add_dependency(root, "statsd>=4")
    return "stale lock: requirement added: statsd>=4 (dependencies)"


def _missing(root: Path) -> str:
    victim = next((root / "vendor").glob("click-*.whl"))
    victim.unlink()
    return f"missing wheel: vendor/{victim.name}"


def _extra(root: Path) -> str:
    source = next((root / "vendor").glob("marshmallow-*.whl"))
    shutil.copy(source, root / "vendor" / "marshmallow-0.0.1-py3-none-any.whl")
    return "extra wheel: vendor/marshmallow-0.0.1-py3-none-any.whl is not in requirements.lock"


def _tampered(root: Path) -> str:
    victim = next((root / "vendor").glob("falcon-*.whl"))
    with victim.open("ab") as stream:
        stream.write(b"\0")
    return f"hash mismatch: vendor/{victim.name} is sha256:"


def _no_lock(root: Path) -> str:
    (root / LOCK_NAME).unlink()
    return "missing lock: there is no requirements.lock"


@pytest.mark.network
@pytest.mark.parametrize(
    "drift",
    [_stale, _missing, _extra, _tampered, _no_lock],
    ids=["stale-lock", "missing-wheel", "extra-wheel", "hash-mismatch", "missing-lock"],
)
def test_check_names_each_drift(service: ServiceProject, drift: Callable[[Path], str]) -> None:
    """--check fails naming the drift and the fix."""
    expected = drift(service.root)
    with pytest.raises(VendorDriftError) as caught:
        check_vendor(find_project(service.root))
    message = str(caught.value)
    assert expected in message
    assert message.splitlines()[-1].startswith("fix: run `scaffold vendor`")


@pytest.mark.network
def test_check_names_a_target_or_extras_change(service: ServiceProject) -> None:
    """Checking for another target or other extras reports the lock as stale."""
    with pytest.raises(VendorDriftError, match=r"targets Python 3\.12 on manylinux_2_17_aarch64"):
        check_vendor(service, python_version="3.12", platform="manylinux_2_17_aarch64")
    with pytest.raises(VendorDriftError, match=r"extras \[none\], this run has \[test\]"):
        check_vendor(service, extras=("test",))


@pytest.mark.network
def test_cli_check_exit_codes(service: ServiceProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scaffold vendor --check` exits 0 in sync and 1 with one `Error:` line per drift."""
    monkeypatch.chdir(service.root)
    runner = CliRunner()
    ok = runner.invoke(main, ["vendor", "--check"])
    assert ok.exit_code == 0, ok.output
    assert "up to date" in ok.stdout
    _missing(service.root)
    _extra(service.root)
    failed = runner.invoke(main, ["vendor", "--check"])
    assert failed.exit_code == 1
    lines = failed.stderr.splitlines()
    assert all(line.startswith("Error: ") for line in lines)
    assert any(line.startswith("Error: missing wheel: vendor/click-") for line in lines)
    assert any(line.startswith("Error: extra wheel: vendor/marshmallow-0.0.1") for line in lines)
    assert "Traceback" not in failed.output


@pytest.mark.network
def test_cli_rerun_is_quiet_in_ci(
    service: ServiceProject, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In CI the command prints only its summary; an unchanged service needs no index."""
    vendor(service)  # catches up if scaffold's own source changed since the fixture ran
    monkeypatch.chdir(service.root)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{closed_port}/simple")
    result = CliRunner().invoke(main, ["vendor"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "up to date" in result.stdout


@pytest.mark.network
def test_changed_inputs_update_only_what_changed(service: ServiceProject) -> None:
    """Adding an extra fetches only its new wheels; dropping it removes them again."""
    before = parse_lock((service.root / LOCK_NAME).read_text(encoding="utf-8")).pins
    added = vendor(service, extras=("test",))
    fetched = {wheel_name(name) for name in added.downloaded}
    assert "pytest" in fetched
    assert fetched.isdisjoint(pin.key for pin in before)
    after = {pin.key: pin for pin in parse_lock((service.root / LOCK_NAME).read_text()).pins}
    assert all(after[pin.key] == pin for pin in before if pin.key != DISTRIBUTION)
    check_vendor(service, extras=("test",))

    dropped = vendor(service)
    assert dropped.downloaded == []
    assert {wheel_name(name) for name in dropped.removed} == set(after) - {
        pin.key for pin in before
    }
    final = parse_lock((service.root / LOCK_NAME).read_text()).pins
    assert [pin.key for pin in final] == [pin.key for pin in before]
    assert [pin for pin in final if pin.key != DISTRIBUTION] == [
        pin for pin in before if pin.key != DISTRIBUTION
    ]
    check_vendor(service)


@pytest.mark.network
def test_vendors_for_another_target(service: ServiceProject) -> None:
    """--python-version/--platform fetch that target's binary wheels."""
    report = vendor(service, python_version="3.12", platform="manylinux_2_17_aarch64")
    assert report.verified is not None
    assert "3.12" in report.verified
    names = sorted(_wheels(service.root))
    falcon = [name for name in names if name.startswith("falcon-")]
    assert len(falcon) == 1
    assert "-cp312-" in falcon[0]
    assert "aarch64" in falcon[0]
    check_vendor(service, python_version="3.12", platform="manylinux_2_17_aarch64")


# A local index, built from the vendored wheels, for offline resolution.


def _write_wheel(path: Path, name: str, version: str, files: dict[str, str]) -> None:
    info = f"{name}-{version}.dist-info"
    entries = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for entry, text in entries.items():
            archive.writestr(entry, text)
        archive.writestr(f"{info}/RECORD", "")


def _write_sdist(path: Path, name: str, version: str) -> None:
    base = f"{name}-{version}"
    files = {
        "pyproject.toml": textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"
            [project]
            name = "{name}"
            version = "{version}"
            """
        ),
        f"{name}/__init__.py": "VALUE = 42\n",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for entry, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{entry}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _simple_index(root: Path, files: list[Path]) -> str:
    """Write a PEP 503 index of ``files`` under ``root`` and return its file:// URL."""
    projects: dict[str, list[Path]] = {}
    for path in files:
        name = wheel_name(path.name) or canonical_name(path.name.rsplit("-", 1)[0])
        projects.setdefault(name, []).append(path)
    for name, paths in projects.items():
        links = "".join(
            f'<a href="{path.as_uri()}#sha256={_sha256(path)}">{path.name}</a>\n' for path in paths
        )
        (root / name).mkdir(parents=True)
        (root / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    anchors = "".join(f'<a href="{name}/">{name}</a>\n' for name in sorted(projects))
    (root / "index.html").write_text(f"<html><body>\n{anchors}</body></html>\n")
    return root.as_uri() + "/"


@pytest.fixture(scope="module")
def local_index(vendored: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file:// index of the vendored wheels, a decoy of ours and an sdist-only package."""
    base = tmp_path_factory.mktemp("index")
    files = base / "files"
    files.mkdir()
    for path in (vendored / "vendor").iterdir():
        if wheel_name(path.name) != DISTRIBUTION:
            shutil.copy(path, files / path.name)
    _write_wheel(
        files / "scaffold_chassis-0.1.99-py3-none-any.whl",
        DISTRIBUTION,
        "0.1.99",
        {"scaffold/__init__.py": "DECOY = True\n"},
    )
    _write_sdist(files / "tinydep-1.0.tar.gz", "tinydep", "1.0")
    return _simple_index(base / "simple", sorted(files.iterdir()))


@pytest.fixture
def offline_service(
    vendored: Path, tmp_path: Path, local_index: str, monkeypatch: pytest.MonkeyPatch
) -> ServiceProject:
    """A copy of the service with neither lock nor vendor/, resolving from the local index."""
    monkeypatch.setenv("PIP_INDEX_URL", local_index)
    project = _copy(vendored, tmp_path / NAME)
    shutil.rmtree(project.root / "vendor")
    (project.root / LOCK_NAME).unlink()
    return project


@pytest.mark.network
def test_scaffold_never_comes_from_the_index(offline_service: ServiceProject) -> None:
    """An index offering a newer scaffold-chassis in range is ignored; sdists become wheels."""
    _add_dependency(offline_service.root, "tinydep>=1")
    report = vendor(find_project(offline_service.root))
    lock = parse_lock((offline_service.root / LOCK_NAME).read_text(encoding="utf-8"))
    pins = {pin.key: pin for pin in lock.pins}
    assert pins[DISTRIBUTION].version == metadata.version(DISTRIBUTION)
    with zipfile.ZipFile(offline_service.root / "vendor" / pins[DISTRIBUTION].filename) as wheel:
        assert "scaffold/runtime/__init__.py" in wheel.namelist()
        assert b"DECOY" not in wheel.read("scaffold/__init__.py")
    tiny = pins["tinydep"]
    assert wheel_name(tiny.filename) == "tinydep"
    assert tiny.filename.endswith("-none-any.whl")
    assert tiny.built_from is not None
    assert tiny.built_from.startswith("tinydep-1.0.tar.gz sha256:")
    assert _sha256(offline_service.root / "vendor" / tiny.filename) == tiny.sha256
    assert tiny.filename in report.built


@pytest.mark.network
def test_failed_verification_names_the_module_and_changes_nothing(
    offline_service: ServiceProject,
) -> None:
    """A factory importing an undeclared package fails verification; nothing is written."""
    app = offline_service.root / "acme_widgets" / "app.py"
    app.write_text("import ujson_not_declared\n" + app.read_text(encoding="utf-8"))
    with pytest.raises(VendorError, match="No module named 'ujson_not_declared'"):
        vendor(offline_service)
    assert not (offline_service.root / LOCK_NAME).exists()
    assert not (offline_service.root / "vendor").exists()


@pytest.mark.network
def test_repacks_an_installed_scaffold_reproducibly(vendored: Path, tmp_path: Path) -> None:
    """A regular (non-editable) install is packed back into a wheel with the same files."""
    (original,) = (vendored / "vendor").glob("scaffold_chassis-*.whl")
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    subprocess.run(
        [*install, "--target", str(site), str(original)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (dist,) = metadata.distributions(path=[str(site)])
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    packed = repack_installed(dist, first)
    assert packed.name == original.name
    assert _sha256(packed) == _sha256(repack_installed(dist, second))
    with zipfile.ZipFile(original) as old, zipfile.ZipFile(packed) as new:
        payload = {name for name in old.namelist() if not name.endswith("RECORD")}
        assert payload == {name for name in new.namelist() if not name.endswith("RECORD")}
        assert all(old.read(name) == new.read(name) for name in payload)
    (site / "scaffold" / "runtime" / "__init__.py").write_text("tampered = True\n")
    with pytest.raises(VendorError, match="differs from its RECORD"):
        repack_installed(dist, tmp_path)


# Offline argument checks.


def test_rejects_a_malformed_target(tmp_path: Path) -> None:
    """A python version that is not X.Y is refused before anything runs."""
    root = create_service(NAME, tmp_path)
    with pytest.raises(VendorError, match=r"--python-version must look like 3\.12"):
        check_vendor(find_project(root), python_version="3.12.1")


def test_unknown_extra_lists_the_known_ones(tmp_path: Path) -> None:
    """An extra the pyproject does not define names the ones it does."""
    root = create_service(NAME, tmp_path)
    with pytest.raises(VendorError, match=r"unknown extra 'docs'.*has test"):
        check_vendor(find_project(root), extras=("docs",))
