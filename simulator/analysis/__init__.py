"""Analysis: pure functions from a recorded :class:`~simulator.history.History` to tables.

- :func:`stale_reads`: one row per ``ok`` read, stale or phantom against the truth;
- :func:`windows`: inconsistency windows (behind or phantom) of every copy;
- :func:`phases`: availability and stale fraction overall and around each fault;
- :func:`availability_by`: availability per value of an ``ops`` column;
- :func:`summary`: the headline numbers as a JSON-ready dict.
"""

from simulator.analysis.phases import availability, availability_by, phases
from simulator.analysis.stale import stale_reads
from simulator.analysis.summary import summary
from simulator.analysis.windows import windows

__all__ = ["availability", "availability_by", "phases", "stale_reads", "summary", "windows"]
