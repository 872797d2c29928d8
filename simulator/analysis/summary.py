"""The headline numbers of a run, as a JSON-ready dict.

Every value is a plain ``int``, ``float``, ``str``, ``bool`` or ``None`` (never
NaN), so ``json.dumps(summary(h), allow_nan=False)`` works.

Keys: ``scenario``, ``seed``, ``version``, ``duration_s``, ``ops``,
``availability``, ``reads``, ``writes``, ``by_node``, ``windows`` (with
``by_copy``), ``phases``, ``latency``, and the finer breakdowns
``stale_by_copy``, ``staleness``, ``consistency_after``, ``convergence``,
``cap`` and ``errors`` (see :func:`summary`).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from simulator.analysis.cap import cap_row
from simulator.analysis.consistency import after_delta
from simulator.analysis.convergence import time_to_converge
from simulator.analysis.latency import error_breakdown
from simulator.analysis.lost import HOW, lost_writes
from simulator.analysis.phases import STATUSES, availability_by, phases as phase_table
from simulator.analysis.stale import stale_reads
from simulator.analysis.windows import overlap_union, windows as window_table
from simulator.analysis.values import holds, plain
from simulator.history import History


def _percentile(values: np.ndarray, q: float):
    return plain(np.percentile(values, q)) if len(values) else None


def _status_counts(status: pd.Series) -> dict:
    counts = status.value_counts()
    return {"total": len(status), **{s: int(counts.get(s, 0)) for s in STATUSES}}


def time_divergent_s(windows: pd.DataFrame) -> float:
    """Length of the union of the windows' intervals: time with at least one key divergent."""
    start, end = overlap_union(windows["start_s"].to_numpy(), windows["end_s"].to_numpy())
    return float(np.sum(end - start))


def _copies(history: History, windows: pd.DataFrame) -> list:
    """Copies in ``copy_info`` order, then any other copy that has windows."""
    return list(dict.fromkeys([*history.copy_info["copy"], *np.sort(windows["copy"].unique())]))


def _fraction_of_run(windows: pd.DataFrame, duration: float):
    """Share of ``[0, duration]`` during which at least one of the windows was open."""
    if duration <= 0:
        return None
    start = np.clip(windows["start_s"].to_numpy(np.float64), 0.0, duration)
    end = np.clip(windows["end_s"].to_numpy(np.float64), 0.0, duration)
    start, end = overlap_union(start, end)
    return plain(float(np.sum(end - start)) / duration)


def _window_summary(history: History, windows: pd.DataFrame) -> dict:
    """Window counts and duration percentiles, overall and per copy.

    A copy's ``time_divergent_s`` is the time during which at least one of its
    keys was divergent, and ``fraction_time_divergent`` the share of the run
    (``[0, duration]``; a window can outlast it when copies change after the
    clients stop) during which it was.  Durations of windows still open at the end run to the end.
    """
    durations = windows["duration_s"].to_numpy(np.float64)
    duration = history.duration_s
    by_copy = {}
    grouped = dict(tuple(windows.groupby("copy", sort=False))) if len(windows) else {}
    for copy in _copies(history, windows):
        mine = grouped.get(copy, windows.iloc[:0])
        lengths = mine["duration_s"].to_numpy(np.float64)
        divergent = time_divergent_s(mine)
        by_copy[str(copy)] = {
            "count": int(len(mine)),
            "behind": int((mine["kind"] == "behind").sum()),
            "phantom": int((mine["kind"] == "phantom").sum()),
            "open_at_end": int(mine["open"].sum()),
            "max_s": plain(lengths.max()) if len(lengths) else None,
            "time_divergent_s": divergent,
            "p50_s": _percentile(lengths, 50),
            "p90_s": _percentile(lengths, 90),
            "p99_s": _percentile(lengths, 99),
            "fraction_time_divergent": _fraction_of_run(mine, duration),
        }
    return {
        "count": int(len(windows)),
        "behind": int((windows["kind"] == "behind").sum()),
        "phantom": int((windows["kind"] == "phantom").sum()),
        "open_at_end": int(windows["open"].sum()),
        "p50_s": _percentile(durations, 50),
        "p90_s": _percentile(durations, 90),
        "p99_s": _percentile(durations, 99),
        "max_s": plain(durations.max()) if len(durations) else None,
        "by_copy": by_copy,
    }


def _stale_by_copy(stale: pd.DataFrame) -> dict:
    """Per copy that served ``ok`` reads (``served_by``): how many were stale, and how stale."""
    result = {}
    missed = stale["missed_versions"].to_numpy(np.int64)
    late = stale["staleness_s"].to_numpy(np.float64)
    is_stale = stale["stale"].to_numpy(bool)
    is_phantom = stale["phantom"].to_numpy(bool)
    groups = stale.groupby("served_by", sort=True).indices if len(stale) else {}
    for copy, rows in groups.items():
        stale_rows = rows[is_stale[rows]]
        result[str(copy)] = {
            "reads_ok": int(len(rows)),
            "stale": int(len(stale_rows)),
            "stale_fraction": plain(len(stale_rows) / len(rows)),
            "phantom": int(is_phantom[rows].sum()),
            "p50_staleness_s": _percentile(late[stale_rows], 50),
            "p99_staleness_s": _percentile(late[stale_rows], 99),
            "max_missed_versions": int(missed[rows].max()),
        }
    return result


def _distribution(values: np.ndarray) -> dict:
    return {
        "p50": _percentile(values, 50),
        "p99": _percentile(values, 99),
        "max": plain(values.max()) if len(values) else None,
    }


def _staleness(stale: pd.DataFrame) -> dict:
    """Staleness of the stale reads, in versions missed and in time."""
    stale = stale.loc[stale["stale"].to_numpy(bool)]
    versions = _distribution(stale["missed_versions"].to_numpy(np.int64))
    if versions["max"] is not None:
        versions["max"] = int(versions["max"])
    return {"versions": versions, "time_s": _distribution(stale["staleness_s"].to_numpy(np.float64))}


def _writes(ops: pd.DataFrame, lost: pd.DataFrame) -> dict:
    counts = _status_counts(ops.loc[holds(ops["op"], "write"), "status"])
    how = lost["how"].value_counts()
    return {**counts, "lost": int(len(lost)),
            "lost_fraction": plain(len(lost) / counts["ok"]) if counts["ok"] else None,
            "lost_by_how": {name: int(how[name]) for name in HOW if how.get(name, 0)}}


def _consistency_after(history: History, windows: pd.DataFrame) -> dict:
    table = after_delta(history, windows=windows)
    result: dict = {}
    for row in table.itertuples(index=False):
        result.setdefault(str(row.copy), {})[str(row.delta)] = plain(row.fraction)
    return result


def _records(table: pd.DataFrame) -> list:
    return [{str(k): plain(v) for k, v in row.items()} for row in table.to_dict("records")]


def _by_node(history: History) -> dict:
    """Operations and availability per service instance that handled them."""
    table = availability_by(history, "node")
    return {str(row.node): {"ops": int(row.ops), "availability": plain(row.availability)}
            for row in table.itertuples(index=False) if row.node}


def _convergence(history: History, windows: pd.DataFrame) -> list[dict]:
    """Per fault: when every copy equalled the truth again, and when the damage open at
    the heal was repaired (``damage_repaired_s``, counted from the heal)."""
    strict = time_to_converge(history, windows=windows)
    damage = time_to_converge(history, windows=windows, damage_only=True)
    strict["damage_repaired_s"] = damage["time_to_converge_s"].to_numpy()
    strict["damage_repaired"] = damage["converged"].to_numpy()
    return _records(strict)


def summary(
    history: History,
    *,
    stale: pd.DataFrame | None = None,
    windows: pd.DataFrame | None = None,
    phases: pd.DataFrame | None = None,
    lost: pd.DataFrame | None = None,
) -> dict:
    """Headline metrics of a run.

    ``stale``, ``windows`` and ``phases`` are the outputs of
    :func:`stale_reads`, :func:`windows` and :func:`phases`; pass them to avoid
    computing them again.

    Besides the counts, the dict holds:

    - ``stale_by_copy``: per copy that served ``ok`` reads, ``reads_ok``,
      ``stale``, ``stale_fraction``, ``phantom``, ``p50_staleness_s``,
      ``p99_staleness_s`` and ``max_missed_versions``;
    - ``staleness``: over the stale reads, ``versions`` missed and ``time_s``
      stale, each as ``p50``, ``p99``, ``max``;
    - ``consistency_after``: per copy, the fraction of its divergent states
      repaired within each delta (:func:`after_delta`), keyed ``1ms`` ... ``60s``;
    - ``convergence``: one dict per fault (:func:`time_to_converge`);
    - ``cap``: the CAP/PACELC row (:func:`cap_row`);
    - ``errors``: operations not ``ok`` by op, status and cause (:func:`error_breakdown`);
    - in ``writes``, ``lost`` (acknowledged writes that did not survive,
      :func:`lost_writes`), ``lost_fraction`` of the ``ok`` writes and
      ``lost_by_how`` (the ways they were lost, those that happened);
    - in ``windows``, ``p90_s``, and per copy ``p50_s``, ``p90_s``, ``p99_s`` and
      ``fraction_time_divergent``; in each phase, ``latency_p99_s``.
    """
    if stale is None:
        stale = stale_reads(history)
    if windows is None:
        windows = window_table(history)
    if lost is None:
        lost = lost_writes(history)
    if phases is None:
        phases = phase_table(history, stale=stale, windows=windows, lost=lost)

    ops = history.ops
    is_read = holds(ops["op"], "read")
    is_ok = holds(ops["status"], "ok")
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
            # a phantom read is stale too when a newer surviving version was
            # committed before it: the two counts overlap by this much
            "phantom_and_stale": int((stale["phantom"] & stale["stale"]).sum()),
            "max_missed_versions": int(stale["missed_versions"].max()) if reads_ok else 0,
            "max_staleness_s": plain(stale["staleness_s"].max()) if reads_stale else None,
        },
        "writes": _writes(ops, lost),
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
                "phantom": int(row.phantom),
                "latency_p99_s": plain(row.latency_p99_s),
                "staleness_p99_s": plain(row.staleness_p99_s),
                "windows": int(row.windows),
                "window_max_s": plain(row.window_max_s),
                "lost_writes": int(row.lost_writes),
            }
            for row in phases.itertuples(index=False)
        ],
        "latency": {
            "p50_s": _percentile(latency, 50),
            "p99_s": _percentile(latency, 99),
            "max_s": plain(latency.max()) if len(latency) else None,
        },
        "stale_by_copy": _stale_by_copy(stale),
        "staleness": _staleness(stale),
        "consistency_after": _consistency_after(history, windows),
        "convergence": _convergence(history, windows),
        "cap": cap_row(history, stale=stale, phases=phases),
        "errors": _records(error_breakdown(history)),
    }
