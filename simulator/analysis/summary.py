"""The headline numbers of a run, as a JSON-ready dict.

Every value is a plain ``int``, ``float``, ``str``, ``bool`` or ``None`` (never
NaN), so ``json.dumps(summary(h), allow_nan=False)`` works.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.analysis.phases import STATUSES, availability_by, phases as phase_table
from simulator.analysis.stale import stale_reads
from simulator.analysis.windows import overlap_union, windows as window_table
from simulator.history import History


def plain(value):
    """A numpy or Python scalar as a plain Python value; NaN and infinities become ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _percentile(values: np.ndarray, q: float):
    return plain(np.percentile(values, q)) if len(values) else None


def _status_counts(status: pd.Series) -> dict:
    counts = status.value_counts()
    return {"total": len(status), **{s: int(counts.get(s, 0)) for s in STATUSES}}


def time_divergent_s(windows: pd.DataFrame) -> float:
    """Length of the union of the windows' intervals: time with at least one key divergent."""
    start, end = overlap_union(windows["start_s"].to_numpy(), windows["end_s"].to_numpy())
    return float(np.sum(end - start))


def _window_summary(history: History, windows: pd.DataFrame) -> dict:
    durations = windows["duration_s"].to_numpy(np.float64)
    by_copy = {}
    copies = list(dict.fromkeys([*history.copy_info["copy"], *np.sort(windows["copy"].unique())]))
    grouped = dict(tuple(windows.groupby("copy", sort=False))) if len(windows) else {}
    for copy in copies:
        mine = grouped.get(copy, windows.iloc[:0])
        by_copy[str(copy)] = {
            "count": int(len(mine)),
            "behind": int((mine["kind"] == "behind").sum()),
            "phantom": int((mine["kind"] == "phantom").sum()),
            "open_at_end": int(mine["open"].sum()),
            "max_s": plain(mine["duration_s"].max()) if len(mine) else None,
            "time_divergent_s": time_divergent_s(mine),
        }
    return {
        "count": int(len(windows)),
        "behind": int((windows["kind"] == "behind").sum()),
        "phantom": int((windows["kind"] == "phantom").sum()),
        "open_at_end": int(windows["open"].sum()),
        "p50_s": _percentile(durations, 50),
        "p99_s": _percentile(durations, 99),
        "max_s": plain(durations.max()) if len(durations) else None,
        "by_copy": by_copy,
    }


def _by_node(history: History) -> dict:
    """Operations and availability per service instance that handled them."""
    table = availability_by(history, "node")
    return {str(row.node): {"ops": int(row.ops), "availability": plain(row.availability)}
            for row in table.itertuples(index=False) if row.node}


def summary(
    history: History,
    *,
    stale: pd.DataFrame | None = None,
    windows: pd.DataFrame | None = None,
    phases: pd.DataFrame | None = None,
) -> dict:
    """Headline metrics of a run.

    ``stale``, ``windows`` and ``phases`` are the outputs of
    :func:`stale_reads`, :func:`windows` and :func:`phases`; pass them to avoid
    computing them again.
    """
    if stale is None:
        stale = stale_reads(history)
    if windows is None:
        windows = window_table(history)
    if phases is None:
        phases = phase_table(history, stale=stale)

    ops = history.ops
    is_read = (ops["op"] == "read").to_numpy()
    is_ok = (ops["status"] == "ok").to_numpy()
    counts = _status_counts(ops["status"])
    latency = (ops["complete_s"] - ops["invoke_s"]).to_numpy(np.float64)[is_ok]
    reads_ok = len(stale)
    reads_stale = int(stale["stale"].sum())
    meta = history.meta

    return {
        "scenario": plain(meta.get("scenario")),
        "seed": plain(meta.get("seed")),
        "version": plain(meta.get("version")),
        "duration_s": plain(history.duration_s),
        "ops": counts,
        "availability": plain(counts["ok"] / counts["total"]) if counts["total"] else None,
        "reads": {
            "total": int(is_read.sum()),
            "ok": int(reads_ok),
            "stale": reads_stale,
            "stale_fraction": plain(reads_stale / reads_ok) if reads_ok else None,
            "phantom": int(stale["phantom"].sum()),
            "max_missed_versions": int(stale["missed_versions"].max()) if reads_ok else 0,
            "max_staleness_s": plain(stale["staleness_s"].max()) if reads_stale else None,
        },
        "writes": _status_counts(ops.loc[(ops["op"] == "write").to_numpy(), "status"]),
        "by_node": _by_node(history),
        "windows": _window_summary(history, windows),
        "phases": [
            {
                "name": str(row.name),
                "fault": str(row.fault),
                "start_s": plain(row.start_s),
                "end_s": plain(row.end_s),
                "ops": int(row.ops),
                "availability": plain(row.availability),
                "stale_fraction": plain(row.stale_fraction),
            }
            for row in phases.itertuples(index=False)
        ],
        "latency": {
            "p50_s": _percentile(latency, 50),
            "p99_s": _percentile(latency, 99),
            "max_s": plain(latency.max()) if len(latency) else None,
        },
    }
