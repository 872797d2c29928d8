"""Shared helpers: build small histories from short lists of tuples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.history import History


def make_history(
    ops=(),
    truth=(),
    copies=(),
    copy_info=(),
    faults=(),
    duration=None,
    meta=None,
) -> History:
    """A :class:`History` from tuples.

    - ``ops``: ``(op, key, invoke_s, complete_s, status, version[, served_by[, node[, error]]])``;
      ``index`` and ``process`` are the position in the list; ``error`` defaults
      to ``timeout`` for an operation that is not ``ok``;
    - ``truth``: ``(key, version, commit_s[, lost_s[, writer[, lost_how]]])``, not
      lost and writer unknown (-1) by default;
    - ``copies``: ``(time_s, copy, key, version[, change])``, change defaults to ``apply``;
    - ``copy_info``: ``(copy, initial)`` with initial ``v0`` (a replica) or ``empty`` (a cache);
    - ``faults``: ``(fault, kind, start_s, end_s)``.
    """
    op_rows = []
    for i, row in enumerate(ops):
        op, key, invoke_s, complete_s, status, version, *rest = row
        served_by = rest[0] if len(rest) > 0 else ("db" if status == "ok" else "")
        node = rest[1] if len(rest) > 1 else "svc-1"
        error = rest[2] if len(rest) > 2 else ("" if status == "ok" else "timeout")
        op_rows.append(
            dict(index=i, process=i, op=op, key=key, invoke_s=invoke_s, complete_s=complete_s,
                 status=status, version=version, served_by=served_by, node=node, error=error)
        )
    copy_rows = [
        dict(time_s=r[0], copy=r[1], key=r[2], version=r[3], change=r[4] if len(r) > 4 else "apply")
        for r in copies
    ]
    info_rows = [
        dict(copy=c, component="db" if initial == "v0" else "cache",
             kind="replica" if initial == "v0" else "cache", source="db-primary", initial=initial)
        for c, initial in copy_info
    ]
    frames = {
        "ops": (op_rows, ["index", "process", "op", "key", "invoke_s", "complete_s", "status", "version"]),
        "truth": ([dict(key=r[0], version=r[1], commit_s=r[2], source="db-primary",
                        lost_s=r[3] if len(r) > 3 else float("nan"),
                        writer=r[4] if len(r) > 4 else -1,
                        lost_how=r[5] if len(r) > 5 else "") for r in truth],
                  ["key", "version", "commit_s"]),
        "copies": (copy_rows, ["time_s", "copy", "key", "version"]),
        "copy_info": (info_rows, ["copy"]),
        "faults": ([dict(fault=f, kind=k, start_s=s, end_s=e, targets="") for f, k, s, e in faults],
                   ["fault", "kind", "start_s", "end_s"]),
    }
    tables = {
        name: pd.DataFrame(rows) if rows else pd.DataFrame({c: [] for c in required})
        for name, (rows, required) in frames.items()
    }
    meta = dict(meta or {})
    if duration is not None:
        meta["duration_s"] = float(duration)
    return History(meta=meta, **tables)


@pytest.fixture(name="make_history")
def make_history_fixture():
    return make_history


def random_history(seed: int, keys: int = 3, duration: float = 10.0) -> History:
    """A small random history whose times sit on a coarse grid, so that ties abound.

    Copies ``r1`` and ``r2`` start with version 0 (replicas), ``c`` starts empty
    (a cache); copy changes hold committed versions, nothing, or phantoms (>= 50).
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(0.0, duration + 0.5, 0.5)
    truth = []
    for key in range(keys):
        commits = np.sort(rng.choice(grid[grid < duration], size=rng.integers(0, 5), replace=False))
        truth += [(key, version, float(t)) for version, t in enumerate(commits, start=1)]
    versions_of = {k: [v for kk, v, _ in truth if kk == k] for k in range(keys)}

    def some_version(key):
        choice = rng.random()
        if choice < 0.15:
            return -1
        if choice < 0.3:
            return int(50 + rng.integers(0, 3))
        return int(rng.choice([0, *versions_of[key]]))

    copies = []
    for copy in ("r1", "r2", "c"):
        for _ in range(rng.integers(0, 10)):
            key = int(rng.integers(0, keys))
            copies.append((float(rng.choice(grid)), copy, key, some_version(key)))
    copies.sort(key=lambda row: row[0])  # stable: ties keep their drawn order

    ops = []
    for _ in range(rng.integers(0, 25)):
        key = int(rng.integers(0, keys))
        invoke = float(rng.choice(grid))
        status = str(rng.choice(["ok", "ok", "ok", "fail", "info"]))
        op = str(rng.choice(["read", "read", "write"]))
        version = max(some_version(key), 0) if status == "ok" else -1
        ops.append((op, key, invoke, invoke + 0.25, status, version))
    ops.sort(key=lambda row: row[2])
    return make_history(
        ops=ops,
        truth=truth,
        copies=copies,
        copy_info=[("r1", "v0"), ("r2", "v0"), ("c", "empty")],
        duration=duration,
    )


def large_history(n: int, keys: int = 1000, seed: int = 0, duration: float = 600.0) -> History:
    """A synthetic history of ``n`` operations, built vectorised (for scale tests).

    A third of the operations are writes, each committed 2 ms after its invoke;
    two replicas apply every write after an exponential lag and a cache fills
    a sample of them.
    """
    rng = np.random.default_rng(seed)
    invoke = np.sort(rng.uniform(0, duration, n))
    key = rng.integers(0, keys, n)
    is_write = rng.random(n) < 0.3
    commit_key, commit_s = key[is_write], invoke[is_write] + 0.002
    order = np.lexsort((commit_s, commit_key))
    commit_key, commit_s = commit_key[order], commit_s[order]
    first = np.r_[True, commit_key[1:] != commit_key[:-1]]
    version = np.arange(len(commit_key)) - np.maximum.accumulate(np.where(first, np.arange(len(commit_key)), 0)) + 1
    truth = pd.DataFrame({"key": commit_key, "version": version, "commit_s": commit_s})
    changes = [
        pd.DataFrame({"time_s": commit_s + rng.exponential(lag, len(commit_s)), "copy": copy,
                      "key": commit_key, "version": version})
        for copy, lag in (("replica-1", 0.05), ("replica-2", 0.5))
    ]
    filled = rng.choice(len(commit_s), len(commit_s) // 3)
    changes.append(pd.DataFrame({"time_s": commit_s[filled] + rng.exponential(1.0, len(filled)), "copy": "cache",
                                 "key": commit_key[filled], "version": version[filled], "change": "fill"}))
    copies = pd.concat(changes).sort_values("time_s", kind="stable")
    ops = pd.DataFrame({
        "index": np.arange(n), "process": np.arange(n), "op": np.where(is_write, "write", "read"), "key": key,
        "invoke_s": invoke, "complete_s": invoke + rng.exponential(0.01, n),
        "status": rng.choice(np.array(["ok", "fail", "info"], dtype=object), n, p=[0.95, 0.03, 0.02]),
        "version": rng.integers(0, 50, n), "served_by": "replica-1", "node": "svc-1",
    })
    info = pd.DataFrame({"copy": ["replica-1", "replica-2", "cache"], "initial": ["v0", "v0", "empty"]})
    faults = pd.DataFrame({"fault": ["partition-1"], "kind": ["partition"], "start_s": [100.0], "end_s": [200.0]})
    return History(ops=ops, truth=truth, copies=copies, copy_info=info, faults=faults,
                   meta={"duration_s": duration, "scenario": "large", "seed": seed})
