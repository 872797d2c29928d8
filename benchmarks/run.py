"""Benchmarks: run with `python benchmarks/run.py` and read the printed table.

partition-10x: scenarios/partition.yaml at ten times its default request rate
(simulate, then analyse the history), reporting simulated client operations
per wall-clock second.  Peak memory is the process's peak RSS.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simulator  # noqa: E402
from simulator.scenario import load  # noqa: E402
from simulator.world import World  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def partition_10x(scale: float) -> list[tuple]:
    scenario = load(ROOT / "scenarios" / "partition.yaml")
    rate = scenario.data["workload"]["rate"] * 10
    overrides = [f"workload.rate={rate}"]
    for i, fault in enumerate(scenario.data["faults"]):  # the same story, scaled in time
        overrides += [f"faults.{i}.start={fault['start'] * scale}",
                      f"faults.{i}.duration={fault['duration'] * scale}", f"faults.{i}.end=null"]
    scenario = load(scenario, overrides, duration=scenario.duration * scale)
    started = time.perf_counter()
    history = World(scenario, scenario.seed).run()
    simulated = time.perf_counter() - started
    ops = len(history.ops)
    started = time.perf_counter()
    result = simulator.analyse(history)
    result.summary  # computes stale reads, windows and phases
    analysed = time.perf_counter() - started
    return [("partition-10x simulate", ops, simulated, ops / simulated),
            ("partition-10x analyse", ops, analysed, ops / analysed)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the scenario's times (default 1: 120 s simulated)")
    args = parser.parse_args()
    rows = partition_10x(args.scale)
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, sediment {simulator.__version__}")
    print(f"{'benchmark':<26} {'ops':>10} {'wall s':>8} {'ops / wall s':>13} {'peak MB':>8}")
    for name, ops, wall, rate in rows:
        print(f"{name:<26} {ops:>10} {wall:>8.2f} {rate:>13,.0f} {peak_rss_mb():>8.0f}")


if __name__ == "__main__":
    main()
