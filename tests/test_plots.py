"""Every figure renders, for a small run, an empty one and a large one, and shows what it says."""

import inspect
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import large_history, make_history
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from simulator.analysis import stale_reads, windows
from simulator.plots import (
    FAULT_COLOURS,
    FIGURES,
    _log_time_axis,
    _new_figure,
    divergence,
    latency,
    shade_faults,
    timeline,
    visibility,
    window_cdf,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_run():
    return make_history(
        ops=[
            ("write", 0, 0.5, 0.52, "ok", 1, "db-primary"),
            ("read", 0, 1.5, 1.51, "ok", 0, "replica"),
            ("read", 0, 2.5, 3.5, "info", -1, ""),
            ("write", 1, 3.0, 3.0, "fail", -1, ""),
            ("read", 1, 6.0, 6.02, "ok", 0, "cache"),
        ],
        truth=[(0, 1, 0.52), (1, 1, 5.0)],
        copies=[(2.0, "replica", 0, 1), (4.0, "cache", 0, 7, "fill"), (7.0, "cache", 0, -1, "expire")],
        copy_info=[("replica", "v0"), ("cache", "empty")],
        faults=[("partition-1", "partition", 1.0, 3.0), ("deploy-1", "deploy", 6.5, 7.5)],
        duration=10,
        meta={"scenario": "tiny", "seed": 3},
    )


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000


def assert_duration_ticks(figure, axis):
    """The log-scale time ``axis`` is labelled in durations ("1ms", "10s"), not powers of ten."""
    figure.canvas.draw()
    low, high = axis.get_view_interval()
    shown = [t.get_text() for t in axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)
             if t.get_text() and low <= t.get_position()[axis.axis_name == "y"] <= high]
    assert shown, "no tick label on the time axis"
    assert all(re.fullmatch(r"\d+(\.\d+)?(us|ms|s)", text) for text in shown), shown


def test_duration_ticks_label_decades_and_narrow_ranges():
    figure = _new_figure(4, 3)
    ax = figure.subplots()
    ax.plot([0, 1], [1e-4, 20.0])
    _log_time_axis(ax, "y")
    figure.canvas.draw()
    majors = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert {"100us", "1ms", "10ms", "100ms", "1s", "10s"} <= set(majors)
    ax.set_ylim(0.002, 0.005)  # less than a decade: minor ticks are labelled
    assert_duration_ticks(figure, ax.yaxis)
    figure.canvas.draw()
    assert {"2ms", "3ms", "4ms", "5ms"} <= {t.get_text() for t in ax.get_yticklabels(minor=True)}


def test_timeline_of_a_small_run_renders_to_png(tmp_path):
    history = small_run()
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    assert isinstance(figure, Figure)
    top, bottom = figure.axes[:2]
    assert top.get_yscale() == "log"
    assert "latency" in top.get_ylabel()
    assert_duration_ticks(figure, top.yaxis)
    assert bottom.get_xlabel() == "simulated time (s)"
    assert [t.get_text().split("\n")[0] for t in bottom.get_yticklabels()] == ["replica", "cache"]
    assert "tiny" in figure.get_suptitle()
    figure.savefig(tmp_path / "timeline.png")
    assert_png(tmp_path / "timeline.png")


def test_timeline_without_analysis_tables_renders(tmp_path):
    timeline(small_run()).savefig(tmp_path / "bare.png")
    assert_png(tmp_path / "bare.png")


def test_timeline_of_an_empty_history_renders(tmp_path):
    history = make_history()
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    figure.savefig(tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")


def test_timeline_subsamples_a_large_run(tmp_path):
    history = large_history(120_000, keys=200)
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    assert "one operation in 3 drawn" in figure.get_suptitle()
    drawn = sum(len(c.get_offsets()) for c in figure.axes[0].collections)
    assert drawn <= 2 * 50_000
    figure.savefig(tmp_path / "large.png", dpi=50)
    assert_png(tmp_path / "large.png")


def test_plots_never_import_pyplot():
    code = "import sys, simulator.plots; print('matplotlib.pyplot' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- every figure of FIGURES -------------------------------------------------------------------

def test_figures_are_listed_by_name():
    from simulator.result import FIGURE_NAMES
    assert list(FIGURES) == ["timeline", "divergence", "window_cdf", "visibility", "latency"]
    assert FIGURES["divergence"] is divergence and FIGURES["latency"] is latency
    assert FIGURE_NAMES == tuple(FIGURES)


def test_naming_the_figures_does_not_import_matplotlib():
    # The results folder names the figures before it forks the processes that
    # draw them; importing matplotlib there would put ~0.7 s on the parent's path.
    code = ("import sys, simulator; from conftest import make_history; "
            "r = simulator.analyse(make_history()); names = r.plot.names; r.summary; "
            "print(len(names), 'matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=os.path.dirname(__file__))
    assert result.stdout.split() == ["5", "False"]


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_takes_stale_and_windows_by_keyword(name):
    parameters = inspect.signature(FIGURES[name]).parameters
    assert list(parameters)[0] == "history"
    for keyword in ("stale", "windows"):
        assert parameters[keyword].default is None
        assert parameters[keyword].kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_renders_for_a_small_run_and_an_empty_one(name, tmp_path):
    for label, history in (("small", small_run()), ("empty", make_history())):
        figure = FIGURES[name](history, stale=stale_reads(history), windows=windows(history))
        assert isinstance(figure, Figure)
        assert figure.get_suptitle()
        assert all(ax.get_ylabel() for ax in figure.axes) and figure.axes[-1].get_xlabel()
        figure.savefig(tmp_path / f"{name}-{label}.png")
        assert_png(tmp_path / f"{name}-{label}.png")


@pytest.mark.parametrize("name", ["divergence", "window_cdf", "visibility", "latency"])
def test_new_figures_compute_missing_tables(name, tmp_path):
    FIGURES[name](small_run()).savefig(tmp_path / "bare.png")
    assert_png(tmp_path / "bare.png")


def shading_colours(ax) -> set:
    """Colours of the translucent spans (fault shading) drawn on an axes."""
    return {to_hex(p.get_facecolor()) for p in ax.patches if 0 < p.get_alpha() < 0.5} if ax.patches else set()


def test_fault_shading_uses_one_colour_per_kind_everywhere():
    history = small_run()
    expected = {FAULT_COLOURS["partition"], FAULT_COLOURS["deploy"]}
    for figure in (timeline(history), divergence(history), latency(history)):
        assert shading_colours(figure.axes[0]) == expected
    legend = [t.get_text() for t in latency(history).axes[0].get_legend().get_texts()]
    assert "fault: partition" in legend and "fault: deploy" in legend


def test_shade_faults_helper_returns_the_colours_it_used():
    history = make_history(faults=[("a", "partition", 1, 2), ("b", "partition", 3, 4), ("c", "meteor", 5, 6)],
                           duration=10)
    ax = Figure().subplots()
    colours = shade_faults([ax], history.faults)
    assert list(colours) == ["partition", "meteor"]
    assert colours["partition"] == FAULT_COLOURS["partition"] and colours["meteor"] not in FAULT_COLOURS.values()
    assert len(ax.patches) == 3 and [t.get_text() for t in ax.texts] == ["a", "b", "c"]


def test_divergence_marks_open_windows_distinctly():
    history = small_run()
    found = windows(history)
    assert found["open"].sum() == 1
    figure = divergence(history, windows=found)
    ax = figure.axes[0]
    hatched = [c for c in ax.collections if c.get_hatch()]
    assert len(hatched) == 1  # the replica's open window
    assert "1 still open" in figure.get_suptitle()
    assert [t.get_text().split("\n")[0] for t in ax.get_yticklabels()] == ["replica", "cache"]
    assert ax.get_xlabel() == "simulated time (s)"


def test_window_cdf_has_a_log_time_axis_and_one_curve_per_copy():
    history = small_run()
    figure = window_cdf(history, windows=windows(history))
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert_duration_ticks(figure, ax.xaxis)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and labels[0].startswith("replica: 2 windows") and "1 open at end" in labels[0]
    assert labels[1].startswith("cache: 1 windows")
    # The CDF of the cache's one window jumps from 0 to 1 at its duration (3 s).
    cache_line = ax.get_lines()[1]
    assert list(cache_line.get_ydata()) == [0.0, 1.0] and list(cache_line.get_xdata()) == [3.0, 3.0]


def test_visibility_has_the_two_pbs_panels():
    history = small_run()
    figure = visibility(history, stale=stale_reads(history), kmax=5)
    left, right = figure.axes
    assert left.get_xscale() == "log"
    assert_duration_ticks(figure, left.xaxis)
    assert "t-visibility" in left.get_title(loc="left") and "k-staleness" in right.get_title(loc="left")
    assert list(right.get_xticks()) == [1, 2, 3, 4, 5]
    assert "95% Wilson band" in [t.get_text() for t in left.get_legend().get_texts()]


def test_latency_figure_draws_p50_and_p99():
    history = small_run()
    figure = latency(history, window_s=2.0)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log" and "(s)" in ax.get_xlabel()
    assert_duration_ticks(figure, ax.yaxis)
    assert [line.get_label() for line in ax.get_lines()] == ["p99", "p50 (median)"]
    assert "2s" in figure.get_suptitle()
    # the title names the window, not a line width that happened to be 2
    assert "moving windows of 500ms" in latency(history, window_s=0.5).get_suptitle()


def test_figures_of_a_large_run_render_quickly(tmp_path):
    history = large_history(30_000, keys=100)
    stale, found = stale_reads(history), windows(history)
    for name, draw in FIGURES.items():
        began = time.perf_counter()
        draw(history, stale=stale, windows=found).savefig(tmp_path / f"{name}.png", dpi=50)
        assert time.perf_counter() - began < 10, name


def test_windows_closer_than_a_pixel_draw_as_one_bar():
    from simulator.plots import _merge_close
    start, end = _merge_close(np.array([0.0, 1.0, 1.05, 3.0]), np.array([0.5, 1.02, 2.0, 4.0]),
                              0.1)
    assert start.tolist() == [0.0, 1.0, 3.0] and end.tolist() == [0.5, 2.0, 4.0]


def test_a_step_function_is_averaged_over_spans_exactly():
    from simulator.plots import _time_average
    # 2 on [0, 1), 0 on [1, 3), 4 on [3, 4]: spans of 2 s average to 1 and 2
    edges, means = _time_average(np.array([0.0, 1.0, 3.0, 4.0]), np.array([2.0, 0.0, 4.0, 4.0]), 2)
    assert edges.tolist() == [0.0, 2.0, 4.0]
    assert means.tolist() == [1.0, 2.0, 2.0]
    # a fast random step function keeps its integral, span by span
    rng = np.random.default_rng(5)
    x = np.r_[0.0, np.sort(rng.uniform(0, 10, 5000)), 10.0]
    y = rng.integers(0, 3, len(x)).astype(float)
    edges, means = _time_average(x, y, 100)
    fine = np.linspace(0, 10, 1_000_001)[:-1] + 5e-6  # midpoints of 10 us slices
    values = y[np.searchsorted(x, fine, side="right") - 1]
    np.testing.assert_allclose(means[:-1], values.reshape(100, -1).mean(axis=1), atol=2e-3)


def test_a_fast_changing_count_of_divergent_keys_is_drawn_as_its_average():
    # thousands of tiny windows on one copy: the count line would fill its row with ink
    from simulator.plots import COUNT_BINS
    starts = np.arange(0.0, 10.0, 0.002)
    history = make_history(
        truth=[(0, v, t) for v, t in enumerate(starts, start=1)],
        copies=[(t + 0.001, "replica", 0, v) for v, t in enumerate(starts, start=1)],
        copy_info=[("replica", "v0")], duration=10)
    found = windows(history)
    assert len(found) > 2 * COUNT_BINS
    ax = divergence(history, windows=found).axes[0]
    line = next(line for line in ax.lines if len(line.get_xdata()) > 2)
    assert len(line.get_xdata()) == COUNT_BINS + 1
    # half the time one key is behind: the averaged line sits half way down the row
    assert np.median(line.get_ydata()) == pytest.approx(0.35 - 0.7 * 0.5, abs=0.05)


def test_phantom_reads_are_marked_in_the_timeline():
    history = make_history(
        ops=[("read", 0, 1.5, 1.6, "ok", 1), ("read", 0, 3.0, 3.1, "ok", 9)],
        truth=[(0, 1, 1.0, 2.5), (0, 2, 2.0)], duration=5)
    figure = timeline(history, stale=stale_reads(history), windows=windows(history))
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert "phantom read (2)" in labels
    plain = small_run()
    figure = timeline(plain, stale=stale_reads(plain), windows=windows(plain))
    assert not any("phantom read" in t.get_text()
                   for t in figure.axes[0].get_legend().get_texts())


def test_a_run_without_delays_draws_its_zero_latencies_without_a_warning(tmp_path):
    import warnings
    history = make_history(
        ops=[("read", 0, t, t, "ok", 0) for t in np.arange(0.0, 5.0, 0.01)], duration=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib: 'cannot be log-scaled'
        figure = latency(history)
        figure.savefig(tmp_path / "latency.png")
    line = figure.axes[0].lines[0]
    assert np.nanmax(line.get_ydata()) > 0
    assert any(t.get_text() == "a latency of 0 is drawn at 1us" for t in figure.axes[0].texts)
