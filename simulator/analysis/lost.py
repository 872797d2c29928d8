"""Lost writes: acknowledged ``ok`` writes that are not in the surviving truth.

A client was told its write happened, and it did not stick: the version it
wrote was committed and then lost (a failover promoted a replica that never
received it, or a primary that had already been replaced accepted it during a
split brain), or it was never committed at all (a write-behind cache acked it
and crashed before flushing it).

A write is matched to the truth by its operation index (the truth's
``writer`` column) where the truth records writers (a write the network
duplicated may have several rows: it survived if one did), else by ``(key,
version)`` within its source of truth.  ``info`` writes are never lost writes:
the client was not told they happened.
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
    index = writes["index"].to_numpy(np.int64)
    by_writer = (truth["writer"] >= 0).any()
    if by_writer:
        # A write the network duplicated can have several rows: it survived if any
        # did, so a surviving row is the one kept for each writer.
        rows = truth[truth["writer"] >= 0]
        rows = rows.iloc[np.lexsort((rows["lost_s"].isna().to_numpy(),
                                     rows["writer"].to_numpy(np.int64)))]
        rows = rows.drop_duplicates("writer", keep="last")
        found = pd.Series(np.arange(len(rows)), index=rows["writer"].to_numpy(np.int64))
        at = found.reindex(index).to_numpy()
    else:
        rows = truth
        codes = sources_of(history, truth["source"].to_numpy(object))
        keys = scoped_keys(truth["key"].to_numpy(np.int64), codes)
        found = pd.Series(np.arange(len(rows)),
                          index=pd.MultiIndex.from_arrays([keys, truth["version"].to_numpy()]))
        mine = scoped_keys(writes["key"].to_numpy(np.int64),
                           sources_of(history, writes["served_by"].to_numpy(object)))
        at = found.reindex(pd.MultiIndex.from_arrays(
            [mine, writes["version"].to_numpy(np.int64)])).to_numpy()
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
