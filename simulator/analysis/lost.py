"""Lost writes: acknowledged ``ok`` writes that are not in the surviving truth.

A client was told its write happened, and it did not stick: the version it
wrote was committed and then lost (a failover promoted a replica that never
received it, or a primary that had already been replaced accepted it during a
split brain), or it was never committed at all (a write-behind cache acked it
and crashed before flushing it).

A write is matched to the truth by its operation index (the truth's
``writer`` column) where a row names it (a write the network duplicated may
have several rows: it survived if one did), else by ``(key, version)``
within its source of truth, among the rows that name no writer.  ``info``
writes are never lost writes: the client was not told they happened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.analysis.stale import scoped_keys, sources_of
from simulator.analysis.values import holds
from simulator.history import History

LOST_COLUMNS = ["index", "key", "version", "invoke_s", "complete_s", "served_by",
                "commit_s", "lost_s", "how"]

#: How a write was lost, by what the truth says of it.
HOW = {
    "failover": "committed, then lost when a replica that lacked it was promoted",
    "replaced primary": "committed by a primary that had already been replaced (split brain)",
    "older timestamp": "last-writer-wins kept a write stamped later by a clock ahead of "
                       "this one's, committed before this write began",
    "never committed": "acknowledged, but the source of truth never committed it",
    "lost": "committed, then lost (the history does not say how)",
}


def lost_writes(history: History) -> pd.DataFrame:
    """One row per ``ok`` write that did not survive, in operation order.

    Columns: ``index``, ``key``, ``version`` (as the client was told; -1 if
    unknown), ``invoke_s``, ``complete_s``, ``served_by``, ``commit_s`` and
    ``lost_s`` (NaN when never committed) and ``how`` (a key of :data:`HOW`:
    the truth's ``lost_how``, or ``never committed``).
    """
    ops = history.ops
    writes = ops[holds(ops["op"], "write") & holds(ops["status"], "ok")]
    truth = history.truth
    if len(writes) == 0:
        return pd.DataFrame({c: [] for c in LOST_COLUMNS})[LOST_COLUMNS]
    at = _matching_rows(history, writes)
    rows = truth
    committed = ~np.isnan(at)
    position = np.where(committed, at, 0).astype(np.int64)
    commit_s = np.where(committed, rows["commit_s"].to_numpy(np.float64)[position]
                        if len(rows) else np.nan, np.nan)
    lost_s = np.where(committed, rows["lost_s"].to_numpy(np.float64)[position]
                      if len(rows) else np.nan, np.nan)
    lost = ~committed | ~np.isnan(lost_s)
    lost_how = rows["lost_how"].to_numpy(object)[position] if len(rows) else \
        np.full(len(position), "", dtype=object)
    how = np.where(~committed, "never committed",
                   np.where(lost_how == "", "lost", lost_how))
    chosen = writes[lost]
    return pd.DataFrame({
        "index": chosen["index"].to_numpy(np.int64),
        "key": chosen["key"].to_numpy(np.int64),
        "version": chosen["version"].to_numpy(np.int64),
        "invoke_s": chosen["invoke_s"].to_numpy(np.float64),
        "complete_s": chosen["complete_s"].to_numpy(np.float64),
        "served_by": chosen["served_by"].to_numpy(object),
        "commit_s": commit_s[lost],
        "lost_s": lost_s[lost],
        "how": how[lost].astype(object),
    }, columns=LOST_COLUMNS)


def _matching_rows(history: History, writes: pd.DataFrame) -> np.ndarray:
    """For each write, the position of its truth row (NaN if none): the row that
    names it as writer (a surviving one first), else the unnamed row with its
    key and version."""
    truth = history.truth
    writer = truth["writer"].to_numpy(np.int64)
    at = np.full(len(writes), np.nan)
    named = np.flatnonzero(writer >= 0)
    if len(named):
        # sorted by writer, a surviving row (lost_s missing) after a lost one
        order = named[np.lexsort((truth["lost_s"].isna().to_numpy()[named], writer[named]))]
        last = np.r_[writer[order][1:] != writer[order][:-1], True]
        found = pd.Series(order[last], index=writer[order][last])
        at = np.array(found.reindex(writes["index"].to_numpy(np.int64)), dtype=np.float64)
    unmatched = np.isnan(at)
    unnamed = np.flatnonzero(writer < 0)
    if unmatched.any() and len(unnamed):
        # one row per version, a surviving one rather than a lost one (as for writers)
        rows = truth.iloc[unnamed][["source", "key", "version"]].assign(
            position=unnamed, survived=truth["lost_s"].isna().to_numpy()[unnamed])
        rows = rows.sort_values("survived", kind="stable").drop_duplicates(
            ["source", "key", "version"], keep="last")
        unnamed = rows["position"].to_numpy(np.int64)
        keys = scoped_keys(truth["key"].to_numpy(np.int64)[unnamed],
                           sources_of(history, truth["source"].to_numpy(object)[unnamed]))
        found = pd.Series(unnamed, index=pd.MultiIndex.from_arrays(
            [keys, truth["version"].to_numpy(np.int64)[unnamed]]))
        mine = writes[unmatched]
        wanted = pd.MultiIndex.from_arrays([
            scoped_keys(mine["key"].to_numpy(np.int64),
                        sources_of(history, mine["served_by"].to_numpy(object))),
            mine["version"].to_numpy(np.int64)])
        at[unmatched] = found.reindex(wanted).to_numpy(np.float64)
    return at
