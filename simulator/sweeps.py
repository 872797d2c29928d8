"""Many runs of one scenario, spread over the machine's cores: a sweep.

    >>> import simulator
    >>> table = simulator.sweep("scenarios/partition.yaml",
    ...                         {"components.cache.ttl": ["5s", "30s", "60s"]},
    ...                         seeds=[1, 2, 3])                # doctest: +SKIP

runs every combination of the ``grid`` values with every seed and returns one
row per run: the values, the seed and what ``measure`` takes from the run (by
default its CAP/PACELC row, :func:`~simulator.analysis.cap_row`).

Each run is exactly ``simulator.run(scenario, seed, **values)``, so a row does
not depend on how many processes ran the sweep or in which order they
finished.  Every combination is loaded and validated before anything runs, so
a bad value fails at once, naming its path.  Only the rows come back from the
worker processes: a sweep of hundreds of runs holds hundreds of rows, not
hundreds of histories.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import threading
from typing import Callable, Iterable, Mapping

import pandas as pd

#: What a worker process runs: ``(scenarios, measure)``, set once per process.
_WORK: tuple | None = None


def sweep(scenario, grid: Mapping[str, Iterable] | None = None, *,
          seeds: Iterable[int] | None = None, measure: Callable | None = None,
          processes: int | None = None, overrides=(), **values) -> pd.DataFrame:
    """Run ``scenario`` for every combination of ``grid`` values and ``seeds``.

    ``grid`` maps scenario paths (``"components.cache.ttl"``, as ``--set``
    takes them) to the values to try; ``seeds`` defaults to the scenario's own
    seed.  ``overrides`` and ``values`` apply to every run, as in
    :func:`simulator.run`.  ``measure(result)`` turns a
    :class:`~simulator.result.Result` into the run's columns (a dict; any
    other value becomes one column, ``value``); by default the run's CAP row.
    ``processes`` worker processes share the runs (default: one per core;
    ``1`` runs them here, one after the other).

    Returns one row per run, in grid order (the first path varies slowest,
    the seed fastest): a column per grid path, ``seed``, then the measure's
    columns (a measure's column named like an earlier one is left out).
    """
    from .scenario import load
    grid = _checked_grid(grid)
    if "seed" in values or "seed" in grid:
        raise TypeError("a sweep takes its seeds as seeds=[...]")
    seeds = list(seeds) if seeds is not None else [None]
    if processes is not None and (not isinstance(processes, int) or processes < 1):
        raise ValueError(f"processes must be a positive whole number, got {processes!r}")
    runs, scenarios = [], []
    for combination in itertools.product(*grid.values()):
        chosen = dict(zip(grid, combination))
        for seed in seeds:
            loaded = load(scenario, overrides, seed=seed, **{**values, **chosen})
            runs.append({**chosen, "seed": loaded.seed})
            scenarios.append(loaded)
    measured = _run_all(scenarios, measure or cap, processes)
    rows = []
    for row, value in zip(runs, measured):
        if not isinstance(value, Mapping):
            value = {"value": value}
        rows.append({**row, **{k: v for k, v in value.items() if k not in row}})
    return pd.DataFrame(rows, columns=_columns(rows, runs))


def cap(result) -> dict:
    """A run's CAP/PACELC row (:func:`~simulator.analysis.cap_row`), without the
    scenario's name and seed (the sweep's own columns)."""
    from .analysis import cap_row
    row = cap_row(result.history, stale=result.stale_reads, phases=result.phases)
    return {k: v for k, v in row.items() if k not in ("scenario", "seed")}


def _checked_grid(grid) -> dict:
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise TypeError("grid maps scenario paths to the values to try, for example "
                        "{'components.cache.ttl': ['5s', '60s']}")
    checked = {}
    for path, choices in grid.items():
        if isinstance(choices, (str, bytes, Mapping)) or not isinstance(choices, Iterable):
            raise TypeError(f"grid[{path!r}] must be a list of values to try, got {choices!r}")
        choices = list(choices)
        if not choices:
            raise ValueError(f"grid[{path!r}] is empty: give at least one value")
        checked[str(path)] = choices
    return checked


def _columns(rows: list[dict], runs: list[dict]) -> list[str]:
    columns = list(runs[0]) if runs else ["seed"]
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _run_all(scenarios: list, measure: Callable, processes: int | None) -> list:
    """``measure`` of the run of every scenario, in order."""
    if processes is None:
        processes = os.cpu_count() or 1
    processes = min(processes, len(scenarios))
    if processes <= 1:
        return [measure(_run(loaded)) for loaded in scenarios]
    if multiprocessing.current_process().daemon:  # a pool's worker may not have children
        return [measure(_run(loaded)) for loaded in scenarios]
    if _fork_is_safe():
        # the children inherit the scenarios and the measure: nothing is pickled
        # on the way in, so the measure may be any function (a lambda too)
        context, here = multiprocessing.get_context("fork"), None
    else:
        # fresh interpreters: what they run must be pickled; a measure that
        # cannot be is applied here, to each result as it comes back
        context = multiprocessing.get_context("spawn")
        here = None if _pickles(measure) else measure
    with context.Pool(processes, initializer=_start,
                      initargs=(scenarios, None if here else measure)) as pool:
        results = pool.imap(_one, range(len(scenarios)), chunksize=1)
        return [here(result) if here else result for result in results]


def _fork_is_safe() -> bool:
    """Whether forking this process is safe: the fork start method exists (not on
    Windows) and no other thread runs (a thread holding a lock at the fork
    leaves it held forever in the child; Jupyter's kernel runs threads)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _pickles(value) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - whatever pickling raises, it does not pickle
        return False
    return True


def _start(scenarios: list, measure: Callable | None) -> None:
    global _WORK
    _WORK = (scenarios, measure)


def _one(index: int):
    scenarios, measure = _WORK
    result = _run(scenarios[index])
    return measure(result) if measure is not None else result


def _run(loaded):
    from .result import Result
    from .world import simulate
    return Result(simulate(loaded), loaded)
