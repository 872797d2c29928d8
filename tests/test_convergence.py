"""Time to converge after each fault heals, on hand-written histories."""

import math

import numpy as np
from conftest import make_history

from simulator.analysis import time_to_converge, windows


def run(copies, faults, truth=((0, 1, 2.0), (1, 1, 3.5)), duration=10):
    return make_history(truth=list(truth), copies=copies, copy_info=[("replica", "v0"), ("replica-2", "v0")],
                        faults=faults, duration=duration)


def test_convergence_is_the_close_of_the_last_window_of_the_divergent_stretch():
    # Healed at 3: replica behind on key 0 [2, 4); replica-2 behind on key 1 [3.5, 5), opened after
    # the heal but before convergence, so it keeps the run unconverged until 5.
    history = run(
        copies=[(4.0, "replica", 0, 1), (4.0, "replica-2", 0, 1), (2.0, "replica", 1, 1), (5.0, "replica-2", 1, 1)],
        faults=[("partition-1", "partition", 1.0, 3.0)],
    )
    # replica-2 was also behind on key 0 [2, 4); replica applied key 1 early (at 2.0): never behind on it.
    table = time_to_converge(history)
    assert list(table.columns) == ["fault", "kind", "heal_s", "converged_s", "time_to_converge_s", "converged"]
    row = table.iloc[0]
    assert (row["fault"], row["kind"], row["heal_s"]) == ("partition-1", "partition", 3.0)
    assert row["converged_s"] == 5.0 and row["time_to_converge_s"] == 2.0 and bool(row["converged"])


def test_damage_only_waits_for_the_windows_open_at_the_heal():
    history = run(
        copies=[(4.0, "replica", 0, 1), (4.0, "replica-2", 0, 1), (2.0, "replica", 1, 1), (5.0, "replica-2", 1, 1)],
        faults=[("partition-1", "partition", 1.0, 3.0)],
    )
    row = time_to_converge(history, damage_only=True).iloc[0]
    assert row["converged_s"] == 4.0 and row["time_to_converge_s"] == 1.0


def test_nothing_divergent_at_the_heal_converges_at_once():
    history = run(copies=[(2.5, "replica", 0, 1), (2.5, "replica-2", 0, 1), (3.5, "replica", 1, 1),
                          (3.5, "replica-2", 1, 1)],
                  faults=[("deploy-1", "deploy", 0.5, 1.5), ("slow-1", "slow-writes", 2.0, 2.5)])
    table = time_to_converge(history)
    assert list(table["converged_s"]) == [1.5, 2.5]  # the window [2, 2.5) closed exactly at the heal
    assert list(table["time_to_converge_s"]) == [0.0, 0.0]
    assert table["converged"].all()


def test_touching_windows_chain_into_one_stretch():
    # replica behind on key 0 [2, 4); replica-2 behind on key 1 [3.5, 6) overlaps; a third window starts
    # exactly when the second ends.
    history = run(
        copies=[(4.0, "replica", 0, 1), (2.0, "replica-2", 0, 1), (3.5, "replica", 1, 1), (6.0, "replica-2", 1, 1),
                (6.0, "replica", 2, 1)],
        truth=[(0, 1, 2.0), (1, 1, 3.5), (2, 1, 6.0)],
        faults=[("partition-1", "partition", 1.0, 3.0)],
    )
    found = windows(history)
    assert sorted(zip(found["start_s"], found["end_s"])) == [(2.0, 4.0), (3.5, 6.0), (6.0, 10.0)]
    assert found["open"].sum() == 1  # replica-2 never applies key 2: open at the end
    row = time_to_converge(history).iloc[0]
    assert not row["converged"] and math.isnan(row["converged_s"]) and math.isnan(row["time_to_converge_s"])


def test_a_window_open_at_the_end_means_never_converged():
    history = run(copies=[(4.0, "replica", 0, 1), (9.0, "replica", 1, 1), (9.0, "replica-2", 1, 1)],
                  faults=[("partition-1", "partition", 1.0, 3.0)])
    # replica-2 never applies key 0: open from 2 to the end.
    row = time_to_converge(history).iloc[0]
    assert not row["converged"]
    assert math.isnan(row["converged_s"]) and math.isnan(row["time_to_converge_s"])
    assert row["heal_s"] == 3.0


def test_a_fault_never_healed_within_the_run_never_converges():
    history = run(copies=[], truth=[], faults=[("crash-1", "crash", 8.0, 12.0)])
    row = time_to_converge(history).iloc[0]
    assert not row["converged"] and math.isnan(row["time_to_converge_s"])


def test_precomputed_windows_are_used_and_no_faults_give_an_empty_table():
    history = run(copies=[], faults=[("partition-1", "partition", 1.0, 3.0)])
    # Without copy changes both replicas stay behind forever...
    assert not time_to_converge(history)["converged"].iloc[0]
    # ...but with no windows passed in, the run converges at the heal.
    row = time_to_converge(history, windows=windows(history).iloc[:0]).iloc[0]
    assert row["converged"] and row["converged_s"] == 3.0
    table = time_to_converge(run(copies=[], faults=[]))
    assert len(table) == 0 and table["converged"].dtype == np.bool_
