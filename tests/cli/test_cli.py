"""CLI wiring: version, help, exit codes, error style, and the installed console script."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from scaffold import __version__
from scaffold.cli import main


def test_version() -> None:
    """--version prints the package version."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"scaffold, version {__version__}"


@pytest.mark.parametrize("command", ["new", "run", "check", "vendor"])
def test_command_help(command: str) -> None:
    """Every command has --help."""
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {command} [OPTIONS]")
    assert main.commands[command].get_short_help_str(limit=1000) in " ".join(result.output.split())


def test_unknown_command_is_usage_error() -> None:
    """An unknown command exits 2."""
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2


def test_console_script_help(scaffold_bin) -> None:
    """The installed `scaffold` command runs."""
    result = subprocess.run(
        [str(scaffold_bin), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("new", "run", "check", "vendor"):
        assert command in result.stdout


def test_python_dash_m() -> None:
    """`python -m scaffold --version` works."""
    result = subprocess.run(
        [sys.executable, "-m", "scaffold", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_errors_are_one_line_without_traceback(tmp_path, scaffold_bin) -> None:
    """A failing command prints a short error and no traceback; --debug shows it."""
    result = subprocess.run(
        [str(scaffold_bin), "check"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: no pyproject.toml with a [tool.scaffold] table")
    assert len(result.stderr.strip().splitlines()) <= 2
    debug = subprocess.run(
        [str(scaffold_bin), "--debug", "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert "Traceback" in debug.stderr


def test_help_imports_nothing_heavy() -> None:
    """`scaffold --help` loads click and the CLI only: no framework, template engine or metadata."""
    code = (
        "import sys\n"
        "from scaffold.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'falcon', 'gunicorn', 'cookiecutter', 'jinja2', 'marshmallow', 'yaml', 'uvloop'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "loaded += [m for m in ('importlib.metadata',) if m in sys.modules]\n"
        "print(loaded, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "[]"
    assert "Usage:" in result.stdout
