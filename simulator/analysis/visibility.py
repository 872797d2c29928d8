"""How soon reads see a write: PBS t-visibility and k-staleness, estimated from a history.

Both curves come from Bailis, Venkataraman, Franklin, Hellerstein and Stoica,
"Probabilistically Bounded Staleness for Practical Partial Quorums" (VLDB
2012).  PBS predicts them from a model of the replication protocol; here they
are *measured* from what the clients actually read.

Definitions used here (for ``ok`` reads only, as :func:`stale_reads` sees them):

- The read's *latest* is the latest version of its key committed strictly
  before the read was invoked, and its **age** is ``invoke_s`` minus that
  version's commit time: how long after the commit the read started.  A read of
  a key with no commit before its invoke (it can only see the implicit initial
  version 0, "committed" at the start of the run) has no meaningful age and is
  left out of the t-visibility curve.
- The read is **consistent** when it returned that latest version or a newer
  committed one (one whose commit was still in flight when the read began).
  A stale read is inconsistent, and so is a *phantom* read (a version the
  truth never committed), whatever its number: it did not return the truth.

**t-visibility** (:func:`t_visibility`) is P(consistent | the read started about
``t`` after the latest commit).  The main curve is *binned*: for consecutive
grid points ``t_i < t_{i+1}`` it is the fraction of consistent reads among those
with ``t_i <= age < t_{i+1}`` (the last bin is open: ``age >= t_last``).  That is
the conditional PBS plots: how likely a read issued ``t`` after a write is to
see it.  The cumulative form P(consistent | age >= t) is available with
``cumulative=True``; it mixes every later age in and so changes slowly, but it
has more reads per point.

**k-staleness** (:func:`k_staleness`) is P(the read returned one of the last
``k`` committed versions), i.e. ``missed_versions < k`` and not a phantom, over
all ``ok`` reads (including reads of never-written keys, which trivially
return the latest).  At ``k = 1`` it is one minus the fraction of reads that
were stale or phantom.

Each estimate carries a 95 % Wilson score interval (:func:`wilson_interval`)
from its number of reads; a bin with no reads has NaN probability and bounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.stale import Truth, scoped_keys, sources_of, stale_reads
from simulator.history import History

T_VISIBILITY_COLUMNS = ["t_s", "t_end_s", "reads", "consistent", "probability", "low", "high"]
K_STALENESS_COLUMNS = ["k", "reads", "consistent", "probability", "low", "high"]

#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054

#: The smallest non-zero point of the default t grid: 100 microseconds.
GRID_FLOOR_S = 1e-4
GRID_POINTS = 40


def wilson_interval(successes, trials, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion, element-wise.

    Returns ``(low, high)``; NaN where ``trials`` is 0.  Unlike the normal
    approximation it stays inside ``[0, 1]`` and is sensible for 0 or all
    successes and for small samples.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    low = np.full(np.broadcast(k, n).shape, np.nan)
    high = low.copy()
    some = n > 0
    k, n = np.broadcast_to(k, low.shape)[some], np.broadcast_to(n, low.shape)[some]
    p = k / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * np.sqrt(np.maximum(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    # Exact ends where the formula gives them only up to rounding: 0 with no success, 1 with no failure.
    low[some] = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high[some] = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def default_grid(duration_s: float, points: int = GRID_POINTS) -> np.ndarray:
    """0, then ``points`` log-spaced instants from 100 us to the run's duration."""
    top = max(float(duration_s), 10 * GRID_FLOOR_S)
    return np.r_[0.0, np.geomspace(GRID_FLOOR_S, top, points)]


def read_ages(history: History, stale: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every ``ok`` read with its age and whether it was consistent.

    Columns: ``index``, ``invoke_s``, ``served_by``, ``age_s`` (NaN when the key
    had no commit before the invoke) and ``consistent`` (see the module
    docstring).  ``stale`` is the output of :func:`stale_reads`.
    """
    if stale is None:
        stale = stale_reads(history)
    keys = scoped_keys(stale["key"].to_numpy(np.int64),
                       sources_of(history, stale["served_by"].to_numpy(object)))
    invoke_s = stale["invoke_s"].to_numpy(np.float64)
    truth = Truth.of(history)
    age = np.full(len(stale), np.nan)
    if len(truth) and len(stale):
        lookup = truth.at(keys)
        first = lookup.first()
        before = lookup.before(invoke_s)
        written = before > first
        age[written] = invoke_s[written] - truth.commit_s[before[written] - 1]
    consistent = ~(stale["stale"].to_numpy(bool) | stale["phantom"].to_numpy(bool))
    return pd.DataFrame(
        {
            "index": stale["index"].to_numpy(np.int64),
            "invoke_s": invoke_s,
            "served_by": stale["served_by"].to_numpy(object),
            "age_s": age,
            "consistent": consistent,
        }
    )


def _estimates(reads: np.ndarray, consistent: np.ndarray) -> dict:
    low, high = wilson_interval(consistent, reads)
    probability = np.full(len(reads), np.nan)
    np.divide(consistent, reads, out=probability, where=reads > 0)
    return {
        "reads": reads.astype(np.int64),
        "consistent": consistent.astype(np.int64),
        "probability": probability,
        "low": low,
        "high": high,
    }


def t_visibility(
    history: History,
    grid=None,
    stale: pd.DataFrame | None = None,
    *,
    cumulative: bool = False,
) -> pd.DataFrame:
    """PBS t-visibility: P(a read returns the latest committed version | it started t after that commit).

    ``grid`` is an increasing sequence of non-negative ages in seconds
    (default :func:`default_grid`).  One row per grid point: ``t_s``,
    ``t_end_s`` (the next grid point, ``inf`` for the last), ``reads`` whose age
    falls in ``[t_s, t_end_s)``, how many were ``consistent``, the
    ``probability`` and its 95 % Wilson interval ``low``/``high`` (NaN for an
    empty bin).  With ``cumulative=True`` each row counts every read with
    ``age >= t_s`` instead (``t_end_s`` is then ``inf`` throughout).
    See the module docstring for the exact definitions.
    """
    grid = default_grid(history.duration_s) if grid is None else np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) == 0:
        raise ValueError("the t grid must be a non-empty sequence of ages in seconds")
    if np.any(~np.isfinite(grid)) or np.any(grid < 0) or np.any(np.diff(grid) <= 0):
        raise ValueError("the t grid must be finite, non-negative and strictly increasing")

    ages = read_ages(history, stale)
    dated = ages["age_s"].notna().to_numpy()
    age = ages["age_s"].to_numpy(np.float64)[dated]
    consistent = ages["consistent"].to_numpy(bool)[dated]

    bins = np.searchsorted(grid, age, side="right") - 1  # -1: younger than the first grid point
    counted = bins >= 0
    reads = np.bincount(bins[counted], minlength=len(grid))
    good = np.bincount(bins[counted], weights=consistent[counted], minlength=len(grid))
    if cumulative:
        reads = np.cumsum(reads[::-1])[::-1]
        good = np.cumsum(good[::-1])[::-1]
        t_end = np.full(len(grid), np.inf)
    else:
        t_end = np.r_[grid[1:], np.inf]
    table = pd.DataFrame({"t_s": grid, "t_end_s": t_end, **_estimates(reads, np.rint(good))})
    return table[T_VISIBILITY_COLUMNS]


def k_staleness(history: History, kmax: int = 10, stale: pd.DataFrame | None = None) -> pd.DataFrame:
    """PBS k-staleness: P(an ``ok`` read returned one of the last ``k`` committed versions), k = 1..kmax.

    Columns: ``k``, ``reads`` (every ``ok`` read), ``consistent`` (reads with
    ``missed_versions < k`` that are not phantoms), ``probability`` and its
    95 % Wilson interval ``low``/``high`` (NaN without reads).
    """
    if int(kmax) < 1:
        raise ValueError(f"kmax must be at least 1, not {kmax}")
    if stale is None:
        stale = stale_reads(history)
    ks = np.arange(1, int(kmax) + 1)
    honest = ~stale["phantom"].to_numpy(bool)
    missed = np.sort(stale["missed_versions"].to_numpy(np.int64)[honest])
    within = np.searchsorted(missed, ks, side="left")  # how many missed fewer than k
    reads = np.full(len(ks), len(stale))
    table = pd.DataFrame({"k": ks.astype(np.int64), **_estimates(reads, within)})
    return table[K_STALENESS_COLUMNS]
