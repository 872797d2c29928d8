"""PBS t-visibility and k-staleness measured from hand-written histories, and the Wilson interval."""

import math

import numpy as np
import pytest
from conftest import make_history

from simulator.analysis import k_staleness, stale_reads, t_visibility, wilson_interval
from simulator.analysis.visibility import default_grid, read_ages

GRID = [0.0, 0.001, 0.01, 0.1, 1.0]


def test_wilson_interval_known_values():
    low, high = wilson_interval([5, 0, 10], [10, 10, 10])
    # 5 of 10: the textbook 95 % Wilson interval is (0.2366, 0.7634).
    assert low[0] == pytest.approx(0.23659, abs=1e-4) and high[0] == pytest.approx(0.76341, abs=1e-4)
    # No successes: the lower bound is 0 and the upper one z^2 / (n + z^2).
    z2 = 1.959963984540054**2
    assert low[1] == 0.0 and high[1] == pytest.approx(z2 / (10 + z2))
    # All successes: the mirror image.
    assert high[2] == 1.0 and low[2] == pytest.approx(1 - z2 / (10 + z2))


def test_wilson_interval_contains_the_estimate_narrows_with_n_and_is_nan_without_trials():
    n = np.array([4, 40, 400, 4000])
    low, high = wilson_interval(n // 4, n)
    assert np.all(low <= 0.25) and np.all(high >= 0.25)
    assert np.all(np.diff(high - low) < 0)
    low, high = wilson_interval(0, 0)
    assert math.isnan(float(low)) and math.isnan(float(high))


def visibility_run():
    # key 0: v1 committed at 1.0, v2 at 2.0; key 1 is never written.
    return make_history(
        ops=[
            ("read", 0, 1.005, 1.006, "ok", 0),   # 5 ms after v1, returned v0: inconsistent
            ("read", 0, 1.5, 1.51, "ok", 1),      # 0.5 s after v1, returned it
            ("read", 0, 1.9, 1.91, "ok", 2),      # 0.9 s after v1, returned v2 (still in flight): consistent
            ("read", 0, 1.02, 1.03, "ok", 7),     # 20 ms after v1, a phantom: inconsistent
            ("read", 0, 1.0, 1.01, "ok", 0),      # at the very instant of v1's commit: no earlier commit, no age
            ("read", 1, 3.0, 3.01, "ok", 0),      # key never written: excluded
            ("read", 0, 2.5, 2.51, "fail", -1),   # not ok: excluded
            ("write", 0, 0.9, 1.0, "ok", 1),
        ],
        truth=[(0, 1, 1.0), (0, 2, 2.0)],
        duration=5,
    )


def test_read_ages():
    ages = read_ages(visibility_run())
    assert ages["age_s"].to_numpy()[:4] == pytest.approx([0.005, 0.5, 0.9, 0.02])
    assert np.isnan(ages["age_s"].to_numpy()[4:]).all()
    assert list(ages["consistent"]) == [False, True, True, False, True, True]


def test_t_visibility_puts_each_read_in_the_bin_of_its_age():
    table = t_visibility(visibility_run(), grid=GRID)
    assert list(table.columns) == ["t_s", "t_end_s", "reads", "consistent", "probability", "low", "high"]
    assert list(table["t_s"]) == GRID
    assert list(table["t_end_s"]) == [0.001, 0.01, 0.1, 1.0, math.inf]
    assert list(table["reads"]) == [0, 1, 1, 2, 0]
    assert list(table["consistent"]) == [0, 0, 0, 2, 0]
    probability = table["probability"].to_numpy()
    assert np.isnan(probability[[0, 4]]).all()
    # The read 5 ms after the commit that returned the old version: probability 0 in [1ms, 10ms).
    assert probability[1] == 0.0 and probability[3] == 1.0
    low, high = wilson_interval(0, 1)
    assert table["low"].iloc[1] == low and table["high"].iloc[1] == high
    assert np.isnan(table.loc[table["reads"] == 0, ["low", "high"]].to_numpy()).all()


def test_t_visibility_cumulative_counts_every_read_at_least_that_old():
    table = t_visibility(visibility_run(), grid=GRID, cumulative=True)
    assert list(table["reads"]) == [4, 4, 3, 2, 0]
    assert list(table["consistent"]) == [2, 2, 2, 2, 0]
    assert table["probability"].iloc[0] == 0.5
    assert np.isinf(table["t_end_s"]).all()


def test_t_visibility_grid_that_starts_late_leaves_younger_reads_out():
    table = t_visibility(visibility_run(), grid=[0.1, 1.0])
    assert list(table["reads"]) == [2, 0]


def test_precomputed_stale_table_is_used():
    history = visibility_run()
    stale = stale_reads(history)
    stale["stale"] = False  # pretend every read was fresh
    table = t_visibility(history, grid=GRID, stale=stale)
    assert list(table["consistent"]) == [0, 1, 0, 2, 0]  # only the phantom stays inconsistent


def test_default_grid_is_zero_then_log_spaced_from_100us_to_the_duration():
    grid = default_grid(120.0)
    assert grid[0] == 0.0 and grid[1] == pytest.approx(1e-4) and grid[-1] == pytest.approx(120.0)
    assert len(grid) == 41 and np.all(np.diff(grid) > 0)
    assert np.allclose(np.diff(np.log(grid[1:])), np.log(120.0 / 1e-4) / 39)
    table = t_visibility(visibility_run())
    assert len(table) == 41 and table["reads"].sum() == 4


@pytest.mark.parametrize("grid", [[], [0.0, 0.0], [1.0, 0.5], [-1.0, 1.0], [0.0, math.inf]])
def test_a_bad_grid_is_refused(grid):
    with pytest.raises(ValueError):
        t_visibility(visibility_run(), grid=grid)


def test_t_visibility_of_an_empty_history():
    table = t_visibility(make_history(), grid=GRID)
    assert table["reads"].sum() == 0 and table["probability"].isna().all()


def k_run():
    # key 0: v1, v2, v3 committed by 3.0; reads at 4.0 missed 0, 1 and 2 versions, and a phantom.
    return make_history(
        ops=[
            ("read", 0, 4.0, 4.1, "ok", 3),
            ("read", 0, 4.0, 4.1, "ok", 2),
            ("read", 0, 4.0, 4.1, "ok", 1),
            ("read", 0, 4.0, 4.1, "ok", 9),
            ("read", 0, 4.0, 4.1, "info", -1),
        ],
        truth=[(0, 1, 1.0), (0, 2, 2.0), (0, 3, 3.0)],
        duration=5,
    )


def test_k_staleness_counts_reads_within_the_last_k_versions():
    table = k_staleness(k_run(), kmax=4)
    assert list(table.columns) == ["k", "reads", "consistent", "probability", "low", "high"]
    assert list(table["k"]) == [1, 2, 3, 4]
    assert list(table["reads"]) == [4, 4, 4, 4]
    assert list(table["probability"]) == [0.25, 0.5, 0.75, 0.75]  # the phantom is never within k
    low, high = wilson_interval([1, 2, 3, 3], 4)
    assert np.allclose(table["low"], low) and np.allclose(table["high"], high)


def test_k_of_1_is_one_minus_the_stale_or_phantom_fraction():
    history = visibility_run()
    stale = stale_reads(history)
    first = k_staleness(history, kmax=1, stale=stale).iloc[0]
    assert first["probability"] == pytest.approx(1 - (stale["stale"] | stale["phantom"]).mean())


def test_k_staleness_without_reads_and_with_a_bad_kmax():
    table = k_staleness(make_history(), kmax=3)
    assert list(table["reads"]) == [0, 0, 0] and table["probability"].isna().all()
    with pytest.raises(ValueError):
        k_staleness(k_run(), kmax=0)
