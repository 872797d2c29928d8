"""Machine instructions per simulated operation, counted by valgrind.

    .venv/bin/python benchmarks/instructions.py [--case partition|quorum|both]

Wall time on a shared machine drifts by 20-40% from minute to minute, which
hides the effect of most single changes to the hot path.  The number of
machine instructions the interpreter executes does not drift: this runs the
simulation of a case at two sizes under ``valgrind --tool=cachegrind`` (no
cache simulation, about 20 times slower than a plain run) and prints the
difference of the two counts divided by the difference in operations, so the
cost of starting Python and importing the libraries cancels out.  Hash
randomisation is fixed so that two runs of the same code give the same count
to within a fraction of a percent.  Instructions are not time (a cache miss
costs more than an addition), but a change that removes instructions from
every operation makes every operation faster.

Needs valgrind on the PATH; it is not a Python dependency of the project.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (small, large) operations simulated per case
SIZES = {"partition": (5_000, 25_000), "quorum": (5_000, 25_000)}

_SIMULATE = """
import sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {benchmarks!r})
import run
from simulator.scenario import load
from simulator.world import World
case, size = {case!r}, {size}
if case == "partition":
    scenario = run._partition(size)
else:
    scenario = load({quorum!r})
    scenario = load(scenario, duration=scenario.duration * size / 100_000)
print("ops", len(World(scenario, scenario.seed).run().ops))
"""


def count(case: str, size: int) -> tuple[int, int]:
    """(operations, instructions) of one run of ``case`` at ``size``."""
    code = _SIMULATE.format(root=str(ROOT), benchmarks=str(ROOT / "benchmarks"), case=case,
                            size=size, quorum=str(ROOT / "benchmarks" / "quorum-write.yaml"))
    environment = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                           "--cachegrind-out-file=/dev/null", sys.executable, "-c", code],
                          capture_output=True, text=True, env=environment, check=True)
    ops = int(re.search(r"^ops (\d+)", done.stdout, re.M).group(1))
    refs = int(re.search(r"I\s+refs:\s+([\d,]+)", done.stderr).group(1).replace(",", ""))
    return ops, refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["partition", "quorum", "both"], default="both")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py needs valgrind (apt install valgrind)")
    for case in (["partition", "quorum"] if args.case == "both" else [args.case]):
        (ops_a, refs_a), (ops_b, refs_b) = (count(case, size) for size in SIZES[case])
        print(f"{case}: {(refs_b - refs_a) / (ops_b - ops_a):,.0f} instructions per operation "
              f"({ops_a:,} and {ops_b:,} operations)")


if __name__ == "__main__":
    main()
