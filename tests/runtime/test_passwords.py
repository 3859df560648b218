"""Password hashes for Basic auth, and `scaffold hash-password`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from scaffold.cli import main
from scaffold.runtime.passwords import check_hash_format, hash_password, verify_password


def test_hash_verifies_only_its_password() -> None:
    """A hash accepts its password and nothing else."""
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct hors", encoded)
    assert not verify_password("", encoded)


def test_hashes_are_salted() -> None:
    """The same password hashes differently each time."""
    assert hash_password("pw") != hash_password("pw")


@pytest.mark.parametrize(
    "encoded",
    ["", "plaintext", "scrypt$1$8$1$abc$def", "scrypt$x$8$1$abc$def", "md5$1$2$3$4$5"],
    ids=["empty", "plain", "bad-n", "non-int", "other-algo"],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    """A malformed stored hash is reported and never matches."""
    assert check_hash_format(encoded) is not None
    assert not verify_password("anything", encoded)


def test_cli_reads_one_line_of_stdin() -> None:
    """`scaffold hash-password` reads the password from stdin, never from an argument."""
    result = CliRunner().invoke(main, ["hash-password"], input="s3cret\nignored\n")
    assert result.exit_code == 0
    encoded = result.output.strip()
    assert verify_password("s3cret", encoded)
    assert "s3cret" not in result.output


def test_cli_refuses_empty_password() -> None:
    """An empty password is a usage error."""
    result = CliRunner().invoke(main, ["hash-password"], input="\n")
    assert result.exit_code == 2
    assert "password is empty" in result.output


def test_cli_takes_no_password_argument(scaffold_bin: Path) -> None:
    """A password given as an argument is refused (it would land in shell history)."""
    result = subprocess.run(
        [str(scaffold_bin), "hash-password", "hunter2"],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
