"""The rendered template: its own tests pass, its config is documented and safe, its code is clean."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from scaffold.loader import load_service
from scaffold.runtime import load_config, parse_config
from scaffold.runtime.config_schema import ServerConfig
from scaffold.runtime.testing import client


def test_generated_tests_pass(
    rendered_service: Path, run_service_tests: Callable[[Path], subprocess.CompletedProcess[str]]
) -> None:
    """The service's own pytest suite passes out of the box."""
    result = run_service_tests(rendered_service)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed, result.stdout
    assert int(passed.group(1)) >= 10
    assert "failed" not in result.stdout


def test_config_defaults_are_the_runtime_defaults(rendered_service: Path) -> None:
    """With no environment overrides, config.yml means exactly the documented defaults."""
    generated = load_config(rendered_service / "config.yml", env={}).effective(mask_secrets=False)
    defaults = parse_config("", env={}).effective(mask_secrets=False)
    generated.pop("app")
    defaults.pop("app")
    assert generated == defaults


def test_every_config_key_is_commented(rendered_service: Path) -> None:
    """Each key in config.yml has a comment on the line before it or on its own line."""
    lines = (rendered_service / "config.yml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        if not re.match(r"^\s*[a-z_]+:", line):
            continue
        previous = lines[number - 1].strip() if number else ""
        if "#" not in line and not previous.startswith("#"):
            undocumented.append(line.strip())
    sections = {"server:", "logging:", "metrics:", "cors:", "auth:"}
    assert [line for line in undocumented if line not in sections] == []
    loaded = yaml.safe_load((rendered_service / "config.yml").read_text())
    assert set(loaded) == {"server", "logging", "metrics", "cors", "auth", "openapi", "app"}


def test_operator_variables_are_used(rendered_service: Path) -> None:
    """Operators override binds, workers and level through ACME_WIDGETS_* variables."""
    env = {
        "ACME_WIDGETS_BIND": "0.0.0.0:9000",
        "ACME_WIDGETS_ADMIN_BIND": "127.0.0.1:9001",
        "ACME_WIDGETS_WORKERS": "5",
        "ACME_WIDGETS_LOG_LEVEL": "debug",
    }
    config = load_config(rendered_service / "config.yml", env=env)
    assert config.server.bind == ("0.0.0.0:9000",)
    assert config.server.admin_bind == ("127.0.0.1:9001",)
    assert config.server.workers == 5
    assert config.logging.level == "DEBUG"


def test_generated_code_is_lint_clean(rendered_service: Path) -> None:
    """The generated Python passes ruff with the rules its pyproject sets."""
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--no-cache", "."],
        cwd=rendered_service,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_files_name_the_service(rendered_service: Path) -> None:
    """systemd, Kubernetes and Docker files are rendered for this service."""
    unit = (rendered_service / "deploy/systemd/acme-widgets.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "scaffold run" in unit
    deployment = yaml.safe_load((rendered_service / "deploy/k8s/deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "admin"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "admin"}
    yaml.safe_load((rendered_service / "deploy/k8s/service.yaml").read_text())
    dockerfile = (rendered_service / "Dockerfile").read_text()
    assert "--no-index" in dockerfile
    assert "--require-hashes" in dockerfile


def test_readme_says_workers_share_no_memory(rendered_service: Path) -> None:
    """The README warns that in-memory state is per worker, names the default and what to use."""
    readme = (rendered_service / "README.md").read_text()
    state = readme[readme.index("## State") : readme.index("\n## ", readme.index("## State") + 1)]
    assert f"({ServerConfig().workers} by default)" in state
    assert "share no memory" in state
    assert "PostgreSQL" in state and "Redis" in state and "--workers 1" in state
    assert readme.index("## State") < readme.index("## Layout")  # near the top


def test_one_list_of_languages(service_dir: Path) -> None:
    """A language added to greetings.py is served and valid as app.default_language, nothing else edited."""
    greetings = service_dir / "acme_widgets" / "greetings.py"
    source = greetings.read_text()
    assert '    "es": "¡Hola, {name}!",\n' in source
    greetings.write_text(source.replace('    "es"', '    "de": "Hallo, {name}!",\n    "es"', 1))
    config = service_dir / "config.yml"
    config.write_text(config.read_text().replace("default_language: en", "default_language: de"))
    service = load_service()
    answer = client(service).simulate_post("/v1/greetings", json={"name": "Ada", "language": "de"})
    assert answer.json == {"greeting": "Hallo, Ada!", "language": "de"}
    assert client(service).simulate_get("/v1/greetings/Ada").json["language"] == "de"
    service.close()
