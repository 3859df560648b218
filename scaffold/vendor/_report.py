"""What a ``scaffold vendor`` run tells its caller: a line per step, then a report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scaffold.vendor._inputs import Target
from scaffold.vendor._lockfile import LOCK_NAME, VENDOR_NAME

Progress = Callable[[str], None]


def silent(_: str) -> None:
    """Show nothing: the :data:`Progress` of a caller that wants no lines."""
    return None


@dataclass
class VendorReport:
    """What a ``scaffold vendor`` run did.

    Attributes:
        lock_path: The lock written or confirmed.
        target: The interpreter and platform vendored for.
        pins: How many distributions the lock pins.
        up_to_date: True when nothing needed to change (and nothing was fetched).
        downloaded: Wheels fetched from the index.
        built: Wheels built (from sdists, and scaffold's own when it changed).
        reused: How many wheels already in ``vendor/`` were kept.
        removed: Wheels deleted from ``vendor/`` because the lock no longer names them.
        verified: What the verification proved, or None when nothing changed.
        seconds: Wall time of the run.
    """

    lock_path: Path
    target: Target
    pins: int
    up_to_date: bool = False
    downloaded: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    verified: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """Return a few lines saying what was done."""
        if self.up_to_date:
            return (
                f"{LOCK_NAME} and {VENDOR_NAME}/ are up to date ({self.pins} wheels for "
                f"{self.target}); nothing downloaded ({self.seconds:.1f} s)"
            )
        lines = [
            f"Locked {self.pins} distributions for {self.target} in {LOCK_NAME}",
            f"{VENDOR_NAME}/: {len(self.downloaded)} downloaded, {len(self.built)} built, "
            f"{self.reused} reused, {len(self.removed)} removed",
        ]
        if self.verified:
            lines.append(f"Verified: {self.verified}")
        lines.append(f"Done in {self.seconds:.1f} s")
        return "\n".join(lines)
