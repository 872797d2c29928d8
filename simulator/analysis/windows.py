"""Inconsistency windows: maximal intervals during which a copy diverged from the truth.

For a copy and a key, the copy holds at time ``t`` the version of its last
change at or before ``t`` (or its initial state: version 0 for ``v0`` copies,
nothing for ``empty`` ones).  The truth's latest at ``t`` is the latest version
committed at or before ``t`` (0 before any).  All events at one instant are
applied together before the state is judged, so a copy that catches up at the
very instant of a commit never opens a window.

- *behind*: the copy holds a committed version (0 or one the truth lists) older
  than the truth's latest;
- *phantom*: the copy holds a version ``> 0`` the truth never committed;
- holding nothing is neither.

A window still open when the run ends is reported with ``open=True`` and
``end_s`` equal to the run's duration.

The computation is vectorised: one merged, sorted event stream per
``(copy, key)`` pair, forward-filled with running maxima of positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.stale import KEY_SPACE, Truth, scoped_keys, sources_of
from simulator.history import History

WINDOW_COLUMNS = ["copy", "key", "kind", "start_s", "end_s", "duration_s", "open"]

#: What a copy holds at time 0, by ``copy_info.initial``.
INITIAL_VERSION = {"v0": 0, "empty": -1}

_CONSISTENT, _BEHIND, _PHANTOM = 0, 1, 2


def empty_windows() -> pd.DataFrame:
    """A windows table with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "copy": pd.Series([], dtype=object),
            "key": pd.Series([], dtype=np.int64),
            "kind": pd.Series([], dtype=object),
            "start_s": pd.Series([], dtype=np.float64),
            "end_s": pd.Series([], dtype=np.float64),
            "duration_s": pd.Series([], dtype=np.float64),
            "open": pd.Series([], dtype=bool),
        }
    )


def overlap_union(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of intervals ``[start, end)`` as disjoint intervals sorted by start."""
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if len(start) == 0:
        return start, end
    order = np.argsort(start, kind="stable")
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    # A new stretch begins where an interval starts after everything before it ended.
    begins = np.flatnonzero(np.r_[True, start[1:] > reach[:-1]])
    return start[begins], np.maximum.reduceat(end, begins)


def _copies_and_initial(history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted copy names, each one's initial version, and the position in those
    names of every row of ``copies``.

    A copy that appears in ``copies`` but not in ``copy_info`` is taken to
    start empty, which cannot invent a window.
    """
    info = history.copy_info
    unknown = sorted(set(info["initial"]) - set(INITIAL_VERSION))
    if unknown:
        raise ValueError(f"copy_info.initial must be 'v0' or 'empty', not {unknown}")
    # the few distinct names of the many rows, hashed once (not a string sort of every row)
    row_code, seen = pd.factorize(history.copies["copy"].to_numpy(object))
    names = np.array(sorted(set(info["copy"]).union(seen)), dtype=object)
    position = {name: i for i, name in enumerate(names)}
    initial = np.full(len(names), -1, dtype=np.int64)
    for copy, start in zip(info["copy"], info["initial"]):
        initial[position[copy]] = INITIAL_VERSION[start]
    row_copy = np.array([position[name] for name in seen], dtype=np.int64)[row_code]
    return names, initial, row_copy


def _ragged_positions(first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(first[i], first[i] + counts[i])`` for every ``i``."""
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(first, counts) + offsets


def _last_at_or_before(flag: np.ndarray, group_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the position of the latest flagged row in its group, and whether there is one."""
    positions = np.where(flag, np.arange(len(flag)), -1)
    last = np.maximum.accumulate(positions) if len(flag) else positions
    return last, last >= group_first


def _by_pair_then_time(pair: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """``np.lexsort((time_s, pair))`` (stable: rows at one instant keep their order),
    in one sort of integers instead of a stable pass per key: each row's rank in
    time order makes the key ``pair * rows + rank`` unique."""
    if len(pair) and int(pair.max()) >= 2**62 // len(pair):  # the key would overflow
        return np.lexsort((time_s, pair))
    by_time = np.argsort(time_s, kind="stable")
    rank = np.empty(len(time_s), dtype=np.int64)
    rank[by_time] = np.arange(len(time_s))
    return np.argsort(pair * len(time_s) + rank)


class _Pairs:
    """``(copy, key)`` pairs encoded as ``copy_code * n_keys + key_code``."""

    def __init__(self, names: np.ndarray, keys: np.ndarray):
        self.names, self.keys, self.n_keys = names, keys, max(len(keys), 1)

    def encode(self, copy_codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return copy_codes * self.n_keys + np.searchsorted(self.keys, keys)

    def copy_code(self, pairs: np.ndarray) -> np.ndarray:
        return pairs // self.n_keys

    def key(self, pairs: np.ndarray) -> np.ndarray:
        return self.keys[pairs % self.n_keys]


def _settled_states(history: History, truth: Truth) -> tuple[_Pairs, np.ndarray, np.ndarray, np.ndarray]:
    """For every pair and every instant something happened to it: the state once all of it happened.

    Returns the pair encoding and, sorted by pair then time, the pair codes,
    the instants and the states (consistent, behind or phantom).
    """
    names, initial, change_copy = _copies_and_initial(history)
    changes = history.copies
    copy_source = sources_of(history, names)
    change_key = scoped_keys(changes["key"].to_numpy(np.int64), copy_source[change_copy])
    pairs = _Pairs(names, np.unique(np.concatenate([truth.key, change_key])))
    change_pair = pairs.encode(change_copy, change_key)

    # Pairs to judge: every (copy, key) the copy changed, plus every written key for v0 copies.
    # (each v0 copy against the keys its own source wrote)
    v0_copies = np.flatnonzero(initial == 0)
    written_keys = np.unique(truth.key)
    written = np.concatenate([np.zeros(0, dtype=np.int64)] + [
        pairs.encode(np.full(n, c, dtype=np.int64), keys)
        for c in v0_copies
        for keys in [written_keys[written_keys // KEY_SPACE == copy_source[c]]]
        for n in [len(keys)]])
    judged = np.unique(np.concatenate([change_pair, written]))
    if len(judged) == 0:
        nothing = np.zeros(0, dtype=np.int64)
        return pairs, nothing, nothing.astype(np.float64), nothing.astype(np.int8)

    # Each judged pair sees every commit of its key, merged with its own changes.
    judged_key = pairs.key(judged)
    first = truth.at(judged_key).first()
    counts = np.searchsorted(truth.key, judged_key, side="right") - first
    commits = _ragged_positions(first, counts)
    pair = np.concatenate([np.repeat(judged, counts), change_pair])
    time_s = np.concatenate([truth.commit_s[commits], changes["time_s"].to_numpy(np.float64)])
    version = np.concatenate([truth.version[commits], changes["version"].to_numpy(np.int64)])
    is_change = np.concatenate([np.zeros(len(commits), bool), np.ones(len(changes), bool)])
    # At one instant: commits in truth order, then changes in table order (which
    # kind comes first does not matter: the state is judged after the last of each).
    order = _by_pair_then_time(pair, time_s)
    pair, time_s, version, is_change = pair[order], time_s[order], version[order], is_change[order]

    # After every event: what the copy holds and the truth's latest.
    group_start = np.r_[True, pair[1:] != pair[:-1]]
    group_first = np.maximum.accumulate(np.where(group_start, np.arange(len(pair)), 0))
    last_change, has_change = _last_at_or_before(is_change, group_first)
    last_commit, has_commit = _last_at_or_before(~is_change, group_first)
    held = np.where(has_change, version[last_change], initial[pairs.copy_code(pair)])
    latest = np.where(has_commit, version[last_commit], 0)

    # Judge only the state after the last event of each instant.
    settled = np.r_[(pair[1:] != pair[:-1]) | (time_s[1:] != time_s[:-1]), True]
    pair, time_s, held, latest = pair[settled], time_s[settled], held[settled], latest[settled]
    _, committed = truth.at(pairs.key(pair)).newer(held)
    state = np.full(len(pair), _CONSISTENT, dtype=np.int8)
    state[(held >= 0) & committed & (held < latest)] = _BEHIND
    state[(held > 0) & ~committed] = _PHANTOM
    return pairs, pair, time_s, state


def windows(history: History) -> pd.DataFrame:
    """Inconsistency windows of every copy, one row per window.

    Columns: ``copy``, ``key``, ``kind`` (``behind`` or ``phantom``),
    ``start_s``, ``end_s``, ``duration_s``, ``open``; sorted by
    ``(copy, key, start_s)``.
    """
    pairs, pair, time_s, state = _settled_states(history, Truth.of(history))
    n = len(pair)
    if n == 0:
        return empty_windows()

    # Windows are maximal runs of one divergent state within a pair.
    boundaries = np.flatnonzero(np.r_[True, (pair[1:] != pair[:-1]) | (state[1:] != state[:-1])])
    opens = boundaries[state[boundaries] != _CONSISTENT]
    following = np.searchsorted(boundaries, opens, side="right")
    following = np.where(following < len(boundaries), boundaries[np.minimum(following, len(boundaries) - 1)], n)
    closes = following < n
    closes[closes] = pair[following[closes]] == pair[opens[closes]]

    start_s = time_s[opens]
    end_s = np.where(closes, time_s[np.minimum(following, n - 1)], np.maximum(history.duration_s, start_s))
    result = pd.DataFrame(
        {
            "copy": pairs.names[pairs.copy_code(pair[opens])],
            "key": (pairs.key(pair[opens]) % KEY_SPACE).astype(np.int64),
            "kind": np.where(state[opens] == _BEHIND, "behind", "phantom").astype(object),
            "start_s": start_s,
            "end_s": end_s,
            "duration_s": end_s - start_s,
            "open": ~closes,
        },
        columns=WINDOW_COLUMNS,
    )
    return result.reset_index(drop=True)
