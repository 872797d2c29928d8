"""Sediment: a distributed-state fault-injection simulator.

    >>> import simulator
    >>> result = simulator.run("scenarios/partition.yaml", seed=7, workload__rate=50)
    >>> result.summary["reads"]["stale"]       # doctest: +SKIP
    >>> result.windows                          # a pandas DataFrame
    >>> simulator.sweep("scenarios/partition.yaml",  # one row per run, on every core
    ...                 {"components.cache.ttl": ["5s", "60s"]}, seeds=[1, 2])  # doctest: +SKIP

See ``docs/history.md`` for the recorded tables and ``README.md`` for the rest.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ScenarioError, ScenarioNote, SedimentError  # noqa: E402
from .history import History, load as load_history  # noqa: E402


def load(source, overrides=(), **values):
    """Load and validate a scenario (a path to a YAML file, or a dict) without running it."""
    from .scenario import load as load_scenario
    return load_scenario(source, overrides, **values)


def run(scenario, seed: int | None = None, *, overrides=(), progress=None, **values):
    """Run a scenario and return a :class:`~simulator.result.Result`.

    ``scenario`` is a path, a dict or a loaded scenario; ``seed`` defaults to
    the scenario's own.  Any scenario value can be overridden by keyword with
    ``__`` between the parts of its path (``workload__rate=500``) or with
    ``overrides=["workload.rate=500"]``.
    """
    import warnings

    from .result import Result
    from .scenario import load as load_scenario
    from .world import simulate
    # the seed goes through the loader: checked like any value, and the result's
    # scenario is the one that ran (its seed included), so it replays
    loaded = load_scenario(scenario, overrides, seed=seed, **values)
    for note in loaded.notes:  # a setting that has no effect: said, not refused
        warnings.warn(note, ScenarioNote, stacklevel=2)
    return Result(simulate(loaded, progress=progress), loaded)


def sweep(scenario, grid=None, *, seeds=None, measure=None, processes=None, progress=None,
          overrides=(), **values):
    """Run ``scenario`` for every combination of ``grid`` values and ``seeds``, on
    every core; one row per run (see :func:`simulator.sweeps.sweep`)."""
    from .sweeps import sweep as run_sweep
    return run_sweep(scenario, grid, seeds=seeds, measure=measure, processes=processes,
                     progress=progress, overrides=overrides, **values)


def analyse(history):
    """A :class:`~simulator.result.Result` for a history, or for the results
    folder that holds one (as :func:`load_history` reads it)."""
    from .result import Result
    if not isinstance(history, History):
        history = load_history(history)
    return Result(history)


__all__ = ["History", "ScenarioError", "ScenarioNote", "SedimentError", "analyse", "load",
           "load_history", "run", "sweep", "__version__"]
