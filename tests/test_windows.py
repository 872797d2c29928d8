"""Inconsistency windows on hand-written histories, and against a slow reference."""

import numpy as np
import pytest
from conftest import make_history, random_history

from simulator.analysis import windows
from simulator.analysis.windows import WINDOW_COLUMNS


def rows(frame):
    """The windows as plain tuples (copy, key, kind, start_s, end_s, duration_s, open)."""
    return [tuple(r) for r in frame[WINDOW_COLUMNS].itertuples(index=False)]


def test_window_opens_at_a_commit_and_closes_at_the_later_apply():
    history = make_history(
        truth=[(0, 1, 2.0)], copies=[(3.5, "replica", 0, 1)], copy_info=[("replica", "v0")], duration=10
    )
    assert rows(windows(history)) == [("replica", 0, "behind", 2.0, 3.5, 1.5, False)]


def test_window_spans_several_commits_until_the_copy_catches_up():
    history = make_history(
        truth=[(0, 1, 1.0), (0, 2, 2.0)],
        copies=[(1.5, "replica", 0, 1), (2.75, "replica", 0, 2)],
        copy_info=[("replica", "v0")],
        duration=10,
    )
    # Caught up with version 1 at 1.5, behind again when version 2 commits at 2.0.
    assert rows(windows(history)) == [
        ("replica", 0, "behind", 1.0, 1.5, 0.5, False),
        ("replica", 0, "behind", 2.0, 2.75, 0.75, False),
    ]


def test_cache_fill_with_an_old_version_after_a_newer_commit_is_behind_from_the_fill():
    history = make_history(
        truth=[(0, 1, 1.0), (0, 2, 2.0)],
        copies=[(3.0, "cache", 0, 1, "fill"), (5.0, "cache", 0, -1, "expire")],
        copy_info=[("cache", "empty")],
        duration=10,
    )
    assert rows(windows(history)) == [("cache", 0, "behind", 3.0, 5.0, 2.0, False)]


def test_empty_copy_is_never_behind():
    history = make_history(
        truth=[(0, 1, 1.0), (0, 2, 2.0), (1, 1, 3.0)],
        copies=[(1.5, "cache", 0, 1, "fill"), (2.0, "cache", 0, -1, "delete")],
        copy_info=[("cache", "empty")],
        duration=10,
    )
    # Key 0 is emptied at the very instant version 2 commits; key 1 was never cached.
    assert rows(windows(history)) == []


def test_replica_that_never_receives_a_write_stays_behind_to_the_end():
    history = make_history(
        truth=[(0, 1, 4.0)],
        copies=[(4.5, "replica-1", 0, 1)],
        copy_info=[("replica-1", "v0"), ("replica-2", "v0")],
        duration=10,
    )
    assert rows(windows(history)) == [
        ("replica-1", 0, "behind", 4.0, 4.5, 0.5, False),
        ("replica-2", 0, "behind", 4.0, 10.0, 6.0, True),
    ]


def test_phantom_window_while_the_copy_holds_a_version_never_committed():
    history = make_history(
        truth=[(0, 1, 1.0), (0, 3, 8.0)],
        copies=[(1.0, "replica", 0, 1), (3.0, "replica", 0, 2), (6.0, "replica", 0, 1), (9.0, "replica", 0, 2)],
        copy_info=[("replica", "v0")],
        duration=10,
    )
    assert rows(windows(history)) == [
        ("replica", 0, "phantom", 3.0, 6.0, 3.0, False),
        ("replica", 0, "behind", 8.0, 9.0, 1.0, False),
        ("replica", 0, "phantom", 9.0, 10.0, 1.0, True),
    ]


def test_simultaneous_commit_and_apply_make_no_window():
    history = make_history(
        truth=[(0, 1, 2.0), (0, 2, 3.0)],
        # The apply of version 2 is recorded before its commit, at the same instant.
        copies=[(2.0, "replica", 0, 1), (3.0, "replica", 0, 2)],
        copy_info=[("replica", "v0")],
        duration=10,
    )
    assert rows(windows(history)) == []


def test_copy_holding_a_version_before_its_commit_is_not_behind():
    history = make_history(
        truth=[(0, 1, 2.0)],
        copies=[(1.0, "replica", 0, 1)],
        copy_info=[("replica", "v0")],
        duration=10,
    )
    assert rows(windows(history)) == []


def test_last_of_several_changes_at_one_instant_wins():
    history = make_history(
        truth=[(0, 1, 1.0), (0, 2, 1.5)],
        copies=[(2.0, "cache", 0, 1, "fill"), (2.0, "cache", 0, -1, "delete"), (3.0, "cache", 0, 1, "fill")],
        copy_info=[("cache", "empty")],
        duration=4,
    )
    assert rows(windows(history)) == [("cache", 0, "behind", 3.0, 4.0, 1.0, True)]


def test_behind_straight_into_phantom_gives_two_adjacent_windows():
    history = make_history(
        truth=[(0, 1, 1.0)],
        copies=[(2.0, "replica", 0, 5), (3.0, "replica", 0, 1)],
        copy_info=[("replica", "v0")],
        duration=5,
    )
    assert rows(windows(history)) == [
        ("replica", 0, "behind", 1.0, 2.0, 1.0, False),
        ("replica", 0, "phantom", 2.0, 3.0, 1.0, False),
    ]


def test_output_is_sorted_by_copy_key_and_start_with_stable_dtypes():
    history = make_history(
        truth=[(1, 1, 1.0), (0, 1, 2.0), (0, 2, 4.0)],
        copies=[(5.0, "b", 0, 2), (6.0, "a", 1, 1), (3.0, "a", 0, 1)],
        copy_info=[("b", "v0"), ("a", "v0")],
        duration=10,
    )
    frame = windows(history)
    assert list(frame.columns) == WINDOW_COLUMNS
    assert [(r[0], r[1], r[3]) for r in rows(frame)] == [
        ("a", 0, 2.0),
        ("a", 0, 4.0),
        ("a", 1, 1.0),
        ("b", 0, 2.0),
        ("b", 1, 1.0),
    ]
    assert str(frame["key"].dtype) == "int64"
    assert str(frame["open"].dtype) == "bool"
    assert frame["start_s"].dtype == frame["end_s"].dtype == frame["duration_s"].dtype == "float64"


def test_copy_missing_from_copy_info_is_taken_to_start_empty():
    history = make_history(truth=[(0, 1, 1.0)], copies=[(2.0, "stray", 0, 0)], duration=3)
    assert rows(windows(history)) == [("stray", 0, "behind", 2.0, 3.0, 1.0, True)]


def test_unknown_initial_state_is_rejected():
    history = make_history(copy_info=[("replica", "v0")])
    history.copy_info.loc[0, "initial"] = "half"
    with pytest.raises(ValueError, match="initial"):
        windows(history)


def test_empty_history_gives_an_empty_table():
    frame = windows(make_history(copy_info=[("replica", "v0"), ("cache", "empty")]))
    assert list(frame.columns) == WINDOW_COLUMNS
    assert len(frame) == 0


def reference_windows(history):
    """Slow and obvious: walk every instant of every (copy, key) pair, in order."""
    truth = list(history.truth.itertuples(index=False))
    changes = sorted(history.copies.itertuples(index=False), key=lambda c: c.time_s)  # stable
    initial = dict(zip(history.copy_info["copy"], history.copy_info["initial"]))
    for c in changes:
        initial.setdefault(c.copy, "empty")
    found = []
    for copy in sorted(initial):
        keys = {c.key for c in changes if c.copy == copy}
        if initial[copy] == "v0":
            keys |= {t.key for t in truth}
        for key in sorted(keys):
            commits = [(t.version, t.commit_s) for t in truth if t.key == key]
            mine = [(c.version, c.time_s) for c in changes if c.copy == copy and c.key == key]
            current, start = None, None
            for now in sorted({t for _, t in commits} | {t for _, t in mine}):
                held = 0 if initial[copy] == "v0" else -1
                for version, at in mine:
                    if at <= now:
                        held = version
                latest = max([0] + [v for v, at in commits if at <= now])
                committed = held == 0 or held in [v for v, _ in commits]
                if held >= 0 and committed and held < latest:
                    state = "behind"
                elif held > 0 and not committed:
                    state = "phantom"
                else:
                    state = None
                if state != current:
                    if current is not None:
                        found.append((copy, key, current, start, now, now - start, False))
                    current, start = state, now
            if current is not None:
                end = max(history.duration_s, start)
                found.append((copy, key, current, start, end, end - start, True))
    return found


@pytest.mark.parametrize("seed", range(40))
def test_matches_a_slow_reference_on_random_histories(seed):
    history = random_history(seed)
    assert rows(windows(history)) == reference_windows(history)


def test_each_copy_is_held_against_its_own_source_of_truth():
    import simulator
    data = {"duration": "5s",
            "components": {"db": {"kind": "database", "replicas": 1},
                           "sessions": {"kind": "database", "replicas": 1},
                           "api": {"kind": "service", "database": "db"}},
            "workload": {"target": "api", "rate": 100, "read_fraction": 0.5, "keys": 5}}
    result = simulator.run(data, seed=1)
    # The sessions replica never saw a write of its own source: never behind.
    assert not (result.windows["copy"] == "sessions-replica-1").any()
    assert (result.windows["copy"] == "db-replica-1").any()
    assert set(result.history.truth["source"]) == {"db"}


def test_the_pair_then_time_order_is_lexsorts_ties_included():
    from simulator.analysis.windows import _by_pair_then_time
    rng = np.random.default_rng(7)
    for n in (0, 1, 50, 5000):
        pair = rng.integers(0, 20, n)
        time_s = rng.integers(0, 30, n) / 8.0  # many rows at one instant
        assert np.array_equal(_by_pair_then_time(pair, time_s), np.lexsort((time_s, pair)))
    # pair codes so large that pair * rows would overflow 64 bits
    pair = rng.integers(0, 3, 1000) * 2**60
    time_s = rng.integers(0, 30, 1000) / 8.0
    assert np.array_equal(_by_pair_then_time(pair, time_s), np.lexsort((time_s, pair)))
