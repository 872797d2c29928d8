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
