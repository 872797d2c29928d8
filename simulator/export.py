"""Export the client history for other checkers.

``jepsen``: EDN, one operation event per line, as Jepsen writes
``history.edn``: ``:index``, ``:time`` (nanoseconds), ``:type`` (``:invoke``,
``:ok``, ``:fail``, ``:info``), ``:process``, ``:f`` (``:read``/``:write``) and
``:value`` as an independent-key tuple ``[key value]``, so Knossos or Elle can
check each key as a register.  Every write gets a unique value (its operation
index); a read returns the value of the write that created the version it
read (``nil`` for the initial version 0).

``jsonl``: the same events as JSON lines, with Sediment's own fields
(``version``, ``served_by``, ``node``, ``error``) kept.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .analysis.stale import scoped_keys, sources_of
from .history import History

FORMATS = ("jepsen", "jsonl")


def events(history: History) -> pd.DataFrame:
    """Invoke and completion events in time order, with their register values.

    Columns: index, time_ns, type, process, f, key, value (an int, or -1 for
    nil), op (the operation's index), version, served_by, node, error.
    """
    ops = history.ops
    truth = history.truth
    is_write = (ops["op"] == "write").to_numpy()
    index = ops["index"].to_numpy()
    # The write that created each version read, within the reader's source of
    # truth; a version committed twice (a retried write after a failover) has
    # one writer.
    writers = pd.Series(truth["writer"].to_numpy(np.int64), index=pd.MultiIndex.from_arrays([
        scoped_keys(truth["key"].to_numpy(np.int64),
                    sources_of(history, truth["source"].to_numpy(object))),
        truth["version"].to_numpy(np.int64)]))
    writers = writers[~writers.index.duplicated()]
    read_value = writers.reindex(pd.MultiIndex.from_arrays([
        scoped_keys(ops["key"].to_numpy(np.int64),
                    sources_of(history, ops["served_by"].to_numpy(object))),
        ops["version"].to_numpy(np.int64)])).fillna(-1).to_numpy(np.int64)
    ok_read = (~is_write) & (ops["status"] == "ok").to_numpy()
    common = {"process": ops["process"].to_numpy(), "f": ops["op"].to_numpy(),
              "key": ops["key"].to_numpy(), "op": index}
    invoke = pd.DataFrame({**common, "time_s": ops["invoke_s"].to_numpy(), "type": "invoke",
                           "value": np.where(is_write, index, -1), "version": -1,
                           "served_by": "", "node": "", "error": "", "order": 0})
    complete = pd.DataFrame({**common, "time_s": ops["complete_s"].to_numpy(),
                             "type": ops["status"].to_numpy(),
                             "value": np.where(is_write, index, np.where(ok_read, read_value, -1)),
                             "version": ops["version"].to_numpy(),
                             "served_by": ops["served_by"].to_numpy(),
                             "node": ops["node"].to_numpy(), "error": ops["error"].to_numpy(),
                             "order": 1})
    both = pd.concat([invoke, complete], ignore_index=True)
    # At one instant: by operation, invoke before completion, so a process's
    # earlier operation completes before its next one is invoked.
    both = both.sort_values(["time_s", "op", "order"], kind="stable").reset_index(drop=True)
    both.insert(0, "index", np.arange(len(both)))
    both["time_ns"] = np.round(both["time_s"].to_numpy() * 1e9).astype(np.int64)
    return both.drop(columns=["order", "time_s"])


def _edn_value(key: int, value: int) -> str:
    return f"[{key} {'nil' if value < 0 else value}]"


def to_edn(history: History) -> str:
    lines = []
    for e in events(history).itertuples(index=False):
        lines.append(f"{{:index {e.index}, :time {e.time_ns}, :type :{e.type}, "
                     f":process {e.process}, :f :{e.f}, :value {_edn_value(e.key, e.value)}}}")
    return "\n".join(lines) + ("\n" if lines else "")


def to_jsonl(history: History) -> str:
    lines = []
    for e in events(history).itertuples(index=False):
        record = {"index": int(e.index), "time": int(e.time_ns), "type": e.type,
                  "process": int(e.process), "f": e.f,
                  "value": [int(e.key), None if e.value < 0 else int(e.value)],
                  "op": int(e.op)}
        if e.type != "invoke":
            record.update({"version": int(e.version), "served_by": e.served_by or None,
                           "node": e.node or None, "error": e.error or None})
        lines.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(lines) + ("\n" if lines else "")


def export(history: History, fmt: str) -> str:
    if fmt == "jepsen":
        return to_edn(history)
    if fmt == "jsonl":
        return to_jsonl(history)
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
