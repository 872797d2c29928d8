"""Faults: which links a partition cuts, what each fault does while it lasts, and the heal.

Also the run's determinism: the same scenario and seed give the same history.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import simulator
from simulator.faults import blocked_pairs
from simulator.network import CRASHED, STOPPED, UP
from simulator.scenario import load
from simulator.world import World

L = 0.001  # one-way latency
D = 0.001  # disk write


def scenario(faults=(), db=None, api=None, cache=None, workload=None, duration="3s"):
    components = {
        "db": {"kind": "database", "disk_write": D, "read_time": 0, **(db or {})},
        "api": {"kind": "service", "instances": 1, "workers": 64, "service_time": 0,
                "database": "db", **(api or {})},
    }
    if cache is not None:
        components["cache"] = {"kind": "cache", "op_time": 0, **cache}
        components["api"]["cache"] = "cache"
    return {
        "name": "faults-test",
        "duration": duration,
        "network": {"latency": L},
        "components": components,
        "workload": {"target": "api", "rate": 100, "read_fraction": 0.7, "keys": 5,
                     "timeout": "1s", **(workload or {})},
        "faults": list(faults),
    }


def world_of(data, seed=1) -> World:
    return World(load(copy.deepcopy(data)), seed)


# --- which pairs a partition blocks ----------------------------------------------------------

GROUPS = {"x": ["x-1", "x-2"], "y": ["y"], "z": ["z"], "w": ["w"]}
EVERYONE = ["x-1", "x-2", "y", "z", "w"]


def resolve(names):
    out = []
    for name in names:
        for node in GROUPS.get(name, [name]):
            if node not in out:
                out.append(node)
    return out


def test_groups_block_every_pair_across_groups_both_ways_and_nothing_else():
    pairs = blocked_pairs({"groups": [["x"], ["y", "z"]]}, resolve, EVERYONE)
    expected = {(a, b) for a in ("x-1", "x-2") for b in ("y", "z")}
    expected |= {(b, a) for a, b in expected}
    assert set(pairs) == expected
    assert len(pairs) == len(expected)  # no repeats
    # Within a group, and to the unlisted node w, everything still flows.
    assert ("x-1", "x-2") not in pairs and ("y", "z") not in pairs
    assert not any("w" in pair for pair in pairs)


def test_three_groups_block_between_each_pair_of_groups():
    pairs = set(blocked_pairs({"groups": [["x-1"], ["y"], ["z"]]}, resolve, EVERYONE))
    nodes = ["x-1", "y", "z"]
    assert pairs == {(a, b) for a in nodes for b in nodes if a != b}


def test_isolate_cuts_the_nodes_off_from_everyone_else_but_not_each_other():
    pairs = set(blocked_pairs({"isolate": ["x"]}, resolve, EVERYONE))
    others = ["y", "z", "w"]
    expected = {(a, b) for a in ("x-1", "x-2") for b in others}
    expected |= {(b, a) for a, b in expected}
    assert pairs == expected
    assert ("x-1", "x-2") not in pairs


def test_one_way_blocks_a_single_direction():
    pairs = set(blocked_pairs({"one_way": {"from": ["y"], "to": ["x", "z"]}}, resolve, EVERYONE))
    assert pairs == {("y", "x-1"), ("y", "x-2"), ("y", "z")}


def test_a_side_that_is_everyone_is_everyone_else():
    # '*' against x is every node but x's: x hears from no one else, and its own
    # nodes still talk to each other (and never is a node cut off from itself)
    def star(names):  # as World.resolve: '*' is every node, the client first
        return ["client"] + EVERYONE if names == ["*"] else resolve(names)
    others = ["y", "z", "w"]
    pairs = set(blocked_pairs({"one_way": {"from": ["*"], "to": ["x"]}}, star, EVERYONE))
    assert pairs == {(a, b) for a in others for b in ("x-1", "x-2")}
    pairs = set(blocked_pairs({"groups": [["x"], ["*"]]}, star, EVERYONE))
    expected = {(a, b) for a in ("x-1", "x-2") for b in others}
    assert pairs == expected | {(b, a) for a, b in expected}
    # named beside '*', a node stays on the side that names it
    pairs = set(blocked_pairs({"groups": [["x", "y"], ["*", "z"]]}, star, EVERYONE))
    assert ("x-1", "y") not in pairs and ("z", "w") not in pairs and ("y", "z") in pairs
    # the client is in no side that '*' makes: it reaches everyone, as in a shape's 'among'
    assert not any("client" in pair for pair in pairs)


def test_world_resolves_component_names_to_their_nodes():
    world = world_of(scenario(db={"replicas": 2}, api={"instances": 2}))
    everyone = list(world.network.nodes)
    assert set(everyone) == {"client", "db-primary", "db-replica-1", "db-replica-2",
                             "api-1", "api-2"}
    pairs = set(blocked_pairs({"groups": [["api"], ["db-primary"]]}, world.resolve, everyone))
    assert pairs == {("api-1", "db-primary"), ("api-2", "db-primary"),
                     ("db-primary", "api-1"), ("db-primary", "api-2")}
    isolated = set(blocked_pairs({"isolate": ["db"]}, world.resolve, everyone))
    db = {"db-primary", "db-replica-1", "db-replica-2"}
    assert isolated == {(a, b) for a in db for b in {"client", "api-1", "api-2"}} | \
        {(b, a) for a in db for b in {"client", "api-1", "api-2"}}


# --- a partition in a run --------------------------------------------------------------------

def test_partition_between_service_and_database_fails_only_during_it():
    start, end = 1.0, 2.0
    data = scenario(faults=[{"kind": "partition", "groups": [["api"], ["db"]],
                             "start": start, "end": end}],
                    api={"database_timeout": "100ms"})
    h = simulator.run(data, seed=2).history
    ops = h.ops
    during = ops[(ops["invoke_s"] > start) & (ops["invoke_s"] + 4 * L < end)]
    outside = ops[(ops["invoke_s"] + 4 * L + D < start) | (ops["invoke_s"] > end)]
    assert len(during) > 50 and len(outside) > 100
    assert (outside["status"] == "ok").all()
    assert (during["error"] == "database-timeout").all()
    assert set(during.loc[during["op"] == "read", "status"]) == {"fail"}
    assert set(during.loc[during["op"] == "write", "status"]) == {"info"}
    # Nothing commits while the primary cannot hear the service.
    assert not ((h.truth["commit_s"] > start + 2 * L + D) & (h.truth["commit_s"] < end)).any()
    fault = h.faults.iloc[0]
    assert (fault["kind"], fault["start_s"], fault["end_s"]) == ("partition", start, end)


def test_overlapping_partitions_keep_a_shared_pair_blocked_until_both_heal():
    faults = [{"kind": "partition", "one_way": {"from": "api", "to": "db"}, "start": 0.5,
               "end": 1.5},
              {"kind": "partition", "groups": [["api"], ["db"]], "start": 1.0, "end": 2.0}]
    world = world_of(scenario(faults))
    seen = {}
    for t in (0.75, 1.25, 1.75, 2.25):
        world.sim.after(t, lambda _, t=t: seen.__setitem__(t, set(world.network.blocked)))
    world.run()
    forward, backward = ("api-1", "db-primary"), ("db-primary", "api-1")
    assert seen[0.75] == {forward}
    assert seen[1.25] == {forward, backward}
    assert seen[1.75] == {forward, backward}  # the first partition healed, the second holds
    assert seen[2.25] == set()


# --- degrade and slow writes -----------------------------------------------------------------

def latencies(ops):
    return (ops["complete_s"] - ops["invoke_s"]).to_numpy()


@pytest.mark.parametrize("both_ways,hops", [(True, 2), (False, 1)])
def test_degrade_adds_latency_only_during_the_fault(both_ways, hops):
    extra, start, end = 0.050, 1.0, 2.0
    data = scenario(faults=[{"kind": "degrade", "from": "api", "to": "db", "both_ways": both_ways,
                             "latency": f"{extra}s", "start": start, "end": end}],
                    workload={"read_fraction": 1.0})
    h = simulator.run(data, seed=3).history
    ops = h.ops
    base = 4 * L  # client->api->db->api->client, reads take no time at the database
    during = ops[(ops["invoke_s"] > start) & (ops["invoke_s"] < end - 2 * extra - 4 * L)]
    outside = ops[(ops["invoke_s"] < start - 4 * L) | (ops["invoke_s"] > end)]
    assert len(during) > 50 and len(outside) > 100
    assert np.allclose(latencies(during), base + hops * extra)
    assert np.allclose(latencies(outside), base)


def test_degrade_loss_makes_calls_time_out_during_the_fault():
    start, end = 1.0, 2.0
    data = scenario(faults=[{"kind": "degrade", "from": "api", "to": "db", "loss": 0.5,
                             "start": start, "end": end}],
                    api={"database_timeout": "50ms"}, workload={"rate": 200})
    ops = simulator.run(data, seed=4).history.ops
    during = ops[(ops["invoke_s"] > start) & (ops["invoke_s"] < end - 0.06)]
    outside = ops[(ops["invoke_s"] < start - 0.01) | (ops["invoke_s"] > end)]
    assert (outside["status"] == "ok").all()
    # A call survives if both the request and the reply survive: 1/4.
    n, p_ok = len(during), 0.25
    ok = int((during["status"] == "ok").sum())
    assert abs(ok - n * p_ok) <= 5 * np.sqrt(n * p_ok * (1 - p_ok))
    assert set(during.loc[during["status"] != "ok", "error"]) == {"database-timeout"}


def test_slow_writes_on_the_primary_slow_writes_only_during_the_fault():
    extra, start, end = 0.100, 1.0, 2.0
    data = scenario(faults=[{"kind": "slow-writes", "node": "db", "extra": f"{extra}s",
                             "start": start, "end": end}],
                    workload={"read_fraction": 0.5})
    ops = simulator.run(data, seed=5).history.ops
    writes, reads = ops[ops["op"] == "write"], ops[ops["op"] == "read"]
    base = 4 * L + D
    # The disk time is drawn when the write reaches the primary, two hops after invoke.
    arrive = writes["invoke_s"] + 2 * L
    during = writes[(arrive > start) & (arrive < end)]
    outside = writes[(arrive < start) | (arrive > end)]
    assert len(during) > 20 and len(outside) > 40
    assert np.allclose(latencies(during), base + extra)
    assert np.allclose(latencies(outside), base)
    assert np.allclose(latencies(reads), 4 * L)  # reads never touch the disk


def test_slow_writes_on_a_replica_delay_its_applies_only_during_the_fault():
    extra, start, end = 0.200, 1.0, 2.0
    data = scenario(faults=[{"kind": "slow-writes", "node": "db-replica-1", "extra": f"{extra}s",
                             "start": start, "end": end}],
                    db={"replicas": 1}, workload={"read_fraction": 0.3, "keys": 50})
    h = simulator.run(data, seed=6).history
    applies = h.copies[h.copies["copy"] == "db-replica-1"].merge(h.truth, on=["key", "version"])
    lag = (applies["time_s"] - applies["commit_s"]).to_numpy()
    arrive = applies["commit_s"].to_numpy() + L
    inside = (arrive > start) & (arrive < end)
    assert inside.sum() > 20 and (~inside).sum() > 40
    assert np.allclose(lag[inside], L + D + extra)
    assert np.allclose(lag[~inside], L + D)
    # The primary's commits are not slowed.
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert np.allclose(latencies(writes), 4 * L + D)


# --- crashes ---------------------------------------------------------------------------------

def test_crash_of_the_cache_loses_its_entries():
    start, end = 1.0, 1.5
    data = scenario(faults=[{"kind": "crash", "node": "cache", "start": start, "end": end}],
                    cache={"ttl": "10s"}, workload={"read_fraction": 0.95})
    h = simulator.run(data, seed=7).history
    rows = h.copies[h.copies["copy"] == "cache"]
    before = rows[rows["time_s"] < start]
    held = {k for k, r in before.groupby("key") if r["version"].iloc[-1] >= 0}
    assert held
    crashes = rows[rows["change"] == "crash"]
    assert set(crashes["key"]) == held and len(crashes) == len(held)
    assert np.allclose(crashes["time_s"], start)
    # While it is down it holds nothing and changes nothing.
    assert not ((rows["time_s"] > start) & (rows["time_s"] < end)).any()
    ops = h.ops
    reads = ops[ops["op"] == "read"]
    down = reads[(reads["invoke_s"] > start) & (reads["invoke_s"] < end - 0.1)]
    assert len(down) > 10
    assert set(down["served_by"]) == {"db-primary"}
    # Each waited for the cache call to time out first (50ms) before asking the database.
    assert (latencies(down) >= 0.050).all()
    # After the restart a key is served from the cache only once it was filled again.
    for op in reads[(reads["invoke_s"] > end) & (reads["served_by"] == "cache")].itertuples():
        refills = rows[(rows["key"] == op.key) & (rows["time_s"] > end)
                       & (rows["time_s"] < op.complete_s) & (rows["change"] == "fill")]
        assert len(refills) >= 1


# --- every fault heals -----------------------------------------------------------------------

ALL_FAULTS = [
    {"kind": "partition", "name": "split", "groups": [["api-1", "cache"], ["db"]],
     "start": 0.5, "end": 1.0},
    {"kind": "partition", "name": "one-way", "one_way": {"from": "db-replica-1",
                                                         "to": "db-primary"},
     "start": 0.7, "end": 1.2},
    {"kind": "degrade", "from": "api", "to": "db", "latency": "10ms", "loss": 0.1,
     "start": 1.0, "end": 1.5},
    {"kind": "slow-writes", "node": "db", "extra": "20ms", "start": 1.2, "end": 1.6},
    {"kind": "deploy", "service": "api", "start": 1.5, "restart": 0.2, "batch": 1},
    {"kind": "crash", "name": "cache-down", "node": "cache", "start": 2.0, "end": 2.3},
    {"kind": "crash", "name": "replica-down", "node": "db-replica-1", "start": 2.1,
     "end": 2.4},
]


def test_every_fault_acts_while_it_lasts_and_is_healed_at_its_end():
    data = scenario(ALL_FAULTS, db={"replicas": 1}, api={"instances": 2}, cache={"ttl": "1s"})
    world = world_of(data)
    net = world.network
    nodes = net.nodes
    snapshots = {}

    def snapshot(t):
        snapshots[t] = {
            "blocked": set(net.blocked),
            "degradations": len(net.degradations),
            "slow": len(nodes["db-primary"].slow),
            "states": {name: node.state for name, node in nodes.items() if node.state != UP},
        }

    for t in (0.6, 0.8, 1.1, 1.3, 1.55, 1.75, 2.2, 2.35, 2.9):
        world.sim.after(t, lambda _, t=t: snapshot(t))
    h = world.run()

    split = {(a, b) for a in ("api-1", "cache") for b in ("db-primary", "db-replica-1")}
    split |= {(b, a) for a, b in split}
    one_way = {("db-replica-1", "db-primary")}
    assert snapshots[0.6]["blocked"] == split
    assert snapshots[0.8]["blocked"] == split | one_way
    assert snapshots[1.1]["blocked"] == one_way
    assert snapshots[1.1]["degradations"] == 1  # one entry, both ways
    assert snapshots[1.3]["blocked"] == set() and snapshots[1.3]["slow"] == 1
    assert snapshots[1.55]["states"] == {"api-1": STOPPED}
    assert snapshots[1.55]["degradations"] == 0 and snapshots[1.55]["slow"] == 1
    assert snapshots[1.75]["states"] == {"api-2": STOPPED}
    assert snapshots[1.75]["slow"] == 0
    assert snapshots[2.2]["states"] == {"cache": CRASHED, "db-replica-1": CRASHED}
    assert snapshots[2.35]["states"] == {"db-replica-1": CRASHED}
    healed = {"blocked": set(), "degradations": 0, "slow": 0, "states": {}}
    assert snapshots[2.9] == healed
    # And still healed when the run is over.
    assert not net.blocked and not net.degradations
    assert all(node.state == UP for node in nodes.values())
    assert nodes["db-primary"].slow == [] and nodes["db-replica-1"].slow == []
    # Links are back to their base settings.
    link = net.link("api-1", "db-primary")
    assert link.latency.mean == pytest.approx(L) and link.loss == 0.0

    faults = h.faults.set_index("fault")
    assert list(faults.index) == ["split", "one-way", "degrade-1", "slow-writes-1", "deploy-1",
                                  "cache-down", "replica-down"]
    assert faults.loc["deploy-1", "end_s"] == pytest.approx(1.9)
    for fault in ALL_FAULTS:
        if "end" in fault:
            name = fault.get("name") or f"{fault['kind']}-1"
            assert (faults.loc[name, "start_s"], faults.loc[name, "end_s"]) == \
                (fault["start"], fault["end"])
    # The replica caught up after everything healed.
    applies = h.copies[h.copies["copy"] == "db-replica-1"]
    for key, rows in h.truth.groupby("key"):
        assert applies.loc[applies["key"] == key, "version"].iloc[-1] == rows["version"].max()


# --- determinism -----------------------------------------------------------------------------

DETERMINISM = scenario(ALL_FAULTS, db={"replicas": 1, "disk_write": {"dist": "exponential",
                                                                     "mean": "2ms"}},
                       api={"instances": 2, "service_time": {"dist": "exponential",
                                                             "mean": "1ms"}},
                       cache={"ttl": "500ms"})
DETERMINISM["network"]["latency"] = {"dist": "lognormal", "median": "1ms", "sigma": 0.5}
DETERMINISM["network"]["loss"] = 0.01


def tables(history):
    return [getattr(history, name) for name in ("ops", "truth", "copies", "copy_info", "faults")]


def test_same_scenario_and_seed_give_identical_histories():
    first = tables(simulator.run(DETERMINISM, seed=21).history)
    second = tables(simulator.run(copy.deepcopy(DETERMINISM), seed=21).history)
    assert len(first[0]) > 100 and len(first[2]) > 50
    for a, b in zip(first, second):
        assert a.equals(b)


def test_a_different_seed_gives_different_operations():
    a = simulator.run(DETERMINISM, seed=21).history.ops
    b = simulator.run(DETERMINISM, seed=22).history.ops
    assert not a.equals(b)
    assert not np.array_equal(a["invoke_s"].to_numpy()[:10], b["invoke_s"].to_numpy()[:10])


def test_an_unused_extra_component_does_not_change_the_run():
    base = copy.deepcopy(DETERMINISM)
    base["faults"] = []
    extra = copy.deepcopy(base)
    extra["components"]["archive"] = {"kind": "database", "replicas": 1}
    a, b = simulator.run(base, seed=5).history, simulator.run(extra, seed=5).history
    assert a.ops.equals(b.ops)
    assert a.truth.equals(b.truth)


def test_overlapping_crashes_keep_the_node_down_until_the_last_one_heals():
    faults = [{"kind": "crash", "node": "db", "start": 1.0, "end": 2.0},
              {"kind": "crash", "node": "db", "start": 1.5, "end": 2.5}]
    world = world_of(scenario(faults))
    seen = {}
    for t in (1.75, 2.25, 2.75):
        world.sim.after(t, lambda _, t=t: seen.__setitem__(
            t, world.network.nodes["db-primary"].state))
    world.run()
    # Regression: the second crash used to be ignored and the node came back at 2.0.
    assert seen == {1.75: CRASHED, 2.25: CRASHED, 2.75: UP}


def test_a_crash_during_a_deploy_keeps_the_instance_down_until_the_crash_heals():
    faults = [{"kind": "deploy", "service": "api", "start": 0.8, "restart": 0.5},
              {"kind": "crash", "node": "api-1", "start": 1.0, "end": 2.0}]
    world = world_of(scenario(faults))
    seen = {}
    for t in (0.9, 1.1, 1.5, 2.1):
        world.sim.after(t, lambda _, t=t: seen.__setitem__(t, world.network.nodes["api-1"].state))
    world.run()
    assert seen == {0.9: STOPPED, 1.1: CRASHED, 1.5: CRASHED, 2.1: UP}


# --- known bugs ------------------------------------------------------------------------------

def test_degrade_of_every_link_adds_its_latency_once_per_message():
    extra, start, end = 0.050, 1.0, 2.0
    data = scenario(faults=[{"kind": "degrade", "latency": f"{extra}s",  # from/to default '*'
                             "start": start, "end": end}],
                    workload={"read_fraction": 1.0, "rate": 20})
    ops = simulator.run(data, seed=3).history.ops
    during = ops[(ops["invoke_s"] > start) & (ops["invoke_s"] < end - 0.5)]
    assert len(during) > 5
    # Four messages (client->api->db->api->client), each delayed by `extra` once.
    assert np.allclose(latencies(during), 4 * L + 4 * extra)


def test_random_failures_flap_only_while_the_fault_lasts_and_heal_at_its_end():
    faults = [{"kind": "failures", "node": "db", "mttf": "200ms", "mttr": "100ms",
               "start": 1.0, "end": 4.0}]
    world = world_of(scenario(faults, db={"replicas": 2}, duration="6s"))
    states, nodes = [], [world.network.nodes[n] for n in ("db-primary", "db-replica-1",
                                                         "db-replica-2")]
    for i in range(600):
        world.sim.after(i * 0.01, lambda _, t=i * 0.01: states.append(
            (t, tuple(n.state for n in nodes))))
    world.run()
    before = [s for t, s in states if t < 1.0]
    during = [s for t, s in states if 1.0 <= t < 4.0]
    after = [s for t, s in states if t > 4.0]  # at 4.0 itself the heal may come next
    assert all(s == (UP,) * 3 for s in before + after)
    down = [node_state != UP for s in during for node_state in s]
    # Each node is down about mttr / (mttf + mttr) = 1/3 of the time (loosely: 3 s of flapping).
    assert 0.1 < sum(down) / len(down) < 0.6
    # Each node flaps on its own stream: their down times differ.
    assert len({tuple(s[i] for s in during) for i in range(3)}) == 3


def test_a_paused_node_handles_what_arrived_when_it_resumes():
    faults = [{"kind": "pause", "node": "db", "start": 1.0, "duration": 0.5}]
    h = simulator.run(scenario(faults, workload={"rate": 100, "read_fraction": 1.0},
                               duration="3s"), seed=1).history
    ops = h.ops[h.ops["status"] == "ok"]
    held = ops[(ops["invoke_s"] > 1.0) & (ops["invoke_s"] < 1.49)]
    assert len(held) > 10
    # Reads sent during the pause are all answered just after it, in one burst.
    assert (held["complete_s"] >= 1.5).all() and (held["complete_s"] < 1.5 + 0.01).all()
    outside = ops[(ops["invoke_s"] < 0.9) | (ops["invoke_s"] > 1.6)]
    assert (outside["complete_s"] - outside["invoke_s"]).max() < 0.01


# --- named partition shapes (Jepsen's grudges) -----------------------------------------------

FIVE = ["n1", "n2", "n3", "n4", "n5"]


def _heard(grudge, node, nodes):
    return set(nodes) - grudge[node]


def test_halves_cut_the_node_list_in_two():
    from simulator.faults import shape_grudge
    grudge = shape_grudge("halves", FIVE, None)
    assert grudge["n1"] == {"n3", "n4", "n5"} and grudge["n5"] == {"n1", "n2"}


def test_bridge_keeps_one_node_talking_to_both_halves():
    from simulator.faults import shape_grudge
    grudge = shape_grudge("bridge", FIVE, None)
    assert grudge["n3"] == set()
    assert grudge["n1"] == {"n4", "n5"} and grudge["n4"] == {"n1", "n2"}


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_majorities_ring_gives_every_node_a_different_majority(n):
    from simulator.faults import shape_grudge
    from simulator.streams import Stream
    nodes = [f"n{i}" for i in range(n)]
    grudge = shape_grudge("majorities-ring", nodes, Stream(1, "ring"))
    heard = [frozenset(_heard(grudge, a, nodes)) for a in nodes]
    assert all(len(h) == n // 2 + 1 and a in h for a, h in zip(nodes, heard))
    assert len(set(heard)) == n


def test_random_shapes_follow_the_stream():
    from simulator.faults import shape_grudge
    from simulator.streams import Stream
    six = [f"n{i}" for i in range(6)]
    third = shape_grudge("minority-third", six, Stream(1, "x"))
    cut = [a for a in six if len(third[a]) == 4]
    assert len(cut) == 2  # a third of six, cut off from the other four
    one = shape_grudge("random-node", six, Stream(1, "x"))
    assert sorted(len(v) for v in one.values()) == [1] * 5 + [5]
    halves = [shape_grudge("random-halves", six, Stream(seed, "x")) for seed in range(8)]
    assert all(sorted(len(v) for v in h.values()) == [3] * 6 for h in halves)
    assert len({frozenset(h["n0"]) for h in halves}) > 1  # a different split per seed
    assert shape_grudge("random-halves", six, Stream(3, "x")) == \
        shape_grudge("random-halves", six, Stream(3, "x"))


def test_a_shape_partition_runs_and_heals():
    faults = [{"kind": "partition", "shape": "majorities-ring", "among": "db",
               "start": 0.5, "duration": 1.0}]
    world = world_of(scenario(faults, db={"replicas": 4}, duration="2s"))
    seen = {}
    world.sim.after(1.0, lambda _: seen.update(during=len(world.network.blocked)))
    world.run()
    assert seen["during"] == 5 * 2  # each of 5 db nodes deaf to 2 others
    assert not world.network.blocked
    assert "majorities-ring of db" in world.sim.record.faults[0]["targets"]


def test_a_paused_primary_does_no_work_until_it_resumes():
    faults = [{"kind": "pause", "node": "db-primary", "start": 1.0, "end": 2.0}]
    h = simulator.run(scenario(faults, db={"disk_write": "300ms"},
                               workload={"rate": 50, "read_fraction": 0.0},
                               api={"database_timeout": "5s"}, duration="3s"), seed=1).history
    commits = h.truth["commit_s"]
    assert not commits.between(1.0, 2.0, inclusive="neither").any()
    assert (commits >= 2.0).sum() > 0


def test_a_paused_service_notices_its_timeouts_only_when_it_resumes():
    faults = [{"kind": "pause", "node": "api", "start": 1.0, "end": 2.0}]
    h = simulator.run(scenario(faults, api={"database_timeout": "100ms"},
                               workload={"rate": 100, "timeout": "5s"}, duration="3s"),
                      seed=1).history
    # nothing completes while the service is paused, and it answers again after
    done = h.ops["complete_s"]
    assert not done.between(1.0 + 2 * L, 2.0, inclusive="neither").any()
    assert (h.ops[h.ops["invoke_s"].between(1.1, 1.9)]["status"] == "ok").all()


def test_a_crash_during_a_pause_loses_what_the_node_was_holding():
    faults = [{"kind": "pause", "node": "db-primary", "start": 1.0, "end": 5.0},
              {"kind": "crash", "node": "db-primary", "start": 2.0, "end": 3.0}]
    h = simulator.run(scenario(faults, workload={"rate": 50, "read_fraction": 0.0},
                               api={"database_timeout": "10s"}, duration="6s"),
                      seed=1).history
    writes = h.ops[(h.ops["op"] == "write") & h.ops["invoke_s"].between(1.05, 1.9)]
    assert len(writes) > 5
    assert not writes["index"].isin(h.truth["writer"]).any()  # lost with the crash


@pytest.mark.parametrize("fault, words", [
    ({"kind": "partition", "shape": "halves", "among": "db-primary", "start": 1, "end": 2},
     "at least 2 nodes"),
    ({"kind": "partition", "isolate": "db", "among": "db", "start": 1, "end": 2},
     "'among' goes with 'shape'"),
])
def test_shapes_that_would_cut_nothing_are_refused(fault, words):
    with pytest.raises(simulator.ScenarioError, match=words):
        load(copy.deepcopy(scenario([fault], db={"replicas": 2})))
