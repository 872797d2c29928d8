"""The database: versions and commits at the primary, sync and async replication, crashes."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.engine import Flow, Waiting
from simulator.network import CRASHED
from simulator.scenario import load
from simulator.world import World

L = 0.001   # one-way network latency (constant)
D = 0.002   # disk write (constant)


def scenario(db=None, api=None, workload=None, faults=(), duration="3s", latency=L):
    """A small scenario: database ``db`` behind one service ``api``, no cache."""
    return {
        "name": "db-test",
        "duration": duration,
        "network": {"latency": latency},
        "components": {
            "db": {"kind": "database", "disk_write": D, "read_time": 0, **(db or {})},
            "api": {"kind": "service", "instances": 1, "workers": 64, "service_time": 0,
                    "database": "db", **(api or {})},
        },
        "workload": {"target": "api", "rate": 100, "read_fraction": 0.5, "keys": 3,
                     "timeout": "1s", **(workload or {})},
        "faults": list(faults),
    }


def world_of(data, seed=1) -> World:
    return World(load(copy.deepcopy(data)), seed)


def held_at(copies: pd.DataFrame, replica: str, key: int, time: float) -> int:
    """What ``replica`` held for ``key`` at ``time`` according to the copies table."""
    rows = copies[(copies["copy"] == replica) & (copies["key"] == key) & (copies["time_s"] <= time)]
    return int(rows["version"].iloc[-1]) if len(rows) else 0


def run_script(world, script, until):
    """Run a generator ``script(net)`` of calls from the client node; return what it logs."""
    log = []
    world.sim.process(script(world.network, log))
    world.sim.run(until)
    return log


# --- versions and truth ----------------------------------------------------------------------

def test_versions_per_key_are_consecutive_and_increase_with_commit_time():
    # A very variable disk: writes finish out of order, yet versions follow commit order.
    data = scenario(db={"disk_write": {"dist": "lognormal", "median": "2ms", "sigma": 1.5}},
                    workload={"rate": 300, "read_fraction": 0.2, "keys": 2})
    h = simulator.run(data, seed=3).history
    truth = h.truth
    assert len(truth) > 100
    assert set(truth["source"]) == {"db"}
    for _, rows in truth.groupby("key"):
        assert list(rows["version"]) == list(range(1, len(rows) + 1))
        assert rows["commit_s"].is_monotonic_increasing
    # Every ok write reports a version the truth committed, before the client learned of it.
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    merged = writes.merge(truth, on=["key", "version"], how="left", validate="one_to_one")
    assert merged["commit_s"].notna().all()
    assert (merged["commit_s"] < merged["complete_s"]).all()
    assert (merged["served_by"] == "db-primary").all()
    # And the truth names the operation that wrote each version.
    assert (merged["writer"] == merged["index"]).all()


def test_async_write_latency_is_one_disk_and_four_hops():
    h = simulator.run(scenario(db={"replicas": 1}), seed=1).history
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert len(writes) > 20
    # client->api, api->primary, disk, primary->api, api->client
    assert np.allclose(writes["complete_s"] - writes["invoke_s"], 4 * L + D)


# --- async replication -----------------------------------------------------------------------

def test_async_replica_applies_after_commit_exactly_one_hop_and_one_disk_later():
    h = simulator.run(scenario(db={"replicas": 1}), seed=2).history
    applies = h.copies[h.copies["copy"] == "db-replica-1"]
    assert set(applies["change"]) == {"apply"}
    merged = h.truth.merge(applies, on=["key", "version"], how="left")
    # Constant latencies: every version reaches the replica, one hop and one disk after commit.
    assert merged["time_s"].notna().all()
    assert np.allclose(merged["time_s"] - merged["commit_s"], L + D)


def test_async_replica_with_random_latency_never_goes_back_and_catches_up():
    data = scenario(db={"replicas": 2, "disk_write": {"dist": "exponential", "mean": "2ms"}},
                    latency={"dist": "exponential", "mean": "3ms"},
                    workload={"rate": 400, "read_fraction": 0.2, "keys": 2})
    h = simulator.run(data, seed=5).history
    truth = h.truth.set_index(["key", "version"])["commit_s"]
    skipped = 0
    for replica in ("db-replica-1", "db-replica-2"):
        applies = h.copies[h.copies["copy"] == replica]
        assert len(applies) > 50
        for key, rows in applies.groupby("key"):
            # Applied versions only grow (an older one arriving late is ignored)...
            assert rows["version"].is_monotonic_increasing and rows["version"].is_unique
            # ...each after its commit...
            commits = truth.loc[[(key, v) for v in rows["version"]]].to_numpy()
            assert (rows["time_s"].to_numpy() > commits).all()
            # ...and the replica ends with the latest committed version.
            assert rows["version"].iloc[-1] == h.truth[h.truth["key"] == key]["version"].max()
            skipped += h.truth[h.truth["key"] == key]["version"].max() - len(rows)
    # Reordering did happen: some versions were overtaken and never applied on their own.
    assert skipped > 0


def test_replica_ignores_an_older_version_that_arrives_after_a_newer_one():
    world = world_of(scenario(db={"replicas": 1}))
    net, replica = world.network, world.network.nodes["db-replica-1"]
    net.send("db-primary", "db-replica-1", "apply", (0, 3, 1))
    world.sim.after(0.0005, lambda _: net.send("db-primary", "db-replica-1", "apply", (0, 2, 1)))
    world.sim.run(0.1)
    assert replica.held == {0: 3}
    copies = world.sim.record.history({}).copies
    assert list(zip(copies["version"], copies["change"])) == [(3, "apply")]
    # Both were acknowledged to the primary, the newer one counts.
    assert world.network.nodes["db-primary"].acked["db-replica-1"] == {0: 3}


def test_partitioned_replica_catches_up_after_the_heal_through_retries():
    retry = 0.2
    start, end = 1.0, 2.0
    # The workload stops when the partition heals: only retries can bring the replica up to date.
    data = scenario(db={"replicas": 1, "replication_retry": retry}, duration=f"{end}s",
                    workload={"rate": 100, "read_fraction": 0.0, "keys": 3},
                    faults=[{"kind": "partition", "isolate": "db-replica-1",
                             "start": start, "end": end}])
    h = simulator.run(data, seed=4).history
    applies = h.copies[h.copies["copy"] == "db-replica-1"]
    # Nothing reaches the replica during the partition (beyond what was already in flight).
    assert not ((applies["time_s"] > start + L + D) & (applies["time_s"] < end)).any()
    during = h.truth[(h.truth["commit_s"] > start) & (h.truth["commit_s"] < end)]
    assert len(during) > 20
    for key, rows in h.truth.groupby("key"):
        latest = rows["version"].max()
        got = applies[(applies["key"] == key) & (applies["version"] == latest)]
        assert len(got) == 1
        if latest in set(during[during["key"] == key]["version"]):
            # Applied after the heal, within one retry period plus a probe's round
            # trip (hop, disk, hop) and the resend's hop and disk.
            assert end <= got["time_s"].iloc[0] <= end + retry + 3 * L + 2 * D + 1e-9


@pytest.mark.parametrize("cut", [{"isolate": "db-replica-1"},
                                 {"one_way": {"from": "db-replica-1", "to": "db-primary"}}],
                         ids=["isolated", "acks-lost"])
def test_a_silent_replica_costs_one_message_a_retry_however_much_waits(cut):
    # Cut off, or with its acknowledgements lost, the replica answers nothing: the
    # primary sends only its oldest unacknowledged entry again, once a retry (not
    # every entry every retry: that cost the square of the partition's length).
    # The first acknowledgement after the heal sends everything due at once.
    retry, start, end = 0.2, 1.0, 21.0
    # the workload stops at the heal: no newer write supersedes an entry after it
    data = scenario(db={"replicas": 1, "replication_retry": retry}, duration=f"{end}s",
                    workload={"rate": 100, "read_fraction": 0.0, "keys": 50},
                    faults=[{"kind": "partition", "start": start, "end": end, **cut}])
    world = world_of(data, seed=3)
    net = world.network
    applies = []  # (time, (key, version)) of every entry the primary sends
    send = net.send
    net.send = lambda src, dst, method, args=None, *rest: (
        method == "apply" and applies.append((world.sim.now, args[:2])),
        send(src, dst, method, args, *rest))[1]
    h = world.run()
    during = h.truth[(h.truth["commit_s"] > start) & (h.truth["commit_s"] < end)]
    assert len(during) > 1500
    seen, again = set(), 0  # entries sent before; sends in the partition of one of them
    for t, entry in applies:
        again += start < t < end and entry in seen
        seen.add(entry)
    assert again <= (end - start) / retry + 2
    assert sum(start < t < end for t, _ in applies) <= len(during) + (end - start) / retry + 2
    # every entry is acknowledged in the end: the replica holds every latest version
    copies = h.copies[h.copies["copy"] == "db-replica-1"]
    for key, rows in h.truth.groupby("key"):
        assert held_at(copies, "db-replica-1", key, end + 1) == rows["version"].max()
    # what waited was sent again after the heal: the probe at the first check,
    # the rest on its acknowledgement (a round trip and a disk write later)
    after = sorted({t for t, entry in applies if t >= end})
    assert after and after[0] <= end + retry + 1e-9
    assert len(after) >= 2 and after[1] <= after[0] + 2 * L + D + 1e-9


@pytest.mark.parametrize("applier", ["parallel", "single"])
def test_sync_writes_held_by_a_silent_replica_commit_once_the_probe_is_answered(applier):
    # Sync replication: every write made while the replica is cut off waits for
    # its acknowledgement.  The primary only probes the silent replica; the
    # probe's acknowledgement after the heal sends everything due, and the
    # waiting writes commit then, in version order, with none left pending.
    retry, start, end = 0.2, 1.0, 4.0
    data = scenario(db={"replicas": 1, "replication": "sync", "replication_retry": retry,
                        "applier": applier},
                    duration=f"{end}s", api={"database_timeout": "10s", "workers": 1000},
                    workload={"rate": 100, "read_fraction": 0.0, "keys": 20, "timeout": "10s"},
                    faults=[{"kind": "partition", "isolate": "db-replica-1",
                             "start": start, "end": end}])
    world = world_of(data, seed=2)
    primary = world.network.nodes["db-primary"]
    h = world.run()
    held_back = h.truth[h.truth["commit_s"] > end]
    assert len(held_back) > 200  # three seconds of writes waited for the heal
    assert not h.truth["commit_s"].between(start + 2 * L + 2 * D, end).any()
    # The probe goes at the first check after the heal, and its write commits a
    # round trip and a disk write later.  Its acknowledgement sends at once every
    # entry due by then; the ones shipped less than a retry before it go when
    # they fall due, not at the next probe's time.  The replica writes them in
    # parallel or, single, one at a time.
    probed = held_back["commit_s"].min()
    assert probed <= end + retry + 2 * L + D + 1e-9
    shipped = h.ops.set_index("index").loc[held_back["writer"], "invoke_s"].to_numpy() \
        + 2 * L + D  # client -> api -> primary, its disk
    assert (shipped + retry > probed).sum() >= 5  # some were not due yet at the heal
    disks = 1 if applier == "parallel" else len(held_back) - 1
    bound = np.maximum(probed, shipped + retry) + 2 * L + disks * D + 1e-9
    assert (held_back["commit_s"].to_numpy() <= bound).all()
    for _, rows in held_back.groupby("key"):
        assert rows.sort_values("version")["commit_s"].is_monotonic_increasing
    assert not any(primary.pending.values())
    ops = h.ops[h.ops["op"] == "write"]
    assert (ops["status"] == "ok").all()
    replica = h.copies[h.copies["copy"] == "db-replica-1"]
    for key, rows in h.truth.groupby("key"):
        assert held_at(replica, "db-replica-1", key, bound.max()) == rows["version"].max()


def test_a_primary_paused_then_crashed_still_sends_again_what_a_replica_missed():
    # The resend alarm fell due while the primary was paused, and the crash dropped
    # it with the rest of the pause's backlog: the primary used to believe an alarm
    # was still set and never sent anything again to that replica.  The workload
    # stops at 6 s; what the replica missed while cut off (5-6 s) is sent again.
    data = scenario(db={"replicas": 1, "replication_retry": "100ms"}, duration="6s",
                    workload={"rate": 50, "read_fraction": 0.0, "keys": 5, "timeout": "6s"},
                    faults=[{"kind": "pause", "node": "db-primary", "start": 2.1, "end": 4.0},
                            {"kind": "crash", "node": "db-primary", "start": 3.0, "end": 3.5},
                            {"kind": "partition", "isolate": "db-replica-1", "start": 5.0,
                             "end": 6.0}])
    h = simulator.run(data, seed=1).history
    assert len(h.truth[h.truth["commit_s"].between(5.0, 6.0)]) > 20
    for key, rows in h.truth.groupby("key"):
        assert held_at(h.copies, "db-replica-1", key, 7.0) == rows["version"].max()


# --- sync replication ------------------------------------------------------------------------

def test_sync_commit_happens_after_every_replica_applied():
    data = scenario(db={"replicas": 2, "replication": "sync",
                        "disk_write": {"dist": "exponential", "mean": "2ms"}},
                    latency={"dist": "exponential", "mean": "1ms"},
                    workload={"rate": 300, "read_fraction": 0.3, "keys": 2})
    h = simulator.run(data, seed=6).history
    assert len(h.truth) > 100
    for replica in ("db-replica-1", "db-replica-2"):
        applies = h.copies[h.copies["copy"] == replica]
        for row in h.truth.itertuples():
            # The replica already held this version (or a newer one) when it committed.
            assert held_at(applies, replica, row.key, row.commit_s) >= row.version
        # The apply of each version (when it was applied) strictly precedes its commit.
        merged = applies.merge(h.truth, on=["key", "version"])
        assert (merged["time_s"] < merged["commit_s"]).all()


def test_sync_write_latency_includes_the_replica_round_trip():
    h = simulator.run(scenario(db={"replicas": 1, "replication": "sync"}), seed=1).history
    writes = h.ops[(h.ops["op"] == "write") & (h.ops["status"] == "ok")]
    assert len(writes) > 20
    # The async path (4 hops + a disk) plus primary->replica, replica disk, ack.
    assert np.allclose(writes["complete_s"] - writes["invoke_s"], 6 * L + 2 * D)
    applies = h.copies[h.copies["copy"] == "db-replica-1"].merge(h.truth, on=["key", "version"])
    assert np.allclose(applies["commit_s"] - applies["time_s"], L)


# --- crashes ---------------------------------------------------------------------------------

def test_primary_crash_keeps_committed_versions_and_loses_writes_in_flight():
    world = world_of(scenario(api={"database_timeout": "300ms"}))
    primary = world.network.nodes["db-primary"]
    api = world.components["api"]
    instance = world.network.nodes["api-1"]

    def write(log, what="write"):
        log.append((what, (yield from api.write(instance, 0))))

    # The service's request flows are generators driven by Flow: they yield a
    # number to sleep or a Waiting (a pending reply) to wait for.
    def script(log):
        for _ in range(3):
            yield from write(log)
        # A write reaches the primary, then the host crashes before its disk write is done.
        finished = Waiting()

        def in_flight():
            yield from write(log, "in-flight")
            world.sim.after(0.0, finished.then)

        Flow(world.sim).start(in_flight())
        yield L + D / 2
        primary.stop(CRASHED)
        yield finished
        log.append(("while-down", (yield from api.read(instance, 0))))
        primary.start()
        log.append(("read", (yield from api.read(instance, 0))))
        yield from write(log)

    log = []
    Flow(world.sim).start(script(log))
    world.sim.run(10.0)
    assert [what for what, _ in log] == ["write"] * 3 + ["in-flight", "while-down", "read",
                                                          "write"]
    assert dict(log)["in-flight"] == ("info", "database-timeout")
    assert dict(log)["while-down"] == ("fail", "database-timeout")
    assert dict(log)["read"] == ("ok", (3, "db-primary"))
    versions = [reply[1][0] for what, reply in log if what == "write"]
    assert versions == [1, 2, 3, 4]   # the lost write used no version
    truth = world.sim.record.history({}).truth
    assert list(truth["version"]) == [1, 2, 3, 4]
    assert primary.held == {0: 4}


def test_reads_after_a_primary_crash_return_what_was_committed_before_it():
    start, end = 1.0, 1.5
    data = scenario(workload={"rate": 200, "read_fraction": 0.5, "keys": 3},
                    api={"database_timeout": "100ms"},
                    faults=[{"kind": "crash", "node": "db", "start": start, "end": end}])
    h = simulator.run(data, seed=7).history
    ops, truth = h.ops, h.truth
    before = truth[truth["commit_s"] < start].groupby("key")["version"].max()
    assert len(before) == 3
    # Nothing commits while the primary is down.
    assert not ((truth["commit_s"] > start) & (truth["commit_s"] < end)).any()
    reads = ops[(ops["op"] == "read") & (ops["invoke_s"] > end) & (ops["status"] == "ok")]
    assert len(reads) > 50
    for key, rows in reads.groupby("key"):
        assert (rows["version"] >= before[key]).all()
    # More precisely, each read returns the latest version committed by the time the
    # primary served it: between the latest committed before its invoke and its completion.
    for row in reads.itertuples():
        of_key = truth[truth["key"] == row.key]
        assert of_key.loc[of_key["commit_s"] < row.invoke_s, "version"].max() <= row.version
        assert row.version <= of_key.loc[of_key["commit_s"] < row.complete_s, "version"].max()
    # Requests that reached the primary while it was down: reads fail, writes are unknown.
    down = ops[(ops["invoke_s"] > start + 0.01) & (ops["invoke_s"] < end - 0.2)]
    assert len(down) > 20
    assert set(down.loc[down["op"] == "read", "status"]) == {"fail"}
    assert set(down.loc[down["op"] == "write", "status"]) == {"info"}
    assert set(down["error"]) == {"database-timeout"}


def test_replica_crash_loses_nothing_it_applied_and_catches_up():
    data = scenario(db={"replicas": 1, "replication_retry": "100ms", "read_from": "replica"},
                    duration="2s", workload={"rate": 200, "read_fraction": 0.5, "keys": 2},
                    faults=[{"kind": "crash", "node": "db-replica-1", "start": 0.5, "end": 1.0}])
    h = simulator.run(data, seed=8).history
    applies = h.copies[h.copies["copy"] == "db-replica-1"]
    assert not ((applies["time_s"] > 0.5) & (applies["time_s"] < 1.0)).any()
    assert set(applies["change"]) == {"apply"}  # no 'crash' rows: the replica is durable
    reads = h.ops[(h.ops["op"] == "read") & (h.ops["status"] == "ok") & (h.ops["invoke_s"] > 1.0)]
    for row in reads.itertuples():
        # Never older than what it held just before the crash.
        assert row.version >= held_at(applies, "db-replica-1", row.key, 0.5)
    for key, rows in h.truth.groupby("key"):
        assert held_at(applies, "db-replica-1", key, 10.0) == rows["version"].max()


def test_sync_write_waits_for_a_partitioned_replica_and_commits_after_the_heal():
    start, end, retry = 0.5, 1.5, 0.1
    data = scenario(db={"replicas": 1, "replication": "sync", "replication_retry": retry},
                    api={"database_timeout": "200ms"}, duration="2s",
                    workload={"rate": 100, "read_fraction": 0.5},
                    faults=[{"kind": "partition", "isolate": "db-replica-1",
                             "start": start, "end": end}])
    h = simulator.run(data, seed=9).history
    ops, truth = h.ops, h.truth
    # Writes that reached the primary during the partition: the client gave up (info)...
    stuck = ops[(ops["op"] == "write") & (ops["invoke_s"] > start)
                & (ops["invoke_s"] < end - 0.25)]
    assert len(stuck) > 10
    assert set(stuck["status"]) == {"info"}
    assert set(stuck["error"]) == {"database-timeout"}
    # ...nothing committed while the replica was unreachable...
    assert not ((truth["commit_s"] > start + 4 * L + 2 * D) & (truth["commit_s"] < end)).any()
    # ...and they committed after the heal, within a retry (plus the replica round trip).
    late = truth[truth["commit_s"] >= end]
    assert len(late) >= len(stuck)
    first = late["commit_s"].min()
    assert first <= end + retry + 2 * L + D + 1e-9
    # Reads at the primary during the partition still answer (the old committed versions).
    reads = ops[(ops["op"] == "read") & (ops["invoke_s"] > start) & (ops["invoke_s"] < end - 0.25)]
    assert len(reads) > 10 and (reads["status"] == "ok").all()


# --- semi-synchronous replication, clients of the database itself ---------------------------

def _direct(db: dict, links: list, workload: dict | None = None) -> dict:
    return {"duration": "5s", "network": {"latency": "1ms", "links": links},
            "components": {"db": {"kind": "database", "disk_write": 0, "read_time": 0, **db}},
            "workload": {"target": "db", "rate": 50, "read_fraction": 0.0, "keys": 5,
                         **(workload or {})}}


def test_semi_sync_commits_after_the_kth_fastest_replica():
    # Replicas at 1 ms, 10 ms and 50 ms one way: with 2 acks the commit waits for the 10 ms one.
    links = [{"from": "db-primary", "to": f"db-replica-{i}", "latency": f"{ms}ms"}
             for i, ms in ((1, 1), (2, 10), (3, 50))]
    for acks, slowest in ((1, 0.001), (2, 0.010), (3, 0.050)):
        h = simulator.run(_direct({"replicas": 3, "replication": "semi-sync", "acks": acks},
                                  links), seed=1).history
        writes = h.ops[h.ops["status"] == "ok"]
        assert len(writes) > 100
        # client -> primary, the round trip to the acks-th replica, primary -> client
        assert np.allclose(writes["complete_s"] - writes["invoke_s"], 0.002 + 2 * slowest), acks
        assert (h.truth["source"] == "db").all()


def test_semi_sync_needs_no_more_acks_than_replicas():
    with pytest.raises(ScenarioError, match="only 2 replicas") as info:
        load(_direct({"replicas": 2, "replication": "semi-sync", "acks": 3}, []))
    assert info.value.path == ("components", "db", "acks")


def test_clients_of_the_database_read_where_read_from_says():
    data = _direct({"replicas": 2, "read_from": "replica"}, [],
                   {"read_fraction": 0.5, "rate": 200})
    ops = simulator.run(data, seed=2).history.ops
    reads = ops[(ops["op"] == "read") & (ops["status"] == "ok")]
    writes = ops[(ops["op"] == "write") & (ops["status"] == "ok")]
    assert set(reads["served_by"]) == {"db-replica-1", "db-replica-2"}
    assert set(writes["served_by"]) == {"db-primary"}
    assert (ops["node"] == "").all()  # no service instance in between


def _ryw_violations(ops) -> int:
    """Reads that returned an older version than their own process had written before."""
    count = 0
    ok = ops[ops["status"] == "ok"].sort_values("invoke_s")
    for _, mine in ok.groupby("process"):
        written: dict = {}
        for row in mine.itertuples():
            if row.op == "write":
                written[row.key] = max(written.get(row.key, 0), row.version)
            elif row.version < written.get(row.key, 0):
                count += 1
    return count


@pytest.mark.parametrize("through", ["db", "api"])
def test_read_your_writes_sessions_never_show_a_client_its_own_write_undone(through):
    data = {"duration": "20s",
            "network": {"latency": "1ms", "links": [
                {"from": "db-primary", "to": ["db-replica-1", "db-replica-2"],
                 "both_ways": False, "latency": {"dist": "exponential", "mean": "100ms"}}]},
            "components": {"db": {"kind": "database", "replicas": 2, "read_from": "replica",
                                  "disk_write": "1ms"},
                           "api": {"kind": "service", "database": "db"}},
            "workload": {"target": through, "arrivals": "closed", "clients": 8,
                         "think": "20ms", "read_fraction": 0.5, "keys": 4}}
    plain = simulator.run(data, seed=1).ops
    assert _ryw_violations(plain) > 10
    sessions = simulator.run(data, seed=1, components__db__session="read-your-writes").ops
    assert _ryw_violations(sessions) == 0
    # Reads that could not be served by a lagging replica went to the primary.
    served = sessions[(sessions["op"] == "read") & (sessions["status"] == "ok")]["served_by"]
    assert "db-primary" in set(served) and served.str.startswith("db-replica").any()


def test_reads_from_the_nearest_node_go_to_the_lowest_latency_one():
    data = _direct({"replicas": 2, "read_from": "nearest"},
                   [{"from": "client", "to": "db-primary", "latency": "5ms"},
                    {"from": "client", "to": "db-replica-1", "latency": "3ms"},
                    {"from": "client", "to": "db-replica-2", "latency": "1ms"}],
                   {"read_fraction": 0.5})
    ops = simulator.run(data, seed=1).history.ops
    reads = ops[(ops["op"] == "read") & (ops["status"] == "ok")]
    assert set(reads["served_by"]) == {"db-replica-2"}


def test_a_single_applier_lags_more_under_load_and_applies_in_order():
    # Disk writes take 4 ms on average and writes arrive at 200/s: one applier
    # is 80% busy and queues; appliers writing in parallel do not.
    data = scenario(db={"replicas": 1, "disk_write": {"dist": "exponential", "mean": "4ms"}},
                    workload={"rate": 200, "read_fraction": 0.0, "keys": 50})
    data["duration"] = "20s"
    parallel = simulator.run(data, seed=2).history
    single = simulator.run(data, seed=2, components__db__applier="single").history

    def lag(h):
        applies = h.copies[h.copies["copy"] == "db-replica-1"].merge(h.truth,
                                                                      on=["key", "version"])
        return (applies["time_s"] - applies["commit_s"]).mean()

    assert lag(single) > 2 * lag(parallel)
    applies = single.copies[single.copies["copy"] == "db-replica-1"]
    order = applies.merge(single.truth, on=["key", "version"]).sort_values("time_s")
    assert order["commit_s"].is_monotonic_increasing  # applied in commit order
