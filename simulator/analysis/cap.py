"""One CAP/PACELC row per run, so that two configurations can be set side by side.

CAP (Brewer; Gilbert and Lynch): during a partition a system gives up either
availability or consistency.  PACELC (Abadi, 2012) adds: *else*, when there is
no partition, it trades latency against consistency.  The row measures both
halves from the history:

- during partitions (operations *invoked* inside any fault of kind
  ``partition``; overlapping partitions count once): availability (``ok`` /
  all operations) and stale fraction (stale ``ok`` reads / ``ok`` reads);
- outside every fault (of any kind): the p99 latency of ``ok`` operations and
  the stale fraction;
- overall: availability and stale fraction.

A read is stale as :func:`~simulator.analysis.stale.stale_reads` says (phantom
reads are counted separately there and not here, as in the phases table).
A figure that has nothing to count (no partition, no read) is ``None``.
Every value is a plain Python value, ready for JSON.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from simulator.analysis.phases import phases as phase_table
from simulator.analysis.stale import stale_reads
from simulator.analysis.windows import overlap_union
from simulator.analysis.values import holds, plain
from simulator.history import History


def invoked_during(times, start, end) -> np.ndarray:
    """Whether each time lies in the union of the intervals ``[start, end)``."""
    times = np.asarray(times, dtype=np.float64)
    start, end = overlap_union(start, end)
    at = np.searchsorted(start, times, side="right") - 1
    inside = at >= 0
    inside[inside] = times[inside] < end[at[inside]]
    return inside


def _fraction(numerator: int, denominator: int):
    return numerator / denominator if denominator else None


def cap_row(history: History, stale: pd.DataFrame | None = None, phases: pd.DataFrame | None = None) -> dict:
    """The CAP/PACELC row of a run (see the module docstring).

    Keys: ``scenario``, ``seed``, ``partitions`` (how many partition faults),
    ``partition_s`` (time under at least one partition), ``ops_during_partitions``,
    ``availability_during_partitions``, ``stale_fraction_during_partitions``,
    ``ops_outside_faults``, ``latency_p99_outside_faults_s``,
    ``stale_fraction_outside_faults``, ``availability_overall``,
    ``stale_fraction_overall``.  ``stale`` and ``phases`` are the outputs of
    :func:`stale_reads` and :func:`phases`; the overall figures are read from
    the ``overall`` row of ``phases``.
    """
    if stale is None:
        stale = stale_reads(history)
    if phases is None:
        phases = phase_table(history, stale=stale)
    ops, faults = history.ops, history.faults
    invoke = ops["invoke_s"].to_numpy(np.float64)
    ok = holds(ops["status"], "ok")
    read_invoke = stale["invoke_s"].to_numpy(np.float64)
    read_stale = stale["stale"].to_numpy(bool)

    is_partition = (faults["kind"] == "partition").to_numpy()
    p_start = faults["start_s"].to_numpy(np.float64)[is_partition]
    p_end = faults["end_s"].to_numpy(np.float64)[is_partition]
    union_start, union_end = overlap_union(p_start, p_end)
    during = invoked_during(invoke, p_start, p_end)
    reads_during = invoked_during(read_invoke, p_start, p_end)

    outside = ~invoked_during(invoke, faults["start_s"], faults["end_s"])
    reads_outside = ~invoked_during(read_invoke, faults["start_s"], faults["end_s"])
    latency = (ops["complete_s"].to_numpy(np.float64) - invoke)[ok & outside]

    overall = phases.loc[phases["name"] == "overall"]
    if len(overall):
        availability_overall = overall["availability"].iloc[0]
        stale_overall = overall["stale_fraction"].iloc[0]
    else:
        availability_overall = _fraction(int(ok.sum()), len(ok))
        stale_overall = _fraction(int(read_stale.sum()), len(read_stale))

    has_partition = bool(is_partition.any())
    row = {
        "scenario": history.meta.get("scenario"),
        "seed": history.meta.get("seed"),
        "partitions": int(is_partition.sum()),
        "partition_s": float(np.sum(union_end - union_start)),
        "ops_during_partitions": int(during.sum()),
        "availability_during_partitions": (
            _fraction(int((ok & during).sum()), int(during.sum())) if has_partition else None
        ),
        "stale_fraction_during_partitions": (
            _fraction(int((read_stale & reads_during).sum()), int(reads_during.sum())) if has_partition else None
        ),
        "ops_outside_faults": int(outside.sum()),
        "latency_p99_outside_faults_s": float(np.percentile(latency, 99)) if len(latency) else None,
        "stale_fraction_outside_faults": _fraction(int((read_stale & reads_outside).sum()), int(reads_outside.sum())),
        "availability_overall": availability_overall,
        "stale_fraction_overall": stale_overall,
    }
    return {key: plain(value) for key, value in row.items()}
