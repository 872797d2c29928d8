"""Latency percentiles in moving windows and the breakdown of failures, on hand-written histories."""

import numpy as np
import pytest
from conftest import make_history

from simulator.analysis import error_breakdown, percentiles_over_time
from simulator.analysis.latency import quantile_column


def run(duration=4):
    return make_history(
        ops=[
            ("read", 0, 0.1, 0.2, "ok", 0),        # latency 0.1
            ("read", 0, 0.2, 0.5, "ok", 0),        # 0.3
            ("write", 0, 0.3, 0.5, "ok", 1),       # 0.2
            ("read", 0, 0.4, 1.4, "info", -1),     # not ok: no latency counted
            ("read", 0, 2.5, 3.5, "ok", 1),        # 1.0
        ],
        truth=[(0, 1, 0.5)],
        duration=duration,
    )


def test_percentiles_in_moving_windows():
    table = percentiles_over_time(run(), window_s=1.0)
    assert list(table.columns) == ["t_s", "start_s", "end_s", "ops", "p50_s", "p99_s"]
    # Windows of 1 s every 0.5 s, the last one reaching the end of the run (4 s).
    assert list(table["start_s"]) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert list(table["t_s"]) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert list(table["ops"]) == [3, 0, 0, 0, 1, 1, 0]  # [start, end): 2.5 is not in [1.5, 2.5)
    first = table.iloc[0]
    assert first["p50_s"] == pytest.approx(0.2)
    assert first["p99_s"] == pytest.approx(np.quantile([0.1, 0.2, 0.3], 0.99))
    assert table["p50_s"].iloc[4] == pytest.approx(1.0) and table["p99_s"].iloc[4] == pytest.approx(1.0)
    assert table.loc[table["ops"] == 0, ["p50_s", "p99_s"]].isna().all().all()


def test_window_step_and_quantiles_are_configurable():
    table = percentiles_over_time(run(), window_s=2.0, step_s=2.0, quantiles=(0.0, 1.0, 0.999))
    assert list(table.columns[-3:]) == ["p0_s", "p100_s", "p99.9_s"]
    assert list(table["start_s"]) == [0.0, 2.0]
    assert table["p0_s"].iloc[0] == pytest.approx(0.1) and table["p100_s"].iloc[0] == pytest.approx(0.3)


def test_default_window_is_a_hundredth_of_the_run_but_at_least_100ms():
    short = percentiles_over_time(run(duration=4))
    assert (short["end_s"] - short["start_s"]).iloc[0] == pytest.approx(0.1)
    long = percentiles_over_time(run(duration=300))
    assert (long["end_s"] - long["start_s"]).iloc[0] == pytest.approx(3.0)
    assert long["end_s"].iloc[-1] >= 300 > long["end_s"].iloc[-2]


def test_quantile_column_names():
    assert [quantile_column(q) for q in (0.5, 0.99, 0.999, 0.9)] == ["p50_s", "p99_s", "p99.9_s", "p90_s"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        percentiles_over_time(run(), window_s=0)
    with pytest.raises(ValueError):
        percentiles_over_time(run(), quantiles=(1.5,))


def test_percentiles_of_an_empty_history():
    table = percentiles_over_time(make_history())
    assert len(table) == 1 and table["ops"].iloc[0] == 0 and np.isnan(table["p50_s"].iloc[0])


def test_error_breakdown_counts_fail_and_info_by_cause():
    history = make_history(
        ops=[
            ("read", 0, 0.1, 1.1, "info", -1, "", "svc-1", "timeout"),
            ("read", 0, 0.2, 0.3, "fail", -1, "", "svc-1", "unavailable"),
            ("read", 0, 0.3, 0.4, "fail", -1, "", "svc-1", "database-unreachable"),
            ("read", 0, 0.4, 0.5, "fail", -1, "", "svc-1", "database-unreachable"),
            ("write", 0, 0.5, 1.5, "info", -1, "", "svc-1", "timeout"),
            ("write", 0, 0.6, 0.7, "fail", -1, "", "svc-1", ""),
            ("read", 0, 0.7, 0.8, "ok", 0),
        ],
        duration=2,
    )
    table = error_breakdown(history)
    assert list(table.columns) == ["op", "status", "error", "count"]
    assert [tuple(r) for r in table.itertuples(index=False)] == [
        ("read", "fail", "database-unreachable", 2),
        ("read", "fail", "unavailable", 1),
        ("write", "fail", "unspecified", 1),
        ("read", "info", "timeout", 1),
        ("write", "info", "timeout", 1),
    ]
    assert table["count"].sum() == 6


def test_error_breakdown_of_a_run_without_failures():
    table = error_breakdown(make_history(ops=[("read", 0, 0.1, 0.2, "ok", 0)]))
    assert len(table) == 0 and list(table.columns) == ["op", "status", "error", "count"]
