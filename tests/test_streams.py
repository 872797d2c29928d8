"""Named random streams: reproducible, independent by name, uniform where they say so."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from simulator.engine import Simulation
from simulator.streams import BLOCK, Stream, Streams, name_key

# More draws than one pre-drawn block, so that refilling is exercised too.
N = 3 * BLOCK + 17


def draws(stream: Stream, n: int = N) -> list[tuple[float, float, float]]:
    return [(stream.uniform(), stream.normal(), stream.exponential()) for _ in range(n)]


def test_same_seed_and_name_give_the_same_draws():
    assert draws(Stream(42, "node:db-primary")) == draws(Stream(42, "node:db-primary"))


def test_streams_container_returns_one_stream_per_name():
    streams = Streams(3)
    assert streams["a"] is streams["a"]
    assert streams["a"] is not streams["b"]
    assert streams.seed == 3


def test_different_names_give_different_draws():
    a = [Stream(42, "node:a").uniform() for _ in range(50)]
    b = [Stream(42, "node:b").uniform() for _ in range(50)]
    assert a != b
    # Not just shifted copies of one another either.
    assert not set(a) & set(b)


def test_different_seeds_give_different_draws():
    a = [Stream(1, "workload").uniform() for _ in range(50)]
    b = [Stream(2, "workload").uniform() for _ in range(50)]
    assert not set(a) & set(b)


def test_adding_a_stream_does_not_change_an_existing_one():
    alone = Streams(7)
    expected = [alone["link:a->b"].uniform() for _ in range(N)]

    crowded = Streams(7)
    other = crowded["link:x->y"]  # created first
    got = []
    for i in range(N):
        # Interleave draws from streams created before and after.
        other.uniform()
        crowded[f"late-{i % 5}"].normal()
        got.append(crowded["link:a->b"].uniform())
    assert got == expected


def test_simulation_streams_are_seeded_from_the_run_seed():
    first = [Simulation(11).streams["workload"].uniform() for _ in range(1)]
    again = [Simulation(11).streams["workload"].uniform() for _ in range(1)]
    other = [Simulation(12).streams["workload"].uniform() for _ in range(1)]
    assert first == again
    assert first != other


def test_name_key_is_stable_across_interpreters_whatever_the_hash_seed():
    # Load only the streams module (not the whole package) to keep this quick.
    import simulator.streams as module
    code = ("import importlib.util as u, sys;"
            f"spec = u.spec_from_file_location('streams', {module.__file__!r});"
            "m = u.module_from_spec(spec); spec.loader.exec_module(m);"
            "print(m.name_key('node:cache'), m.Stream(5, 'node:cache').uniform())")
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True).stdout.strip()
        outputs.add(out)
    assert len(outputs) == 1
    key, value = outputs.pop().split()
    assert int(key) == name_key("node:cache")
    assert float(value) == Stream(5, "node:cache").uniform()


def test_uniform_is_in_the_half_open_unit_interval_and_uniform():
    stream = Stream(0, "u")
    values = np.array([stream.uniform() for _ in range(20_000)])
    assert values.min() >= 0.0
    assert values.max() < 1.0
    n = len(values)
    # Mean 1/2, variance 1/12.
    assert abs(values.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    # Each tenth of the interval holds ~n/10 draws (binomial tolerance).
    counts = np.bincount((values * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - n / 10) < 5 * math.sqrt(n * 0.1 * 0.9))


def test_normal_and_exponential_have_the_standard_moments():
    stream = Stream(1, "moments")
    n = 20_000
    normal = np.array([stream.normal() for _ in range(n)])
    expo = np.array([stream.exponential() for _ in range(n)])
    assert abs(normal.mean()) < 5 / math.sqrt(n)
    assert abs(normal.var() - 1.0) < 5 * math.sqrt(2 / n)
    assert expo.min() >= 0
    assert abs(expo.mean() - 1.0) < 5 / math.sqrt(n)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100])
def test_below_is_an_integer_in_range_and_covers_it(n):
    stream = Stream(9, f"below-{n}")
    draws_ = [stream.below(n) for _ in range(max(200, 50 * n))]
    assert all(isinstance(d, int) for d in draws_)
    assert min(draws_) == 0
    assert max(draws_) == n - 1
    counts = np.bincount(draws_, minlength=n)
    total = len(draws_)
    p = 1 / n
    assert np.all(np.abs(counts - total * p) <= 5 * math.sqrt(total * p * (1 - p)) + 1e-9)


def test_below_never_reaches_n_even_for_the_largest_uniform():
    stream = Stream(0, "edge")
    largest = np.nextafter(1.0, 0.0)
    stream._u = [largest] * 3
    assert [stream.below(n) for n in (3, 10, 1_000_003)] == [2, 9, 1_000_002]
