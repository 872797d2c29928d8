"""Stale and phantom reads on hand-written histories, and against a slow reference."""

import math

import numpy as np
import pytest
from conftest import make_history, random_history

from simulator.analysis import stale_reads
from simulator.analysis.stale import STALE_COLUMNS


def test_read_that_missed_exactly_two_versions():
    history = make_history(
        ops=[("read", 0, 3.25, 3.5, "ok", 0, "db-replica-1")],
        truth=[(0, 1, 1.0), (0, 2, 2.0), (0, 3, 5.0)],
    )
    row = stale_reads(history).iloc[0]
    assert bool(row["stale"])
    assert row["latest"] == 2
    assert row["missed_versions"] == 2
    assert row["staleness_s"] == 2.25  # invoke minus the commit of version 1, the first it missed
    assert row["served_by"] == "db-replica-1"
    assert not bool(row["phantom"])


def test_read_at_the_exact_commit_instant_is_not_stale():
    history = make_history(ops=[("read", 0, 2.0, 2.1, "ok", 1)], truth=[(0, 1, 1.0), (0, 2, 2.0)])
    row = stale_reads(history).iloc[0]
    assert not bool(row["stale"])
    assert row["latest"] == 1
    assert row["missed_versions"] == 0
    assert math.isnan(row["staleness_s"])


def test_version_zero_is_committed_implicitly_at_time_zero():
    history = make_history(ops=[("read", 0, 0.5, 0.6, "ok", 0), ("read", 0, 1.5, 1.6, "ok", 0)], truth=[(0, 1, 1.0)])
    frame = stale_reads(history)
    assert frame["stale"].tolist() == [False, True]
    assert frame["latest"].tolist() == [0, 1]
    assert frame["phantom"].tolist() == [False, False]
    assert frame["staleness_s"].iloc[1] == 0.5


def test_phantom_read_returns_a_version_the_truth_never_committed():
    history = make_history(
        ops=[("read", 0, 4.0, 4.1, "ok", 7), ("read", 0, 4.0, 4.1, "ok", 2)],
        truth=[(0, 1, 1.0), (0, 3, 3.0)],
    )
    frame = stale_reads(history)
    assert frame["phantom"].tolist() == [True, True]
    # Version 2 was never committed, and version 3 was committed before the read: stale too.
    assert frame["stale"].tolist() == [False, True]
    assert frame["missed_versions"].tolist() == [0, 1]
    assert frame["staleness_s"].iloc[1] == 1.0


def test_version_committed_only_after_the_read_began_is_neither_stale_nor_phantom():
    history = make_history(ops=[("read", 0, 1.0, 2.5, "ok", 1)], truth=[(0, 1, 2.0)])
    row = stale_reads(history).iloc[0]
    assert not bool(row["stale"]) and not bool(row["phantom"])
    assert row["latest"] == 0


def test_commits_to_other_keys_do_not_make_a_read_stale():
    history = make_history(
        ops=[("read", 0, 5.0, 5.1, "ok", 1), ("read", 2, 5.0, 5.1, "ok", 0)],
        truth=[(1, 1, 0.5), (1, 2, 0.7), (0, 1, 1.0), (3, 1, 0.1)],
    )
    frame = stale_reads(history)
    assert frame["stale"].tolist() == [False, False]
    assert frame["latest"].tolist() == [1, 0]


def test_only_ok_reads_are_listed_in_operation_order():
    history = make_history(
        ops=[
            ("write", 0, 0.1, 0.2, "ok", 1),
            ("read", 0, 0.3, 0.4, "fail", -1),
            ("read", 0, 0.5, 0.6, "info", -1),
            ("read", 0, 0.7, 0.8, "ok", 1),
            ("read", 0, 0.9, 1.0, "ok", 0),
        ],
        truth=[(0, 1, 0.2)],
    )
    frame = stale_reads(history)
    assert list(frame.columns) == STALE_COLUMNS
    assert frame["index"].tolist() == [3, 4]
    assert frame["stale"].tolist() == [False, True]


def test_empty_history_gives_an_empty_table():
    frame = stale_reads(make_history())
    assert list(frame.columns) == STALE_COLUMNS
    assert len(frame) == 0


def reference_stale_reads(history):
    """Slow and obvious: one read at a time, straight from the definitions."""
    truth = list(history.truth.itertuples(index=False))
    rows = []
    for op in history.ops.itertuples(index=False):
        if op.op != "read" or op.status != "ok":
            continue
        mine = [(t.version, t.commit_s) for t in truth if t.key == op.key]
        seen = [(v, c) for v, c in mine if c < op.invoke_s]
        missed = [(v, c) for v, c in seen if v > op.version]
        rows.append(
            {
                "index": op.index,
                "latest": max([0] + [v for v, _ in seen]),
                "stale": bool(missed),
                "missed_versions": len(missed),
                "staleness_s": op.invoke_s - min(c for _, c in missed) if missed else math.nan,
                "phantom": op.version > 0 and op.version not in [v for v, _ in mine],
            }
        )
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_matches_a_slow_reference_on_random_histories(seed):
    history = random_history(seed)
    expected = reference_stale_reads(history)
    frame = stale_reads(history)
    assert len(frame) == len(expected)
    for name in ("index", "latest", "stale", "missed_versions", "phantom"):
        assert frame[name].tolist() == [row[name] for row in expected], name
    np.testing.assert_array_equal(frame["staleness_s"].to_numpy(), [row["staleness_s"] for row in expected])


def test_reads_are_held_against_the_truth_of_the_copy_that_served_them():
    from simulator.history import History
    history = make_history(
        ops=[("read", 0, 2.0, 2.1, "ok", 0, "b-replica")],
        truth=[(0, 1, 1.0)],                     # written on source a, key 0
        copy_info=[("b-replica", "v0")],
        duration=3,
    )
    info = history.copy_info.assign(source="b-primary")
    truth = history.truth.assign(source="a-primary")
    both = History(ops=history.ops, truth=truth, copies=history.copies, copy_info=info,
                   faults=history.faults, meta=dict(history.meta))
    assert not stale_reads(both)["stale"].any()          # b's key 0 was never written
    assert stale_reads(history)["stale"].all()            # one source: it missed version 1


def test_a_missing_time_stays_within_its_own_key():
    # a saved history read back gives NaN for an empty time; it must not move
    # another key's reads (numpy sorts a complex number with a NaN part last)
    nan = float("nan")
    history = make_history(
        ops=[("read", 5, 5.0, 5.1, "ok", 0), ("read", 2, nan, 5.1, "ok", 0)],
        truth=[(4, 1, 0.5), (4, 2, 1.0), (5, 1, 1.0), (5, 2, 2.0), (7, 2, 1.0)],
    )
    frame = stale_reads(history)
    assert frame["stale"].tolist() == [True, False]
    assert frame["missed_versions"].tolist() == [2, 0]
    assert frame["latest"].tolist() == [2, 0]  # key 2 has no commit: key 7's is not its


@pytest.mark.parametrize("truth, words", [
    ([(4, 1, float("nan")), (4, 2, 1.0)], "no commit time for version 1 of key 4"),
    ([(4, 1, 2.0), (4, 2, 1.0)], "commits version 1 at 2s, after version 2 at 1s"),
])
def test_a_truth_the_searches_cannot_stand_on_is_refused(truth, words):
    # an empty commit time or a version that falls with time (a hand-made or damaged
    # history) used to give contradictory answers: a read not stale yet behind its
    # own 'latest', a committed version called a phantom
    history = make_history(ops=[("read", 4, 5.0, 5.1, "ok", 1)], truth=truth)
    with pytest.raises(ValueError, match=words):
        stale_reads(history)
