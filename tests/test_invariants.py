"""Property test: random small systems under random faults keep the history's invariants.

Whatever the topology and the fault timeline, a run must produce a history
that obeys the contract: operations end after they start and within the
client timeout, a process never has two operations outstanding, versions per
key increase with commit time, every ok write is in the truth, and every
fault is healed at the end.  No node sends while it is down (a stopped one
only refuses or resets connections), nor answers after a restart what it was
asked before.  And a replicated database converges: once the faults heal and
the writes stop, every replica holds what its primary holds.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from simulator.network import UP
from simulator.scenario import load
from simulator.world import World

DURATION = 3.0
TIMEOUT = 0.5


@st.composite
def systems(draw):
    store_kind = draw(st.sampled_from(["database", "quorum"]))
    if store_kind == "database":
        replicas = draw(st.integers(0, 3))
        store = {"kind": "database", "replicas": replicas,
                 "replication": draw(st.sampled_from(["async", "sync", "semi-sync"])),
                 "acks": 1, "applier": draw(st.sampled_from(["parallel", "single"])),
                 "read_from": draw(st.sampled_from(["primary", "replica", "any", "nearest"])),
                 "session": draw(st.sampled_from(["none", "read-your-writes"])),
                 "disk_write": {"dist": "exponential", "mean": "2ms"},
                 # long enough for a crash to land inside a read's processing
                 "read_time": draw(st.sampled_from(["200us", "30ms"]))}
        if replicas == 0:
            store["replication"] = "async"
        elif draw(st.booleans()):
            store["failover"] = {"after": draw(st.sampled_from([0.2, 0.5])),
                                 "heartbeat": 0.1,
                                 "fencing": draw(st.sampled_from(["none", "lease"]))}
    else:
        n = draw(st.integers(1, 5))
        store = {"kind": "quorum", "replicas": n, "write_quorum": draw(st.integers(1, n)),
                 "read_quorum": draw(st.integers(1, n)),
                 "fanout": draw(st.sampled_from(["all", "quorum"])),
                 "read_repair": draw(st.booleans()),
                 "conflict": draw(st.sampled_from(["version", "timestamp"])),
                 "spares": draw(st.sampled_from([0, 0, 2])), "suspect_for": 0.3,
                 "handoff_every": 0.2,
                 "legs": {"w": {"dist": "exponential", "mean": "1ms"}}}
    components = {"store": store}
    via_service = draw(st.booleans())
    if via_service:
        components["api"] = {"kind": "service", "instances": draw(st.integers(1, 3)),
                             "workers": draw(st.integers(1, 8)), "database": "store",
                             "queue_limit": draw(st.sampled_from([0, 5])),
                             "local_cache_ttl": draw(st.sampled_from([0, 0.2]))}
        if draw(st.booleans()):
            components["cache"] = {"kind": "cache", "ttl": draw(st.sampled_from([0, 0.3, 2])),
                                   "on_write": draw(st.sampled_from(["delete", "update",
                                                                     "none"])),
                                   "guard": draw(st.sampled_from(["none", "lease",
                                                                  "version"])),
                                   "capacity": draw(st.sampled_from([0, 3])),
                                   "mode": draw(st.sampled_from(
                                       ["aside", "through"] + (["behind"] if store_kind ==
                                                               "database" else []))),
                                   "flush_delay": 0.1,
                                   "op_time": draw(st.sampled_from(["100us", "30ms"])),
                                   "database": "store"}
            components["api"]["cache"] = "cache"
    workload = {"target": "api" if via_service else "store",
                "arrivals": draw(st.sampled_from(["poisson", "closed"])), "rate": 200,
                "clients": 4, "think": "5ms", "keys": draw(st.integers(1, 6)),
                "read_fraction": draw(st.sampled_from([0.0, 0.5, 0.9])), "timeout": TIMEOUT}
    data = {"name": "invariants", "duration": DURATION,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"},
                        "loss": draw(st.sampled_from([0.0, 0.05])),
                        "duplicate": draw(st.sampled_from([0.0, 0.05]))},
            "components": components, "workload": workload, "faults": []}
    names = load(copy.deepcopy(data)).nodes
    everyone = [n for group in names.values() for n in group]
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.sampled_from([0.2, 0.8, 1.5]))
        # blips too: a crash shorter than a round trip or a processing time
        length = draw(st.sampled_from([0.002, 0.02, 0.1, 0.5, 1.0]))
        kind = draw(st.sampled_from(["partition", "crash", "pause", "failures", "degrade",
                                     "clock"] + (["deploy"] if via_service else [])))
        target = draw(st.sampled_from(everyone))
        fault = {"kind": kind, "start": start, "duration": length}
        if kind == "deploy":  # the only fault that stops a process rather than a host
            batch = draw(st.integers(1, 3))
            batches = -(-components["api"]["instances"] // batch)
            fault = {"kind": "deploy", "start": start, "service": "api", "batch": batch,
                     "restart": min(length, (DURATION - start) // (batches * 0.001) * 0.001)}
        elif kind == "partition":
            fault["isolate"] = target
        elif kind == "degrade":
            fault.update({"to": target, "latency": "20ms", "loss": 0.2})
        elif kind == "failures":
            fault.update({"node": target, "mttf": "300ms", "mttr": "100ms"})
        elif kind == "clock":
            fault.update({"node": target, "skew": draw(st.sampled_from(["-50ms", "200ms"])),
                          "drift": draw(st.sampled_from([0.0, 0.01]))})
        else:
            fault["node"] = target
        data["faults"].append(fault)
    return data


def check_history(world, history):
    ops = history.ops
    assert ops["status"].isin(["ok", "fail", "info"]).all()
    latency = ops["complete_s"] - ops["invoke_s"]
    assert (latency >= 0).all() and (latency <= TIMEOUT + 1e-9).all()
    ok = ops[ops["status"] == "ok"]
    assert (ok["version"] >= 0).all() and (ok["served_by"] != "").all()
    assert (ops[ops["status"] != "ok"]["error"] != "").all()
    # Jepsen processes: one operation at a time; an info process is never reused.
    for _, mine in ops.sort_values("invoke_s").groupby("process"):
        assert (mine["invoke_s"].to_numpy()[1:] >= mine["complete_s"].to_numpy()[:-1]).all()
        assert (mine["status"].iloc[:-1] != "info").all()
    # The truth: versions unique per key, and the surviving ones increase with
    # commit time; a version is lost only after it was committed.
    assert not history.truth.duplicated(["key", "version"]).any()
    lost = history.truth[history.truth["lost_s"].notna()]
    assert (lost["lost_s"] >= lost["commit_s"]).all()
    truth = history.truth[history.truth["lost_s"].isna()].sort_values(
        ["key", "commit_s", "version"], kind="stable")
    for _, mine in truth.groupby("key"):
        assert mine["version"].is_monotonic_increasing
    # Every acknowledged write is committed, except one a write-behind cache
    # took and lost in a crash.
    writes = ok[ok["op"] == "write"]
    committed = set(zip(history.truth["key"], history.truth["version"]))
    missing = [i for i, k, v in zip(writes["index"], writes["key"], writes["version"])
               if (k, v) not in committed]
    if missing:
        behind = history.copy_info[history.copy_info["learns_stale_by"].str.contains(
            "write-behind")]["copy"]
        assert set(writes.loc[writes["index"].isin(missing), "served_by"]) <= set(behind)
    # Database copies never go back to an older version, except when a node
    # rejoins after a failover (a resync); between resyncs they only grow.
    nodes = set(history.copy_info[history.copy_info["kind"].isin(["replica", "primary"])]["copy"])
    applied = history.copies[history.copies["copy"].isin(nodes)]
    for _, mine in applied.groupby(["copy", "key"]):
        since_resync = (mine["change"] == "resync").cumsum()
        for _, stretch in mine.groupby(since_resync):
            assert stretch["version"].is_monotonic_increasing
    from simulator.analysis import lost_writes, stale_reads
    behind = (history.copy_info["learns_stale_by"].str.contains("write-behind")).any()
    timestamps = any(getattr(c, "by_timestamp", False) for c in world.components.values())
    if history.events.empty and not behind and not timestamps:
        # no failover happened, no write-behind, no last-writer-wins by clocks
        # A read served by a database primary is never stale: it reads the truth itself.
        stale = stale_reads(history)
        at_primary = stale[stale["served_by"].str.endswith("-primary")]
        assert not (at_primary["stale"] | at_primary["phantom"]).any()
        # And no acknowledged write is lost.
        assert lost_writes(history).empty
    elif not behind:
        # Only a failover loses writes, and only writes some primary committed.
        assert (lost_writes(history)["how"] != "never committed").all()
    # Failover: the monitor never lags the database's term, and one node at most
    # leads the newest term.
    for component in world.components.values():
        monitor = getattr(component, "monitor", None)
        if monitor is not None:
            assert component.term <= monitor.term
            leaders = [n for n in component.nodes
                       if n.role == "primary" and n.term == component.term]
            assert len(leaders) <= 1
    # Every fault healed: nothing blocked, degraded, held or paused at the end.
    net = world.network
    assert not net.blocked and not net.degradations
    assert all(node.state == UP and not node.pauses for node in net.nodes.values())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(systems(), st.integers(0, 2**32 - 1))
def test_random_systems_keep_the_history_contract(data, seed):
    world = World(load(data), seed)
    sent_while_down = watch_down_senders(world)
    history = world.run()
    check_history(world, history)
    assert sent_while_down == []


def watch_down_senders(world) -> list:
    """What nodes send while they are down, or answer from an earlier life, noted as
    the run goes.  A crashed host sends nothing, and a stopped process's host only
    refuses or resets connections; a node that came back does not answer what it
    was asked before it went down (the work died with the process), nor handle a
    message that reached it before (in its processing time, or while it was down),
    nor hear the answers to what it asked before."""
    from simulator.network import Message
    net, noted = world.network, []
    send, reply, deliver, request = net.send, net.reply, net._deliver, net.request
    lives: dict[int, tuple] = {}  # id(request) -> (request, receiver's epoch at arrival)
    changed: dict[str, float] = {}  # node -> when it last stopped or started

    def watch_changes(node):
        stop, start = node.stop, node.start

        def watched_stop(how):
            changed[node.name] = world.sim.now
            stop(how)

        def watched_start():
            changed[node.name] = world.sim.now
            start()
        node.stop, node.start = watched_stop, watched_start

    for node in net.nodes.values():
        watch_changes(node)

    def refusing(state, method, args) -> bool:
        return state == "stopped" and method == "reply" and args[0] in ("refused", "reset")

    def watched_send(src, dst, method, args=None, call=None, extra=0.0):
        state = net.nodes[src].state
        if state != UP and not refusing(state, method, args):
            noted.append((world.sim.now, src, dst, method, state))
        send(src, dst, method, args, call, extra)

    def watched_reply(message, status, value=None, extra=0.0):
        node = net.nodes[message.dst]
        arrived = lives.get(id(message))
        if arrived is not None and arrived[1] != node.epoch \
                and not refusing(node.state, "reply", (status,)):
            noted.append((world.sim.now, message.dst, message.src, "late " + message.method,
                          status))
        reply(message, status, value, extra)

    asked: dict[int, tuple] = {}  # id(pending) -> (pending, caller's epoch when it asked)

    def watched_request(src, dst, method, args, timeout):
        pending = request(src, dst, method, args, timeout)
        if src in net.nodes:
            asked[id(pending)] = (pending, net.nodes[src].epoch)
        return pending

    def watched_deliver(message):
        node = message.node
        if message.method == "reply" and node.state == UP and not node.pauses \
                and not message.call.done and id(message.call) in asked \
                and asked[id(message.call)][1] != node.epoch:
            noted.append((world.sim.now, message.src, message.dst, "answer from before "
                          "the restart", node.state))
        if node.state == UP and not node.pauses \
                and changed.get(node.name, -1.0) >= getattr(message, "began", 1e300):
            noted.append((world.sim.now, message.src, message.dst, "handled after restart "
                          + message.method, node.state))
        if message.call is not None and node.state == UP:
            lives[id(message)] = (message, node.epoch)
        deliver(message)

    net.send, net.reply, net._deliver = watched_send, watched_reply, watched_deliver
    net.request = watched_request
    world.sim.handlers[Message] = watched_deliver
    return noted


def _example(store, workload, api=None, cache=None, faults=()):
    components = {"store": store}
    if api is not None:
        components["api"] = api
    if cache is not None:
        components["cache"] = cache
    return {"name": "invariants", "duration": DURATION,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"}, "loss": 0.05},
            "components": components,
            "workload": {"rate": 200, "keys": 1, "read_fraction": 0.5, "timeout": TIMEOUT,
                         **workload},
            "faults": list(faults)}


def test_a_redirected_session_read_stays_within_the_client_timeout():
    # found by the property test: the retry at the primary used a fresh timeout
    data = _example({"kind": "database", "replicas": 1, "read_from": "replica",
                     "session": "read-your-writes"}, {"target": "store"})
    world = World(load(data), 0)
    check_history(world, world.run())


def test_a_cached_value_older_than_the_readers_own_write_is_skipped_not_a_crash():
    # found by the property test: a stale hit under a session was taken for a lease
    data = _example({"kind": "database", "session": "read-your-writes"}, {"target": "api"},
                    api={"kind": "service", "instances": 2, "workers": 1,
                         "database": "store", "cache": "cache"},
                    cache={"kind": "cache", "ttl": 0, "on_write": "none"})
    world = World(load(data), 0)
    history = world.run()
    check_history(world, history)
    assert (history.ops["served_by"] == "store-primary").any()


def test_a_replaced_primary_acked_late_does_not_commit_a_version_twice():
    # found by the property test: a synchronous write the promoted replica held
    # committed at the promotion, then again at the old primary when the last
    # acks reached it
    data = _example({"kind": "database", "replicas": 2, "replication": "sync",
                     "disk_write": {"dist": "exponential", "mean": "2ms"},
                     "failover": {"after": 0.5, "heartbeat": 0.1}},
                    {"target": "store", "read_fraction": 0.0},
                    faults=[{"kind": "partition", "start": 0.2, "duration": 0.5,
                             "isolate": "store-primary"}])
    world = World(load(data), 0)
    history = world.run()
    assert not history.events.empty
    check_history(world, history)


def test_a_duplicated_write_behind_flush_commits_once():
    # found by the property test: the network delivered a flush twice while the
    # first copy still waited for its synchronous replica
    data = _example({"kind": "database", "replicas": 1, "replication": "sync",
                     "disk_write": {"dist": "exponential", "mean": "2ms"}},
                    {"target": "api", "read_fraction": 0.0},
                    api={"kind": "service", "instances": 1, "workers": 1,
                         "database": "store", "cache": "cache"},
                    cache={"kind": "cache", "ttl": 0, "mode": "behind", "flush_delay": 0.1,
                           "database": "store"})
    data["network"].update(loss=0.0, duplicate=0.05)
    world = World(load(data), 0)
    history = world.run()
    check_history(world, history)


# --- convergence: once the faults heal and the writes stop, replicas catch up ------------

QUIET = 2.5  # seconds of the run after the last write: ~12 replication retries


@st.composite
def replicated_databases(draw):
    """A database with replicas, written directly by the clients, under faults
    aimed at its own nodes (the monitor too); the clients stop at DURATION and
    the run goes on for QUIET more seconds (their timeout)."""
    replicas = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["async", "sync", "semi-sync"]))
    store = {"kind": "database", "replicas": replicas, "replication": mode, "acks": 1,
             "applier": draw(st.sampled_from(["parallel", "single"])),
             "replication_retry": 0.2, "disk_write": {"dist": "exponential", "mean": "2ms"}}
    if draw(st.booleans()):
        store["failover"] = {"after": draw(st.sampled_from([0.2, 0.5])), "heartbeat": 0.1,
                             "fencing": draw(st.sampled_from(["none", "lease"]))}
    data = {"name": "convergence", "duration": DURATION,
            "network": {"latency": {"dist": "exponential", "mean": "1ms"},
                        "loss": draw(st.sampled_from([0.0, 0.05])),
                        "duplicate": draw(st.sampled_from([0.0, 0.05]))},
            "components": {"store": store},
            "workload": {"target": "store", "rate": 200, "keys": draw(st.integers(1, 6)),
                         "read_fraction": 0.5, "timeout": QUIET},
            "faults": []}
    nodes = load(copy.deepcopy(data)).nodes["store"]
    for _ in range(draw(st.integers(1, 4))):
        # overlapping on purpose: a pause around a crash drops the node's backlog
        start = draw(st.sampled_from([0.2, 0.5, 0.8, 1.5]))
        length = draw(st.sampled_from([0.1, 0.5, 1.0, 1.4]))
        # weighted towards the crashes that land inside a pause, the rarest and
        # subtlest way to lose a node's alarms
        kind = draw(st.sampled_from(["partition", "one-way", "crash", "pause", "failures",
                                     "slow-writes", "crash-in-pause", "crash-in-pause",
                                     "failures-in-pause"]))
        node = draw(st.sampled_from(nodes))
        fault = {"kind": kind, "start": start, "duration": length}
        if kind == "partition":
            fault["isolate"] = node
        elif kind == "one-way":
            # (a node cut off from itself is refused by the scenario check)
            other = draw(st.sampled_from([n for n in nodes if n != node]))
            fault.update({"kind": "partition", "one_way": {"from": node, "to": other}})
        elif kind == "failures":
            fault.update({"node": node, "mttf": "300ms", "mttr": "100ms"})
        elif kind == "slow-writes":
            fault.update({"node": node.replace("-monitor", "-primary"), "extra": "50ms"})
        elif kind == "crash-in-pause":  # the crash drops what the pause held back
            fault.update({"kind": "pause", "node": node})
            data["faults"].append({"kind": "crash", "node": node, "start": start + length / 2,
                                   "duration": length / 4})
        elif kind == "failures-in-pause":
            fault.update({"kind": "pause", "node": node})
            data["faults"].append({"kind": "failures", "node": node, "start": start,
                                   "duration": length, "mttf": "100ms", "mttr": "50ms"})
        else:
            fault["node"] = node
        data["faults"].append(fault)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(replicated_databases(), st.integers(0, 2**32 - 1))
def test_replicas_catch_up_with_the_primary_once_faults_heal_and_writes_stop(data, seed):
    world = World(load(data), seed)
    sent_while_down = watch_down_senders(world)
    history = world.run()
    assert sent_while_down == []
    # Pings are lost too: a failover can come at any time, even in the quiet end.
    promotions = history.events[history.events["event"] == "promoted"]
    assume((promotions["time_s"] < DURATION).all())
    database = world.components["store"]
    leaders = [n for n in database.nodes if n.role == "primary" and n.term == database.term]
    assert len(leaders) == 1
    primary = leaders[0]
    for node in database.nodes:
        if node is primary:
            continue
        assert node.role == "replica" and node.term == primary.term and node.synced
        # Never behind the primary; ahead only by a synchronous write it applied
        # and the primary lost in a crash before committing it (a phantom).
        for key, version in primary.held.items():
            assert node.held.get(key, 0) >= version, (node.name, key)
        if data["components"]["store"]["replication"] == "async":
            assert node.held == primary.held, node.name
