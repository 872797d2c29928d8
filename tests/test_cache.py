"""The cache: TTL expiry, crashes, update/delete on write, and the fill/invalidate race."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.network import CRASHED, STOPPED
from simulator.scenario import load
from simulator.world import World

STORES = ("fill", "overwrite")


def scenario(cache=None, db=None, workload=None, faults=(), duration="3s", latency="1ms"):
    return {
        "name": "cache-test",
        "duration": duration,
        "network": {"latency": latency},
        "components": {
            "db": {"kind": "database", "disk_write": "2ms", "read_time": "200us", **(db or {})},
            "cache": {"kind": "cache", "ttl": "500ms", **(cache or {})},
            "api": {"kind": "service", "instances": 2, "workers": 64, "service_time": 0,
                    "database": "db", "cache": "cache"},
        },
        "workload": {"target": "api", "rate": 200, "read_fraction": 0.8, "keys": 5,
                     "timeout": "1s", **(workload or {})},
        "faults": list(faults),
    }


def cache_rows(h) -> pd.DataFrame:
    return h.copies[h.copies["copy"] == "cache"].reset_index(drop=True)


def test_copy_info_describes_the_cache():
    h = simulator.run(scenario(duration="200ms"), seed=1).history
    info = h.copy_info.set_index("copy").loc["cache"]
    assert info["kind"] == "cache"
    assert info["component"] == "cache"
    assert info["initial"] == "empty"
    assert info["source"] == "db"
    assert "ttl" in info["learns_stale_by"] and "delete" in info["learns_stale_by"]


def test_ttl_expiry_is_recorded_exactly_ttl_after_the_store():
    ttl = 0.3
    h = simulator.run(scenario(cache={"ttl": ttl}, workload={"read_fraction": 0.95, "keys": 20}),
                      seed=2).history
    rows = cache_rows(h)
    end = h.meta["duration_s"]
    expires = rows[rows["change"] == "expire"]
    assert len(expires) > 10
    assert (expires["version"] == -1).all()
    checked_stores = 0
    for key, of_key in rows.groupby("key", sort=False):
        changes = list(of_key.itertuples())
        for i, row in enumerate(changes):
            if row.change == "expire":
                # The entry it removes was stored exactly one TTL earlier.
                previous = changes[i - 1]
                assert previous.change in STORES
                assert row.time_s == previous.time_s + ttl
            elif row.change in STORES:
                following = changes[i + 1] if i + 1 < len(changes) else None
                if following is None or following.time_s >= row.time_s + ttl:
                    # Nothing replaced or removed it earlier: it expires at store + TTL
                    # (if that is within the run).
                    if row.time_s + ttl < end:
                        assert following is not None and following.change == "expire"
                        assert following.time_s == row.time_s + ttl
                        checked_stores += 1
    assert checked_stores > 10


def test_no_ttl_means_no_expiry():
    h = simulator.run(scenario(cache={"ttl": 0}), seed=2).history
    rows = cache_rows(h)
    assert (rows["change"] == "fill").sum() > 0
    assert "expire" not in set(rows["change"])


def held(rows: pd.DataFrame, key: int, time: float) -> int:
    before = rows[(rows["key"] == key) & (rows["time_s"] <= time)]
    return int(before["version"].iloc[-1]) if len(before) else -1


def test_a_cache_hit_returns_what_the_copies_table_says_the_cache_held():
    h = simulator.run(scenario(latency={"dist": "exponential", "mean": "1ms"}), seed=3).history
    rows = cache_rows(h)
    hits = h.ops[(h.ops["served_by"] == "cache") & (h.ops["status"] == "ok")]
    assert len(hits) > 50
    for op in hits.itertuples():
        # The cache served it at some instant between invoke and completion; at that
        # instant the table says it held exactly the returned version.
        changes = rows[(rows["key"] == op.key) & (rows["time_s"] > op.invoke_s)
                       & (rows["time_s"] < op.complete_s)]
        possible = {held(rows, op.key, op.invoke_s), *changes["version"]}
        assert op.version in possible


def world_of(data, seed=1):
    return World(load(copy.deepcopy(data)), seed)


@pytest.mark.parametrize("how", [CRASHED, STOPPED])
def test_crash_records_a_crash_row_for_every_held_key_and_empties_the_cache(how):
    world = world_of(scenario(cache={"ttl": "10s", "op_time": "1ms"}))
    net, node, sim = world.network, world.network.nodes["cache"], world.sim
    for key, version in ((3, 1), (0, 2), (7, 5)):
        net.send("client", "cache", "fill", (key, version, None))
    sim.run(0.1)
    assert len(node.entries) == 3
    # A fill still being worked on when the node goes down is lost too.
    net.send("client", "cache", "fill", (9, 1, None))
    sim.run(0.1 + 0.001 + 0.0005)   # delivered, halfway through its op_time
    node.stop(how)
    crash_time = sim.now
    sim.run(0.2)
    node.start()
    sim.run(0.3)
    assert len(node.entries) == 0
    copies = sim.record.history({}).copies
    crashes = copies[copies["change"] == "crash"]
    assert sorted(crashes["key"]) == [0, 3, 7]
    assert (crashes["version"] == -1).all()
    assert np.allclose(crashes["time_s"], crash_time)
    assert 9 not in set(copies["key"])

    # After the restart a get is a miss.
    got = {}

    def script():
        got["reply"] = yield net.call("client", "cache", "get", 3, 1.0)

    sim.process(script())
    sim.run(1.0)
    assert got["reply"].status == "ok" and got["reply"].value is None


def test_expiry_of_an_entry_lost_in_a_crash_is_not_recorded():
    world = world_of(scenario(cache={"ttl": "100ms", "op_time": 0}))
    net, node, sim = world.network, world.network.nodes["cache"], world.sim
    net.send("client", "cache", "fill", (1, 4, None))
    sim.run(0.05)
    node.stop(CRASHED)
    node.start()
    sim.run(1.0)
    changes = list(sim.record.history({}).copies["change"])
    assert changes == ["fill", "crash"]


@pytest.mark.parametrize("on_write,change", [("update", "overwrite"), ("delete", "delete")])
def test_on_write_update_overwrites_and_delete_deletes(on_write, change):
    data = scenario(cache={"on_write": on_write, "ttl": "10s"},
                    workload={"read_fraction": 0.5})
    h = simulator.run(data, seed=4).history
    rows = cache_rows(h)
    kinds = set(rows["change"])
    other = {"overwrite": "delete", "delete": "overwrite"}[change]
    assert change in kinds and other not in kinds
    written = rows[rows["change"] == change]
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert len(written) > 10
    if change == "overwrite":
        # The new version, after its commit; one overwrite per ok write.
        merged = written.merge(h.truth, on=["key", "version"], how="left")
        assert merged["commit_s"].notna().all()
        assert (merged["time_s"] > merged["commit_s"]).all()
        assert len(written) == len(writes)
    else:
        assert (written["version"] == -1).all()
        # Deleting an entry that is not there records nothing.
        assert len(written) <= len(writes)


def test_fill_after_invalidate_race_leaves_an_older_version_in_the_cache():
    # Slow and very variable database reads, hot keys, a long TTL: a read's miss reads
    # version v, a write commits v+1 and deletes the entry, then the read's fill lands.
    data = scenario(cache={"ttl": "60s"},
                    db={"read_time": {"dist": "lognormal", "median": "2ms", "sigma": 1.5}},
                    workload={"rate": 300, "read_fraction": 0.7, "keys": 2})
    result = simulator.run(data, seed=5)
    h = result.history
    rows = cache_rows(h)
    fills = rows[rows["change"] == "fill"]
    truth = h.truth
    late_fills = 0
    for row in fills.itertuples():
        latest = truth.loc[(truth["key"] == row.key) & (truth["commit_s"] <= row.time_s),
                           "version"].max()
        latest = 0 if pd.isna(latest) else latest
        late_fills += row.version < latest
    assert late_fills >= 1
    # The analysis agrees: some 'behind' window of the cache opens at a fill.
    windows = result.windows
    behind = windows[(windows["copy"] == "cache") & (windows["kind"] == "behind")]
    starts = behind.merge(fills, left_on=["key", "start_s"], right_on=["key", "time_s"])
    assert len(starts) >= 1


def test_copies_rows_are_in_time_order():
    data = scenario(cache={"ttl": "100ms"}, workload={"read_fraction": 0.7},
                    latency={"dist": "exponential", "mean": "1ms"},
                    faults=[{"kind": "crash", "node": "cache", "start": 1.0, "end": 1.2}])
    copies = simulator.run(data, seed=6).history.copies
    assert {"fill", "delete", "expire", "crash"} <= set(copies["change"])
    assert copies["time_s"].is_monotonic_increasing
