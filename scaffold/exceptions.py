"""The exception tree of the command-line side; the CLI catches only the root."""


class ScaffoldError(Exception):
    """Root of every error the CLI reports as a message instead of a traceback.

    Attributes:
        exit_code: The process exit code the CLI uses for this error.
    """

    exit_code = 1
    prefix = "Error: "


class UsageError(ScaffoldError):
    """The arguments themselves are wrong (exit code 2)."""

    exit_code = 2


class InvalidServiceNameError(UsageError):
    """A service name breaks the naming rules."""


class TargetExistsError(ScaffoldError):
    """The folder a command would create is already there."""


class MissingExtraError(ScaffoldError):
    """A command needs an extra of the distribution that is not installed."""


class TemplateError(ScaffoldError):
    """The template could not be rendered."""


class ProjectNotFoundError(ScaffoldError):
    """No ``pyproject.toml`` with a ``[tool.scaffold]`` table was found."""


class ServiceLoadError(ScaffoldError):
    """The service's factory could not be imported or built."""


class InvalidConfigError(ScaffoldError):
    """The config has problems; the CLI prints one ``dotted.key: problem`` line each."""

    prefix = ""


class VendorError(ScaffoldError):
    """Locking, downloading or verifying dependencies failed."""


class VendorDriftError(VendorError):
    """``vendor --check`` found the lock or ``vendor/`` out of date."""
