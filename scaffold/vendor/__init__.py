"""``scaffold vendor``: lock a service's dependencies with hashes, keep their wheels in ``vendor/``.

pip does the work (``_pip``): ``pip install --dry-run --report`` resolves, ``pip wheel`` /
``pip download`` fetch exactly the files resolved (by URL and hash), and a throwaway venv proves
the result installs with ``--no-index --require-hashes`` (``_verify``). ``scaffold`` itself
never comes from an index (``_own_wheel``). The parts: ``_lockfile`` (the lock's format),
``_inputs`` (what a run is made from), ``_report`` (what it tells its caller), ``_run`` (the
run and the offline check).

A run whose inputs and files already match the lock touches no network: it only rebuilds
scaffold's own wheel (offline) to confirm the pinned one is still current.
"""

from scaffold.vendor._inputs import Target
from scaffold.vendor._lockfile import LOCK_NAME, VENDOR_NAME
from scaffold.vendor._report import Progress, VendorReport
from scaffold.vendor._run import check_vendor, vendor

__all__ = [
    "LOCK_NAME",
    "VENDOR_NAME",
    "Progress",
    "Target",
    "VendorReport",
    "check_vendor",
    "vendor",
]
