"""The hand-written reference models of the benchmark, and the scenario they are
compared with, simulate the quorum write the issue describes.

A write's latency is one exponential hop to the coordinator, the second
fastest of three independent round trips to the replicas (each the sum of two
exponential hops: a Gamma(2) time), and one hop back.  Its mean follows from
the survival function of the second order statistic of three Gamma(2) times,
P(T > t) = S^3 + 3 (1 - S) S^2 with S(t) = exp(-t/m) (1 + t/m), integrated
numerically here.  The tolerance is five standard errors of the sample mean.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import simulator

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import reference_quorum  # noqa: E402


def quorum_write_mean(mean_hop: float, replicas: int = 3, acks: int = 2) -> float:
    """Mean latency of a write acknowledged after ``acks`` of ``replicas`` round trips."""
    t = np.linspace(0.0, 60.0 * mean_hop, 600_001)
    survival = np.exp(-t / mean_hop) * (1 + t / mean_hop)  # one round trip, Gamma(2)
    failed = 1 - survival
    # fewer than `acks` of the round trips are done by t
    later = sum(math.comb(replicas, j) * failed ** j * survival ** (replicas - j)
                for j in range(acks))
    return 2 * mean_hop + float(np.sum((later[1:] + later[:-1]) / 2 * np.diff(t)))


def test_the_order_statistic_mean_has_its_closed_form():
    # for 2 of 3: (3 (1/2 + 2/4 + 2/8) - 2 (1/3 + 3/9 + 6/27 + 6/81)) m, plus the two hops
    closed = 2 + 3 * (1 / 2 + 2 / 4 + 2 / 8) - 2 * (1 / 3 + 3 / 9 + 6 / 27 + 6 / 81)
    assert quorum_write_mean(1.0) == pytest.approx(closed, rel=1e-9)


def assert_mean_latency(latencies: np.ndarray, mean_hop: float) -> None:
    expected = quorum_write_mean(mean_hop)
    error = latencies.std(ddof=1) / math.sqrt(len(latencies))
    assert abs(latencies.mean() - expected) < 5 * error, (latencies.mean(), expected, error)


@pytest.mark.parametrize("name, model", [(name, model) for name, model, _ in
                                         reference_quorum.MODELS])
def test_each_reference_model_writes_with_the_quorum_latency(name, model):
    log = np.array(model(5_000, seed=3))
    assert len(log) == 5_000
    assert (log[1:, 0] == log[:-1, 1]).all(), "closed loop: a write starts as the last ends"
    assert_mean_latency(log[:, 1] - log[:, 0], reference_quorum.MEAN_DELAY)


def test_the_reference_models_are_one_flow_draw_for_draw():
    # the same seed gives the same writes at the same times, whatever the style
    logs = [model(2_000, seed=9) for _, model, _ in reference_quorum.MODELS]
    for log in logs[1:]:
        assert log == logs[0]


def test_the_quorum_write_scenario_writes_with_the_quorum_latency():
    scenario = simulator.load(BENCHMARKS / "quorum-write.yaml", duration=20.0)
    ops = simulator.run(scenario).history.ops
    ok = ops[ops["status"] == "ok"]
    assert len(ok) > 4_000 and len(ok) == len(ops[ops["complete_s"].notna()])
    assert_mean_latency((ok["complete_s"] - ok["invoke_s"]).to_numpy(), 0.001)
