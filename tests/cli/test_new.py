"""`scaffold new`: name rules, refusal to clobber, --force, options, atomic rendering."""

from __future__ import annotations

import json
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffold.cli import main
from scaffold.new import create_service
from scaffold.template import (
    dependency_import_names,
    name_rules,
    scaffold_requirement,
    template_path,
    template_requirements,
)

EXPECTED_FILES = [
    "pyproject.toml",
    "config.yml",
    "README.md",
    "CHANGELOG.md",
    ".gitignore",
    "acme_widgets/__init__.py",
    "acme_widgets/app.py",
    "acme_widgets/resources.py",
    "acme_widgets/schemas.py",
    "acme_widgets/health.py",
    "tests/test_resources.py",
    "tests/test_health.py",
    "deploy/systemd/acme-widgets.service",
    "deploy/systemd/acme-widgets.socket",
    "deploy/k8s/deployment.yaml",
    "deploy/k8s/service.yaml",
    "Dockerfile",
    ".scaffold/template.json",
]


# Each case: a name and a fragment of the reason given. `scaffold new` and plain cookiecutter
# (the template's hook) must refuse every one of them the same way.
BAD_NAMES = [
    ("Acme", "lowercase"),
    ("1acme", "lowercase"),
    ("acme--widgets", "lowercase"),
    ("acme-", "lowercase"),
    ("-acme", "lowercase"),
    ("acme_widgets", "lowercase"),
    ("acme widgets", "lowercase"),
    ('acme"widgets', "lowercase"),
    ("a" * 41, "41 characters"),
    ("class", "keyword"),
    ("match", "keyword"),
    ("case", "keyword"),
    ("type", "keyword"),
    ("json", "standard library"),
    ("email", "standard library"),
    ("scaffold", "reserved"),
    ("test", "reserved"),
    ("tests", "reserved"),
    ("falcon", "dependency falcon"),
    ("gunicorn", "dependency gunicorn"),
    ("marshmallow", "dependency marshmallow"),
    ("yaml", "dependency PyYAML"),
    ("click", "dependency click"),
    ("statsd", "dependency statsd"),
    ("apispec", "dependency apispec"),
    ("orjson", "dependency orjson"),
    ("uvloop", "dependency uvloop"),
    ("cookiecutter", "dependency cookiecutter"),
    ("jinja2", "dependency Jinja2"),
    ("", "empty"),
]
BAD_NAME_IDS = [name[:12] or "empty" for name, _ in BAD_NAMES]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["new", *args])
    return result.exit_code, result.output


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_new_creates_the_documented_layout(tmp_path: Path) -> None:
    """The generated service has every file DESIGN 4.2 lists."""
    code, output = invoke("acme-widgets", "--output-dir", str(tmp_path), "--no-input")
    assert code == 0, output
    root = tmp_path / "acme-widgets"
    for name in EXPECTED_FILES:
        assert (root / name).is_file(), name
    assert "scaffold run" in output


def test_pyproject_points_at_the_factory(rendered_service: Path) -> None:
    """[tool.scaffold] names the factory and config; scaffold is a pinned-range dependency."""
    data = tomllib.loads((rendered_service / "pyproject.toml").read_text())
    assert data["tool"]["scaffold"] == {
        "service": "acme_widgets.app:create_service",
        "config": "config.yml",
    }
    assert data["project"]["name"] == "acme-widgets"
    assert data["project"]["dependencies"] == [scaffold_requirement()]
    assert data["project"]["optional-dependencies"]["test"][0] == scaffold_requirement(extra="new")
    assert scaffold_requirement("0.1.0") == "scaffold-chassis>=0.1,<0.2"
    assert scaffold_requirement("1.4.2") == "scaffold-chassis>=1.4,<2"
    assert scaffold_requirement("1.4.2", extra="new") == "scaffold-chassis[new]>=1.4,<2"


def test_plain_cookiecutter_defaults_match_scaffold_new() -> None:
    """The requirement defaults in cookiecutter.json are the ones `scaffold new` passes."""
    data = json.loads((template_path() / "cookiecutter.json").read_text())
    for key, value in template_requirements().items():
        assert data[key] == value, key


def test_no_leftover_temporary_folders(tmp_path: Path) -> None:
    """Rendering goes through a temporary folder that is gone afterwards."""
    create_service("acme-widgets", tmp_path)
    assert listing(tmp_path)[0] == "acme-widgets"
    assert [p.name for p in tmp_path.iterdir()] == ["acme-widgets"]


def test_description_reaches_readme_and_metadata(tmp_path: Path) -> None:
    """--description is used in README and pyproject."""
    code, _ = invoke("billing", "-o", str(tmp_path), "--description", "Bills people.", "--no-input")
    assert code == 0
    root = tmp_path / "billing"
    assert "Bills people." in (root / "README.md").read_text()
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["description"] == (
        "Bills people."
    )


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES, ids=BAD_NAME_IDS)
def test_bad_names_exit_2_and_write_nothing(tmp_path: Path, name: str, reason: str) -> None:
    """A bad name is a usage error (exit 2) with a one-line reason; nothing is written."""
    out = tmp_path / "out"
    code, output = invoke("-o", str(out), "--no-input", "--", name)
    assert code == 2
    assert reason in output
    assert len(output.strip().splitlines()) == 1
    assert not out.exists()


def test_longest_valid_name(tmp_path: Path) -> None:
    """40 characters is allowed."""
    code, _ = invoke("a" * 40, "-o", str(tmp_path), "--no-input")
    assert code == 0


def test_existing_target_is_untouched(tmp_path: Path) -> None:
    """An existing target exits 1 and is not modified."""
    target = tmp_path / "acme-widgets"
    target.mkdir()
    (target / "mine.txt").write_text("precious")
    code, output = invoke("acme-widgets", "-o", str(tmp_path), "--no-input")
    assert code == 1
    assert "already exists" in output
    assert listing(target) == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["acme-widgets"]


def test_force_refuses_a_foreign_folder(tmp_path: Path) -> None:
    """--force never replaces a non-empty folder that scaffold did not make."""
    target = tmp_path / "acme-widgets"
    target.mkdir()
    (target / "mine.txt").write_text("precious")
    code, output = invoke("acme-widgets", "-o", str(tmp_path), "--no-input", "--force")
    assert code == 1
    assert "not made by `scaffold new`" in output
    assert (target / "mine.txt").read_text() == "precious"


def test_force_refuses_a_file(tmp_path: Path) -> None:
    """--force does not replace a file with the service's name."""
    (tmp_path / "acme-widgets").write_text("a file")
    code, _ = invoke("acme-widgets", "-o", str(tmp_path), "--no-input", "--force")
    assert code == 1
    assert (tmp_path / "acme-widgets").read_text() == "a file"


def test_force_fills_an_empty_folder(tmp_path: Path) -> None:
    """--force renders into an existing empty folder."""
    (tmp_path / "acme-widgets").mkdir()
    code, _ = invoke("acme-widgets", "-o", str(tmp_path), "--no-input", "--force")
    assert code == 0
    assert (tmp_path / "acme-widgets" / "config.yml").is_file()


def test_force_replaces_a_service_scaffold_made(tmp_path: Path) -> None:
    """--force replaces a folder made by `scaffold new`, leaving no old files behind."""
    root = create_service("acme-widgets", tmp_path)
    (root / "stale.txt").write_text("old")
    code, _ = invoke("acme-widgets", "-o", str(tmp_path), "--no-input", "--force")
    assert code == 0
    assert not (root / "stale.txt").exists()
    assert (root / "config.yml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["acme-widgets"]


def test_output_dir_is_created(tmp_path: Path) -> None:
    """--output-dir may name a folder that does not exist yet."""
    code, _ = invoke("acme-widgets", "-o", str(tmp_path / "a" / "b"), "--no-input")
    assert code == 0
    assert (tmp_path / "a" / "b" / "acme-widgets" / "pyproject.toml").is_file()


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    """An --output-dir that is a file is a clear error."""
    (tmp_path / "f").write_text("x")
    code, output = invoke("acme-widgets", "-o", str(tmp_path / "f"), "--no-input")
    assert code == 2
    assert "is a file" in output
    assert "Traceback" not in output


def plain_cookiecutter(
    tmp_path: Path, scaffold_bin: Path, slug: str
) -> subprocess.CompletedProcess[str]:
    """Run the `cookiecutter` command itself on templates/service, HOME kept in tmp_path."""
    template = Path(__file__).resolve().parents[2] / "templates" / "service"
    return subprocess.run(
        [
            str(scaffold_bin.parent / "cookiecutter"),
            str(template),
            "--no-input",
            "-o",
            str(tmp_path / "out"),
            f"project_slug={slug}",
        ],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": str(scaffold_bin.parent)},
        check=False,
    )


def test_plain_cookiecutter_renders_the_template(tmp_path: Path, scaffold_bin: Path) -> None:
    """`cookiecutter templates/service --no-input` works without scaffold's CLI."""
    result = plain_cookiecutter(tmp_path, scaffold_bin, "billing-api")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "out" / "billing-api"
    assert (root / "billing_api" / "app.py").is_file()
    assert 'service = "billing_api.app:create_service"' in (root / "pyproject.toml").read_text()


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES, ids=BAD_NAME_IDS)
def test_plain_cookiecutter_refuses_the_same_names(
    tmp_path: Path, scaffold_bin: Path, name: str, reason: str
) -> None:
    """The template's own hook refuses each name `scaffold new` refuses, for the same reason."""
    result = plain_cookiecutter(tmp_path, scaffold_bin, name)
    assert result.returncode != 0
    assert f"Error: invalid service name {name!r}: " in result.stderr
    assert reason in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_table_holds_every_dependency_import_name() -> None:
    """cookiecutter.json's `taken` covers the installed closure of scaffold-chassis[new].

    `scaffold new` also refuses the names it computes at run time; the table is what plain
    cookiecutter has. When a dependency brings a new top-level package, add it there.
    """
    computed = dependency_import_names()
    assert {"falcon", "gunicorn", "marshmallow", "yaml", "cookiecutter"} <= set(computed)
    table = name_rules()["taken"]
    missing = {name: dist for name, dist in computed.items() if name not in table}
    assert not missing, f"add to _name_rules.taken in cookiecutter.json: {missing}"


def test_rendering_leaves_nothing_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cookiecutter leaves each rendered hook in the temp folder; ours go with the work folder."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    create_service("acme-widgets", tmp_path / "out")
    assert list(system_tmp.iterdir()) == []
    assert tempfile.tempdir == str(system_tmp)
