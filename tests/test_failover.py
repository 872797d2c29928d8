"""Failover: promotion by a monitor, lost writes, split brain and lease fencing."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from conftest import make_history

import simulator
from simulator.analysis import lost_writes, stale_reads, windows
from simulator.errors import ScenarioError
from simulator.history import load as load_history, save as save_history
from simulator.scenario import load
from simulator.world import World

AFTER, HEARTBEAT = 1.0, 0.25
START, END = 2.0, 5.0


def scenario(db=None, faults=(), instances=2, duration="8s", **workload):
    """A primary, two replicas and a monitor behind a service of ``instances`` nodes."""
    return {
        "name": "failover-test",
        "duration": duration,
        "network": {"latency": 0.0005},
        "components": {
            "db": {"kind": "database", "replicas": 2, "disk_write": 0.002, "read_time": 0,
                   "failover": {"after": AFTER, "heartbeat": HEARTBEAT}, **(db or {})},
            "api": {"kind": "service", "instances": instances, "workers": 64,
                    "service_time": 0, "database": "db", "database_timeout": "300ms"},
        },
        "workload": {"target": "api", "rate": 200, "read_fraction": 0.5, "keys": 20,
                     "timeout": "1s", **workload},
        "faults": list(faults),
    }


def cut_off_primary(*with_it):
    """The primary (and ``with_it``) cut off from its replicas and the monitor."""
    return {"kind": "partition", "start": START, "end": END,
            "groups": [["db-primary", *with_it], ["db-replica-1", "db-replica-2", "db-monitor"]]}


def run(data, seed=1):
    world = World(load(copy.deepcopy(data)), seed)
    history = world.run()
    return world, history


def promotions(history):
    events = history.events
    return events[events["event"] == "promoted"]


# --- promotion ------------------------------------------------------------------------

def test_a_crashed_primary_is_replaced_after_the_failover_delay():
    crash = {"kind": "crash", "node": "db-primary", "start": START, "end": END}
    world, h = run(scenario(faults=[crash]))
    promoted = promotions(h)
    assert len(promoted) == 1
    at = promoted["time_s"].iloc[0]
    # The last answer came just before the crash; the monitor acts at the first
    # round at least `after` later (rounds every heartbeat).
    assert START + AFTER - HEARTBEAT <= at <= START + AFTER + HEARTBEAT + 0.01
    new = promoted["node"].iloc[0]
    assert new in ("db-replica-1", "db-replica-2")
    # Writes acknowledged after the callers heard of it come from the new primary.
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    later = writes[writes["invoke_s"] > at + HEARTBEAT + 0.01]
    assert len(later) > 100 and (later["served_by"] == new).all()
    # Nothing was lost: every commit was shipped before the crash and in flight
    # messages are delivered, long before the promotion.
    assert lost_writes(h).empty and h.truth["lost_s"].isna().all()
    # The old primary came back, heard it was replaced, and rejoined as a replica.
    events = h.events.set_index("event")
    assert events.loc["step-down", "node"] == "db-primary"
    old = world.network.nodes["db-primary"]
    assert old.role == "replica" and old.term == 2 and old.synced
    assert old.held == world.network.nodes[new].held


def test_writes_fail_until_the_callers_hear_of_the_new_primary():
    crash = {"kind": "crash", "node": "db-primary", "start": START, "end": END}
    _, h = run(scenario(faults=[crash]))
    at = promotions(h)["time_s"].iloc[0]
    writes = h.ops[h.ops["op"] == "write"]
    outage = writes[(writes["invoke_s"] > START + 0.01) & (writes["complete_s"] < at)]
    assert len(outage) > 20 and (outage["status"] != "ok").all()
    assert (h.ops[h.ops["invoke_s"] > at + HEARTBEAT + 0.01]["status"] == "ok").all()


def test_the_monitor_promotes_the_replica_that_holds_the_most():
    # replica-2 gets everything 50 ms late: replica-1 is ahead when the primary dies.
    data = scenario(faults=[{"kind": "crash", "node": "db-primary", "start": START,
                             "end": END}])
    data["network"]["links"] = [{"from": "db-primary", "to": "db-replica-2", "latency": "50ms"}]
    data["faults"][0]["start"] = START
    _, h = run(data)
    assert promotions(h)["node"].tolist() == ["db-replica-1"]


def test_no_promotion_without_failover_or_while_the_primary_answers():
    _, h = run(scenario())
    assert h.events.empty
    data = scenario(faults=[{"kind": "partition", "start": START, "end": END,
                             "isolate": "db-replica-1"}])
    _, h = run(data)
    assert promotions(h).empty


# --- lost writes ----------------------------------------------------------------------

def test_async_failover_loses_what_the_primary_acknowledged_while_cut_off():
    world, h = run(scenario(faults=[cut_off_primary()]))
    at = promotions(h)["time_s"].iloc[0]
    lost = lost_writes(h)
    assert len(lost) > 50 and (lost["served_by"] == "db-primary").all()
    # What the old primary committed after the cut (nothing could reach a
    # replica any more) and before the promotion is lost at the promotion...
    failover = lost[lost["how"] == "failover"]
    assert (failover["commit_s"] >= START).all() and (failover["commit_s"] <= at).all()
    assert np.allclose(failover["lost_s"], at)
    # ...and what it accepted after that, until the callers heard of the
    # promotion (told in the same round, some of them before the promoted
    # replica), is lost the moment it commits.
    late = lost[lost["how"] == "replaced primary"]
    assert (late["commit_s"] > at).all() and (late["commit_s"] < at + HEARTBEAT + 0.01).all()
    assert np.allclose(late["lost_s"], late["commit_s"])
    ok = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    expected = ok[(ok["served_by"] == "db-primary") & (ok["invoke_s"] > START + 0.001)
                  & (ok["complete_s"] < at)]
    assert set(expected["index"]) <= set(lost["index"])
    # Every other acknowledged write survived: it is in the truth, not lost.
    kept = ok[~ok["index"].isin(lost["index"])]
    surviving = h.truth[h.truth["lost_s"].isna()]
    assert set(kept["index"]) <= set(surviving["writer"])
    # Reads of the lost versions, served by the old primary meanwhile, are phantoms.
    stale = stale_reads(h)
    phantoms = stale[stale["phantom"]]
    assert len(phantoms) > 0 and (phantoms["served_by"] == "db-primary").all()
    # The summary counts them, and the phases put them where they were invoked.
    summary = simulator.analyse(h).summary
    by_phase = {p["name"]: p["lost_writes"] for p in summary["phases"]}
    assert by_phase["overall"] == by_phase["during partition-1"] == len(lost)
    assert by_phase["before partition-1"] == by_phase["after partition-1"] == 0
    assert summary["writes"]["lost"] == len(lost)
    assert summary["writes"]["lost_by_how"] == {
        "failover": len(failover), **({"replaced primary": len(late)} if len(late) else {})}


def test_semi_sync_with_an_ordered_log_loses_no_acknowledged_write():
    db = {"replication": "semi-sync", "acks": 1, "applier": "single"}
    _, h = run(scenario(db=db, faults=[cut_off_primary()]))
    assert len(promotions(h)) == 1
    assert lost_writes(h).empty
    # The writes of the cut-off time did not complete: the client does not know.
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["invoke_s"].between(START + 0.01, START + AFTER))]
    assert len(writes) > 20 and (writes["status"] == "info").all()


def test_the_old_primary_rejoins_and_its_lost_versions_are_gone():
    world, h = run(scenario(faults=[cut_off_primary()]))
    old, new = world.network.nodes["db-primary"], world.network.nodes["db-replica-1"]
    assert old.held == new.held
    resync = h.copies[(h.copies["copy"] == "db-primary") & (h.copies["change"] == "resync")]
    assert len(resync) > 0 and (resync["time_s"] >= END).all()
    w = windows(h)
    mine = w[w["copy"] == "db-primary"]
    # It held versions nobody else has (phantom) from the cut until its resync.
    assert (mine["kind"] == "phantom").any()
    assert (mine.loc[mine["kind"] == "phantom", "end_s"] <= resync["time_s"].max() + 1e-9).all()
    assert not w["open"].any()


# --- split brain and fencing ----------------------------------------------------------

def test_split_brain_two_primaries_accept_writes_and_the_old_ones_are_lost():
    _, h = run(scenario(faults=[cut_off_primary("api-1")]))
    at = promotions(h)["time_s"].iloc[0]
    ok = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    during = ok[ok["invoke_s"].between(at + HEARTBEAT + 0.01, END - 0.01)]
    # api-1 cannot hear the monitor: it keeps the old primary; api-2 moved on.
    assert set(during.loc[during["node"] == "api-1", "served_by"]) == {"db-primary"}
    assert set(during.loc[during["node"] == "api-2", "served_by"]) == {"db-replica-1"}
    lost = lost_writes(h)
    replaced = lost[lost["how"] == "replaced primary"]
    assert set(during.loc[during["node"] == "api-1", "index"]) <= set(replaced["index"])
    assert (replaced["commit_s"] > at).all() and (replaced["served_by"] == "db-primary").all()
    # api-2's writes to it stopped when the monitor's next round reached api-2.
    from_api2 = replaced[replaced["index"].isin(ok.loc[ok["node"] == "api-2", "index"])]
    assert (from_api2["invoke_s"] < at + HEARTBEAT + 0.01).all()
    # Readers at the old primary missed the new primary's writes: stale reads.
    stale = stale_reads(h)
    assert stale.loc[stale["served_by"] == "db-primary", "stale"].sum() > 0


def test_a_lease_fenced_primary_refuses_writes_before_anyone_is_promoted():
    db = {"failover": {"after": AFTER, "heartbeat": HEARTBEAT, "fencing": "lease"}}
    _, h = run(scenario(db=db, faults=[cut_off_primary("api-1")]))
    at = promotions(h)["time_s"].iloc[0]
    lost = lost_writes(h)
    assert len(lost) > 0 and (lost["how"] == "failover").all()  # only the async tail
    commits = h.truth.merge(h.ops[["index", "served_by"]], left_on="writer", right_on="index")
    assert (commits.loc[commits["served_by"] == "db-primary", "commit_s"] < at).all()
    fenced = h.ops[h.ops["error"].str.contains("fenced")]
    assert len(fenced) > 50 and (fenced["status"] == "fail").all()
    # from the end of the last lease (granted at the last round the primary could
    # still answer), less a write's way to the disk
    assert (fenced["invoke_s"] >= START + AFTER - HEARTBEAT - 0.01).all()
    assert (fenced["invoke_s"] <= END + HEARTBEAT).all()


# --- the scenario file ----------------------------------------------------------------

def test_failover_needs_a_replica():
    data = scenario(db={"replicas": 0})
    with pytest.raises(ScenarioError, match="at least one replica"):
        load(data)


def test_the_monitor_is_a_node_faults_can_name():
    data = scenario(faults=[{"kind": "crash", "node": "db-monitor", "start": 0.5,
                             "end": 1.0},
                            {"kind": "crash", "node": "db-primary", "start": START,
                             "end": END}])
    world, h = run(data)
    assert len(promotions(h)) == 1  # a monitor that came back still watches
    data = scenario(faults=[{"kind": "crash", "node": "db-monitor", "start": 0.5, "end": 7},
                            {"kind": "crash", "node": "db-primary", "start": START,
                             "end": END}])
    _, h = run(data)
    assert promotions(h).empty  # nobody watching: nobody promoted


def test_a_monitor_paused_then_crashed_goes_on_with_its_rounds_after_the_restart():
    # Its round fell due during the pause and the crash dropped it with the rest
    # of the pause's backlog: the monitor used to fall silent for good.
    data = scenario(faults=[{"kind": "pause", "node": "db-monitor", "start": 0.3, "end": 1.5},
                            {"kind": "crash", "node": "db-monitor", "start": 0.6, "end": 1.0},
                            {"kind": "crash", "node": "db-primary", "start": START,
                             "end": END}])
    world, h = run(data)
    promoted = promotions(h)
    assert len(promoted) == 1
    assert START + AFTER - HEARTBEAT <= promoted["time_s"].iloc[0] <= START + AFTER \
        + HEARTBEAT + 0.01
    # Rounds, one a heartbeat, resumed with the pause: none was lost and none doubled
    # (one round from 1.5 s on, at most one more for the round at the pause's end).
    monitor = world.network.nodes["db-monitor"]
    rounds_since = (world.end - 1.5) / HEARTBEAT
    assert rounds_since <= monitor.round - 1 <= rounds_since + 2


def test_a_restarted_monitor_keeps_its_grid_of_rounds():
    # Down from 0.5 s (the crash comes before that instant's round) to 1.03 s: its
    # next round is the one due at 1.25 s, on the grid it kept since time 0, not
    # one at the restart.
    data = scenario(faults=[{"kind": "crash", "node": "db-monitor", "start": 0.5,
                             "end": 1.03}])
    world = World(load(copy.deepcopy(data)), 1)
    pings = []
    request = world.network.request
    world.network.request = lambda src, dst, method, *rest: (
        method == "ping" and pings.append(world.sim.now), request(src, dst, method, *rest))[1]
    world.run()
    rounds = sorted(set(pings))
    assert all(abs(t / HEARTBEAT - round(t / HEARTBEAT)) < 1e-6 for t in rounds)
    assert [t for t in rounds if 0.3 < t < 1.3] == pytest.approx([1.25])


def test_the_bundled_failover_scenarios_tell_their_story():
    root = __import__("pathlib").Path(__file__).resolve().parent.parent / "scenarios"
    async_run = simulator.run(root / "failover.yaml")
    assert async_run.summary["writes"]["lost"] > 0
    semi = simulator.run(root / "failover.yaml", 
                         overrides=["components.db.replication=semi-sync"])
    assert semi.summary["writes"]["lost"] == 0
    split = simulator.run(root / "split-brain.yaml")
    fenced = simulator.run(root / "split-brain.yaml", 
                           overrides=["components.db.failover.fencing=lease"])
    assert split.summary["writes"]["lost_by_how"]["replaced primary"] > 0
    assert "replaced primary" not in fenced.summary["writes"]["lost_by_how"]
    assert fenced.summary["availability"] < split.summary["availability"]


# --- the analysis on hand-written histories -------------------------------------------

def test_lost_writes_by_how_they_were_lost():
    h = make_history(
        ops=[("write", 0, 1.0, 1.1, "ok", 1),     # 0: survives
             ("write", 0, 2.0, 2.1, "ok", 2),     # 1: committed, lost at a promotion
             ("write", 0, 3.0, 3.1, "ok", 3),     # 2: committed by a replaced primary
             ("write", 0, 4.0, 4.1, "ok", -1),    # 3: acknowledged, never committed
             ("write", 0, 5.0, 5.1, "info", -1)],  # 4: unknown: never a lost write
        truth=[(0, 1, 1.05, float("nan"), 0), (0, 2, 2.05, 2.5, 1, "failover"),
               (0, 3, 3.05, 3.05, 2, "replaced primary")])
    lost = lost_writes(h)
    assert lost["index"].tolist() == [1, 2, 3]
    assert lost["how"].tolist() == ["failover", "replaced primary", "never committed"]
    assert lost["lost_s"].iloc[0] == 2.5 and math.isnan(lost["lost_s"].iloc[2])


def test_lost_writes_matched_by_version_when_the_truth_has_no_writers():
    h = make_history(ops=[("write", 0, 1.0, 1.1, "ok", 1), ("write", 0, 2.0, 2.1, "ok", 2)],
                     truth=[(0, 1, 1.05), (0, 2, 2.05, 3.0)])
    assert lost_writes(h)["index"].tolist() == [1]


def test_lost_writes_matched_by_version_where_no_truth_row_names_the_writer():
    # a history that names some writers and not others (hand-made or imported):
    # the unnamed ones are matched by version, not all called never committed
    nan = float("nan")
    h = make_history(ops=[("write", 0, 1.0, 1.1, "ok", 1), ("write", 0, 2.0, 2.1, "ok", 2),
                          ("write", 0, 3.0, 3.1, "ok", 3), ("write", 0, 4.0, 4.1, "ok", 4)],
                     truth=[(0, 1, 1.05, nan, 0), (0, 2, 2.05, nan, -1),
                            (0, 3, 3.05, 3.5, -1, "failover"),
                            (0, 4, 4.05, nan, 9)])  # names another writer: not write 3's
    lost = lost_writes(h)
    assert lost["index"].tolist() == [2, 3]
    assert lost["how"].tolist() == ["failover", "never committed"]
    # an unnamed version recorded twice (an import) survived if either row did
    h.truth.loc[len(h.truth)] = [0, 3, 3.05, "db-primary", -1, nan, ""]
    assert lost_writes(h)["index"].tolist() == [3]


def test_reads_are_held_against_the_surviving_truth_only():
    h = make_history(
        ops=[("read", 0, 4.0, 4.1, "ok", 2),   # a lost version: phantom
             ("read", 0, 4.0, 4.1, "ok", 1)],  # the newest surviving version: not stale
        truth=[(0, 1, 1.0), (0, 2, 2.0, 3.0)])
    table = stale_reads(h)
    assert table["phantom"].tolist() == [True, False]
    assert table["stale"].tolist() == [False, False]


def test_lost_versions_and_events_survive_a_save_and_load(tmp_path):
    _, h = run(scenario(faults=[cut_off_primary()]), seed=3)
    save_history(h, tmp_path)
    again = load_history(tmp_path)
    assert again.truth["lost_s"].notna().sum() == h.truth["lost_s"].notna().sum() > 0
    assert again.events.equals(h.events)
    assert lost_writes(again).equals(lost_writes(h))
    (tmp_path / "events.csv").unlink()  # a folder written before events existed
    assert load_history(tmp_path).events.empty


def test_a_duplicated_write_survives_if_one_of_its_versions_did():
    h = make_history(ops=[("write", 0, 1.0, 1.1, "ok", 1)],
                     truth=[(0, 1, 1.05, float("nan"), 0), (0, 2, 1.06, 2.0, 0, "failover")])
    assert lost_writes(h).empty


# --- regressions found in review ------------------------------------------------------

def _small(store, faults, **workload):
    return {"name": "failover-review", "duration": 3.0,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"}},
            "components": {"store": {"kind": "database", "replicas": 1,
                                     "disk_write": {"dist": "exponential", "mean": "2ms"},
                                     "failover": {"after": 0.2, "heartbeat": 0.1}, **store}},
            "workload": {"target": "store", "rate": 200, "keys": 1, "read_fraction": 0.0,
                         "timeout": 0.5, **workload},
            "faults": faults}


def test_a_lost_promotion_message_leaves_monitor_and_database_agreeing():
    # The promotion used to be a request whose lost reply left the monitor on the
    # old term while the database had moved on: most writes were reported lost.
    data = _small({}, [{"kind": "partition", "start": 0.8, "duration": 0.5,
                        "isolate": "store-primary"}])
    data["network"]["loss"] = 0.05
    world, h = run(data, seed=6495)
    monitor, store = world.network.nodes["store-monitor"], world.components["store"]
    assert monitor.term == store.term == 2
    assert world.network.nodes[monitor.primary].role == "primary"
    lost = lost_writes(h)
    assert (lost["how"] == "failover").all() and (lost["invoke_s"] < 1.3).all()


@pytest.mark.parametrize("fault", [
    {"kind": "partition", "start": START, "end": END,
     "one_way": {"from": ["db-primary"], "to": ["db-monitor", "db-replica-1", "db-replica-2"]}},
    {"kind": "pause", "node": "db-primary", "start": START, "end": START + AFTER + 0.1},
], ids=["one-way-partition", "pause"])
def test_lease_fencing_holds_when_pings_still_arrive_or_arrive_late(fault):
    # Pings that reached a primary whose answers were lost, or that it handled
    # late after a pause, used to renew its lease past the promotion.
    db = {"failover": {"after": AFTER, "heartbeat": HEARTBEAT, "fencing": "lease"}}
    _, h = run(scenario(db=db, faults=[fault]))
    assert len(promotions(h)) >= 1
    assert "replaced primary" not in set(lost_writes(h)["how"])
    assert (h.truth["lost_how"] != "replaced primary").all()


def test_a_promotion_commits_the_waiting_writes_its_newest_version_supersedes():
    # sync: v(n) still waited for acks while the promoted replica held v(n+1);
    # v(n) must commit at the promotion too, not be lost later at the old primary
    data = {"name": "review", "duration": 3.0,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"}},
            "components": {"store": {"kind": "database", "replicas": 3, "replication": "sync",
                                     "applier": "single", "read_from": "replica",
                                     "session": "read-your-writes",
                                     "disk_write": {"dist": "exponential", "mean": "2ms"},
                                     "failover": {"after": 0.2, "heartbeat": 0.1,
                                                  "fencing": "lease"}},
                           "api": {"kind": "service", "instances": 3, "workers": 1,
                                   "database": "store", "local_cache_ttl": 0.2}},
            "workload": {"target": "api", "rate": 200, "keys": 3, "read_fraction": 0.5,
                         "timeout": 0.5},
            "faults": [{"kind": "degrade", "start": 1.5, "duration": 0.5, "to": "store-primary",
                        "latency": "20ms", "loss": 0.2}]}
    world, h = run(data, seed=3441113765)
    surviving = h.truth[h.truth["lost_s"].isna()]
    for _, mine in surviving.groupby("key"):
        assert mine.sort_values("commit_s")["version"].is_monotonic_increasing
    lost = h.truth[h.truth["lost_s"].notna()]
    # nothing below a surviving version of its key is lost
    for row in lost.itertuples(index=False):
        later = surviving[(surviving["key"] == row.key) & (surviving["version"] > row.version)
                          & (surviving["commit_s"] <= row.lost_s)]
        assert later.empty or row.lost_how == "failover", row


def test_a_duplicated_sync_request_does_not_count_an_ack_twice():
    from simulator.network import Message
    world = World(load(copy.deepcopy(scenario(db={"replication": "sync"}))), 1)
    primary = world.network.nodes["db-primary"]
    primary.acked["db-replica-1"] = {0: 5}
    primary.held = {0: 3}
    message = Message("db-replica-1", "db-primary", "sync", 1, None, primary, [])
    primary.on_sync(message)
    assert primary.acked["db-replica-1"] == {0: 5}


def test_a_resend_alarm_from_an_earlier_leadership_does_nothing():
    world = World(load(copy.deepcopy(scenario())), 1)
    node = world.network.nodes["db-primary"]
    node._learn(2, "db-replica-1")  # replaced...
    node._promote(3)                # ...and promoted again, under a newer term
    node.unacked["db-replica-1"].append((0.0, 0, 5, node.epoch))
    shipped = []
    node._ship = lambda replica, key, version: shipped.append((replica, key, version))
    node.resend_due["db-replica-1"] = 0.0
    node._resend(("db-replica-1", 1, node.epoch, 0.0))  # armed while it led term 1
    assert shipped == []
    node._resend(("db-replica-1", 3, node.epoch - 1, 0.0))  # armed before a crash
    assert shipped == []
    node._resend(("db-replica-1", 3, node.epoch, 0.1))  # replaced by an earlier alarm
    assert shipped == []
    node._resend(("db-replica-1", 3, node.epoch, 0.0))
    assert shipped == [("db-replica-1", 0, 5)]
