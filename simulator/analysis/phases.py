"""Availability and stale reads, overall and before, during and after each fault.

Availability (yield) is the fraction of client operations that completed
``ok``.  The stale fraction is the share of ``ok`` reads that were stale.  An
operation belongs to the phase in which it was *invoked*:

- ``overall``: every operation, nominally ``[0, duration]``;
- ``before <fault>``: invoked in ``[0, start_s)``;
- ``during <fault>``: invoked in ``[start_s, end_s)``;
- ``after <fault>``: invoked at or after ``end_s`` (nominally up to the duration).

Counting is vectorised: cumulative counts over operations sorted by invoke
time, read at the phase bounds with ``searchsorted``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.stale import stale_reads
from simulator.analysis.values import holds
from simulator.history import History

PHASE_COLUMNS = [
    "name",
    "fault",
    "start_s",
    "end_s",
    "ops",
    "ok",
    "fail",
    "info",
    "availability",
    "reads_ok",
    "stale",
    "stale_fraction",
    "phantom",
    "staleness_p99_s",
    "latency_p99_s",
    "windows",
    "window_max_s",
    "lost_writes",
]

STATUSES = ("ok", "fail", "info")


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as floats, NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _phase_bounds(history: History) -> pd.DataFrame:
    """One row per phase: its name, fault, nominal bounds and the invoke range it counts."""
    faults = history.faults
    duration = history.duration_s
    names, fault, start, end = ["overall"], [""], [0.0], [duration]
    low, high = [-np.inf], [np.inf]
    for name, fault_start, fault_end in zip(faults["fault"], faults["start_s"], faults["end_s"]):
        names += [f"before {name}", f"during {name}", f"after {name}"]
        fault += [name] * 3
        start += [0.0, fault_start, fault_end]
        end += [fault_start, fault_end, duration]
        low += [-np.inf, fault_start, fault_end]
        high += [fault_start, fault_end, np.inf]
    return pd.DataFrame(
        {"name": names, "fault": fault, "start_s": start, "end_s": end, "low": low, "high": high}
    )


def _count_between(times: np.ndarray, flags: dict[str, np.ndarray], low: np.ndarray, high: np.ndarray) -> dict:
    """For each ``[low, high)``, how many times fall inside, and how many of each flag."""
    order = np.argsort(times, kind="stable")
    times = times[order]
    lo = np.searchsorted(times, low, side="left")
    hi = np.searchsorted(times, high, side="left")
    counts = {"all": hi - lo}
    for name, flag in flags.items():
        cumulative = np.r_[0, np.cumsum(flag[order], dtype=np.int64)]
        counts[name] = cumulative[hi] - cumulative[lo]
    return counts


def _quantile_between(times: np.ndarray, values: np.ndarray, low: np.ndarray,
                      high: np.ndarray, q: float) -> np.ndarray:
    """For each ``[low, high)``: the ``q`` quantile of the values whose time falls inside
    (NaN where none do), or their maximum when ``q`` is None.  One loop step per phase."""
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    lo = np.searchsorted(times, low, side="left")
    hi = np.searchsorted(times, high, side="left")
    out = np.full(len(low), np.nan)
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            out[i] = values[a:b].max() if q is None else np.percentile(values[a:b], q)
    return out


def phases(history: History, stale: pd.DataFrame | None = None,
           windows: pd.DataFrame | None = None, lost: pd.DataFrame | None = None) -> pd.DataFrame:
    """Availability, stale reads, latency and windows per phase (see the module docstring).

    ``stale`` and ``windows`` are the outputs of :func:`stale_reads` and
    :func:`windows`, computed if not given.  ``phantom`` counts the ``ok``
    reads of a version the truth never committed (some are stale too, when a
    newer version that survives had been committed before the read).
    ``staleness_p99_s`` is over the
    stale reads invoked in the phase, ``latency_p99_s`` over its ``ok``
    operations; ``windows`` counts the windows that opened in the phase and
    ``window_max_s`` is the longest of them (open ones measured to the end);
    ``lost_writes`` counts the acknowledged writes invoked in the phase that
    did not survive (``lost``, the output of :func:`lost_writes`).
    """
    if stale is None:
        stale = stale_reads(history)
    if windows is None:
        from simulator.analysis.windows import windows as window_table
        windows = window_table(history)
    if lost is None:
        from simulator.analysis.lost import lost_writes
        lost = lost_writes(history)
    bounds = _phase_bounds(history)
    low, high = bounds["low"].to_numpy(), bounds["high"].to_numpy()

    status = history.ops["status"].to_numpy(object)
    ops = _count_between(
        history.ops["invoke_s"].to_numpy(np.float64), {s: status == s for s in STATUSES}, low, high
    )
    reads = _count_between(
        stale["invoke_s"].to_numpy(np.float64),
        {"stale": stale["stale"].to_numpy(bool), "phantom": stale["phantom"].to_numpy(bool)},
        low, high,
    )

    table = bounds[["name", "fault", "start_s", "end_s"]].copy()
    table["ops"] = ops["all"].astype(np.int64)
    for s in STATUSES:
        table[s] = ops[s].astype(np.int64)
    table["availability"] = ratio(ops["ok"], ops["all"])
    table["reads_ok"] = reads["all"].astype(np.int64)
    table["stale"] = reads["stale"].astype(np.int64)
    table["stale_fraction"] = ratio(reads["stale"], reads["all"])
    table["phantom"] = reads["phantom"].astype(np.int64)
    is_stale = stale["stale"].to_numpy(bool)
    table["staleness_p99_s"] = _quantile_between(
        stale["invoke_s"].to_numpy(np.float64)[is_stale],
        stale["staleness_s"].to_numpy(np.float64)[is_stale], low, high, 99)
    ok = (status == "ok")
    invoke = history.ops["invoke_s"].to_numpy(np.float64)
    latency = history.ops["complete_s"].to_numpy(np.float64) - invoke
    table["latency_p99_s"] = _quantile_between(invoke[ok], latency[ok], low, high, 99)
    starts = windows["start_s"].to_numpy(np.float64)
    table["windows"] = _count_between(starts, {}, low, high)["all"].astype(np.int64)
    table["window_max_s"] = _quantile_between(
        starts, windows["duration_s"].to_numpy(np.float64), low, high, None)
    table["lost_writes"] = _count_between(
        lost["invoke_s"].to_numpy(np.float64), {}, low, high)["all"].astype(np.int64)
    return table[PHASE_COLUMNS]


def availability(history: History) -> float:
    """Fraction of all client operations that completed ``ok`` (NaN with no operations)."""
    status = history.ops["status"]
    return float(ratio(np.array([(status == "ok").sum()]), np.array([len(status)]))[0])


def availability_by(history: History, column: str) -> pd.DataFrame:
    """Operations and availability per value of an ``ops`` column (``node``, ``op``, ``process``...).

    Columns: ``column``, ``ops``, ``ok``, ``fail``, ``info``, ``availability``;
    one row per value, sorted by value.
    """
    ops = history.ops
    if column not in ops.columns:
        raise ValueError(f"ops has no column {column!r}; choose one of {list(ops.columns)}")
    flags = pd.DataFrame({s: holds(ops["status"], s).astype(np.int64) for s in STATUSES})
    flags.insert(0, "ops", 1)
    flags.insert(0, column, ops[column].to_numpy())
    table = flags.groupby(column, sort=True).sum().reset_index()
    table = table.astype({c: np.int64 for c in ("ops", *STATUSES)})
    table["availability"] = ratio(table["ok"], table["ops"])
    return table
