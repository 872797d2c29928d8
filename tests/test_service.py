"""Service instances: worker pools, load balancing, deploys and local in-memory copies."""

from __future__ import annotations

import gc
import math
import sys

import numpy as np
import pytest

import simulator

L = 0.001    # one-way latency
R = 0.0005   # database read time
S = 0.010    # service time


def _workload(defaults: dict, given: dict | None) -> dict:
    """``defaults`` with ``given`` on top; a closed loop has no rate (it would be noted)."""
    load = {**defaults, **(given or {})}
    if load.get("arrivals") == "closed" and "rate" not in (given or {}):
        del load["rate"]
    return load


def scenario(api=None, db=None, cache=None, workload=None, faults=(), duration="2s",
             latency=L):
    components = {
        "db": {"kind": "database", "disk_write": "1ms", "read_time": R, **(db or {})},
        "api": {"kind": "service", "instances": 1, "workers": 1, "service_time": S,
                "database": "db", **(api or {})},
    }
    if cache is not None:
        components["cache"] = {"kind": "cache", **cache}
        components["api"]["cache"] = "cache"
    return {
        "name": "service-test",
        "duration": duration,
        "network": {"latency": latency},
        "components": components,
        "workload": _workload({"target": "api", "rate": 50, "read_fraction": 0.8,
                               "keys": 10, "timeout": "1s"}, workload),
        "faults": list(faults),
    }


def burst(n, workers, read_fraction=1.0):
    """``n`` closed-loop clients with no think time all send a request at time 0.

    Returns the first ``n`` operations (the burst), in the order they were sent.
    """
    data = scenario(api={"workers": workers},
                    workload={"arrivals": "closed", "clients": n, "think": 0,
                              "read_fraction": read_fraction, "keys": 1},
                    duration="1s")
    ops = simulator.run(data, seed=1).history.ops
    first = ops[ops["index"] < n]
    assert (first["invoke_s"] == 0).all()
    return first.sort_values("index")


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_worker_pool_serves_a_burst_fifo_with_linearly_growing_latency(workers):
    n = 7
    ops = burst(n, workers)
    assert (ops["status"] == "ok").all()
    assert (ops["served_by"] == "db-primary").all()
    # Each request holds a worker for its service time and its database round trip;
    # the i-th request of the burst waits for i // workers rounds before its own.
    hold = S + 2 * L + R
    expected = [L + (i // workers + 1) * hold + L for i in range(n)]
    assert list(ops["complete_s"]) == pytest.approx(expected)


def test_write_burst_holds_the_worker_through_the_commit():
    ops = burst(4, 1, read_fraction=0.0)
    hold = S + 2 * L + 0.001  # service time, round trip to the primary, disk write
    assert (ops["status"] == "ok").all()
    assert list(ops["version"]) == [1, 2, 3, 4]  # one key: versions in arrival order
    assert list(ops["complete_s"]) == pytest.approx([2 * L + (i + 1) * hold for i in range(4)])


def test_single_worker_with_exponential_service_behaves_like_mm1():
    lam, mean_service = 50.0, 0.010  # utilisation 0.5
    data = scenario(api={"service_time": {"dist": "exponential", "mean": mean_service}},
                    db={"read_time": 0, "disk_write": 0}, latency=0,
                    workload={"rate": lam, "read_fraction": 1.0}, duration="80s")
    ops = simulator.run(data, seed=11).history.ops
    latency = (ops["complete_s"] - ops["invoke_s"]).to_numpy()
    assert (ops["status"] == "ok").all()
    expected = 1 / (1 / mean_service - lam)  # M/M/1 sojourn time
    # Sojourn times are correlated: standard error from 20 batch means.
    batches = np.array_split(latency, 20)
    means = np.array([b.mean() for b in batches])
    se = means.std(ddof=1) / math.sqrt(len(means))
    assert abs(latency.mean() - expected) <= 5 * se
    # And clearly above the bare service time: queueing happened.
    assert latency.mean() > 1.5 * mean_service


def test_round_robin_spreads_requests_evenly():
    data = scenario(api={"instances": 3, "workers": 8}, workload={"rate": 200}, duration="1s")
    ops = simulator.run(data, seed=2).history.ops
    counts = ops["node"].value_counts()
    assert set(counts.index) == {"api-1", "api-2", "api-3"}
    assert counts.max() - counts.min() <= 1


def test_random_balancer_spreads_requests_binomially():
    data = scenario(api={"instances": 2, "workers": 8, "balancer": "random"},
                    workload={"rate": 400}, duration="2s")
    ops = simulator.run(data, seed=3).history.ops
    n = len(ops)
    ones = int((ops["node"] == "api-1").sum())
    assert abs(ones - n / 2) <= 5 * math.sqrt(n / 4)


DEPLOY_START, RESTART = 1.0, 0.5
LONG = 0.3  # service time: requests are in flight for a long while


def deploy_scenario(**api):
    return scenario(api={"instances": 2, "workers": 64, "service_time": LONG, **api},
                    workload={"rate": 100, "read_fraction": 0.7}, duration="3s",
                    faults=[{"kind": "deploy", "service": "api", "start": DEPLOY_START,
                             "batch": 1, "restart": RESTART, "pause": 0}])


def test_deploy_resets_requests_in_flight():
    h = simulator.run(deploy_scenario(), seed=4).history
    ops = h.ops
    assert list(h.faults["kind"]) == ["deploy"]
    assert h.faults["end_s"].iloc[0] == pytest.approx(DEPLOY_START + 2 * RESTART)
    for i, node in enumerate(["api-1", "api-2"]):
        stop = DEPLOY_START + i * RESTART
        mine = ops[ops["node"] == node]
        arrived = mine["invoke_s"] + L
        # A request holds its worker for the service time and a database round trip
        # (a read takes R at the database, a write a 1ms disk write).
        hold = LONG + 2 * L + np.where(mine["op"] == "read", R, 0.001)
        # Requests that had arrived and not finished when the instance stopped.
        in_flight = mine[(arrived < stop) & (arrived + hold > stop + 1e-6)]
        assert len(in_flight) > 5
        assert (in_flight["error"] == "connection-reset").all()
        assert (in_flight.loc[in_flight["op"] == "read", "status"] == "fail").all()
        assert (in_flight.loc[in_flight["op"] == "write", "status"] == "info").all()
        assert {"read", "write"} <= set(in_flight["op"])
        # The client hears about it one hop after the stop.
        assert np.allclose(in_flight["complete_s"], stop + L)
        # Requests that finished before the stop were answered normally.
        finished = mine[arrived + hold < stop - 1e-6]
        assert (finished["status"] == "ok").all()
        # While it is down the balancer sends nothing to it, and it serves again after.
        assert not ((mine["invoke_s"] > stop + 1e-6) & (mine["invoke_s"] < stop + RESTART)).any()
        after = mine[mine["invoke_s"] > stop + RESTART]
        assert len(after) > 5 and (after["status"] == "ok").all()
    # Every reset is recorded once (no second answer from an interrupted request).
    assert ops["index"].is_unique


def test_crashed_instance_says_nothing_so_clients_time_out():
    start = 1.0
    data = scenario(api={"instances": 2, "workers": 64, "service_time": LONG},
                    workload={"rate": 100, "read_fraction": 0.7, "timeout": "500ms"},
                    duration="3s", faults=[{"kind": "crash", "node": "api-1", "start": start,
                                            "duration": "1s"}])
    ops = simulator.run(data, seed=5).history.ops
    mine = ops[ops["node"] == "api-1"]
    arrived = mine["invoke_s"] + L
    shortest_hold = LONG + 2 * L + R
    in_flight = mine[(arrived < start) & (arrived + shortest_hold > start + 1e-6)]
    assert len(in_flight) > 5
    assert (in_flight["error"] == "timeout").all()
    assert np.allclose(in_flight["complete_s"] - in_flight["invoke_s"], 0.5)
    assert (in_flight.loc[in_flight["op"] == "read", "status"] == "fail").all()
    assert (in_flight.loc[in_flight["op"] == "write", "status"] == "info").all()


def test_local_cache_copies_are_listed_and_lost_in_a_deploy():
    data = deploy_scenario(local_cache_ttl="5s", service_time="5ms")
    data["workload"].update(read_fraction=0.9, keys=5)
    h = simulator.run(data, seed=6).history
    info = h.copy_info.set_index("copy")
    assert {"api-1/local", "api-2/local"} <= set(info.index)
    for name in ("api-1/local", "api-2/local"):
        assert info.loc[name, "component"] == "api"
        assert info.loc[name, "initial"] == "empty"
        assert info.loc[name, "source"] == "db"
    served = set(h.ops.loc[h.ops["status"] == "ok", "served_by"])
    assert {"api-1/local", "api-2/local"} <= served
    copies = h.copies
    for i, name in enumerate(["api-1/local", "api-2/local"]):
        stop = DEPLOY_START + i * RESTART
        mine = copies[copies["copy"] == name]
        before = mine[mine["time_s"] < stop]
        held_keys = {k for k, rows in before.groupby("key") if rows["version"].iloc[-1] >= 0}
        assert held_keys
        crashes = mine[mine["change"] == "crash"]
        assert np.allclose(crashes["time_s"], stop)
        assert set(crashes["key"]) == held_keys
        assert (crashes["version"] == -1).all()
        # Nothing is stored while the instance is down.
        assert not ((mine["time_s"] > stop) & (mine["time_s"] < stop + RESTART)).any()


def test_local_copy_serves_its_own_fill_and_expires_after_its_ttl():
    ttl = 0.2
    data = scenario(api={"local_cache_ttl": ttl, "workers": 8},
                    workload={"rate": 100, "read_fraction": 1.0, "keys": 3}, duration="1s")
    h = simulator.run(data, seed=7).history
    local = h.copies[h.copies["copy"] == "api-1/local"]
    fills = local[local["change"] == "fill"]
    expires = local[local["change"] == "expire"]
    assert len(fills) > 3 and len(expires) > 3
    # Each expiry is exactly one TTL after the fill it removes (reads only: no deletes).
    assert np.allclose(np.sort(expires["time_s"].to_numpy()),
                       np.sort(fills["time_s"].to_numpy())[:len(expires)] + ttl)
    hits = h.ops[h.ops["served_by"] == "api-1/local"]
    assert len(hits) > 10
    # A local hit costs no database round trip: client hop + service time + client hop.
    assert np.allclose(hits["complete_s"] - hits["invoke_s"], 2 * L + S)


def test_reads_use_the_cache_aside():
    data = scenario(api={"workers": 8}, cache={"ttl": "10s"},
                    workload={"rate": 100, "read_fraction": 1.0, "keys": 2}, duration="1s")
    h = simulator.run(data, seed=8).history
    reads = h.ops.sort_values("invoke_s")
    # The first read of each key misses and goes to the database; later ones hit the cache.
    first = reads.groupby("key").head(1)
    assert set(first["served_by"]) == {"db-primary"}
    fills = h.copies[h.copies["change"] == "fill"]
    assert sorted(fills["key"]) == [0, 1]
    late = reads[reads["invoke_s"] > fills["time_s"].max() + 1e-3]
    assert len(late) > 20 and set(late["served_by"]) == {"cache"}


def test_requests_outstanding_at_the_end_are_dropped_cleanly():
    # Regression: Instance._serve's cleanup used to run when a finished world was
    # garbage-collected with requests still queued or in service, raising KeyError: None
    # ("Exception ignored in <generator object Instance._serve>") once per request.
    data = scenario(api={"service_time": "2s"}, workload={"rate": 20, "timeout": "100ms"},
                    duration="1s")
    seen = []
    original = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        ops = simulator.run(data, seed=1).history.ops
        gc.collect()
    finally:
        sys.unraisablehook = original
    assert len(ops) > 5 and (ops["error"] == "timeout").all()  # requests were left in service
    assert [(type(u.exc_value).__name__, str(u.exc_value)) for u in seen] == []


def test_requests_reaching_a_stopped_instance_are_refused_and_definitely_failed():
    hop = 0.100  # long hops: many requests are on the wire when the instance stops
    data = scenario(api={"instances": 2, "workers": 64, "service_time": "1ms"},
                    workload={"rate": 400, "read_fraction": 0.5}, duration="2s", latency=hop,
                    faults=[{"kind": "deploy", "service": "api", "start": DEPLOY_START,
                             "batch": 1, "restart": RESTART, "pause": 0}])
    ops = simulator.run(data, seed=9).history.ops
    for i, node in enumerate(["api-1", "api-2"]):
        stop = DEPLOY_START + i * RESTART
        mine = ops[ops["node"] == node]
        on_the_wire = mine[(mine["invoke_s"] < stop) & (mine["invoke_s"] + hop > stop + 1e-9)]
        assert len(on_the_wire) > 5 and {"read", "write"} <= set(on_the_wire["op"])
        # The stopped process refuses: nothing happened, so even a write is a definite fail.
        assert set(on_the_wire["status"]) == {"fail"}
        assert set(on_the_wire["error"]) == {"refused"}
        assert np.allclose(on_the_wire["complete_s"] - on_the_wire["invoke_s"], 2 * hop)


def test_a_queue_limit_sheds_load_instead_of_queueing_without_bound():
    data = {"duration": "5s", "network": {"latency": 0},
            "components": {"db": {"kind": "database", "disk_write": 0, "read_time": 0},
                           "api": {"kind": "service", "instances": 1, "workers": 2,
                                   "service_time": "10ms", "database": "db",
                                   "queue_limit": 3}},
            "workload": {"target": "api", "rate": 400, "read_fraction": 1.0,
                         "timeout": "10s"}}
    ops = simulator.run(data, seed=1).history.ops
    shed = ops[ops["error"] == "overloaded"]
    assert len(shed) > 100 and (shed["status"] == "fail").all()
    assert np.allclose(shed["complete_s"], shed["invoke_s"])  # refused at once
    ok = ops[ops["status"] == "ok"]
    # at most 3 waiting and 2 in service: no ok request takes longer than 5 services
    assert (ok["complete_s"] - ok["invoke_s"]).max() <= 0.050 + 1e-9


def test_balancer_skips_an_instance_while_it_is_down_and_uses_it_again_after():
    ops = simulator.run(deploy_scenario(), seed=6).history.ops
    downs = {"api-1": DEPLOY_START, "api-2": DEPLOY_START + RESTART}
    for node, stop in downs.items():
        # the balancer sees the stop at once (a little margin for the client -> api link)
        during = ops[(ops["invoke_s"] > stop + 0.01) & (ops["invoke_s"] < stop + RESTART - 0.01)]
        assert len(during) > 20 and node not in set(during["node"])
    after = ops[ops["invoke_s"] > DEPLOY_START + 2 * RESTART + 0.01]
    assert set(after["node"]) == {"api-1", "api-2"}
    counts = after["node"].value_counts()
    assert counts.max() - counts.min() <= 1


def test_a_job_stopped_before_its_turn_begins_draws_no_service_time():
    # A pause ending at the very instant of a crash: on resume, held replies
    # finish jobs and hand their workers to waiting ones (a zero-delay turn);
    # the crash comes first, and a job stopped before its turn must not draw a
    # service time (the draw would shift every later one on the instance).
    from simulator.scenario import load
    from simulator.world import World
    data = scenario(api={"instances": 2, "workers": 2,
                         "service_time": {"dist": "uniform", "low": "1ms", "high": "3ms"}},
                    cache={"ttl": "3s", "op_time": "20ms"},
                    workload={"rate": 300, "timeout": "2s"}, duration="8s",
                    faults=[{"kind": "pause", "node": "api-1", "start": "5s",
                             "duration": "500ms"},
                            {"kind": "crash", "node": "api-1", "start": "5500ms",
                             "duration": "1s"}])
    world = World(load(data), 1)
    service = world.components["api"]
    draws, while_down = [], []

    class Watched:  # the service time, noting draws made while the instance is down
        def __init__(self, dist):
            self.dist = dist

        def sample(self, stream):
            node = world.network.nodes[stream.name.removeprefix("node:")]
            draws.append(node.name)
            if not node.up:
                while_down.append((world.sim.now, node.name))
            return self.dist.sample(stream)

    service.service_time = Watched(service.service_time)
    ops = world.run().ops
    assert (ops["error"] == "timeout").any() and draws.count("api-1") > 100
    assert while_down == []
