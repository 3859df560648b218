"""Load a service for the CLI: its config (with command-line overrides) and its factory.

:func:`load_service` builds a service once (``scaffold check``, ``routes``, ``openapi``, and
``scaffold run`` before it serves); a :class:`ServiceLoader` does it again on every gunicorn
reload.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from scaffold.exceptions import InvalidConfigError, ServiceLoadError
from scaffold.project import ServiceProject, find_project
from scaffold.runtime import Config, ConfigError, Service, ServiceError, load_config
from scaffold.runtime.config_schema import parse_bind


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Command-line values that win over the config file."""

    binds: tuple[str, ...] = ()
    admin_binds: tuple[str, ...] = ()
    workers: int | None = None


class ServiceLoader:
    """Loads one project's config and service; reused on every gunicorn reload.

    Args:
        project: The service project.
        config_file: A config file other than ``[tool.scaffold] config``.
        overrides: Command-line overrides.
    """

    def __init__(
        self,
        project: ServiceProject,
        config_file: Path | None = None,
        overrides: Overrides | None = None,
    ) -> None:
        self.project = project
        self.config_path = Path(config_file).resolve() if config_file else project.config_path
        self.overrides = overrides or Overrides()

    @classmethod
    def find(
        cls, config_file: Path | None = None, overrides: Overrides | None = None
    ) -> ServiceLoader:
        """Return the loader of the service project at or above the current folder.

        Raises:
            ProjectNotFoundError: There is no service project there.
        """
        return cls(find_project(), config_file, overrides)

    def load_config(self) -> Config:
        """Read and validate the config, then apply the overrides.

        Raises:
            ConfigError: The file or an override is invalid.
        """
        config = load_config(self.config_path)
        server = config.server
        changes: dict[str, Any] = {}
        for name, values in (
            ("bind", self.overrides.binds),
            ("admin_bind", self.overrides.admin_binds),
        ):
            if values:
                try:
                    changes[name] = tuple(parse_bind(value) for value in values)
                except ValidationError as ex:
                    option = "--" + name.replace("_", "-")
                    raise ConfigError([f"{option}: {ex.messages[0]}"]) from ex
        if self.overrides.workers is not None:
            changes["workers"] = self.overrides.workers
        if not changes:
            return config
        return dataclasses.replace(config, server=dataclasses.replace(server, **changes))

    def factory(self) -> Callable[[Config], Service]:
        """Import and return the ``[tool.scaffold] service`` callable.

        Raises:
            ServiceLoadError: The module or the callable cannot be found.
        """
        module_name, _, attr = self.project.factory.partition(":")
        root = str(self.project.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            module = importlib.import_module(module_name)
        except ImportError as ex:
            msg = f"cannot import {module_name} (from [tool.scaffold] service): {ex}"
            raise ServiceLoadError(msg) from ex
        except Exception as ex:  # the service's own code failed while importing
            msg = f"importing {module_name} raised {type(ex).__name__}: {ex}"
            raise ServiceLoadError(msg) from ex
        factory = getattr(module, attr, None)
        if not callable(factory):
            msg = f"{module_name} has no callable {attr!r} (from [tool.scaffold] service)"
            raise ServiceLoadError(msg)
        return factory  # type: ignore[no-any-return]

    def build(self, config: Config) -> Service:
        """Call the factory with ``config``; the result must be a :class:`Service`.

        Raises:
            ConfigError: The service rejected its ``app:`` section.
            ServiceLoadError: The factory failed or returned something else.
        """
        factory = self.factory()
        try:
            service = factory(config)
        except ConfigError:
            raise
        except ServiceError as ex:
            msg = f"{self.project.factory} failed: {ex}"
            raise ServiceLoadError(msg) from ex
        except Exception as ex:  # the service's own code: report it, traceback with --debug
            msg = f"{self.project.factory} raised {type(ex).__name__}: {ex}"
            raise ServiceLoadError(msg) from ex
        if not isinstance(service, Service):
            msg = f"{self.project.factory} returned {type(service).__name__}, not a Service"
            raise ServiceLoadError(msg)
        if service.version is None:
            service.version = self.project.version
        return service

    @property
    def top_module(self) -> str:
        """The service's top-level package (or module), e.g. ``acme_widgets``."""
        return self.project.factory.partition(":")[0].split(".")[0]

    def source_patterns(self) -> tuple[str, ...]:
        """``glob`` patterns of the service's source files (what ``--reload`` watches)."""
        top = self.project.root / self.top_module
        if top.is_dir():
            return (str(top / "**" / "*.py"),)
        return (str(top.with_suffix(".py")),)

    def forget_modules(self) -> None:
        """Drop the service's package from ``sys.modules`` so workers import fresh code."""
        top = self.top_module
        for name in list(sys.modules):
            if name == top or name.startswith(top + "."):
                del sys.modules[name]


def load_service(loader: ServiceLoader | None = None, config: Config | None = None) -> Service:
    """Build a service without opening ports.

    Args:
        loader: Whose service (default: :meth:`ServiceLoader.find`, the project here).
        config: The config to build it from (default: the loader's, read now).

    Raises:
        InvalidConfigError: The config has problems; one line each, naming its dotted key.
        ServiceLoadError: The factory cannot be imported, fails or returns no Service.
    """
    loader = loader or ServiceLoader.find()
    with config_problems():
        return loader.build(loader.load_config() if config is None else config)


@contextmanager
def config_problems() -> Iterator[None]:
    """Turn the runtime's :class:`ConfigError` into the CLI's :class:`InvalidConfigError`."""
    try:
        yield
    except ConfigError as ex:
        raise InvalidConfigError("\n".join(ex.problems)) from ex
