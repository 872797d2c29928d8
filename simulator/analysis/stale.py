"""Stale and phantom reads: each ``ok`` read held against the truth it could have seen.

A read of version ``v`` invoked at ``t`` is *stale* when a version newer than
``v`` was committed strictly before ``t``; it *missed* every such version, and
its staleness in time is ``t`` minus the commit time of the first one it missed.
A read is a *phantom* when it returned a version ``> 0`` that the truth never
committed for that key.  Version 0 is committed implicitly at time 0.

Everything is vectorised: per-key look-ups are ``searchsorted`` calls on
integer codes that put ``(key, commit time)`` or ``(key, version)`` in one
sort order.

A run can hold several sources of truth (two databases, say), each with its
own key space: keys are *scoped* by their source (:func:`scoped_keys`), so a
copy or a read is only ever held against the truth of its own source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.analysis.values import holds
from simulator.history import History

STALE_COLUMNS = [
    "index",
    "key",
    "invoke_s",
    "version",
    "served_by",
    "latest",
    "stale",
    "missed_versions",
    "staleness_s",
    "phantom",
]


#: Scoped key = source code * KEY_SPACE + key (keys are below 2**32).
KEY_SPACE = 1 << 32


def source_codes(history: History) -> dict[str, int]:
    """A code per source of truth named anywhere in the history (sorted by name)."""
    names = set(history.truth["source"]) | set(history.copy_info["source"])
    return {name: code for code, name in enumerate(sorted(names - {""}))}


def sources_of(history: History, copies: np.ndarray) -> np.ndarray:
    """The source code of each copy (or source node) in ``copies``.

    A copy's source comes from ``copy_info``; a source of truth is its own;
    anything else (an unknown copy, a cache no service uses) is held against
    the first source.
    """
    codes = source_codes(history)
    lookup = dict(codes)
    for copy, source in zip(history.copy_info["copy"], history.copy_info["source"]):
        if source in codes:
            lookup[copy] = codes[source]
    return pd.Series(copies, dtype=object).map(lookup).fillna(0).to_numpy(np.int64)


def scoped_keys(keys: np.ndarray, sources: np.ndarray) -> np.ndarray:
    return np.asarray(sources, dtype=np.int64) * KEY_SPACE + np.asarray(keys, dtype=np.int64)


def surviving(history: History) -> pd.DataFrame:
    """The truth rows that were never lost: the lineage every read is held against."""
    truth = history.truth
    lost = truth["lost_s"].notna()
    return truth[~lost] if lost.any() else truth


@dataclass(frozen=True)
class Truth:
    """The surviving truth timeline sorted by scoped key, then commit time (so also
    by version).  A version lost in a failover is not part of it: a copy or a
    read holding one holds a phantom."""

    key: np.ndarray
    version: np.ndarray
    commit_s: np.ndarray

    @classmethod
    def of(cls, history: History) -> "Truth":
        """The surviving truth of ``history``; ``ValueError`` if a row has no
        commit time or a key's surviving versions do not rise with commit time
        (the searches below depend on both; the simulator never records either)."""
        truth = surviving(history)
        codes = source_codes(history)
        source = truth["source"].map(codes).fillna(0).to_numpy(np.int64)
        key = scoped_keys(truth["key"].to_numpy(np.int64), source)
        version = truth["version"].to_numpy(np.int64)
        commit_s = truth["commit_s"].to_numpy(np.float64)
        if np.isnan(commit_s).any():
            row = truth.iloc[int(np.flatnonzero(np.isnan(commit_s))[0])]
            raise ValueError(f"the truth has no commit time for version {row['version']} of "
                             f"key {row['key']} ({row['source']})")
        order = np.lexsort((version, commit_s, key))
        key, version, commit_s = key[order], version[order], commit_s[order]
        fall = np.flatnonzero((key[1:] == key[:-1]) & (version[1:] <= version[:-1]))
        if len(fall):
            i = int(fall[0])
            source = {code: name for name, code in codes.items()}.get(
                int(key[i] // KEY_SPACE), "")
            raise ValueError(f"the truth of key {key[i] % KEY_SPACE} ({source}) commits "
                             f"version {version[i + 1]} at {commit_s[i + 1]:g}s, after "
                             f"version {version[i]} at {commit_s[i]:g}s: per key, the "
                             f"surviving versions must rise with commit time, each once")
        return cls(key, version, commit_s)

    def __len__(self) -> int:
        return len(self.key)

    def at(self, keys: np.ndarray) -> "Lookup":
        """The searches for ``keys`` (scoped), sharing the work they have in common."""
        return Lookup(self, keys)


class Lookup:
    """Where each of a set of scoped keys lies in a :class:`Truth`, found once for
    the searches made with them.

    A key's *rank* orders keys as the truth does: ``2 r + 1`` for the truth's
    ``r``-th distinct key, ``2 r`` for a key the truth lacks that sorts just
    before it.  Searches then go through small codes built on ranks.
    """

    def __init__(self, truth: Truth, keys: np.ndarray) -> None:
        self.truth = truth
        key = truth.key
        new_key = np.r_[False, key[1:] != key[:-1]][:len(key)]
        starts = np.flatnonzero(new_key | (np.arange(len(key)) == 0))
        distinct = key[starts]
        #: each truth row's rank
        self.truth_rank = 2 * np.cumsum(new_key) + 1
        at = np.searchsorted(distinct, keys)
        present = (distinct[np.minimum(at, len(distinct) - 1)] == keys) if len(distinct) \
            else np.zeros(len(keys), dtype=bool)
        #: each key's rank
        self.rank = 2 * at + present
        #: where each key's block of commits starts (or would)
        self._first = np.append(starts, len(key))[at]

    def first(self) -> np.ndarray:
        """Position of each key's first commit (or where it would be)."""
        return self._first

    def before(self, times: np.ndarray) -> np.ndarray:
        """Position just past each key's last commit strictly before ``times``.

        One search of (rank, time) pairs, in the truth's order.
        """
        return np.searchsorted(_pairs(self.truth_rank, self.truth.commit_s),
                               _pairs(self.rank, times), side="left")

    def newer(self, versions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per key, the position of its first commit with a version newer than
        ``versions`` (the end of its block if none), and whether the truth
        committed that version (version 0 always is)."""
        truth = self.truth
        versions = np.asarray(versions, dtype=np.int64)
        span = int(max(truth.version.max(initial=0), versions.max(initial=0))) + 2
        truth_codes = self.truth_rank * span + (truth.version + 1)
        query_codes = self.rank * span + (versions + 1)
        newer = np.searchsorted(truth_codes, query_codes, side="right")
        # the version itself, if committed, is the commit just before the newer ones
        found = np.zeros(len(versions), dtype=bool)
        inside = newer > 0
        found[inside] = truth_codes[newer[inside] - 1] == query_codes[inside]
        return newer, found | (versions == 0)


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(first, second)`` pairs as complex numbers, which numpy orders by real
    part, then imaginary part (integers below 2**53 are exact as floats).

    A missing (NaN) ``second`` becomes infinity: numpy would sort any number
    with a NaN part after every other, whatever its real part."""
    pairs = np.empty(len(first), dtype=np.complex128)
    pairs.real = first
    pairs.imag = second
    missing = np.isnan(pairs.imag)
    if missing.any():
        pairs.imag[missing] = np.inf
    return pairs


def ok_reads(history: History) -> pd.DataFrame:
    """The client operations that read and completed ``ok``."""
    ops = history.ops
    return ops[holds(ops["op"], "read") & holds(ops["status"], "ok")]


def stale_reads(history: History) -> pd.DataFrame:
    """One row per ``ok`` read with its staleness against the truth.

    Columns: ``index``, ``key``, ``invoke_s``, ``version``, ``served_by``,
    ``latest`` (latest version committed strictly before the invoke, 0 if
    none), ``stale``, ``missed_versions``, ``staleness_s`` (NaN when not
    stale) and ``phantom``.
    """
    ops = history.ops
    is_ok_read = holds(ops["op"], "read") & holds(ops["status"], "ok")
    # only the columns needed: a million operations are not copied whole
    reads = ops.loc[is_ok_read, ["index", "key", "invoke_s", "version", "served_by"]]
    served_by = reads["served_by"].to_numpy(object)
    keys = scoped_keys(reads["key"].to_numpy(np.int64), sources_of(history, served_by))
    invoke_s = reads["invoke_s"].to_numpy(np.float64)
    versions = reads["version"].to_numpy(np.int64)

    truth = Truth.of(history)
    # Sentinels so that positions one past the end (or -1) can be indexed safely.
    truth_versions = np.append(truth.version, 0)
    truth_commit_s = np.append(truth.commit_s, np.nan)

    lookup = truth.at(keys)
    first = lookup.first()
    before = lookup.before(invoke_s)
    newer, committed = lookup.newer(versions)

    latest = np.where(before > first, truth_versions[before - 1], 0)
    missed = np.maximum(before - newer, 0)
    stale = missed > 0
    staleness_s = np.where(stale, invoke_s - truth_commit_s[newer], np.nan)
    phantom = (versions > 0) & ~committed

    return pd.DataFrame(
        {
            "index": reads["index"].to_numpy(np.int64),
            "key": reads["key"].to_numpy(np.int64),
            "invoke_s": invoke_s,
            "version": versions,
            "served_by": served_by,
            "latest": latest.astype(np.int64),
            "stale": stale,
            "missed_versions": missed.astype(np.int64),
            "staleness_s": staleness_s.astype(np.float64),
            "phantom": phantom,
        },
        columns=STALE_COLUMNS,
    )
