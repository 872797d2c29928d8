"""Confidence intervals for a mean over a few seeds: Student's t, checked against
its closed forms and by the coverage it promises."""

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.intervals import mean_interval, t_quantile
from simulator.sweeps import across_seeds


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99])
def test_t_quantiles_match_the_closed_forms_of_one_and_two_degrees_of_freedom(level):
    # df 1 (Cauchy): P(|T| <= t) = 2 atan(t) / pi; df 2: t / sqrt(2 + t^2)
    assert t_quantile(level, 1) == pytest.approx(math.tan(level * math.pi / 2), rel=1e-9)
    assert t_quantile(level, 2) == pytest.approx(level * math.sqrt(2 / (1 - level ** 2)),
                                                 rel=1e-9)


def test_t_quantiles_fall_with_the_degrees_of_freedom_towards_the_normal_one():
    z = NormalDist().inv_cdf(0.975)
    values = [t_quantile(0.95, df) for df in (1, 2, 3, 5, 10, 30, 100, 1000)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(z, rel=2e-3)
    assert t_quantile(0.95, 10_000) == pytest.approx(z, rel=2e-4)
    assert t_quantile(0.95, 20_000) == z
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.95, 0)


@pytest.mark.parametrize("n", [3, 5, 12])
def test_the_interval_covers_the_true_mean_as_often_as_it_says(n):
    # 4,000 samples of n normal values: the 95% interval holds the mean in 95%
    # of them, within 4 binomial standard deviations (about 1.4%)
    rng = np.random.default_rng(n)
    trials = 4000
    hits = 0
    for sample in rng.normal(10.0, 3.0, size=(trials, n)):
        mean, half, count = mean_interval(sample)
        assert count == n
        hits += abs(mean - 10.0) <= half
    assert abs(hits / trials - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / trials)


def test_missing_values_are_left_out_and_one_value_has_no_interval():
    mean, half, n = mean_interval([1.0, float("nan"), 3.0])
    assert (mean, n) == (2.0, 2)
    assert half == pytest.approx(t_quantile(0.95, 1) * math.sqrt(2) / math.sqrt(2))
    mean, half, n = mean_interval([4.0, float("nan")])
    assert (mean, n) == (4.0, 1) and math.isnan(half)
    mean, half, n = mean_interval([])
    assert n == 0 and math.isnan(mean) and math.isnan(half)


def test_a_sweep_is_summed_up_per_combination_in_its_order():
    table = pd.DataFrame({
        "ttl": ["60s", "60s", "60s", "5s", "5s", "5s"],
        "seed": [1, 2, 3, 1, 2, 3],
        "stale": [0.1, 0.2, 0.3, 0.0, 0.0, float("nan")],
        "note": ["a", "b", "c", "d", "e", "f"],  # not a number: left out
    })
    summed = across_seeds(table)
    assert list(summed.columns) == ["ttl", "seeds", "stale", "stale_ci"]
    assert summed["ttl"].tolist() == ["60s", "5s"]
    assert summed["seeds"].tolist() == [3, 3]
    assert summed["stale"].tolist() == pytest.approx([0.2, 0.0])
    assert summed["stale_ci"].iloc[0] == pytest.approx(t_quantile(0.95, 2) * 0.1 / math.sqrt(3))
    assert summed["stale_ci"].iloc[1] == 0.0
    # without a grid, one row; a table that is not a sweep's is refused
    alone = across_seeds(table[["seed", "stale"]])
    assert len(alone) == 1 and alone["seeds"].iloc[0] == 6
    with pytest.raises(ValueError, match="no 'seed' column"):
        across_seeds(table.drop(columns="seed"))


def test_missing_measures_true_false_measures_and_unhashable_values_are_summed_up():
    # a measure None in every run (no partition: nothing during one) stays a column of
    # NaN; a true/false measure is a proportion; a grid value may be a list (groups) or
    # None, and comes back as given
    groups = [[["api-1"], ["*"]], [["db"], ["*"]]]
    table = pd.DataFrame({
        "faults.0.groups": [groups[0], groups[0], groups[1], groups[1]],
        "label": [None, None, "x", "x"],
        "seed": [1, 2, 1, 2],
        "during": [None, None, None, None],
        "some": [None, 1.0, 2.0, 4.0],
        "split": [True, False, True, True],
    })
    summed = across_seeds(table)
    assert summed["faults.0.groups"].tolist() == groups
    assert pd.isna(summed["label"].iloc[0]) and summed["label"].iloc[1] == "x"
    assert summed["during"].isna().all() and summed["during_ci"].isna().all()
    assert summed["some"].tolist() == [1.0, 3.0]
    assert math.isnan(summed["some_ci"].iloc[0])  # one value: no interval
    assert summed["split"].tolist() == [0.5, 1.0]
