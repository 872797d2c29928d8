"""How consistent each copy is *after a delay*: the share of its divergences repaired within Δ.

This is the way Meta's Polaris reports cache consistency ("Cache made
consistent", Meta engineering blog, 2022): not "is the cache ever wrong" (it
always is, for a moment, after a write) but "what fraction of the divergent
states were repaired within Δ", stated as nines: 99.99 % consistent after
1 minute is "four nines after 1 minute".

Here a *divergent state* is an inconsistency window of the copy (see
:func:`~simulator.analysis.windows.windows`: one ``(copy, key)`` maximal
interval behind the truth or holding a phantom).  It is *repaired within Δ*
when it closed before the end of the run with ``duration_s <= Δ``.  A window
still open at the end is never repaired, whatever Δ: its true length is
unknown but at least what the run saw.

``nines = -log10(1 - fraction)``: 0.9 is 1 nine, 0.999 is 3.  When every
divergent state was repaired (``fraction == 1``) the number of nines is not
bounded by the data and is reported as NaN, as it is when the copy never
diverged (``fraction`` is then NaN too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.windows import windows as window_table
from simulator.durations import format_duration
from simulator.history import History

AFTER_DELTA_COLUMNS = ["copy", "delta", "delta_s", "divergent", "repaired", "fraction", "nines"]

#: Default Δ grid: 1 ms, 10 ms, 100 ms, 1 s, 10 s, 60 s.
DEFAULT_DELTAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 60.0)


def delta_label(seconds: float) -> str:
    """A short label for a Δ: ``0.001`` -> ``1ms``, ``60`` -> ``60s`` (never minutes)."""
    seconds = float(seconds)
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.4g}s"
    return format_duration(seconds)


def nines(fraction) -> np.ndarray:
    """``-log10(1 - fraction)``; NaN where the fraction is 1 (unbounded) or NaN."""
    fraction = np.asarray(fraction, dtype=np.float64)
    out = np.full(fraction.shape, np.nan)
    below = np.isfinite(fraction) & (fraction < 1)
    out[below] = -np.log10(1.0 - fraction[below])
    return out + 0.0  # -0.0 -> 0.0


def after_delta(history: History, deltas=None, windows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Polaris-style "consistent after Δ" per copy.

    One row per copy and Δ: ``copy``, ``delta`` (a label such as ``10ms``),
    ``delta_s``, ``divergent`` (the copy's windows), ``repaired`` (closed with
    ``duration_s <= delta_s``), ``fraction`` (``repaired / divergent``, NaN
    without windows) and ``nines``.  Copies come in ``copy_info`` order, then any
    other copy with windows; a copy that never diverged is listed with 0
    windows.  ``windows`` is the output of :func:`windows`.
    """
    deltas = np.asarray(DEFAULT_DELTAS if deltas is None else deltas, dtype=np.float64).ravel()
    if np.any(~np.isfinite(deltas)) or np.any(deltas < 0):
        raise ValueError("every delta must be a finite, non-negative number of seconds")
    if windows is None:
        windows = window_table(history)
    copies = list(dict.fromkeys([*history.copy_info["copy"], *sorted(windows["copy"].unique())]))

    closed = windows.loc[~windows["open"].to_numpy(bool)]
    counts = windows.groupby("copy", sort=False).size()
    durations = {c: np.sort(d.to_numpy(np.float64)) for c, d in closed.groupby("copy", sort=False)["duration_s"]}

    divergent = np.repeat([int(counts.get(c, 0)) for c in copies], len(deltas)).astype(np.int64)
    repaired = np.concatenate(
        [np.searchsorted(durations.get(c, np.zeros(0)), deltas, side="right") for c in copies]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    fraction = np.full(len(divergent), np.nan)
    np.divide(repaired, divergent, out=fraction, where=divergent > 0)
    return pd.DataFrame(
        {
            "copy": pd.Series(np.repeat(np.array(copies, dtype=object), len(deltas)), dtype=object),
            "delta": pd.Series([delta_label(d) for d in deltas] * len(copies), dtype=object),
            "delta_s": np.tile(deltas, len(copies)),
            "divergent": divergent,
            "repaired": repaired,
            "fraction": fraction,
            "nines": nines(fraction),
        },
        columns=AFTER_DELTA_COLUMNS,
    )
