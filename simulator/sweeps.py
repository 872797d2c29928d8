"""Many runs of one scenario, spread over the machine's cores: a sweep.

    >>> import simulator
    >>> table = simulator.sweep("scenarios/partition.yaml",
    ...                         {"components.cache.ttl": ["5s", "30s", "60s"]},
    ...                         seeds=[1, 2, 3])                # doctest: +SKIP

runs every combination of the ``grid`` values (or each combination it lists)
with every seed and returns one row per run: the values, the seed and what
``measure`` takes from the run (by default its CAP/PACELC row,
:func:`~simulator.analysis.cap_row`).

Each run is exactly ``simulator.run(scenario, seed, **values)``, so a row does
not depend on how many processes ran the sweep or in which order they
finished.  Every combination is loaded and validated before anything runs, so
a bad value fails at once, naming its path.  Only the rows come back from the
worker processes (with more than one process, what ``measure`` returns must
pickle): a sweep of hundreds of runs holds hundreds of rows, not hundreds of
histories.

Workers are forked from this process where that is safe (Linux, no other
thread).  Elsewhere, and in Jupyter (whose kernel runs threads), they start
as fresh interpreters, which cannot import a notebook's functions: a measure
other than the default one is then applied here, to each run as it comes
back (each run's whole result then travels back, one at a time).  A script
run that way must call ``sweep`` under ``if __name__ == "__main__":``, as
Python's multiprocessing requires.
"""

from __future__ import annotations

import itertools
import multiprocessing
import numbers
import os
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from .errors import ScenarioNote, SedimentError

#: What a worker process runs: ``(scenarios, measure)``, set once per process.
_WORK: tuple | None = None


def sweep(scenario, grid: Mapping[str, Iterable] | Iterable[Mapping] | None = None, *,
          seeds: Iterable[int] | None = None, measure: Callable | None = None,
          processes: int | None = None, progress: Callable | None = None,
          overrides=(), **values) -> pd.DataFrame:
    """Run ``scenario`` for every combination of ``grid`` values and ``seeds``.

    ``grid`` maps scenario paths (``"components.cache.ttl"``, as ``--set``
    takes them) to the values to try, and every combination runs; or it lists
    the combinations themselves, each a mapping of the same paths to one value
    (``[{"components.kv.read_quorum": 1, "components.kv.write_quorum": 1},
    ...]``).  ``seeds`` defaults to the scenario's own seed.  ``overrides``
    and ``values`` apply to every run, as in :func:`simulator.run`.
    ``measure(result)`` turns a :class:`~simulator.result.Result` into the
    run's columns (a dict; any other value becomes one column, ``value``); by
    default the run's CAP row.
    ``processes`` worker processes share the runs (default: one per core;
    ``1`` runs them here, one after the other).  ``progress(done, total)`` is
    called as the rows come in.

    Returns one row per run, in grid order (the first path varies slowest,
    the seed fastest): a column per grid path, ``seed``, then the measure's
    columns (a measure's column named like an earlier one is left out).
    """
    from .scenario import load
    combinations = _combinations(grid)
    if "seed" in values or any("seed" in chosen for chosen in combinations):
        raise TypeError("a sweep takes its seeds as seeds=[...]")
    if isinstance(seeds, (str, bytes)):  # "1-3" would run seeds 1, '-' and 3
        raise TypeError(f"seeds is a list of whole numbers, e.g. seeds=range(1, 11), "
                        f"got {seeds!r}")
    seeds = list(seeds) if seeds is not None else [None]
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if processes is not None and (isinstance(processes, bool) or
                                  not isinstance(processes, numbers.Integral) or processes < 1):
        raise ValueError(f"processes must be a positive whole number, got {processes!r}")
    processes = None if processes is None else int(processes)
    runs, scenarios, notes = [], [], {}
    for chosen in combinations:
        # the file is read once a combination; each seed is set on what it gave
        # (a resolved scenario validates again unchanged, 40 times faster)
        base = load(scenario, overrides, **{**values, **chosen})
        notes.update(dict.fromkeys(base.notes))
        for seed in seeds:
            loaded = base if seed is None else load(base, seed=seed)
            runs.append({**chosen, "seed": loaded.seed})
            scenarios.append(loaded)
    for note in notes:  # a setting with no effect is said once, not once a run
        warnings.warn(note, ScenarioNote, stacklevel=_outside())
    measured = _run_all(scenarios, measure or cap, processes, progress or _quiet)
    rows = []
    for row, value in zip(runs, measured):
        if isinstance(value, pd.Series):  # a measure's Series: a column per entry
            value = value.to_dict()
        if not isinstance(value, Mapping):
            value = {"value": value}
        rows.append({**row, **{k: v for k, v in value.items() if k not in row}})
    return pd.DataFrame(rows, columns=_columns(rows, runs))


def _outside() -> int:
    """The ``stacklevel`` of the caller's first frame outside this package, so that
    a warning points at the user's line (``simulator.sweep`` wraps this one)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def across_seeds(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """A sweep's rows summed up over their seeds: one row per combination of
    values (the columns before ``seed``, as the sweep gave them), with ``seeds``
    (its runs) and, for each measured column ``x`` that holds numbers (or
    true/false, averaged as a proportion; a run without a value, None or NaN,
    is left out of its column), ``x`` (the mean over the seeds) and ``x_ci``
    (the half-width of its ``level`` confidence interval, Student's t:
    :func:`~simulator.analysis.intervals.mean_interval`; NaN with fewer than
    two values).  Combinations keep the sweep's order.
    """
    from .analysis.intervals import mean_interval
    if "seed" not in table.columns:
        raise ValueError("not a sweep's table: it has no 'seed' column")
    at = list(table.columns).index("seed")
    grid = list(table.columns[:at])
    measured = {}
    for column in table.columns[at + 1:]:
        values = table[column]
        if pd.api.types.is_bool_dtype(values):
            values = values.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(values):
            # a measure missing in some runs (None) leaves a column of objects
            numbers = pd.to_numeric(values, errors="coerce")
            if numbers.isna().sum() != values.isna().sum():
                continue  # text: not averaged
            values = numbers
        measured[column] = values.to_numpy(np.float64)
    # combinations by their values' text, so that lists and mappings (a partition's
    # groups) group too; each row shows the values as the sweep gave them
    keys = [tuple(repr(v) for v in row) for row in table[grid].itertuples(index=False)]
    order: dict[tuple, list[int]] = {}
    for position, key in enumerate(keys):
        order.setdefault(key, []).append(position)
    rows = []
    for positions in order.values():
        row = {column: table[column].iloc[positions[0]] for column in grid}
        row["seeds"] = len(positions)
        for column, values in measured.items():
            mean, half, _ = mean_interval(values[positions], level)
            row[column], row[f"{column}_ci"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows, columns=grid + ["seeds"] + [
        name for column in measured for name in (column, f"{column}_ci")])


def cap(result) -> dict:
    """A run's CAP/PACELC row (:func:`~simulator.analysis.cap_row`), without the
    scenario's name and seed (the sweep's own columns)."""
    from .analysis import cap_row
    row = cap_row(result.history, stale=result.stale_reads, phases=result.phases)
    return {k: v for k, v in row.items() if k not in ("scenario", "seed")}


def _combinations(grid) -> list[dict]:
    """The combinations a grid stands for, each ``{path: value}``, in order."""
    if grid is None:
        return [{}]
    if not isinstance(grid, Mapping) and isinstance(grid, Iterable) and \
            not isinstance(grid, (str, bytes)):
        combinations = [dict(c) if isinstance(c, Mapping) else c for c in grid]
        if not combinations:
            raise ValueError("grid lists no combination: give at least one")
        for combination in combinations:
            if not isinstance(combination, Mapping):
                raise TypeError(f"a grid that lists combinations lists mappings of paths "
                                f"to values, got {combination!r}")
            if list(combination) != list(combinations[0]):
                raise ValueError(f"every combination of the grid sets the same paths: "
                                 f"{list(combinations[0])} and then {list(combination)}")
        return [{str(k): v for k, v in c.items()} for c in combinations]
    if not isinstance(grid, Mapping):
        raise TypeError("grid maps scenario paths to the values to try, for example "
                        "{'components.cache.ttl': ['5s', '60s']}, or lists combinations")
    checked = {}
    for path, choices in grid.items():
        if isinstance(choices, (str, bytes, Mapping)) or not isinstance(choices, Iterable):
            raise TypeError(f"grid[{path!r}] must be a list of values to try, got {choices!r}")
        choices = list(choices)
        if not choices:
            raise ValueError(f"grid[{path!r}] is empty: give at least one value")
        checked[str(path)] = choices
    return [dict(zip(checked, values)) for values in itertools.product(*checked.values())]


def _columns(rows: list[dict], runs: list[dict]) -> list[str]:
    """The grid's columns and ``seed``, then every measured column in order of appearance."""
    columns = list(runs[0])
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _quiet(done: int, total: int) -> None:
    pass


def _run_all(scenarios: list, measure: Callable, processes: int | None,
             progress: Callable) -> list:
    """``measure`` of the run of every scenario, in order; ``progress`` after each."""
    total = len(scenarios)

    def counted(values) -> list:
        rows = []
        for value in values:
            rows.append(value)
            progress(len(rows), total)
        return rows

    if processes is None:
        processes = os.cpu_count() or 1
    processes = min(processes, len(scenarios))
    if processes <= 1 or multiprocessing.current_process().daemon:
        # (a multiprocessing pool's worker is daemonic and may not have children)
        return counted(measure(_run(loaded)) for loaded in scenarios)
    method = _start_method()
    context = multiprocessing.get_context(method)
    if method == "fork":
        # the children inherit the scenarios and the measure: nothing is pickled
        # on the way in, so the measure may be any function (a lambda too)
        sent = measure
    else:
        # fresh interpreters get only what they can import: the caller's own
        # measure (from a notebook, a lambda) is applied here instead, to each
        # run as it comes back
        sent = measure if measure is cap else None
        if method == "forkserver":
            # its workers start with the simulator imported (this sets the
            # process's one fork server, and only before it first starts)
            context.set_forkserver_preload(["simulator.sweeps", "simulator.world",
                                            "simulator.result"])
    # an executor, not a Pool: a worker that dies breaks it (BrokenProcessPool)
    # where a Pool would start another, and another, for ever
    workers = ProcessPoolExecutor(processes, mp_context=context, initializer=_start,
                                  initargs=(scenarios, sent))
    try:
        results = workers.map(_one, range(len(scenarios)))
        return counted(result if sent is not None else measure(result) for result in results)
    except BrokenProcessPool as error:
        raise SedimentError(
            "a sweep's worker process died, or could not send back what it got "
            "(out of memory? killed? an error that cannot be pickled?); in a script "
            "that starts fresh interpreters for its workers (on Windows and macOS, or "
            "when other threads run), call sweep under `if __name__ == '__main__':`, "
            "as Python's multiprocessing requires; processes=1 runs the sweep in this "
            "process, where any error shows as it is") from error
    finally:
        # on a failure (an interrupt too) the runs not started yet are dropped
        workers.shutdown(cancel_futures=True)


def _start_method() -> str:
    """How to start the workers: on Linux, forked from this process when that is
    safe (no other thread runs: a thread holding a lock at the fork leaves it
    held for ever in the child, and Jupyter's kernel runs threads), else forked
    from a fresh server process; elsewhere fresh interpreters (forking is not
    safe on macOS and does not exist on Windows)."""
    if sys.platform.startswith("linux"):
        return "fork" if threading.active_count() == 1 else "forkserver"
    return "spawn"


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
