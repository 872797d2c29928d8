"""Cache guards, capacity and flushes: what closes the fill/invalidate race and what does not."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import simulator
from simulator.components.cache import Miss
from simulator.scenario import load
from simulator.world import World

ROOT = Path(__file__).resolve().parent.parent
RACE = ROOT / "scenarios" / "cache-race.yaml"


def cache_world(**cache):
    data = {"duration": "5s", "network": {"latency": 0},
            "components": {"db": {"kind": "database"},
                           "cache": {"kind": "cache", "ttl": "10s", "op_time": 0, **cache},
                           "api": {"kind": "service", "database": "db", "cache": "cache"}},
            "workload": {"target": "api", "rate": 1}}
    return World(load(copy.deepcopy(data)), 1)


class Driver:
    """Sends cache operations one after the other and keeps the replies."""

    def __init__(self, world):
        self.world, self.replies = world, []

    def __call__(self, *operations):
        net, sim = self.world.network, self.world.sim

        def script():
            for method, args in operations:
                self.replies.append((yield net.call("client", "cache", method, args, 1.0)))

        sim.process(script())
        sim.run(sim.now + 1.0)
        return self.replies

    @property
    def held(self):
        return self.world.network.nodes["cache"].entries


def test_a_late_fill_after_a_delete_is_accepted_without_a_guard():
    drive = Driver(cache_world())
    drive(("get", 1), ("delete", 1), ("fill", (1, 3, None)))
    assert drive.held.peek(1) == 3  # the stale value is back until its TTL


def test_a_lease_invalidated_by_a_delete_rejects_the_late_fill():
    drive = Driver(cache_world(guard="lease"))
    replies = drive(("get", 1))
    miss = replies[0].value
    assert isinstance(miss, Miss)
    drive(("delete", 1), ("fill", (1, 3, miss.lease)))
    assert drive.replies[-1].status == "fail" and drive.replies[-1].value == "lease-invalidated"
    assert drive.held.peek(1) is None
    # A lease nobody invalidated lets the fill in.
    fresh = drive(("get", 2))[-1].value
    drive(("fill", (2, 4, fresh.lease)))
    assert drive.held.peek(2) == 4


def test_a_versioned_cache_rejects_an_older_fill_unless_the_newer_entry_was_evicted():
    drive = Driver(cache_world(guard="version", capacity=1))
    drive(("set", (1, 5)), ("fill", (1, 4, None)))
    assert drive.replies[-1].value == "older-version" and drive.held.peek(1) == 5
    # Another key evicts version 5 (capacity 1): the stale version 4 now gets in.
    drive(("fill", (2, 1, None)), ("fill", (1, 4, None)))
    assert drive.held.peek(1) == 4
    copies = drive.world.sim.record.history({}).copies
    assert list(copies["change"]) == ["overwrite", "evict", "fill", "evict", "fill"]


def test_capacity_evicts_the_least_recently_used():
    drive = Driver(cache_world(capacity=2))
    drive(("fill", (1, 1, None)), ("fill", (2, 1, None)), ("get", 1), ("fill", (3, 1, None)))
    assert drive.held.peek(1) == 1 and drive.held.peek(2) is None and drive.held.peek(3) == 1


def test_ttl_jitter_spreads_expiry_within_its_bounds():
    world = cache_world(ttl="1s", ttl_jitter=0.2)
    drive = Driver(world)
    drive(*[("fill", (k, 1, None)) for k in range(200)])
    world.sim.run(3.0)
    copies = world.sim.record.history({}).copies
    fills = copies[copies["change"] == "fill"].set_index("key")["time_s"]
    expiries = copies[copies["change"] == "expire"].set_index("key")["time_s"]
    lived = (expiries - fills).to_numpy()
    assert len(lived) == 200
    assert lived.min() >= 0.8 - 1e-9 and lived.max() <= 1.2 + 1e-9
    assert lived.std() > 0.05  # spread, not constant


def test_a_flush_fault_empties_the_cache_at_an_instant():
    data = {"duration": "10s",
            "components": {"db": {"kind": "database"}, "cache": {"kind": "cache", "ttl": "1m"},
                           "api": {"kind": "service", "database": "db", "cache": "cache"}},
            "workload": {"target": "api", "rate": 100, "keys": 10},
            "faults": [{"kind": "flush", "node": "cache", "start": "5s"}]}
    result = simulator.run(data, seed=1)
    copies = result.history.copies
    flushed = copies[copies["change"] == "flush"]
    assert len(flushed) > 0 and (flushed["time_s"] == 5.0).all()
    fault = result.history.faults.iloc[0]
    assert fault["start_s"] == fault["end_s"] == 5.0
    with pytest.raises(simulator.ScenarioError, match="at an instant"):
        load({**data, "faults": [{"kind": "flush", "node": "cache", "start": "5s",
                                  "duration": "1s"}]})
    with pytest.raises(simulator.ScenarioError, match="not a cache component"):
        load({**data, "faults": [{"kind": "flush", "node": "db", "start": "5s"}]})


def _longest_window_from_a_fill(result) -> float:
    """The longest cache window that a fill opened (a stale fill that stayed)."""
    copies = result.history.copies
    fills = copies[copies["change"] == "fill"][["time_s", "key"]]
    windows = result.windows[result.windows["copy"] == "cache"]
    opened = windows.merge(fills, left_on=["start_s", "key"], right_on=["time_s", "key"])
    return float(opened["duration_s"].max()) if len(opened) else 0.0


@pytest.fixture(scope="module")
def race_runs():
    return {name: simulator.run(RACE, seed=1, **overrides) for name, overrides in {
        "none": {},
        "lease": {"components__cache__guard": "lease"},
        "version": {"components__cache__guard": "version",
                    "components__cache__on_write": "update"},
    }.items()}


def test_the_race_leaves_a_stale_value_until_the_ttl(race_runs):
    ttl = load(RACE).data["components"]["cache"]["ttl"]
    assert _longest_window_from_a_fill(race_runs["none"]) == pytest.approx(ttl)


@pytest.mark.parametrize("guard", ["lease", "version"])
def test_guards_keep_stale_fills_from_staying(race_runs, guard):
    # A fill can still land between a commit and its invalidation, but never
    # outlives the invalidation: at most the write's path to the cache (the
    # degraded answer of 100 ms, plus milliseconds).
    assert _longest_window_from_a_fill(race_runs[guard]) < 0.3
    assert race_runs[guard].summary["reads"]["stale"] < race_runs["none"].summary["reads"]["stale"]


def test_a_flush_kills_every_lease_handed_out_before_it():
    world = cache_world(guard="lease")
    drive = Driver(world)
    lease = drive(("get", 7))[-1].value.lease
    world.network.nodes["cache"].flush()
    drive(("fill", (7, 3, lease)))
    assert drive.replies[-1].status == "fail" and drive.held.peek(7) is None


def _through(**cache):
    return {"duration": "10s",
            "components": {"db": {"kind": "database"},
                           "cache": {"kind": "cache", "ttl": "30s", "mode": "through",
                                     "database": "db", **cache},
                           "api": {"kind": "service", "database": "db", "cache": "cache"}},
            "workload": {"target": "api", "rate": 200, "keys": 10, "read_fraction": 0.8}}


def test_a_write_through_cache_holds_what_was_just_written():
    result = simulator.run(_through(), seed=1)
    ops, copies = result.ops, result.history.copies
    writes = ops[(ops["op"] == "write") & (ops["status"] == "ok")]
    overwrites = copies[copies["change"] == "overwrite"]
    # every acknowledged write went through the cache, which holds its version
    assert set(zip(writes["key"], writes["version"])) <= set(
        zip(overwrites["key"], overwrites["version"]))
    reads = ops[(ops["op"] == "read") & (ops["status"] == "ok")]
    assert (reads["served_by"] == "cache").mean() > 0.9   # misses were loaded once
    assert set(reads["served_by"]) <= {"cache", "db-primary"}


def test_a_through_cache_needs_its_store():
    with pytest.raises(simulator.ScenarioError, match="needs 'database'"):
        load(_through(database=""))
    with pytest.raises(simulator.ScenarioError, match="not a database or quorum"):
        load(_through(database="api"))


def _stale_fills(history) -> int:
    """Fills that stored a version older than the truth's latest at that instant."""
    import pandas as pd
    fills = history.copies[history.copies["change"] == "fill"].sort_values("time_s")
    truth = history.truth.sort_values("commit_s").rename(columns={"version": "latest"})
    merged = pd.merge_asof(fills, truth[["commit_s", "key", "latest"]], left_on="time_s",
                           right_on="commit_s", by="key")
    return int((merged["version"] < merged["latest"].fillna(0)).sum())


def test_read_through_loads_race_with_write_through_unless_versions_guard_them():
    # Slow, variable answers from the database and frequent writes on two keys:
    # a load that read the old version lands after a write-through stored the new one.
    race = _through(ttl="50ms")
    race["network"] = {"links": [{"from": "db", "to": "cache", "both_ways": False,
                                  "latency": {"dist": "uniform", "low": "1ms", "high": "20ms"}}]}
    race["workload"].update({"keys": 2, "read_fraction": 0.5})
    plain = simulator.run(race, seed=3).history
    guarded = simulator.run(race, seed=3, components__cache__guard="version").history
    assert _stale_fills(plain) > 10
    # The guard rejects a stale load landing after the newer version; one
    # landing before the write's own answer reaches the cache still gets in,
    # briefly, until that answer overwrites it.
    assert _stale_fills(guarded) < _stale_fills(plain) / 2


def _slow_store_through_cache():
    """A through cache in front of a store that takes 300 ms a read and a write:
    at any instant the cache is serving loads and writes."""
    data = _through()
    data["components"]["db"].update({"read_time": "300ms", "disk_write": "300ms"})
    data["workload"].update({"keys": 50})
    return data


def _across(ops, start: float):
    return ops[(ops["invoke_s"] < start) & (ops["complete_s"] > start)]


def test_a_through_cache_that_crashes_answers_nothing_it_was_serving():
    # Its loads and writes through to the store die with the host: the store's
    # answers used to come back after the restart and be passed on as ok.
    data = _slow_store_through_cache()
    data["faults"] = [{"kind": "crash", "node": "cache", "start": 1.0, "duration": 0.1}]
    ops = simulator.run(data, seed=1).ops
    across = _across(ops, 1.0)
    assert len(across) > 50 and not (across["status"] == "ok").any()


def test_a_through_cache_that_stops_resets_what_it_was_serving():
    from simulator.network import STOPPED
    world = World(load(_slow_store_through_cache()), 1)
    cache = world.network.nodes["cache"]
    world.sim.after(1.0, lambda _: cache.hold(STOPPED))
    world.sim.after(1.1, lambda _: cache.release())
    ops = world.run().ops
    across = _across(ops, 1.0)
    assert len(across) > 50 and not (across["status"] == "ok").any()
    # the callers heard at once that the connection was reset
    reset = ops[ops["error"].str.contains("connection-reset")]
    assert len(reset) > 0 and (reset["complete_s"] - 1.0).between(0, 0.01).all()
