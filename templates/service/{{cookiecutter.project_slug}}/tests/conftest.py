"""Shared fixtures: the service built from its own config.yml, with defaults only."""

from pathlib import Path

import pytest
from scaffold.runtime import Service, load_config

from {{ cookiecutter.package_name }}.app import create_service

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def service() -> Service:
    """The service as `scaffold run` builds it, ignoring the caller's environment."""
    return create_service(load_config(ROOT / "config.yml", env={}))
