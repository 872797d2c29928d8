"""Write-behind caches: answered at once, written later, lost in a crash."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import simulator
from simulator.analysis import lost_writes, stale_reads, windows
from simulator.errors import ScenarioError
from simulator.scenario import load

L, FLUSH = 0.0005, 0.5
CRASH, BACK = 3.0, 3.5


def scenario(cache=None, faults=(), **workload):
    return {
        "name": "write-behind-test",
        "duration": "6s",
        "network": {"latency": L},
        "components": {
            "db": {"kind": "database", "disk_write": 0.002, "read_time": 0},
            "cache": {"kind": "cache", "mode": "behind", "database": "db", "ttl": 0,
                      "op_time": 0, "flush_delay": FLUSH, **(cache or {})},
            "api": {"kind": "service", "instances": 2, "workers": 32, "service_time": 0,
                    "database": "db", "cache": "cache"},
        },
        "workload": {"target": "api", "rate": 200, "read_fraction": 0.5, "keys": 10,
                     "timeout": "1s", **workload},
        "faults": list(faults),
    }


def test_a_write_is_answered_at_once_and_committed_a_flush_delay_later():
    h = simulator.run(scenario()).history
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert len(writes) > 400 and (writes["served_by"] == "cache").all()
    # client -> api -> cache and back: four network hops, no database
    assert np.allclose(writes["complete_s"] - writes["invoke_s"], 4 * L)
    commits = writes.merge(h.truth, left_on="index", right_on="writer")
    assert len(commits) == len(writes)  # nothing lost without a crash
    assert (commits["version_x"] == commits["version_y"]).all()  # the version it was told
    delay = commits["commit_s"] - commits["complete_s"]
    assert (delay >= FLUSH - 2 * L).all() and delay.median() < FLUSH + 0.01
    assert lost_writes(h).empty


def test_the_cache_is_ahead_of_the_store_not_behind_it():
    h = simulator.run(scenario()).history
    # It holds versions before the store commits them: never a window, never stale.
    assert windows(h).query("copy == 'cache'").empty
    stale = stale_reads(h)
    assert not stale["stale"].any() and not stale["phantom"].any()


def test_a_crash_loses_the_writes_still_waiting_to_be_flushed():
    crash = {"kind": "crash", "node": "cache", "start": CRASH, "end": BACK}
    h = simulator.run(scenario(faults=[crash])).history
    lost = lost_writes(h)
    assert len(lost) > 20 and (lost["how"] == "never committed").all()
    # Exactly the writes acknowledged within the flush delay before the crash...
    ok = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    waiting = ok[ok["complete_s"].between(CRASH - FLUSH + 0.01, CRASH)]
    assert set(waiting["index"]) <= set(lost["index"])
    assert (lost["complete_s"] > CRASH - FLUSH - 0.01).all() and (lost["complete_s"] <= CRASH).all()
    # ...and their versions never committed, nor used again.
    assert not set(zip(lost["key"], lost["version"])) & set(zip(h.truth["key"], h.truth["version"]))
    # Readers saw them before the crash: phantom reads, and a phantom window in the cache.
    stale = stale_reads(h)
    assert stale["phantom"].sum() > 0
    assert (stale.loc[stale["phantom"], "invoke_s"] < CRASH).all()
    w = windows(h)
    assert (w.loc[w["copy"] == "cache", "kind"] == "phantom").all()


def test_a_store_that_does_not_answer_gets_the_same_write_again():
    # The database is cut off for 1 s: the queue waits, then drains in order.
    cut = {"kind": "partition", "isolate": "db-primary", "start": 2.0, "end": 3.0}
    h = simulator.run(scenario(faults=[cut])).history
    assert lost_writes(h).empty
    ok = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert set(ok["index"]) <= set(h.truth["writer"])
    late = h.truth[h.truth["writer"].isin(ok.loc[ok["invoke_s"].between(1.6, 2.5), "index"])]
    assert (late["commit_s"] >= 3.0).all()
    for _, mine in h.truth.groupby("key"):  # still in version order
        assert mine.sort_values("commit_s")["version"].is_monotonic_increasing


@pytest.mark.parametrize("change, message", [
    ({"components": {"api2": {"kind": "service", "database": "db"}}},
     "'api2' writes 'db' directly"),
    ({"workload": {"target": "db"}}, "clients write 'db' directly"),
    ({"components": {"db": {"kind": "quorum"}}}, "needs a database"),
])
def test_the_write_behind_cache_must_be_the_only_writer(change, message):
    data = scenario()
    for section, values in change.items():
        if section == "components":
            for name, config in values.items():
                data["components"][name] = {**data["components"].get(name, {}), **config}
                if config.get("kind") == "quorum":
                    data["components"][name] = config
        else:
            data[section].update(values)
    with pytest.raises(ScenarioError, match=message):
        load(copy.deepcopy(data))


def test_a_read_sees_a_write_not_yet_flushed_even_after_its_entry_expired():
    # TTL much shorter than the flush delay: the entry is gone before the store
    # has the write; a read must not fall back to the store's older version.
    h = simulator.run(scenario(cache={"ttl": 0.05, "flush_delay": 1.0}, keys=3)).history
    ops = h.ops
    writes = ops[(ops["op"] == "write") & (ops["status"] == "ok")]
    reads = ops[(ops["op"] == "read") & (ops["status"] == "ok")]
    assert len(reads) > 200
    for read in reads.itertuples(index=False):
        before = writes[(writes["key"] == read.key) & (writes["complete_s"] < read.invoke_s)]
        assert before.empty or read.version >= before["version"].max()


def test_write_behind_and_a_failover_commit_each_version_once():
    # A flush committed at the old primary, its reply lost; the retry at the new
    # primary used to commit the same version a second time and crash the run.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from test_invariants import check_history
    from simulator.world import World
    data = {"name": "invariants", "duration": 3.0,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"}, "loss": 0.05,
                        "duplicate": 0.05},
            "components": {"store": {"kind": "database", "replicas": 1,
                                     "disk_write": {"dist": "exponential", "mean": "2ms"},
                                     "failover": {"after": 0.2, "heartbeat": 0.1}},
                           "api": {"kind": "service", "instances": 1, "workers": 1,
                                   "database": "store", "cache": "cache"},
                           "cache": {"kind": "cache", "ttl": 0, "mode": "behind",
                                     "flush_delay": 0.1, "database": "store"}},
            "workload": {"target": "api", "rate": 200, "keys": 1, "read_fraction": 0.0,
                         "timeout": 0.5},
            "faults": [{"kind": "degrade", "start": 0.8, "duration": 0.5,
                        "to": "store-primary", "latency": "20ms", "loss": 0.2}]}
    world = World(load(copy.deepcopy(data)), 0)
    history = world.run()
    check_history(world, history)
