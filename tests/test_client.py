"""The client workload: arrivals, operation mix, key choice, timeouts and Jepsen processes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import simulator

Z = 5.0


def _workload(defaults: dict, given: dict | None) -> dict:
    """``defaults`` with ``given`` on top; a closed loop has no rate (it would be noted)."""
    load = {**defaults, **(given or {})}
    if load.get("arrivals") == "closed" and "rate" not in (given or {}):
        del load["rate"]
    return load


def scenario(api=None, workload=None, faults=(), duration="2s", latency="500us"):
    return {
        "name": "client-test",
        "duration": duration,
        "network": {"latency": latency},
        "components": {
            "db": {"kind": "database", "disk_write": "1ms", "read_time": "200us"},
            "api": {"kind": "service", "instances": 2, "workers": 64, "service_time": "1ms",
                    "database": "db", **(api or {})},
        },
        "workload": _workload({"target": "api", "rate": 100, "read_fraction": 0.8,
                               "keys": 10, "timeout": "1s"}, workload),
        "faults": list(faults),
    }


def ops_of(data, seed=1) -> pd.DataFrame:
    return simulator.run(data, seed=seed).history.ops


def test_client_timeout_fails_reads_and_leaves_writes_unknown():
    timeout = 0.25
    data = scenario(api={"service_time": "2s"},
                    workload={"timeout": timeout, "rate": 50, "read_fraction": 0.5},
                    duration="1s")
    ops = ops_of(data)
    assert len(ops) > 20
    assert set(ops["error"]) == {"timeout"}
    assert set(ops.loc[ops["op"] == "read", "status"]) == {"fail"}
    assert set(ops.loc[ops["op"] == "write", "status"]) == {"info"}
    assert np.allclose(ops["complete_s"] - ops["invoke_s"], timeout, rtol=0, atol=1e-12)
    assert (ops["version"] == -1).all()
    assert (ops["served_by"] == "").all()
    # The late answers (2s later) add no rows: one row per operation.
    assert list(ops["index"]) == list(range(len(ops)))


def test_ok_operations_carry_version_and_server():
    ops = ops_of(scenario())
    ok = ops[ops["status"] == "ok"]
    assert len(ok) == len(ops)
    assert (ok["error"] == "").all()
    assert (ok["version"] >= 0).all()
    assert set(ok["served_by"]) == {"db-primary"}
    assert set(ok["node"]) == {"api-1", "api-2"}
    assert (ok.loc[ok["op"] == "write", "version"] >= 1).all()


def check_jepsen_processes(ops: pd.DataFrame) -> None:
    for process, rows in ops.groupby("process"):
        rows = rows.sort_values("invoke_s")
        invoke, complete = rows["invoke_s"].to_numpy(), rows["complete_s"].to_numpy()
        # At most one operation outstanding per process.
        assert (invoke[1:] >= complete[:-1]).all(), f"process {process} overlaps itself"
        # A process whose operation ended 'info' is never used again.
        status = rows["status"].to_numpy()
        assert "info" not in status[:-1], f"process {process} reused after info"


MIXED = dict(api={"service_time": {"dist": "lognormal", "median": "50ms", "sigma": 1.0},
                  "workers": 4, "instances": 1},
             workload={"timeout": "200ms", "rate": 60, "read_fraction": 0.5}, duration="3s")


def test_open_loop_processes_follow_the_jepsen_rule():
    ops = ops_of(scenario(**MIXED), seed=2)
    counts = ops["status"].value_counts()
    assert counts.get("info", 0) > 10 and counts.get("ok", 0) > 5  # a mix worth checking
    check_jepsen_processes(ops)
    # Processes are reused (not one per operation) when they end ok or fail.
    assert ops["process"].nunique() < len(ops)


def test_closed_loop_processes_follow_the_jepsen_rule_and_concurrency_bound():
    clients = 5
    data = scenario(**MIXED)
    data["workload"].update(arrivals="closed", clients=clients, think="20ms")
    del data["workload"]["rate"]  # a closed loop has no rate
    ops = ops_of(data, seed=3)
    assert (ops["status"] == "info").sum() > 5
    check_jepsen_processes(ops)
    # Never more than `clients` operations outstanding.
    events = sorted([(t, 1) for t in ops["invoke_s"]] + [(t, -1) for t in ops["complete_s"]],
                    key=lambda e: (e[0], e[1]))
    assert max(np.cumsum([d for _, d in events])) == clients
    # Each info hands its client a fresh process id.
    assert clients <= ops["process"].nunique() <= clients + (ops["status"] == "info").sum()


def test_closed_loop_client_thinks_between_operations():
    think = 0.02
    data = scenario(workload={"arrivals": "closed", "clients": 3, "think": think},
                    duration="1s")
    ops = ops_of(data, seed=4)
    assert len(ops) > 30
    for _, rows in ops.groupby("process"):
        rows = rows.sort_values("invoke_s")
        gaps = rows["invoke_s"].to_numpy()[1:] - rows["complete_s"].to_numpy()[:-1]
        assert np.allclose(gaps, think)
        assert rows["invoke_s"].iloc[0] == pytest.approx(think)


def test_open_loop_arrival_count_and_gaps_are_poisson():
    rate, duration = 400.0, 5.0
    data = scenario(api={"workers": 256}, workload={"rate": rate}, duration=f"{duration}s")
    ops = ops_of(data, seed=5)
    n = len(ops)
    assert abs(n - rate * duration) <= Z * math.sqrt(rate * duration)
    invoke = np.sort(ops["invoke_s"].to_numpy())
    assert invoke.min() > 0 and invoke.max() < duration
    gaps = np.diff(invoke)
    # Exponential gaps: mean 1/rate, sd 1/rate.
    assert abs(gaps.mean() - 1 / rate) <= Z * (1 / rate) / math.sqrt(len(gaps))
    # Memoryless: P(gap > 2/rate) = e^-2.
    p = math.exp(-2)
    assert abs((gaps > 2 / rate).sum() - len(gaps) * p) <= Z * math.sqrt(len(gaps) * p * (1 - p))


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_read_fraction_is_respected(fraction):
    data = scenario(workload={"rate": 500, "read_fraction": fraction}, duration="2s")
    ops = ops_of(data, seed=6)
    n = len(ops)
    reads = int((ops["op"] == "read").sum())
    assert set(ops["op"]) <= {"read", "write"}
    assert abs(reads - n * fraction) <= Z * math.sqrt(n * fraction * (1 - fraction))


def test_uniform_keys_cover_the_range_evenly():
    keys = 8
    ops = ops_of(scenario(workload={"rate": 500, "keys": keys}, duration="2s"), seed=7)
    n = len(ops)
    counts = np.bincount(ops["key"], minlength=keys)
    assert len(counts) == keys  # nothing outside 0..keys-1
    p = 1 / keys
    assert np.all(np.abs(counts - n * p) <= Z * math.sqrt(n * p * (1 - p)))


@pytest.mark.parametrize("exponent", [0.8, 1.2])
def test_zipf_keys_follow_the_law(exponent):
    keys = 20
    data = scenario(workload={"rate": 800, "keys": keys, "key_distribution": "zipf",
                              "zipf_exponent": exponent}, duration="2s")
    ops = ops_of(data, seed=8)
    n = len(ops)
    counts = np.bincount(ops["key"], minlength=keys)
    assert len(counts) == keys
    assert counts.argmax() == 0 and counts[0] > counts[1:].max()
    weights = np.arange(1, keys + 1, dtype=float) ** -exponent
    p = weights / weights.sum()
    assert np.all(np.abs(counts - n * p) <= Z * np.sqrt(n * p * (1 - p)))


def test_every_operation_completes_within_the_run():
    h = simulator.run(scenario(**MIXED), seed=9).history
    ops = h.ops
    assert (ops["complete_s"] <= h.meta["duration_s"] + 1e-9).all()
    assert (ops["complete_s"] - ops["invoke_s"] <= 0.2 + 1e-9).all()
    assert (ops["invoke_s"] < h.meta["workload_s"]).all()


@pytest.mark.parametrize("status,value,read,write", [
    ("ok", (3, "db-primary"), ("ok", ""), ("ok", "")),
    ("fail", "database-unreachable", ("fail", "database-unreachable"),
     ("fail", "database-unreachable")),
    ("refused", "refused", ("fail", "refused"), ("fail", "refused")),
    ("info", "database-timeout", ("fail", "database-timeout"), ("info", "database-timeout")),
    ("reset", "connection-reset", ("fail", "connection-reset"), ("info", "connection-reset")),
    ("timeout", "timeout", ("fail", "timeout"), ("info", "timeout")),
])
def test_reply_outcomes_map_to_history_statuses(status, value, read, write):
    # A read never has an effect, so anything but ok is a definite fail; a write that
    # may have happened (info, reset, timeout) is info.
    from simulator.components.client import _outcome
    from simulator.network import Reply
    assert _outcome("read", Reply(status, value)) == read
    assert _outcome("write", Reply(status, value)) == write


def test_no_instance_up_fails_immediately():
    start, restart = 0.5, 0.5
    data = scenario(api={"instances": 2},
                    faults=[{"kind": "deploy", "service": "api", "start": start, "batch": 2,
                             "restart": restart}],
                    workload={"rate": 100}, duration="1.5s")
    ops = ops_of(data, seed=10)
    down = ops[(ops["invoke_s"] > start) & (ops["invoke_s"] < start + restart)]
    assert len(down) > 20
    assert set(down["status"]) == {"fail"}
    assert set(down["error"]) == {"no-instance-up"}
    assert (down["complete_s"] == down["invoke_s"]).all()
    assert set(down["node"]) == {""} and set(down["served_by"]) == {""}
    after = ops[ops["invoke_s"] > start + restart]
    assert len(after) > 20 and (after["status"] == "ok").all()


def run_guarded(data, seed=1, max_events=50_000):
    """Run like ``simulator.run`` but stop with an error if the clock stops advancing."""
    from simulator.scenario import load
    from simulator.world import World
    world = World(load(data), seed)
    env = world.sim.env

    def guarded(until, progress=None, steps=200):
        events = 0
        while env.peek() < until:
            env.step()
            events += 1
            if events > max_events:
                raise AssertionError(f"livelock: {events} events, the clock is stuck at "
                                     f"{env.now:g}s with {world.clients.count} operations issued")

    world.sim.run = guarded
    return world.run()


def test_guarded_run_matches_a_normal_run():
    data = scenario(workload={"arrivals": "closed", "clients": 2, "think": "5ms"},
                    duration="500ms")
    assert run_guarded(data).ops.equals(ops_of(data))


def test_closed_loop_without_think_time_survives_a_full_outage():
    data = scenario(api={"instances": 1},
                    workload={"arrivals": "closed", "clients": 1, "think": 0},
                    faults=[{"kind": "deploy", "service": "api", "start": 0.5,
                             "restart": 0.5}],
                    duration="1.5s")
    ops = run_guarded(data).ops
    assert (ops.loc[ops["invoke_s"] > 1.0, "status"] == "ok").any()


@pytest.mark.parametrize("keys, exponent", [(1000, 1.0), (7, 2.5), (100_000, 0.8)])
def test_zipf_bucket_lookup_gives_the_key_bisection_gives(keys, exponent):
    import bisect
    import math

    import numpy as np

    from simulator.components.client import BUCKETS, _buckets
    weights = np.arange(1, keys + 1, dtype=float) ** -exponent
    cdf = (np.cumsum(weights) / weights.sum()).tolist()
    table = _buckets(cdf, keys)
    rng = np.random.default_rng(5)
    edges = [j / BUCKETS for j in range(BUCKETS)]
    draws = (rng.random(20_000).tolist() + edges
             + [math.nextafter(e, 0.0) for e in edges[1:]] + [math.nextafter(1.0, 0.0)]
             + [c for c in cdf if c < 1.0] + [math.nextafter(c, 0.0) for c in cdf[:1000]])
    for u in draws:
        looked_up = table[int(u * BUCKETS)]
        expected = min(bisect.bisect_right(cdf, u), keys - 1)
        assert looked_up in (expected, -1)
    assert table[0] == 0  # the head needs no bisection
