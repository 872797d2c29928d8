"""Time to converge after each fault heals.

A run has *converged* at instant ``t`` when no inconsistency window is open at
``t``: every copy holds, for every key, the truth's latest version or nothing
(see :func:`~simulator.analysis.windows.windows`; a window ``[start, end)`` is
open at ``t`` when ``start <= t < end``, and a window still open at the end of
the run is open forever).

For a fault healed at ``heal_s`` the convergence instant is the first instant
``>= heal_s`` at which the run has converged, and ``time_to_converge_s`` is the
time from the heal to it.  Windows that open after the heal but before that
instant keep the run unconverged, chained one to the next: touching or
overlapping windows are one divergent stretch.  So in a run that never stops
writing to an asynchronously replicated store, ordinary replication lag after
the heal delays convergence too; this is deliberate (the question is "when did
every copy equal the truth again", not "when was the fault's own damage
repaired").  That second question is answered with ``damage_only=True``: only
the windows open at the heal count, and convergence is when the last of them
closes.

When the stretch containing the heal reaches a window still open at the end of
the run, the run never converged after that fault: ``converged`` is False and
the convergence instant and time are NaN.  The same holds for a fault that was
never healed within the run (``end_s`` past the run's duration).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.windows import overlap_union, windows as window_table
from simulator.history import History

CONVERGENCE_COLUMNS = ["fault", "kind", "heal_s", "converged_s", "time_to_converge_s", "converged"]


def _window_bounds(windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and ends, with windows open at the end of the run never ending."""
    start = windows["start_s"].to_numpy(np.float64)
    end = np.where(windows["open"].to_numpy(bool), np.inf, windows["end_s"].to_numpy(np.float64))
    return start, end


def time_to_converge(
    history: History, windows: pd.DataFrame | None = None, *, damage_only: bool = False
) -> pd.DataFrame:
    """For each fault: when, after its heal, every copy equalled the truth again.

    One row per fault, in ``faults`` order: ``fault``, ``kind``, ``heal_s``
    (its ``end_s``), ``converged_s``, ``time_to_converge_s`` (0 when nothing
    was divergent at the heal; NaN when it never converged within the run) and
    ``converged``.  ``windows`` is the output of :func:`windows`.  See the
    module docstring for the definition and for ``damage_only``.
    """
    if windows is None:
        windows = window_table(history)
    faults = history.faults
    heal = faults["end_s"].to_numpy(np.float64)
    start, end = _window_bounds(windows)

    if damage_only:
        # The latest end among the windows open at each heal (loop over faults, not windows).
        converged_at = np.array([np.max(end[(start <= h) & (end > h)], initial=h) for h in heal])
    else:
        stretch_start, stretch_end = overlap_union(start, end)
        at = np.searchsorted(stretch_start, heal, side="right") - 1
        inside = at >= 0
        inside[inside] = stretch_end[at[inside]] > heal[inside]
        converged_at = heal.copy()
        converged_at[inside] = stretch_end[at[inside]]

    converged = np.isfinite(converged_at) & (heal <= history.duration_s)
    converged_s = np.where(converged, converged_at, np.nan)
    return pd.DataFrame(
        {
            "fault": faults["fault"].to_numpy(object),
            "kind": faults["kind"].to_numpy(object),
            "heal_s": heal,
            "converged_s": converged_s,
            "time_to_converge_s": converged_s - heal,
            "converged": converged,
        },
        columns=CONVERGENCE_COLUMNS,
    )
