"""What a run returns: the history plus the analysis of it, as DataFrames."""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from . import analysis
from .history import COPY_ON_WRITE, History


class Result:
    """A finished run.  Every table is computed from :attr:`history` only."""

    def __init__(self, history: History, scenario=None) -> None:
        self.history = history
        self.scenario = scenario

    @property
    def seed(self) -> int:
        return self.history.meta.get("seed")

    @property
    def ops(self) -> pd.DataFrame:
        """Client operations (one row per operation): the caller's to change (a
        row dropped or a column added here does not reach the analysis or a
        saved folder; with pandas' copy-on-write the copy costs nothing until
        then)."""
        return self.history.ops.copy(deep=not COPY_ON_WRITE)

    @cached_property
    def stale_reads(self) -> pd.DataFrame:
        """Every ``ok`` read with the latest committed version and its staleness."""
        return analysis.stale_reads(self.history)

    @cached_property
    def windows(self) -> pd.DataFrame:
        """Inconsistency windows of every copy and key."""
        return analysis.windows(self.history)

    @cached_property
    def lost_writes(self) -> pd.DataFrame:
        """Acknowledged writes that did not survive (a failover, a split brain)."""
        return analysis.lost_writes(self.history)

    @cached_property
    def phases(self) -> pd.DataFrame:
        """Availability and stale fraction overall and before/during/after each fault."""
        return analysis.phases(self.history, stale=self.stale_reads, windows=self.windows,
                               lost=self.lost_writes)

    @cached_property
    def summary(self) -> dict:
        """The headline numbers (what ``summary.json`` holds)."""
        return analysis.summary(self.history, stale=self.stale_reads, windows=self.windows,
                                phases=self.phases, lost=self.lost_writes)

    @property
    def plot(self) -> "Figures":
        """The figures: ``result.plot.timeline()``, ``result.plot("latency")``, ..."""
        return Figures(self)

    def timeline(self):
        """The timeline figure (a matplotlib Figure)."""
        return self.plot.timeline()

    def save(self, folder=None):
        """Write the results folder (atomically); return its path."""
        from .results import write, default_folder
        return write(self, folder or default_folder(self.history.meta))

    def _repr_html_(self) -> str:
        """What Jupyter shows for a result: its headline, copies and phases."""
        from .report.document import notebook
        return notebook(self)

    def __repr__(self) -> str:
        s = self.summary
        availability = "-" if s["availability"] is None else f"{s['availability']:.4f}"
        lost = s["writes"].get("lost", 0)
        return (f"<Result {s['scenario']} seed={s['seed']}: {s['ops']['total']} ops, "
                f"availability {availability}, stale reads {s['reads']['stale']}"
                + (f", lost writes {lost}" if lost else "") + ">")


#: The figures of a run, in order (``simulator.plots.FIGURES`` draws them), named
#: here so that listing them does not import matplotlib: the results folder's
#: drawing processes import it while the parent writes the tables.
FIGURE_NAMES = ("timeline", "divergence", "window_cdf", "visibility", "latency")


class Figures:
    """Every figure of a result, drawn from its cached tables."""

    def __init__(self, result: Result) -> None:
        self._result = result

    @property
    def names(self) -> list[str]:
        return list(FIGURE_NAMES)

    def __call__(self, name: str):
        from . import plots
        figures = plots.FIGURES
        if name not in figures:
            raise ValueError(f"unknown figure {name!r}; known: {', '.join(figures)}")
        result = self._result
        return figures[name](result.history, stale=result.stale_reads, windows=result.windows,
                             lost=result.lost_writes)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self.names:
            raise AttributeError(f"no figure {name!r}; known: {', '.join(self.names)}")
        return lambda: self(name)

    def __dir__(self):
        return self.names

    def __repr__(self) -> str:
        return f"<figures {', '.join(self.names)}: result.plot.timeline(), ...>"
