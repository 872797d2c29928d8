"""What a run returns: the history plus the analysis of it, as DataFrames."""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from . import analysis
from .history import History


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
        """Client operations (one row per operation)."""
        return self.history.ops

    @cached_property
    def stale_reads(self) -> pd.DataFrame:
        """Every ``ok`` read with the latest committed version and its staleness."""
        return analysis.stale_reads(self.history)

    @cached_property
    def windows(self) -> pd.DataFrame:
        """Inconsistency windows of every copy and key."""
        return analysis.windows(self.history)

    @cached_property
    def phases(self) -> pd.DataFrame:
        """Availability and stale fraction overall and before/during/after each fault."""
        return analysis.phases(self.history, stale=self.stale_reads)

    @cached_property
    def summary(self) -> dict:
        """The headline numbers (what ``summary.json`` holds)."""
        return analysis.summary(self.history, stale=self.stale_reads, windows=self.windows,
                                phases=self.phases)

    def timeline(self):
        """The timeline figure (a matplotlib Figure)."""
        from .plots import timeline
        return timeline(self.history, stale=self.stale_reads, windows=self.windows)

    def save(self, folder=None):
        """Write the results folder (atomically); return its path."""
        from .results import write, default_folder
        return write(self, folder or default_folder(self.history.meta))

    def __repr__(self) -> str:
        s = self.summary
        availability = "-" if s["availability"] is None else f"{s['availability']:.4f}"
        return (f"<Result {s['scenario']} seed={s['seed']}: {s['ops']['total']} ops, "
                f"availability {availability}, stale reads {s['reads']['stale']}>")
