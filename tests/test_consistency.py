"""Polaris-style "consistent after delta": the share of each copy's divergences repaired within a delay."""

import math

import numpy as np
import pytest
from conftest import make_history

from simulator.analysis import after_delta, windows
from simulator.analysis.consistency import delta_label, nines


def run():
    # replica: behind on key 0 for 50 ms [1.0, 1.05), on key 1 from 2.0 to the end (open);
    # replica-2: behind on key 0 for exactly 0.5 s [1.0, 1.5); cache: never divergent.
    return make_history(
        truth=[(0, 1, 1.0), (1, 1, 2.0)],
        copies=[(1.05, "replica", 0, 1), (1.5, "replica-2", 0, 1), (1.5, "replica-2", 1, 1)],
        copy_info=[("replica", "v0"), ("replica-2", "v0"), ("cache", "empty")],
        duration=10,
    )


def test_a_50ms_window_is_repaired_within_100ms_but_not_within_10ms():
    table = after_delta(run(), deltas=[0.01, 0.1, 100.0])
    replica = table[table["copy"] == "replica"]
    assert list(replica["delta_s"]) == [0.01, 0.1, 100.0]
    assert list(replica["divergent"]) == [2, 2, 2]
    # The open window on key 1 is never repaired, whatever the delay.
    assert list(replica["repaired"]) == [0, 1, 1]
    assert list(replica["fraction"]) == [0.0, 0.5, 0.5]


def test_a_window_exactly_delta_long_counts_as_repaired_within_delta():
    table = after_delta(run(), deltas=[0.25, 0.5])
    second = table[table["copy"] == "replica-2"]
    assert list(second["divergent"]) == [1, 1]  # key 1 was applied at 1.5, before its commit: never behind
    assert list(second["repaired"]) == [0, 1]


def test_columns_order_and_a_copy_that_never_diverged():
    table = after_delta(run(), deltas=[1.0])
    assert list(table.columns) == ["copy", "delta", "delta_s", "divergent", "repaired", "fraction", "nines"]
    assert list(table["copy"]) == ["replica", "replica-2", "cache"]
    cache = table[table["copy"] == "cache"].iloc[0]
    assert cache["divergent"] == 0 and cache["repaired"] == 0
    assert math.isnan(cache["fraction"]) and math.isnan(cache["nines"])


def test_default_deltas_and_their_labels():
    table = after_delta(run())
    replica = table[table["copy"] == "replica"]
    assert list(replica["delta"]) == ["1ms", "10ms", "100ms", "1s", "10s", "60s"]
    assert list(replica["delta_s"]) == [0.001, 0.01, 0.1, 1.0, 10.0, 60.0]
    assert [delta_label(d) for d in (0.0005, 0.25, 2.5, 120.0)] == ["500us", "250ms", "2.5s", "120s"]


def test_nines():
    assert nines([0.9, 0.99, 0.0]) == pytest.approx([1.0, 2.0, 0.0])
    assert np.isnan(nines([1.0, np.nan])).all()
    table = after_delta(run(), deltas=[0.1, 1.0])
    second = table[table["copy"] == "replica-2"]
    assert second["fraction"].iloc[1] == 1.0 and math.isnan(second["nines"].iloc[1])
    replica = table[table["copy"] == "replica"]
    assert replica["nines"].iloc[0] == pytest.approx(-math.log10(0.5))


def test_precomputed_windows_are_used_and_phantoms_count():
    history = make_history(
        copies=[(1.0, "cache", 0, 9, "fill"), (1.002, "cache", 0, -1, "expire")],
        copy_info=[("cache", "empty")],
        duration=5,
    )
    table = after_delta(history, deltas=[0.001, 0.01])
    assert list(table["repaired"]) == [0, 1] and list(table["divergent"]) == [1, 1]
    found = windows(history).iloc[:0]
    assert list(after_delta(history, deltas=[0.01], windows=found)["divergent"]) == [0]


def test_empty_history_and_bad_deltas():
    assert len(after_delta(make_history())) == 0
    with pytest.raises(ValueError):
        after_delta(run(), deltas=[-1.0])
