"""scaffold: one production-ready structure for Python web services."""

# The one home of the version: the build reads it from here (pyproject's [tool.hatch.version]),
# and nothing reads package metadata at import time, which would cost `scaffold --help` ~60 ms.
__version__ = "0.1.0"
# The distribution's name on package indexes. PyPI's "scaffold" is an unrelated project, so a
# service must never ask for that name; the import package and the command stay `scaffold`.
DISTRIBUTION = "scaffold-chassis"

__all__ = ["DISTRIBUTION", "__version__"]
