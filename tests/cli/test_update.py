"""`scaffold update`: three-way comparison of generated files with the installed template."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from scaffold.cli import main
from scaffold.render import MANIFEST


def update(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["update", *args])
    return result.exit_code, result.output


def pretend_rendered_as(root: Path, path: str, old_text: str) -> None:
    """Make `path` look as if an older template had rendered it as `old_text`."""
    (root / path).write_text(old_text)
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"][path] = hashlib.sha256(old_text.encode()).hexdigest()
    (root / MANIFEST).write_text(json.dumps(manifest))


def test_fresh_service_is_up_to_date(service_dir: Path) -> None:
    """Right after `scaffold new`, --check passes and nothing is to look at."""
    code, output = update("--check")
    assert code == 0, output
    assert "0 to look at" in output


def test_unedited_file_is_replaced(service_dir: Path) -> None:
    """A file nobody edited since it was rendered takes today's template."""
    today = (service_dir / "Dockerfile").read_text()
    pretend_rendered_as(service_dir, "Dockerfile", "FROM python:3.10\n")
    code, output = update("--check")
    assert code == 1
    assert "update  Dockerfile" in output
    code, output = update()
    assert code == 0
    assert (service_dir / "Dockerfile").read_text() == today
    assert update("--check")[0] == 0


def test_edited_file_is_a_conflict_left_untouched(service_dir: Path) -> None:
    """A file the team edited is kept; today's render goes beside it as .scaffold-new."""
    today = (service_dir / "Dockerfile").read_text()
    pretend_rendered_as(service_dir, "Dockerfile", "FROM python:3.10\n")
    (service_dir / "Dockerfile").write_text("FROM python:3.10\nRUN echo ours\n")
    code, output = update()
    assert code == 0
    assert "conflict  Dockerfile" in output
    assert "merge the 1 *.scaffold-new file(s)" in output
    assert (service_dir / "Dockerfile").read_text() == "FROM python:3.10\nRUN echo ours\n"
    assert (service_dir / "Dockerfile.scaffold-new").read_text() == today


def test_new_template_file_is_added(service_dir: Path) -> None:
    """A file the template gained since is added."""
    manifest = json.loads((service_dir / MANIFEST).read_text())
    del manifest["files"]["deploy/k8s/service.yaml"]
    (service_dir / MANIFEST).write_text(json.dumps(manifest))
    (service_dir / "deploy/k8s/service.yaml").unlink()
    code, output = update()
    assert code == 0
    assert "add  deploy/k8s/service.yaml" in output
    assert (service_dir / "deploy/k8s/service.yaml").is_file()


def test_deleted_file_stays_deleted(service_dir: Path) -> None:
    """A generated file the team deleted is not brought back."""
    (service_dir / "Dockerfile").unlink()
    code, output = update()
    assert code == 0
    assert "kept deleted  Dockerfile" in output
    assert not (service_dir / "Dockerfile").exists()
    assert update("--check")[0] == 0


def test_dry_run_writes_nothing(service_dir: Path) -> None:
    """--dry-run reports the plan and changes no file."""
    pretend_rendered_as(service_dir, "Dockerfile", "FROM python:3.10\n")
    before = {p: p.read_bytes() for p in service_dir.rglob("*") if p.is_file()}
    code, output = update("--dry-run")
    assert code == 0
    assert "update  Dockerfile" in output
    after = {p: p.read_bytes() for p in service_dir.rglob("*") if p.is_file()}
    assert after == before


def test_service_without_manifest(service_dir: Path) -> None:
    """A service not made by `scaffold new` cannot be updated; one clear line says why."""
    (service_dir / MANIFEST).unlink()
    code, output = update()
    assert code == 1
    assert "only services made by `scaffold new` can be updated" in output
