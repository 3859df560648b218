"""`scaffold update`: a three-way merge from the recorded base to today's template.

Services are generated from an "old" template (a copy of today's with some files changed, one
missing and two extra), edited and committed as a team would, then updated to today's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffold.cli import main
from scaffold.new import create_service
from scaffold.template import (
    LEGACY_MANIFEST,
    RECORD,
    read_record,
    read_tree,
    render,
    template_path,
)
from scaffold.update import apply_update, plan_update

SLUG = "{{cookiecutter.project_slug}}"
PACKAGE = "{{cookiecutter.package_name}}"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Team",
    "GIT_AUTHOR_EMAIL": "team@example.com",
    "GIT_COMMITTER_NAME": "Team",
    "GIT_COMMITTER_EMAIL": "team@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
APP_DOC_TODAY = '"""Return the service: routes under /v1 and the `app` health check."""'
APP_DOC_OLD = '"""Build the service (old wording)."""'
TEAM_HELPER = '\n\ndef team_helper() -> str:\n    """Ours."""\n    return "team"\n'


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def update(root: Path, *args: str) -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(main, ["update", *args])
    finally:
        os.chdir(cwd)
    return result.exit_code, result.output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def old_template(tmp_path: Path) -> Path:
    """Today's template as an older release had it: changed, missing and extra files."""
    old = shutil.copytree(template_path(), tmp_path / "old-template")
    files = old / SLUG
    edit(files / PACKAGE / "app.py", APP_DOC_TODAY, APP_DOC_OLD)
    edit(files / "config.yml", "  threads: 4\n", "  threads: 8\n")
    edit(files / "Dockerfile", "FROM python:3.11-slim\n", "FROM python:3.10-slim\n")
    (files / "deploy" / "k8s" / "networkpolicy.yaml").unlink()
    (files / "NOTES.md").write_text("Notes the old template kept.\n")
    (files / "HISTORY.md").write_text("History the old template kept.\n")
    return old


@pytest.fixture
def make_service(tmp_path: Path) -> Callable[..., Path]:
    """Generate acme-widgets (from ``template`` if given) and commit it in a new git repo."""

    def make(template: Path | None = None) -> Path:
        root = create_service("acme-widgets", tmp_path / "services", template=template)
        git(root, "init", "-q", "-b", "main")
        commit(root, "scaffold new")
        return root

    return make


@pytest.fixture
def edited_old_service(make_service: Callable[..., Path], old_template: Path) -> Path:
    """A service of the old template with the team's edits, committed."""
    root = make_service(old_template)
    (root / "acme_widgets" / "app.py").write_text(
        (root / "acme_widgets" / "app.py").read_text() + TEAM_HELPER
    )
    edit(root / "config.yml", "  threads: 8\n", "  threads: 16\n")
    (root / "HISTORY.md").write_text("History the old template kept.\nAnd ours.\n")
    commit(root, "team edits")
    return root


@pytest.fixture
def todays_render(tmp_path: Path) -> dict[str, bytes]:
    rendered = render(
        {"project_slug": "acme-widgets", "package_name": "acme_widgets"}, tmp_path / "today"
    )
    return read_tree(rendered.root)


def test_update_merges_the_template_change_into_a_team_service(
    edited_old_service: Path, todays_render: dict[str, bytes]
) -> None:
    """Untouched files replaced, compatible edits merged, overlapping ones marked, exit 1."""
    root = edited_old_service
    code, output = update(root, "--check")
    assert code == 1, output
    assert "behind the template" in output

    code, output = update(root)
    assert code == 1, output
    lines = output.splitlines()
    assert "     added  deploy/k8s/networkpolicy.yaml" in lines
    assert "   updated  Dockerfile" in lines
    assert "    merged  acme_widgets/app.py" in lines
    assert "conflicted  config.yml  (1 conflict(s))" in lines
    assert "   removed  NOTES.md" in lines
    assert "      kept  HISTORY.md  (dropped by the template, edited here)" in lines
    assert lines[-3:] == [
        "resolve the conflict markers (<<<<<<< yours ... >>>>>>>), then commit:",
        "  config.yml",
        "Error: 1 file(s) have conflict markers to resolve",
    ]

    assert (root / "Dockerfile").read_bytes() == todays_render["Dockerfile"]
    assert (root / "deploy/k8s/networkpolicy.yaml").read_bytes() == todays_render[
        "deploy/k8s/networkpolicy.yaml"
    ]
    app = (root / "acme_widgets" / "app.py").read_text()
    assert APP_DOC_TODAY in app and APP_DOC_OLD not in app  # the template's change
    assert app.endswith(TEAM_HELPER)  # and the team's
    config = (root / "config.yml").read_text()
    assert "<<<<<<< yours\n  threads: 16\n=======\n  threads: 4\n>>>>>>> template" in config
    assert not (root / "NOTES.md").exists()
    assert (root / "HISTORY.md").read_text().endswith("And ours.\n")
    assert not list(root.rglob("*.scaffold-new"))
    record = read_record(root)
    assert record.files == todays_render
    assert record.answers["project_slug"] == "acme-widgets"

    assert update(root, "--check")[0] == 0
    resolved_config = todays_render["config.yml"].replace(b"  threads: 4\n", b"  threads: 16\n")
    (root / "config.yml").write_bytes(resolved_config)
    commit(root, "update to the template, conflict resolved")
    resolved = read_tree(root)
    code, output = update(root)
    assert code == 0, output
    assert "(the template is unchanged)" in output
    assert read_tree(root) == resolved
    assert git(root, "status", "--porcelain") == ""


def test_dry_run_prints_the_plan_and_writes_nothing(edited_old_service: Path) -> None:
    """--dry-run lists every kind of step, exits 0 and leaves the work tree clean."""
    code, output = update(edited_old_service, "--dry-run")
    assert code == 0, output
    for action in ("added", "updated", "merged", "conflicted", "removed", "kept"):
        assert f"1 {action}" in output
    assert git(edited_old_service, "status", "--porcelain") == ""


def test_an_unchanged_template_changes_nothing_whatever_the_team_edited(
    make_service: Callable[..., Path],
) -> None:
    """Team edits everywhere; the template did not move: --check passes, update writes nothing."""
    root = make_service()
    (root / "acme_widgets" / "app.py").write_text("# rewritten by the team\n")
    (root / "Dockerfile").unlink()
    (root / "mine.txt").write_text("ours\n")
    commit(root, "team edits")
    before = read_tree(root)
    code, output = update(root, "--check")
    assert code == 0, output
    code, output = update(root)
    assert code == 0, output
    assert read_tree(root) == before
    assert git(root, "status", "--porcelain") == ""


def test_uncommitted_changes_are_refused_unless_forced(make_service: Callable[..., Path]) -> None:
    """An update mixed into uncommitted work could not be reviewed or undone."""
    root = make_service()
    (root / "config.yml").write_text((root / "config.yml").read_text() + "# wip\n")
    code, output = update(root)
    assert code == 1
    assert "uncommitted changes (config.yml); commit or stash them first (or pass --force)" in (
        output
    )
    assert update(root, "--force")[0] == 0


def test_outside_git_is_refused_unless_forced(tmp_path: Path) -> None:
    root = create_service("acme-widgets", tmp_path)
    code, output = update(root)
    assert code == 1
    assert "is not in a git work tree" in output
    assert update(root, "--force")[0] == 0


def test_set_answers_a_question_and_moves_the_base(make_service: Callable[..., Path]) -> None:
    """--set changes an answer: the files that use it follow, the record keeps it."""
    root = make_service()
    code, output = update(root, "--set", "description=Widgets for everyone.")
    assert code == 0, output
    assert 'description = "Widgets for everyone."' in (root / "pyproject.toml").read_text()
    assert read_record(root).answers["description"] == "Widgets for everyone."
    code, output = update(root, "--set", "description")
    assert code == 2
    assert "'description' is not KEY=VALUE" in output


def test_a_format_1_record_is_migrated_with_its_base_from_git(
    make_service: Callable[..., Path], old_template: Path
) -> None:
    """scaffold 0.1.0's manifest held digests only: the base comes from the service's history."""
    root = make_service(old_template)
    record = json.loads((root / RECORD).read_text())
    legacy = {
        "format": 1,
        "template": "service",
        "scaffold_version": "0.1.0",
        "answers": record["answers"],
        "files": {
            path: hashlib.sha256(text.encode()).hexdigest()
            for path, text in record["files"].items()
        },
    }
    shutil.rmtree(root / ".scaffold")
    (root / LEGACY_MANIFEST).write_text(json.dumps(legacy))
    commit(root, "as scaffold 0.1.0 wrote it")
    (root / "acme_widgets" / "app.py").write_text(
        (root / "acme_widgets" / "app.py").read_text() + TEAM_HELPER
    )
    commit(root, "team edit")

    code, output = update(root)
    assert "the record moves to .scaffold/template.json" in output
    assert "    merged  acme_widgets/app.py" in output.splitlines()  # base found in git
    app = (root / "acme_widgets" / "app.py").read_text()
    assert APP_DOC_TODAY in app and app.endswith(TEAM_HELPER)
    assert not (root / LEGACY_MANIFEST).exists()
    assert (root / RECORD).is_file()
    assert "   updated  config.yml" in output.splitlines()  # untouched: digest matched
    assert code == 0, output


def test_service_without_record(tmp_path: Path) -> None:
    root = create_service("acme-widgets", tmp_path)
    shutil.rmtree(root / ".scaffold")
    code, output = update(root, "--force")
    assert code == 1
    assert "only services made by `scaffold new` can be updated" in output


# The last commit of the first release (0.1.0), before the serving engine moved to asgi.
FIRST_RELEASE = "b7cfbf1"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.network
def test_a_service_made_by_the_first_release_updates(
    tmp_path: Path, run_service_tests: Callable[[Path], subprocess.CompletedProcess[str]]
) -> None:
    """The real 0.1.0, installed from this repository's history, renders a service; it updates.

    Its format-1 record migrates, its base comes from the service's git history, the team's
    edit survives the merge, and the updated service's own tests pass on today's runtime.
    """
    have = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{FIRST_RELEASE}^{{commit}}"])
    assert have.returncode == 0, f"this test needs the repository's history ({FIRST_RELEASE})"
    source = tmp_path / "release"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", FIRST_RELEASE], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    release = tmp_path / "venv-0.1.0"
    subprocess.run([sys.executable, "-m", "venv", str(release)], check=True)
    pip = [str(release / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", str(source)], check=True, capture_output=True, timeout=600)
    services = tmp_path / "services"
    services.mkdir()
    subprocess.run(
        [str(release / "bin" / "scaffold"), "new", "acme-widgets", "--no-input"],
        cwd=services,
        check=True,
        capture_output=True,
    )
    root = services / "acme-widgets"
    assert (root / LEGACY_MANIFEST).is_file() and not (root / RECORD).exists()
    git(root, "init", "-q", "-b", "main")
    commit(root, "made by scaffold 0.1.0")
    app = root / "acme_widgets" / "app.py"
    app.write_text(app.read_text() + TEAM_HELPER)
    commit(root, "team edit")

    code, output = update(root)
    assert code == 0, output
    assert (
        "template 0.1.0 -> " in output and "the record moves to .scaffold/template.json" in output
    )
    assert app.read_text().endswith(TEAM_HELPER)
    assert "async def" in (root / "acme_widgets" / "resources.py").read_text()  # today's
    assert not (root / LEGACY_MANIFEST).exists()
    assert update(root, "--check")[0] == 0
    tests = run_service_tests(root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    commit(root, "scaffold update")
    code, output = update(root)
    assert code == 0 and git(root, "status", "--porcelain") == "", output


def test_a_question_a_newer_template_asks_takes_its_default_or_set(
    make_service: Callable[..., Path], tmp_path: Path
) -> None:
    """A newer template's new variable: its default, or what --set says; the record keeps it."""
    newer = shutil.copytree(template_path(), tmp_path / "newer-template")
    data = json.loads((newer / "cookiecutter.json").read_text())
    (newer / "cookiecutter.json").write_text(json.dumps({**data, "owner": "platform-team"}))
    (newer / SLUG / "OWNERS").write_text("{{ cookiecutter.owner }}\n")
    root = make_service()

    plan = plan_update(root, template=newer)
    assert plan.behind
    assert [(step.action, step.path) for step in plan.steps if step.action != "unchanged"] == [
        ("added", "OWNERS")
    ]
    apply_update(plan)
    assert (root / "OWNERS").read_text() == "platform-team\n"
    assert read_record(root).answers["owner"] == "platform-team"

    plan = plan_update(root, template=newer, overrides={"owner": "widgets-team"})
    apply_update(plan)
    assert (root / "OWNERS").read_text() == "widgets-team\n"
    assert read_record(root).answers["owner"] == "widgets-team"
    assert not plan_update(root, template=newer).behind
