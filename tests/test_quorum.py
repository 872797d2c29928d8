"""The leaderless quorum store: WARS legs, quorum sizes, and the PBS closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.scenario import load
from test_theory import batch_mean_and_error


def store(duration, rate, read_fraction, keys=1, timeout="1s", faults=(), **quorum):
    return {"name": "quorum-test", "duration": duration, "network": {"latency": 0},
            "components": {"kv": {"kind": "quorum", **quorum}},
            "workload": {"target": "kv", "rate": rate, "read_fraction": read_fraction,
                         "keys": keys, "timeout": timeout},
            "faults": list(faults)}


def test_a_write_commits_at_the_wth_fastest_ack():
    # Replica i takes i ms on the W leg and i ms on the A leg.
    per_replica = [{"w": f"{i}ms", "a": f"{i}ms"} for i in (1, 2, 3)]
    for w, slowest in ((1, 0.002), (2, 0.004), (3, 0.006)):
        h = simulator.run(store("2s", 50, 0.0, keys=5, write_quorum=w, read_quorum=1,
                                per_replica=per_replica), seed=1).history
        ok = h.ops[h.ops["status"] == "ok"]
        assert len(ok) > 50
        assert np.allclose(ok["complete_s"] - ok["invoke_s"], slowest), w
        # every replica applies every write (expanding fan-out)
        assert set(h.copies["copy"]) == {"kv-1", "kv-2", "kv-3"}
        assert (h.truth["source"] == "kv").all()


def test_a_read_returns_the_newest_of_its_r_responses():
    # Replica 3 gets writes 10 s late but answers reads first; R=3 still sees the newest.
    per_replica = [{"s": "1ms"}, {"s": "1ms"}, {"w": "10s"}]
    for r in (1, 3):
        result = simulator.run(store("5s", 200, 0.5, keys=3, write_quorum=2, read_quorum=r,
                                     per_replica=per_replica), seed=2)
        stale = result.stale_reads
        if r == 3:
            assert not stale["stale"].any()
        else:
            assert stale["stale"].any()
            assert set(stale[stale["stale"]]["served_by"]) == {"kv-3"}


def test_quorums_larger_than_n_are_refused():
    with pytest.raises(ScenarioError, match="only 3 replicas") as info:
        load(store("1s", 1, 0.5, replicas=3, write_quorum=4))
    assert info.value.path == ("components", "kv", "write_quorum")


def test_k_staleness_of_a_non_expanding_quorum_matches_pbs():
    # PBS (Bailis et al., VLDB 2012, section 3): with writes sent to W random
    # replicas and reads to R random replicas of N, a read misses all of the
    # last k versions with probability (C(N-W, R) / C(N, R))^k.  Writes are
    # spaced far apart next to (zero) latencies, so every read sees settled writes.
    n, w, r, duration = 3, 1, 1, 600.0
    result = simulator.run(store(duration, 40, 0.75, replicas=n, write_quorum=w,
                                 read_quorum=r, fanout="quorum"), seed=3)
    stale = result.stale_reads
    miss = math.comb(n - w, r) / math.comb(n, r)
    for k in (1, 2, 3):
        within = stale["missed_versions"].to_numpy() < k
        observed, error = batch_mean_and_error(stale["invoke_s"].to_numpy(), within, duration)
        expected = 1 - miss ** k
        assert error < 0.03
        assert abs(observed - expected) < 4.5 * error, (k, observed, expected, error)


def test_majority_write_availability_under_random_failures_matches_the_binomial():
    # Each replica up with probability p = MTTF / (MTTF + MTTR); a write
    # succeeds when a majority is up: sum over i > N/2 of C(N, i) p^i (1-p)^(N-i).
    n, mttf, mttr, duration = 5, 3.0, 1.0, 1500.0
    p = mttf / (mttf + mttr)
    faults = [{"kind": "failures", "node": "kv", "mttf": mttf, "mttr": mttr, "start": 0,
               "end": duration}]
    ops = simulator.run(store(duration, 40, 0.0, keys=100, timeout="20ms", faults=faults,
                              replicas=n, write_quorum=n // 2 + 1, read_quorum=1),
                        seed=4).history.ops
    expected = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(n // 2 + 1, n + 1))
    observed, error = batch_mean_and_error(ops["invoke_s"].to_numpy(),
                                           (ops["status"] == "ok").to_numpy(), duration)
    assert error < 0.02
    assert abs(observed - expected) < 4.5 * error, (observed, expected, error)


def test_read_repair_brings_a_lagging_replica_up_to_date():
    # kv-3 is cut off for 5 s and misses those writes; with no anti-entropy it
    # stays behind on each key until that key is written again, unless reads
    # repair it.
    cut = [{"kind": "partition", "isolate": "kv-3", "start": 1, "end": 6}]
    common = dict(replicas=3, write_quorum=2, read_quorum=3)
    plain = simulator.run(store("20s", 50, 0.9, keys=50, faults=cut, **common), seed=5)
    repaired = simulator.run(store("20s", 50, 0.9, keys=50, faults=cut, read_repair=True,
                                   **common), seed=5)

    def lag_after_heal(result):
        w = result.windows[result.windows["copy"] == "kv-3"]
        return (w["end_s"].clip(lower=6) - w["start_s"].clip(lower=6)).clip(lower=0).sum()

    assert lag_after_heal(plain) > 20
    assert lag_after_heal(repaired) < lag_after_heal(plain) / 5


def test_a_write_whose_acks_are_lost_is_info_yet_committed():
    # Acks take 2 s, the client waits 1 s: every write is "info", but every
    # replica applied it, so the truth has it and reads of it are not phantoms.
    h = simulator.run(store("3s", 50, 0.5, keys=3, timeout="1s", replicas=3, write_quorum=2,
                            read_quorum=2, legs={"a": "2s"}), seed=1)
    writes = h.ops[h.ops["op"] == "write"]
    assert (writes["status"] == "info").all()
    assert len(h.history.truth) > 0
    assert not h.stale_reads["phantom"].any()
    assert not (h.windows["kind"] == "phantom").any()
    # committed when the second replica applied it (no W leg: at once)
    merged = h.history.truth.merge(writes, left_on="writer", right_on="index")
    assert np.allclose(merged["commit_s"], merged["invoke_s"])


def test_a_write_on_its_w_leg_reaches_a_replica_that_crashed_and_came_back_meanwhile():
    # kv-3's W leg takes 1 s: writes sent before its crash (0.3 s to 0.4 s) are
    # still on their way, not work the crash kills, and the restarted replica
    # applies them when they arrive, like every other write.
    crash = [{"kind": "crash", "node": "kv-3", "start": 0.3, "end": 0.4}]
    h = simulator.run(store("3s", 50, 0.0, keys=1000, faults=crash, replicas=3,
                            write_quorum=2, read_quorum=2, per_replica=[{}, {}, {"w": "1s"}]),
                      seed=3).history
    sent = h.ops[h.ops["invoke_s"] < 1.5]
    applied = h.copies[h.copies["copy"] == "kv-3"]
    assert (sent["invoke_s"] < 0.3).sum() > 5
    assert len(applied[applied["time_s"] < 2.5]) == len(sent)
