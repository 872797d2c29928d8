"""The CAP/PACELC row: availability and staleness during partitions, latency outside faults."""

import json

import numpy as np
import pytest
from conftest import make_history

from simulator.analysis import cap_row, phases, stale_reads
from simulator.analysis.cap import invoked_during


def run(faults):
    # key 0: v1 committed at 0.5.
    return make_history(
        ops=[
            ("read", 0, 0.1, 0.2, "ok", 0),        # outside faults, fresh, latency 0.1
            ("read", 0, 0.8, 1.0, "ok", 1),        # outside faults, fresh, latency 0.2
            ("read", 0, 1.0, 1.1, "ok", 0),        # partition-1 (starts at 1.0): stale
            ("read", 0, 1.5, 1.6, "ok", 1),        # partition-1: fresh
            ("write", 0, 1.9, 2.9, "info", -1),    # partition-1
            ("read", 0, 2.0, 2.1, "ok", 0),        # at partition-1's end: outside; stale; latency 0.1
            ("read", 0, 3.5, 3.6, "fail", -1),     # deploy-1 only
            ("read", 0, 3.6, 9.0, "ok", 0),        # deploy-1: stale, latency 5.4 (not outside faults)
            ("read", 0, 5.2, 5.3, "fail", -1),     # partition-2
            ("read", 0, 5.4, 5.5, "ok", 1),        # partition-2 (overlaps partition-3)
        ],
        truth=[(0, 1, 0.5)],
        faults=faults,
        duration=10,
        meta={"scenario": "cap", "seed": 4},
    )


FAULTS = [
    ("partition-1", "partition", 1.0, 2.0),
    ("deploy-1", "deploy", 3.0, 4.0),
    ("partition-2", "partition", 5.0, 6.0),
    ("partition-3", "partition", 5.5, 6.5),
]


def test_cap_row_is_restricted_to_partition_intervals():
    row = cap_row(run(FAULTS))
    assert (row["scenario"], row["seed"]) == ("cap", 4)
    assert row["partitions"] == 3
    assert row["partition_s"] == 2.5  # [1, 2) and [5, 6.5)
    assert row["ops_during_partitions"] == 5
    # Invoked during a partition: 3 ok of 5 operations; reads ok: stale, fresh, fresh.
    assert row["availability_during_partitions"] == pytest.approx(3 / 5)
    assert row["stale_fraction_during_partitions"] == pytest.approx(1 / 3)


def test_latency_and_staleness_outside_every_fault():
    row = cap_row(run(FAULTS))
    assert row["ops_outside_faults"] == 3
    assert row["latency_p99_outside_faults_s"] == pytest.approx(np.percentile([0.1, 0.2, 0.1], 99))
    assert row["stale_fraction_outside_faults"] == pytest.approx(1 / 3)


def test_overall_figures():
    history = run(FAULTS)
    row = cap_row(history)
    assert row["availability_overall"] == pytest.approx(7 / 10)
    assert row["stale_fraction_overall"] == pytest.approx(3 / 7)
    table = phases(history, stale=stale_reads(history))
    table["availability"] = 0.125
    assert cap_row(history, phases=table)["availability_overall"] == 0.125


def test_without_partitions_the_partition_figures_are_none():
    row = cap_row(run([("deploy-1", "deploy", 3.0, 4.0)]))
    assert row["partitions"] == 0 and row["partition_s"] == 0.0 and row["ops_during_partitions"] == 0
    assert row["availability_during_partitions"] is None
    assert row["stale_fraction_during_partitions"] is None
    assert row["ops_outside_faults"] == 8


def test_cap_row_is_plain_json():
    for history in (run(FAULTS), make_history()):
        row = cap_row(history)
        json.dumps(row, allow_nan=False)
        assert all(v is None or type(v) in (bool, int, float, str) for v in row.values())
    empty = cap_row(make_history())
    assert empty["latency_p99_outside_faults_s"] is None and empty["availability_overall"] is None


def test_invoked_during_is_half_open_and_merges_overlaps():
    times = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]
    found = invoked_during(times, [1.0, 1.5, 3.5], [2.0, 2.5, 4.0])
    assert list(found) == [False, True, True, True, False, False, False]
    assert not invoked_during(times, [], []).any()
