"""Summarise the last mutmut run per module, in the form bench/MUTATION.md keeps.

Run after ``.venv/bin/mutmut run --max-children 1``::

    .venv/bin/python bench/mutation_report.py [RESULTS]   # RESULTS: mutants/ by default

It reads mutmut's results (``mutants/**/*.py.meta``) and the equivalent mutants listed in
``bench/MUTATION.md`` (rows whose first cell is a mutant's name in backticks), and prints one
row per mutated module: mutants, killed, survived, equivalent, the score over the
non-equivalent ones and the share of all mutants killed. Then every survivor not listed as
equivalent, and every listed one that is killed or gone (mutmut numbers a function's mutants
afresh when the function changes).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "mutants"
LISTED = ROOT / "bench" / "MUTATION.md"
# mutmut's exit codes (mutmut.stats.status_by_exit_code): 1 and 3 are test failures, the
# rest of the detected ones are time or CPU limits, a kill signal, or the type checker.
DETECTED = {1, 3, 24, -24, 36, 37, 152, 255, -9, -11}
_EQUIVALENT_ROW = re.compile(r"^\| `(scaffold\.[^`]+__mutmut_\d+)` \|", re.MULTILINE)


def equivalents() -> set[str]:
    """The mutant names bench/MUTATION.md lists as equivalent."""
    return set(_EQUIVALENT_ROW.findall(LISTED.read_text(encoding="utf-8")))


def main(results: Path) -> None:
    listed = equivalents()
    rows = []
    open_survivors: list[str] = []
    seen: set[str] = set()
    killed_listed: list[str] = []
    totals: Counter[str] = Counter()
    for meta in sorted(results.glob("scaffold/**/*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        module = str(meta.relative_to(results)).removesuffix(".meta")
        count: Counter[str] = Counter()
        for name, code in codes.items():
            seen.add(name)
            if code in DETECTED:
                count["killed"] += 1
                if name in listed:
                    killed_listed.append(name)
            elif name in listed:
                count["equivalent"] += 1
            else:
                count["survived"] += 1
                open_survivors.append(f"{name} (exit code {code})")
        count["mutants"] = len(codes)
        totals.update(count)
        rows.append((module, count))
    print("| module | mutants | killed | survived | equivalent | score | killed of all |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for module, count in [*rows, ("total", totals)]:
        tested = count["mutants"] - count["equivalent"]
        score = 100 * count["killed"] / tested if tested else 100.0
        raw = 100 * count["killed"] / count["mutants"]
        print(
            f"| {module} | {count['mutants']} | {count['killed']} | {count['survived']} "
            f"| {count['equivalent']} | {score:.1f} % | {raw:.1f} % |"
        )
    print(f"\nSurvivors not listed as equivalent: {len(open_survivors)}")
    for line in open_survivors:
        print(f"  {line}")
    stale = sorted(name for name in listed if name not in seen) + killed_listed
    if stale:
        print(f"\nListed as equivalent but killed or gone (renumbered?): {len(stale)}")
        for name in stale:
            print(f"  {name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS)
