"""Latency distributions: sample means against each object's ``.mean``, shapes against formulas.

Specs go through the scenario schema (``simulator.schema.distribution``), as
they would from a YAML file, so durations with units are exercised too.
Tolerances are 5 standard errors of the quantity checked, from the sample
size; every stream has a fixed seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.distributions import Constant, Exponential, Shifted, build
from simulator.schema import Context, distribution
from simulator.streams import Stream

N = 40_000
Z = 5.0  # standard errors allowed


def make(spec):
    """A distribution object from a YAML-style spec, validated by the schema."""
    return build(distribution(spec, (), Context("test")))


def sample(dist, n: int = N, seed: int = 1, name: str = "dist") -> np.ndarray:
    stream = Stream(seed, name)
    return np.array([dist.sample(stream) for _ in range(n)])


def assert_mean_matches(values: np.ndarray, mean: float, sd: float | None = None):
    sd = values.std(ddof=1) if sd is None else sd
    se = sd / math.sqrt(len(values))
    assert abs(values.mean() - mean) <= Z * se, (values.mean(), mean, se)


def assert_fraction(hits: int, n: int, p: float):
    assert abs(hits - n * p) <= Z * math.sqrt(n * p * (1 - p)), (hits / n, p)


def test_constant_always_returns_its_value():
    dist = make("3ms")
    assert dist.mean == pytest.approx(0.003)
    values = sample(dist, 100)
    assert np.all(values == 0.003)


def test_uniform_stays_within_bounds_and_has_the_midpoint_mean():
    dist = make({"dist": "uniform", "low": "2ms", "high": "10ms"})
    assert dist.mean == pytest.approx(0.006)
    values = sample(dist)
    assert values.min() >= 0.002
    assert values.max() < 0.010
    assert_mean_matches(values, dist.mean)
    # Half the mass below the midpoint.
    assert_fraction(int((values < 0.006).sum()), N, 0.5)


def test_exponential_mean_and_tail():
    dist = make({"dist": "exponential", "mean": "4ms"})
    assert dist.mean == pytest.approx(0.004)
    values = sample(dist)
    assert values.min() >= 0
    assert_mean_matches(values, dist.mean)
    # P(X > 2 mean) = e^-2.
    assert_fraction(int((values > 0.008).sum()), N, math.exp(-2))


def test_normal_is_truncated_at_zero_and_its_mean_accounts_for_it():
    # Mean close to zero relative to the spread: truncation matters a lot.
    dist = make({"dist": "normal", "mean": "1ms", "stddev": "2ms"})
    values = sample(dist)
    assert values.min() >= 0
    # The truncated mean is well above the untruncated one...
    assert dist.mean > 0.001 + 0.5 * 0.002
    # ...and the samples agree with it.
    assert_mean_matches(values, dist.mean)


def test_normal_far_from_zero_is_an_ordinary_normal():
    dist = make({"dist": "normal", "mean": "50ms", "stddev": "5ms"})
    assert dist.mean == pytest.approx(0.050, rel=1e-9)
    values = sample(dist)
    assert_mean_matches(values, 0.050)
    # Sample variance of a normal: SE of s^2 is sigma^2 sqrt(2/(n-1)).
    assert abs(values.var(ddof=1) - 0.005 ** 2) <= Z * 0.005 ** 2 * math.sqrt(2 / (N - 1))


def test_normal_with_zero_stddev_is_a_constant_clamped_at_zero():
    assert np.all(sample(make({"dist": "normal", "mean": "2ms", "stddev": 0}), 50) == 0.002)
    neg = build({"dist": "normal", "mean": -1.0, "stddev": 0.0})
    assert neg.mean == 0.0
    assert np.all(sample(neg, 50) == 0.0)


def test_lognormal_mean_and_median():
    dist = make({"dist": "lognormal", "median": "2ms", "sigma": 0.5})
    assert dist.mean == pytest.approx(0.002 * math.exp(0.5 ** 2 / 2))
    values = sample(dist)
    assert values.min() > 0
    assert_mean_matches(values, dist.mean)
    assert_fraction(int((values < 0.002).sum()), N, 0.5)


def test_pareto_minimum_mean_and_tail():
    scale, shape = 0.001, 4.0  # shape > 2: finite variance
    dist = make({"dist": "pareto", "scale": "1ms", "shape": shape})
    assert dist.mean == pytest.approx(scale * shape / (shape - 1))
    values = sample(dist)
    assert values.min() >= scale
    # The sample SD of a heavy tail is noisy; use the exact SD of the law.
    sd = scale / (shape - 1) * math.sqrt(shape / (shape - 2))
    assert_mean_matches(values, dist.mean, sd)
    # P(X > 2 scale) = 2^-shape.
    assert_fraction(int((values > 2 * scale).sum()), N, 2.0 ** -shape)


def test_pareto_with_shape_at_most_one_has_an_infinite_mean():
    assert make({"dist": "pareto", "scale": "1ms", "shape": 1.0}).mean == math.inf


EMPIRICAL = {"dist": "empirical", "percentiles": {50: "10ms", 90: "50ms", 99: "200ms"}}


def test_empirical_percentiles_match_the_table():
    dist = make(EMPIRICAL)
    values = sample(dist)
    for p, value in ((0.5, 0.010), (0.9, 0.050), (0.99, 0.200)):
        assert_fraction(int((values < value).sum()), N, p)
    # Linear interpolation between the listed points: the 70th percentile
    # sits halfway between 10ms and 50ms.
    assert_fraction(int((values < 0.030).sum()), N, 0.7)
    # The table starts at 0 at percentile 0 and stops at its largest value.
    assert values.min() >= 0
    assert values.max() <= 0.200


def test_empirical_mean_matches_samples_and_the_trapezoid_formula():
    dist = make(EMPIRICAL)
    # Piecewise-linear inverse CDF through (0,0) (.5,10ms) (.9,50ms) (.99,200ms) (1,200ms).
    expected = (0.5 * (0 + 0.010) / 2 + 0.4 * (0.010 + 0.050) / 2
                + 0.09 * (0.050 + 0.200) / 2 + 0.01 * 0.200)
    assert dist.mean == pytest.approx(expected)
    assert_mean_matches(sample(dist), dist.mean)


def test_empirical_with_explicit_ends():
    dist = make({"dist": "empirical", "percentiles": {0: "1ms", 100: "3ms"}})
    assert dist.mean == pytest.approx(0.002)
    values = sample(dist)
    assert values.min() >= 0.001 and values.max() <= 0.003
    assert_mean_matches(values, 0.002)


def test_mixture_respects_weights():
    dist = make({"dist": "mixture", "of": [
        {"weight": 3, "dist": "constant", "value": "1ms"},
        {"weight": 1, "dist": "constant", "value": "10ms"},
    ]})
    assert dist.mean == pytest.approx(0.75 * 0.001 + 0.25 * 0.010)
    values = sample(dist)
    assert set(np.unique(values)) == {0.001, 0.010}
    assert_fraction(int((values == 0.001).sum()), N, 0.75)


def test_mixture_of_continuous_parts_has_the_weighted_mean():
    dist = make({"dist": "mixture", "of": [
        {"weight": 0.9, "dist": "exponential", "mean": "1ms"},
        {"weight": 0.1, "dist": "lognormal", "median": "50ms", "sigma": 0.3},
    ]})
    expected = 0.9 * 0.001 + 0.1 * 0.050 * math.exp(0.3 ** 2 / 2)
    assert dist.mean == pytest.approx(expected)
    values = sample(dist)
    assert_mean_matches(values, expected)
    # Almost every lognormal draw is above 20ms, almost no exponential one is.
    p_slow = 0.9 * math.exp(-20) + 0.1 * 0.5 * math.erfc(math.log(20 / 50) / 0.3 / math.sqrt(2))
    assert_fraction(int((values > 0.020).sum()), N, p_slow)


def test_mixture_weight_defaults_to_one():
    dist = make({"dist": "mixture", "of": [
        {"dist": "constant", "value": "1ms"}, {"dist": "constant", "value": "3ms"}]})
    assert dist.mean == pytest.approx(0.002)
    values = sample(dist)
    assert_fraction(int((values == 0.001).sum()), N, 0.5)


def test_shifted_adds_the_extra_latency():
    dist = Shifted(Exponential(0.002), Constant(0.010))
    assert dist.mean == pytest.approx(0.012)
    values = sample(dist)
    assert values.min() >= 0.010
    assert_mean_matches(values, 0.012)


@pytest.mark.parametrize("spec", [
    {"dist": "exponential", "mean": "1ms"},
    {"dist": "normal", "mean": "1ms", "stddev": "1ms"},
    EMPIRICAL,
    {"dist": "mixture", "of": [{"dist": "exponential", "mean": "1ms"},
                                {"dist": "pareto", "scale": "1ms", "shape": 3}]},
])
def test_sampling_is_reproducible_from_the_stream(spec):
    dist = make(spec)
    first = sample(dist, 500, seed=4, name="same")
    assert np.array_equal(first, sample(dist, 500, seed=4, name="same"))
    assert not np.array_equal(first, sample(dist, 500, seed=5, name="same"))


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        build({"dist": "weibull"})
