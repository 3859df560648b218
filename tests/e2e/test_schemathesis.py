"""schemathesis against a freshly generated service on a real `scaffold run`: 0 failures.

Every check schemathesis has (`--checks all`: no 5xx, every status and content type
documented, responses match their schemas, negative data rejected, positive data accepted, ...)
over the coverage, fuzzing and stateful phases, at a fixed seed so a failure is reproducible
with the command in the assertion message.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import BIN, ServerProcess

from scaffold.runtime.passwords import hash_password

pytestmark = pytest.mark.e2e

# At this seed the stateful phase sends a name holding an encoded "/" (a 404 the document must
# list), the finding this test was written for; 3 of 7 seeds tried find it.
SEED = 1
EXAMPLES = 100  # per operation and phase
PHASES = "examples,coverage,fuzzing,stateful"


def schemathesis(
    server: ServerProcess, workdir: Path, *extra: str
) -> tuple[dict[str, object], str]:
    """Run schemathesis at the served document; return its JSON report and its output."""
    assert server.app is not None
    host, port = server.app
    report = workdir / "schemathesis.json"
    command = [
        str(BIN / "schemathesis"),
        "run",
        f"http://{host}:{port}/openapi.json",
        "--checks=all",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        f"--phases={PHASES}",
        "--generation-database=none",
        "--no-color",
        "--report=json",
        f"--report-json-path={report}",
        *extra,
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=300, check=False
    )
    output = f"$ {' '.join(command)}\n{done.stdout}{done.stderr}"
    assert report.is_file(), output
    return json.loads(report.read_text()), output


def assert_clean(report: dict[str, object], output: str) -> None:
    operations = report["operations"]
    cases = report["test_cases"]
    phases = report["phases"]
    assert isinstance(operations, dict) and isinstance(cases, dict) and isinstance(phases, dict)
    assert report["failures"] == [], output
    assert report["errors"] == [], output
    assert report["exit_code"] == 0, output
    assert report["stop_reason"] == "completed", output
    assert operations["tested"] == operations["total"] == 2, output
    assert cases["generated"] >= EXAMPLES * operations["tested"], output
    assert cases["with_failures"] == 0, output
    for phase in ("coverage", "fuzzing", "stateful"):
        assert phases[phase]["status"] == "success", (phase, output)


def test_generated_service_passes_every_check(
    serve: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    """The generated service as `scaffold new` writes it."""
    report, output = schemathesis(serve(), tmp_path)
    assert_clean(report, output)


def test_generated_service_with_basic_auth_passes_every_check(
    serve: Callable[..., ServerProcess], service_root: Path, tmp_path: Path
) -> None:
    """With Basic auth on: the spec's 401 and security scheme hold, and credentials work."""
    config = service_root / "config.yml"
    text = config.read_text()
    commented = '  # basic:\n  #   realm: acme-widgets\n  #   users:\n  #     alice: "${ALICE_PASSWORD_HASH}"'
    assert commented in text
    config.write_text(text.replace(commented, commented.replace("# ", "")))
    server = serve(env={"ALICE_PASSWORD_HASH": hash_password("fuzz-me")})
    report, output = schemathesis(server, tmp_path, "--auth=alice:fuzz-me")
    assert_clean(report, output)
