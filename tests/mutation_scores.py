"""Per-module mutation scores of the last ``make mutation`` run (read from mutmut's files in mutants/).

The score is mutmut's own (its ``badge`` command): killed and timed-out mutants over all mutants that were not
skipped, so a mutant that no selected test executes ("no tests") counts as surviving. "covered" is the same score
over the mutants that some selected test does execute. ``.venv/bin/mutmut browse`` (or ``mutmut show <name>``) shows
each surviving mutant's diff.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

COLUMNS = ("killed", "timeout", "survived", "no tests", "suspicious", "segfault", "skipped", "not checked")


def module_counts(path: str) -> Counter:
    """Mutant statuses of one mutated source file; empty when mutmut has not run on it."""
    meta = Path("mutants") / f"{path}.meta"
    if not meta.is_file():
        return Counter()
    exit_codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return Counter(status_by_exit_code[code] for code in exit_codes.values())


def main() -> int:
    paths = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]["only_mutate"]
    print(f"| module | mutants | score | covered | {' | '.join(COLUMNS)} |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    total: Counter = Counter()
    for path in paths:
        counts = module_counts(path)
        total += counts
        print(_row(Path(path).stem, counts))
    print(_row("all", total))
    return 0 if total else 1


def _row(name: str, counts: Counter) -> str:
    killed = counts["killed"] + counts["timeout"]
    tested = sum(counts.values()) - counts["skipped"]
    scores = [_percent(killed, tested), _percent(killed, tested - counts["no tests"])]
    return f"| {name} | {sum(counts.values())} | " + " | ".join(scores + [str(counts[c]) for c in COLUMNS]) + " |"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


if __name__ == "__main__":
    sys.exit(main())
