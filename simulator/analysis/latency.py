"""Latency of ``ok`` operations over time, and why the others did not complete ``ok``.

Latency is ``complete_s - invoke_s``.  Only ``ok`` operations have a latency
worth a percentile: a ``fail`` may be instant and an ``info`` is, by
definition, the client timeout.  Those are counted by cause instead
(:func:`error_breakdown`), Jepsen style: ``fail`` definitely did not happen,
``info`` may or may not have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.values import holds
from simulator.history import History

ERROR_COLUMNS = ["op", "status", "error", "count"]

#: Narrowest default moving window, in seconds.
MIN_WINDOW_S = 0.1
#: The default window is the run's duration over this.
WINDOWS_PER_RUN = 100


def quantile_column(q: float) -> str:
    """The column name of a quantile: 0.5 -> ``p50_s``, 0.999 -> ``p99.9_s``."""
    return f"p{100 * float(q):.10g}_s"


def ok_latencies(history: History) -> tuple[np.ndarray, np.ndarray]:
    """Invoke times and latencies of the ``ok`` operations, sorted by invoke time."""
    ops = history.ops
    ok = holds(ops["status"], "ok")
    invoke = ops["invoke_s"].to_numpy(np.float64)[ok]
    latency = ops["complete_s"].to_numpy(np.float64)[ok] - invoke
    order = np.argsort(invoke, kind="stable")
    return invoke[order], latency[order]


def percentiles_over_time(
    history: History,
    window_s: float | None = None,
    quantiles=(0.5, 0.99),
    *,
    step_s: float | None = None,
) -> pd.DataFrame:
    """Latency percentiles of ``ok`` operations in moving windows of invoke time.

    Windows ``[start_s, end_s)`` of width ``window_s`` (default: the run's
    duration / 100, at least 0.1 s) start every ``step_s`` (default half a
    window, so consecutive windows overlap by half) from 0 until the last one
    reaches the end of the run.  One row per window: ``t_s`` (its centre),
    ``start_s``, ``end_s``, ``ops`` (``ok`` operations invoked in it) and one
    column per quantile (``p50_s``, ``p99_s``, ... NaN for an empty window).
    """
    duration = history.duration_s
    width = max(duration / WINDOWS_PER_RUN, MIN_WINDOW_S) if window_s is None else float(window_s)
    step = width / 2 if step_s is None else float(step_s)
    if not (np.isfinite(width) and width > 0 and np.isfinite(step) and step > 0):
        raise ValueError("window_s and step_s must be positive numbers of seconds")
    quantiles = [float(q) for q in quantiles]
    if any(not 0 <= q <= 1 for q in quantiles):
        raise ValueError(f"quantiles must lie in [0, 1], not {quantiles}")

    # Enough windows for the last one to reach the end of the run.
    count = 1 + max(0, int(np.ceil((duration - width) / step - 1e-9)))
    start = np.arange(count) * step
    end = start + width
    invoke, latency = ok_latencies(history)
    lo = np.searchsorted(invoke, start, side="left")
    hi = np.searchsorted(invoke, end, side="left")

    values = np.full((count, len(quantiles)), np.nan)
    for row in np.flatnonzero(hi > lo):  # a loop over windows, not over operations
        values[row] = np.quantile(latency[lo[row]:hi[row]], quantiles)
    table = pd.DataFrame({"t_s": start + width / 2, "start_s": start, "end_s": end, "ops": (hi - lo).astype(np.int64)})
    for column, q in enumerate(quantiles):
        table[quantile_column(q)] = values[:, column]
    return table


def error_breakdown(history: History) -> pd.DataFrame:
    """Operations that did not complete ``ok``, counted by ``op``, ``status`` and ``error``.

    Columns ``op``, ``status`` (``fail`` or ``info``), ``error`` (the recorded
    cause; ``unspecified`` when none was recorded) and ``count``; sorted by
    ``status`` (``fail`` first), then by count, largest first, then by op and error.
    """
    ops = history.ops
    failed = ops.loc[~holds(ops["status"], "ok"), ["op", "status", "error"]]
    failed = failed.assign(error=failed["error"].replace("", "unspecified"))
    if len(failed) == 0:
        return pd.DataFrame(
            {"op": pd.Series([], dtype=object), "status": pd.Series([], dtype=object),
             "error": pd.Series([], dtype=object), "count": pd.Series([], dtype=np.int64)}
        )
    table = failed.groupby(["op", "status", "error"], sort=False).size().rename("count").reset_index()
    table["count"] = table["count"].astype(np.int64)
    table = table.sort_values(["status", "count", "op", "error"], ascending=[True, False, True, True], kind="stable")
    return table[ERROR_COLUMNS].reset_index(drop=True)
