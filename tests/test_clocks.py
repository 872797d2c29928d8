"""Clock faults: skewed and drifting node clocks, and last-writer-wins by timestamp."""

from __future__ import annotations

import copy

import pytest

import simulator
from simulator.analysis import lost_writes
from simulator.clocks import Clocks
from simulator.engine import Simulation
from simulator.errors import ScenarioError
from simulator.scenario import load

SKEW = 0.5


def test_a_clock_reads_true_time_plus_its_skew_and_drift():
    sim = Simulation(1)
    clocks = Clocks(sim)
    sim.run(2.0)
    assert clocks.read("a") == 2.0 and clocks.rate("a") == 1.0
    first = clocks.skew("a", 0.3, 0.01)
    second = clocks.skew("a", -0.1, 0.0)
    sim.run(12.0)
    assert clocks.read("a") == pytest.approx(12.0 + 0.3 + 0.01 * 10 - 0.1)
    assert clocks.read("b") == 12.0  # other nodes keep true time
    assert clocks.rate("a") == pytest.approx(1.01)
    assert clocks.until("a", clocks.read("a") + 1.01) == pytest.approx(1.0)
    assert clocks.until("a", 0.0) == 0.0
    clocks.correct("a", first)
    assert clocks.read("a") == pytest.approx(11.9)
    clocks.correct("a", second)
    assert clocks.read("a") == 12.0


def scenario(conflict="timestamp", faults=(), **store):
    return {
        "name": "clock-test",
        "duration": "12s",
        "network": {"latency": 0.0005},
        "components": {
            "kv": {"kind": "quorum", "replicas": 3, "write_quorum": 2, "read_quorum": 2,
                   "conflict": conflict, **store},
            "api": {"kind": "service", "instances": 2, "workers": 32, "service_time": 0,
                    "database": "kv"},
        },
        "workload": {"target": "api", "rate": 200, "read_fraction": 0.5, "keys": 10,
                     "timeout": "1s"},
        "faults": list(faults),
    }


AHEAD = {"kind": "clock", "node": "api-1", "skew": f"{SKEW}s", "start": 3, "end": 8}


def test_perfect_clocks_lose_nothing_by_timestamp():
    h = simulator.run(scenario()).history
    assert lost_writes(h).empty
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    # versions are the coordinator's clock readings in microseconds (from 1,000 s
    # before the run), taken when the write reaches it, one network hop after the invoke
    stamped = writes["version"] / 1e6 - 1000
    assert ((stamped - writes["invoke_s"] - 0.0005).abs() < 2e-6).all()


def test_a_clock_ahead_makes_last_writer_wins_lose_the_others_writes():
    h = simulator.run(scenario(faults=[AHEAD])).history
    lost = lost_writes(h)
    assert len(lost) > 50 and (lost["how"] == "older timestamp").all()
    # Lost while api-1's clock was wrong, or until its last stamp was overtaken.
    assert (lost["invoke_s"] >= AHEAD["start"]).all()
    assert (lost["invoke_s"] <= AHEAD["end"] + SKEW + 0.01).all()
    # Each lost write began after a write of the same key, stamped later, committed.
    ops = h.ops.set_index("index")
    truth = h.truth[h.truth["lost_s"].isna()]
    for row in lost.itertuples(index=False):
        mine = truth[(truth["key"] == row.key) & (truth["commit_s"] < row.invoke_s)]
        assert (mine["version"] > row.version).any()
    # Most of them were the other instance's: its clock is right, but behind api-1's.
    assert (ops.loc[lost["index"], "node"] == "api-2").mean() > 0.8
    # The same skew with version-based conflicts loses nothing.
    assert lost_writes(simulator.run(scenario("version", faults=[AHEAD])).history).empty


def test_clock_faults_are_checked():
    data = scenario(faults=[{**AHEAD, "skew": "-2s", "drift": 0.001}])
    assert load(copy.deepcopy(data)).data["faults"][0]["skew"] == -2.0
    with pytest.raises(ScenarioError, match="at most 0.5"):
        load(scenario(faults=[{**AHEAD, "drift": 2}]))
    with pytest.raises(ScenarioError, match="duration"):
        load(scenario(faults=[{**AHEAD, "skew": "soon"}]))
    with pytest.raises(ScenarioError, match="unknown node"):
        load(scenario(faults=[{**AHEAD, "node": "api-9"}]))


# --- TTL on a node's clock ----------------------------------------------------------

def _expired(sim):
    copies = sim.record.history({}).copies
    rows = copies[copies["change"] == "expire"]
    return dict(zip(rows["key"], rows["time_s"]))


@pytest.mark.parametrize("jitter", [0.0, 1e-9])
def test_a_clock_stepped_ahead_expires_entries_early_and_back_late(jitter):
    from simulator.components.entries import Entries
    from simulator.streams import Streams
    sim = Simulation(1)
    clocks = Clocks(sim)
    entries = Entries(sim, "c", 10.0, jitter=jitter, stream=Streams(1)["x"], clocks=clocks,
                      node="c")
    fault = {}
    sim.at(0.0, lambda _: entries.store(0, 1, "fill"))        # due at 10 on c's clock
    sim.at(2.0, lambda _: fault.update(e=clocks.skew("c", 5.0, 0.0)))  # c reads t + 5
    sim.at(4.0, lambda _: entries.store(1, 1, "fill"))        # due when c reads 19
    sim.at(8.0, lambda _: clocks.correct("c", fault["e"]))   # c reads t again
    sim.run(30.0)
    expired = _expired(sim)
    assert expired[0] == pytest.approx(5.0, abs=1e-6)   # 5 s early
    assert expired[1] == pytest.approx(19.0, abs=1e-6)  # stored at 4, lived 15 s


def test_a_fast_clock_shortens_every_ttl():
    from simulator.components.entries import Entries
    sim = Simulation(1)
    clocks = Clocks(sim)
    clocks.skew("c", 0.0, 0.25)  # 1.25 s of c's clock per second
    entries = Entries(sim, "c", 10.0, clocks=clocks, node="c")
    sim.at(1.0, lambda _: entries.store(0, 1, "fill"))
    sim.run(30.0)
    assert _expired(sim)[0] == pytest.approx(1.0 + 10.0 / 1.25)


def test_a_cache_whose_clock_jumps_ahead_of_every_ttl_is_emptied():
    data = {"name": "clock-ttl", "duration": "8s", "network": {"latency": 0.0005},
            "components": {"db": {"kind": "database"},
                           "cache": {"kind": "cache", "ttl": "30s"},
                           "api": {"kind": "service", "database": "db", "cache": "cache"}},
            "workload": {"target": "api", "rate": 100, "read_fraction": 0.9, "keys": 20},
            "faults": [{"kind": "clock", "node": "cache", "skew": "1m", "start": 4,
                        "end": 6}]}
    copies = simulator.run(data).history.copies
    expired = copies[copies["change"] == "expire"]
    last = copies[copies["time_s"] < 4].groupby("key")["version"].last()
    held = set(last[last >= 0].index)  # what the cache held when its clock jumped
    assert len(held) >= 10
    # All of it expired at the jump; later fills expire only while the clock is ahead.
    assert set(expired.loc[expired["time_s"] == 4.0, "key"]) == held
    assert (expired["time_s"] >= 4).all() and (expired["time_s"] < 6.001).all()


def test_drifts_that_add_up_never_stop_or_reverse_a_clock():
    sim = Simulation(1)
    clocks = Clocks(sim)
    clocks.skew("c", 0.0, -0.5)
    clocks.skew("c", 0.0, -0.5)
    clocks.skew("c", 0.0, -0.4)
    assert clocks.rate("c") == pytest.approx(0.1)
    before = clocks.read("c")
    sim.run(10.0)
    assert clocks.read("c") == pytest.approx(before + 1.0)


def test_entries_stored_after_a_clock_steps_back_do_not_wait_behind_older_ones():
    from simulator.components.entries import Entries
    sim = Simulation(1)
    clocks = Clocks(sim)
    entries = Entries(sim, "c", 1.0, clocks=clocks, node="c")
    fault = {}
    sim.at(1.0, lambda _: fault.update(e=clocks.skew("c", 0.5, 0.0)))
    sim.at(1.9, lambda _: entries.store(1, 1, "fill"))   # due when c reads 3.4
    sim.at(2.0, lambda _: clocks.correct("c", fault["e"]))
    sim.at(2.05, lambda _: entries.store(2, 1, "fill"))  # due at 3.05, before key 1
    sim.run(5.0)
    expired = _expired(sim)
    assert expired[2] == pytest.approx(3.05) and expired[1] == pytest.approx(3.4)
