"""Full simulation runs against closed forms, with tolerances from the sample.

Stale reads are correlated in time (a stale cache entry serves several reads
in a row), so the standard error comes from batch means: the run is cut into
consecutive batches much longer than the correlation time, and the spread of
the per-batch fractions gives the standard error of the overall fraction.
"""

from __future__ import annotations

import math

import numpy as np

import simulator

BATCHES = 25


def batch_mean_and_error(times: np.ndarray, flags: np.ndarray, duration: float):
    """The fraction of ``flags`` and its standard error from ``BATCHES`` batch means."""
    batch = np.minimum((times / duration * BATCHES).astype(int), BATCHES - 1)
    totals = np.bincount(batch, minlength=BATCHES)
    hits = np.bincount(batch, weights=flags.astype(float), minlength=BATCHES)
    assert (totals > 0).all()
    means = hits / totals
    return flags.mean(), means.std(ddof=1) / math.sqrt(BATCHES)


def zero_latency_scenario(duration: float, reads: float, writes: float) -> dict:
    """One key, one instance, every latency zero except what the test sets."""
    return {
        "name": "theory",
        "duration": duration,
        "network": {"latency": 0},
        "components": {
            "db": {"kind": "database", "disk_write": 0, "read_time": 0},
            "api": {"kind": "service", "instances": 1, "workers": 100_000, "service_time": 0,
                    "database": "db"},
        },
        "workload": {"target": "api", "rate": reads + writes,
                     "read_fraction": reads / (reads + writes), "keys": 1, "timeout": "10s"},
    }


def stale_fraction(result, duration):
    stale = result.stale_reads
    assert len(stale) == int((result.ops["op"] == "read").sum()), "every read must succeed"
    return batch_mean_and_error(stale["invoke_s"].to_numpy(), stale["stale"].to_numpy(),
                                duration)


def test_ttl_cache_without_invalidation_matches_the_renewal_formula():
    # Cache-aside, lazy fill, TTL T, no invalidation on write.  An entry is
    # filled by a miss, serves every read for T, then the next read misses:
    # a renewal cycle of mean length T + 1/r holding 1 + rT reads, of which
    # the hit at age t is stale with probability 1 - exp(-lambda t).
    r, lam, ttl, duration = 10.0, 1.0, 1.0, 2000.0
    scenario = zero_latency_scenario(duration, r, lam)
    scenario["components"]["cache"] = {"kind": "cache", "ttl": ttl, "on_write": "none",
                                       "op_time": 0}
    scenario["components"]["api"]["cache"] = "cache"
    result = simulator.run(scenario, seed=3)
    expected = r * (ttl - (1 - math.exp(-lam * ttl)) / lam) / (1 + r * ttl)
    observed, error = stale_fraction(result, duration)
    assert error < 0.02, "the run is too short for this test to mean anything"
    assert abs(observed - expected) < 4.5 * error, (observed, expected, error)


def test_async_replica_with_exponential_delay_matches_lambda_over_lambda_plus_mu():
    # A read at the replica is stale exactly when the latest committed version
    # has not arrived yet.  Its age A ~ Exp(lambda) (looking back from a
    # random instant) and its delay D ~ Exp(mu): P(D > A) = lambda/(lambda+mu).
    r, lam, mu, duration = 20.0, 2.0, 10.0, 1000.0
    scenario = zero_latency_scenario(duration, r, lam)
    scenario["components"]["db"].update(
        {"replicas": 1, "replication": "async", "read_from": "replica",
         "replication_retry": "1h"})
    scenario["network"]["links"] = [{"from": "db-primary", "to": "db-replica-1",
                                     "both_ways": False,
                                     "latency": {"dist": "exponential", "mean": 1 / mu}}]
    result = simulator.run(scenario, seed=4)
    assert set(result.stale_reads["served_by"]) == {"db-replica-1"}
    expected = lam / (lam + mu)
    observed, error = stale_fraction(result, duration)
    assert error < 0.02
    assert abs(observed - expected) < 4.5 * error, (observed, expected, error)


def test_semi_sync_write_availability_under_random_failures_matches_the_binomial():
    # Primary and 3 replicas fail independently (exponential MTTF and MTTR), so
    # each is up with probability p = MTTF / (MTTF + MTTR) at a random instant.
    # A semi-sync write with k = 2 acks commits when the primary and at least 2
    # of the 3 replicas are up: p * sum_{i>=2} C(3, i) p^i (1-p)^(3-i).  The
    # client timeout is short next to the up and down times, so a write's
    # outcome is the state at its start.
    mttf, mttr, n, k, duration = 4.0, 1.0, 3, 2, 2000.0
    p = mttf / (mttf + mttr)
    scenario = {
        "name": "availability", "duration": duration,
        "network": {"latency": "100us"},
        "components": {"db": {"kind": "database", "replicas": n, "replication": "semi-sync",
                              "acks": k, "disk_write": 0, "read_time": 0,
                              "replication_retry": "1h"}},
        "workload": {"target": "db", "rate": 50, "read_fraction": 0.0, "keys": 1000,
                     "timeout": "20ms"},
        "faults": [{"kind": "failures", "node": "db", "mttf": mttf, "mttr": mttr,
                    "start": 0, "end": duration}],
    }
    ops = simulator.run(scenario, seed=5).history.ops
    expected = p * sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))
    observed, error = batch_mean_and_error(ops["invoke_s"].to_numpy(),
                                           (ops["status"] == "ok").to_numpy(), duration)
    assert error < 0.02
    assert abs(observed - expected) < 4.5 * error, (observed, expected, error)


def test_a_service_with_c_workers_waits_as_erlang_c_predicts():
    # M/M/c: Poisson arrivals at rate lam, exponential service at rate mu per
    # worker, c workers, FIFO queue.  Erlang C gives the probability of
    # waiting, C = (a^c / c!) / ((1 - rho) sum_{j<c} a^j / j! + a^c / c!) with
    # a = lam / mu and rho = a / c, and the mean wait W_q = C / (c mu - lam).
    # Every other latency is zero, so an operation's latency is wait + service.
    lam, mu, c, duration = 300.0, 100.0, 4, 400.0
    a, rho = lam / mu, lam / (c * mu)
    top = a ** c / math.factorial(c)
    erlang_c = top / ((1 - rho) * sum(a ** j / math.factorial(j) for j in range(c)) + top)
    expected = erlang_c / (c * mu - lam) + 1 / mu
    scenario = zero_latency_scenario(duration, lam, 0.0001)
    scenario["workload"].update({"rate": lam, "read_fraction": 1.0})
    scenario["components"]["api"].update(
        {"workers": c, "service_time": {"dist": "exponential", "mean": 1 / mu}})
    ops = simulator.run(scenario, seed=6).history.ops
    assert (ops["status"] == "ok").all()
    latency = (ops["complete_s"] - ops["invoke_s"]).to_numpy()
    observed, error = batch_mean_and_error(ops["invoke_s"].to_numpy(), latency, duration)
    assert error < 0.1 * expected
    assert abs(observed - expected) < 4.5 * error, (observed, expected, error)
