"""Analysis: pure functions from a recorded :class:`~simulator.history.History` to tables.

- :func:`stale_reads`: one row per ``ok`` read, stale or phantom against the truth;
- :func:`windows`: inconsistency windows (behind or phantom) of every copy;
- :func:`lost_writes`: acknowledged writes that did not survive (failover, split brain);
- :func:`phases`: availability and stale fraction overall and around each fault;
- :func:`availability_by`: availability per value of an ``ops`` column;
- :func:`t_visibility`, :func:`k_staleness`: PBS curves measured from the reads;
- :func:`after_delta`: Polaris-style share of divergent states repaired within a delay;
- :func:`time_to_converge`: from each fault's heal until every copy equals the truth;
- :func:`percentiles_over_time`, :func:`error_breakdown`: latency and failures;
- :func:`cap_row`: availability and staleness during partitions, latency outside faults;
- :func:`summary`: the headline numbers as a JSON-ready dict.
"""

from simulator.analysis.cap import cap_row
from simulator.analysis.consistency import after_delta
from simulator.analysis.convergence import time_to_converge
from simulator.analysis.latency import error_breakdown, percentiles_over_time
from simulator.analysis.lost import lost_writes
from simulator.analysis.phases import availability, availability_by, phases
from simulator.analysis.stale import stale_reads
from simulator.analysis.summary import summary
from simulator.analysis.visibility import k_staleness, t_visibility, wilson_interval
from simulator.analysis.windows import windows

__all__ = [
    "after_delta",
    "availability",
    "availability_by",
    "cap_row",
    "error_breakdown",
    "k_staleness",
    "lost_writes",
    "percentiles_over_time",
    "phases",
    "stale_reads",
    "summary",
    "t_visibility",
    "time_to_converge",
    "wilson_interval",
    "windows",
]
