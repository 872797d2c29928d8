"""Pictures of a run, drawn from the history and the analysis tables.

Figures are built without pyplot, on an Agg canvas: nothing interactive, no
global state, safe to call from threads and worker processes.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatter

from simulator.analysis.consistency import DEFAULT_DELTAS, delta_label
from simulator.analysis.latency import percentiles_over_time, quantile_column
from simulator.analysis.stale import stale_reads
from simulator.analysis.values import holds
from simulator.analysis.visibility import k_staleness, t_visibility
from simulator.analysis.windows import empty_windows, overlap_union, windows as window_table
from simulator.history import History

#: Most client operations drawn in the scatter; beyond it every k-th is drawn.
MAX_POINTS = 50_000

STATUS_COLOURS = {"ok": "#2b8cbe", "fail": "#f03b20", "info": "#999999"}
STALE_COLOUR = "#d7191c"
LOST_COLOUR = "#000000"
EVENT_COLOUR = "#555555"
WINDOW_COLOURS = {"behind": "#fdae61", "phantom": "#7b3294"}
FAULT_COLOURS = {
    "partition": "#fc8d62",
    "degrade": "#8da0cb",
    "slow-writes": "#e78ac3",
    "deploy": "#a6d854",
    "crash": "#ffd92f",
}
OTHER_FAULT_COLOURS = ["#66c2a5", "#e5c494", "#b3b3b3", "#80b1d3", "#fccde5"]
MIN_LATENCY_S = 1e-6
#: One colour per copy in the window-duration CDF (colour-blind friendly "Okabe-Ito" order).
COPY_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
COPY_STYLES = ["-", "--", "-.", ":"]
#: Above this many changes, a copy's count of divergent keys is drawn as its
#: average over this many spans of the run (about one a pixel).
COUNT_BINS = 1_000
#: Most points drawn on one CDF curve.
MAX_CDF_POINTS = 2_000


def _fault_colours(kinds) -> dict[str, str]:
    colours, others = {}, iter(OTHER_FAULT_COLOURS * (1 + len(kinds)))
    for kind in dict.fromkeys(kinds):
        colours[kind] = FAULT_COLOURS.get(kind) or next(others)
    return colours


def _every_kth(frame: pd.DataFrame, limit: int = MAX_POINTS) -> tuple[pd.DataFrame, int]:
    """Every k-th row, with k the smallest step that keeps at most ``limit`` rows."""
    step = max(1, math.ceil(len(frame) / limit))
    return frame.iloc[::step], step


def fault_colours(faults: pd.DataFrame) -> dict[str, str]:
    """One colour per fault kind present in ``faults``, in order of first appearance."""
    return _fault_colours(list(faults["kind"]))


def shade_faults(axes, faults: pd.DataFrame, colours: dict[str, str] | None = None, *, annotate: bool = True) -> dict:
    """Shade every fault interval on each of ``axes`` (one colour per kind); name them on the first.

    Returns the colours used, by kind, for :func:`fault_handles`.
    """
    colours = colours if colours is not None else fault_colours(faults)
    top = axes[0]
    for fault in faults.itertuples(index=False):
        for ax in axes:
            ax.axvspan(fault.start_s, fault.end_s, color=colours[fault.kind], alpha=0.25, lw=0, zorder=0)
        if annotate:
            top.annotate(
                fault.fault,
                xy=(fault.start_s, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=10,
                color="#333333",
            )
    return colours


def fault_handles(colours: dict[str, str]) -> list:
    """Legend entries for the fault shading, one per kind."""
    return [Patch(color=c, alpha=0.25, label=f"fault: {k}") for k, c in colours.items()]


def _log_floor(values: np.ndarray) -> float:
    """Where a log axis draws a zero among ``values``: half the smallest positive one."""
    positive = values[values > 0]
    return positive.min() / 2 if len(positive) else MIN_LATENCY_S


def _latency_floor(ops: pd.DataFrame):
    """A function giving latencies, with zero latencies lifted to a floor below all others (log scale)."""
    floor = _log_floor((ops["complete_s"] - ops["invoke_s"]).to_numpy(np.float64))

    def latency_of(frame: pd.DataFrame) -> np.ndarray:
        return np.maximum((frame["complete_s"] - frame["invoke_s"]).to_numpy(np.float64), floor)

    return latency_of


def _draw_operations(ax, history: History, stale: pd.DataFrame | None) -> int:
    """Latency against invoke time, by status, with stale reads marked; returns the sampling step."""
    ops = history.ops
    shown, step = _every_kth(ops)
    latency_of = _latency_floor(ops)
    size = 30 if len(shown) <= 2_000 else 12 if len(shown) <= 20_000 else 5
    latency = latency_of(shown)
    status = shown["status"].to_numpy(object)
    for name, colour in STATUS_COLOURS.items():
        mine = status == name
        ax.scatter(
            shown["invoke_s"].to_numpy()[mine], latency[mine], s=size, color=colour, alpha=0.6, lw=0,
            label=f"{name} ({int(holds(ops['status'], name).sum())})", rasterized=True,
        )
    if stale is not None and len(stale):
        _mark(ax, ops, stale.loc[stale["stale"], "index"], latency_of, "stale read", marker="x",
              s=max(size, 24), color=STALE_COLOUR, lw=1.1, alpha=0.85, zorder=3)
        if stale["phantom"].any():  # reads of a version the truth never kept
            _mark(ax, ops, stale.loc[stale["phantom"], "index"], latency_of, "phantom read",
                  marker="+", s=max(size, 30), color=WINDOW_COLOURS["phantom"], lw=1.1,
                  alpha=0.85, zorder=3)
    _log_time_axis(ax, "y")
    if len(ops) == 0:
        ax.set_ylim(1e-4, 1.0)
        ax.text(0.5, 0.5, "no client operations", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_ylabel("latency (log scale)")
    return step


def _draw_lost(ax, history: History, lost: pd.DataFrame | None) -> None:
    """Acknowledged writes that did not survive, as black diamonds at their invoke time."""
    if lost is None or not len(lost):
        return
    ops = history.ops
    _mark(ax, ops, lost["index"], _latency_floor(ops), "lost write", marker="D", s=22,
          facecolor="none", edgecolor=LOST_COLOUR, lw=1.0, zorder=4)


def _mark(ax, ops: pd.DataFrame, index, latency_of, label: str, **style) -> None:
    """Mark the operations ``index`` names at their latency, labelled with their count."""
    marked = ops.loc[ops["index"].isin(index)]
    shown, _ = _every_kth(marked)
    ax.scatter(shown["invoke_s"], latency_of(shown), label=f"{label} ({len(marked)})", **style)


def _draw_events(axes, events: pd.DataFrame) -> None:
    """Promotions and step-downs as dotted vertical lines, named on the first axes
    below the line of fault names along its top."""
    shown = events[events["event"].isin(["promoted", "step-down"])]
    for row in shown.itertuples(index=False):
        for ax in axes:
            ax.axvline(row.time_s, color=EVENT_COLOUR, ls=":", lw=1.2, zorder=1)
        axes[0].annotate(f"{row.node} {row.event}", (row.time_s, 1.0),
                         xycoords=("data", "axes fraction"), xytext=(3, -20),
                         textcoords="offset points", rotation=90, va="top", ha="left",
                         fontsize=8, color=EVENT_COLOUR)


def _divergent_keys(start: np.ndarray, end: np.ndarray, open_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step function: how many keys a copy had divergent from each instant on."""
    times = np.r_[start, end[~open_]]
    steps = np.r_[np.ones(len(start)), -np.ones(int((~open_).sum()))]
    order = np.lexsort((steps, times))  # at one instant, windows close before others open
    return times[order], np.cumsum(steps[order])


def _time_average(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """A step function (``y[i]`` from ``x[i]`` to ``x[i + 1]``; the last value ends
    at ``x[-1]``) averaged over ``bins`` equal spans of time, in the same form.

    A copy's count of divergent keys can change thousands of times a second;
    drawn step by step it fills its row with ink.  The average over a span is
    exact: the step function's integral is piecewise linear, so interpolating
    it at the spans' edges loses nothing.
    """
    if x[-1] <= x[0]:  # every change at one instant: nothing to average over
        return x, y
    integral = np.r_[0.0, np.cumsum(y[:-1] * np.diff(x))]
    edges = np.linspace(x[0], x[-1], bins + 1)
    means = np.diff(np.interp(edges, x, integral)) / np.diff(edges)
    return edges, np.r_[means, means[-1]]


def _merge_close(start: np.ndarray, end: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted intervals with gaps narrower than ``gap`` (below a pixel) closed,
    so that thousands of sub-millisecond windows draw as a few bars."""
    if len(start) < 2:
        return start, end
    begins = np.flatnonzero(np.r_[True, start[1:] - end[:-1] >= gap])
    return start[begins], np.r_[end[begins[1:] - 1], end[-1]]


def _draw_divergence(ax, history: History, windows: pd.DataFrame | None) -> None:
    """One row per copy: bars where it was behind or held a phantom, open ones hatched."""
    windows = windows if windows is not None else empty_windows()
    copies = list(dict.fromkeys([*history.copy_info["copy"], *windows["copy"].unique()]))
    duration = history.duration_s
    labels = []
    for row, copy in enumerate(copies):
        mine = windows[windows["copy"] == copy]
        for kind, colour in WINDOW_COLOURS.items():
            of_kind = mine[mine["kind"] == kind]
            for still_open in (False, True):
                part = of_kind[of_kind["open"] == still_open]
                start, end = overlap_union(part["start_s"].to_numpy(np.float64), part["end_s"].to_numpy(np.float64))
                start, end = _merge_close(start, end, duration / 3000)
                if len(start):
                    ax.broken_barh(
                        list(zip(start, end - start)), (row - 0.35, 0.7), facecolors=colour, alpha=0.8,
                        hatch="//" if still_open else None, edgecolor="#333333" if still_open else colour, lw=0.5,
                    )
            if of_kind["open"].any():
                ax.plot(
                    [duration], [row], marker=">", color=colour, markersize=10, markeredgecolor="#333333", clip_on=False
                )
        peak = 0
        if len(mine):
            times, counts = _divergent_keys(
                mine["start_s"].to_numpy(np.float64), mine["end_s"].to_numpy(np.float64), mine["open"].to_numpy(bool)
            )
            peak = int(counts.max())
            x = np.r_[0.0, times, max(duration, times[-1])]
            y = np.r_[0, counts, counts[-1]].astype(np.float64)
            if len(times) > COUNT_BINS:  # it changes faster than the figure can show
                x, y = _time_average(x, y, COUNT_BINS)
            ax.step(x, row + 0.35 - 0.7 * y / peak, where="post", color="#222222", lw=0.7,
                    alpha=0.8)
        labels.append(f"{copy}\n(max {peak} key{'' if peak == 1 else 's'})")
    ax.set_yticks(range(len(copies)), labels)
    ax.set_ylim(len(copies) - 0.5 if copies else 0.5, -0.5)
    if not copies:
        ax.text(0.5, 0.5, "no copies recorded", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_ylabel("copy")
    ax.set_xlabel("simulated time (s)")


def _divergence_handles() -> list:
    return [
        Patch(color=WINDOW_COLOURS["behind"], label="behind the truth"),
        Patch(color=WINDOW_COLOURS["phantom"], label="phantom (never committed)"),
        Patch(facecolor="white", edgecolor="#333333", hatch="//", label="still open at end"),
        Line2D([], [], color="#222222", lw=0.8, label="keys divergent (scaled)"),
    ]


def _legends(top, bottom, colours: dict[str, str]) -> None:
    handles, labels = top.get_legend_handles_labels()
    handles += fault_handles(colours)
    top.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False, markerscale=1.5
    )
    bottom.legend(
        handles=_divergence_handles(),
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False,
    )


def _run_name(history: History) -> str:
    scenario = history.meta.get("scenario") or "run"
    seed = history.meta.get("seed")
    return f"{scenario} (seed {seed})" if seed is not None else str(scenario)


class _DurationTicks(LogFormatter):
    """Tick labels of a log-scale time axis as durations (``100us``, ``1ms``, ``10s``).

    Ticks are labelled where matplotlib's log formatter would label them (every
    decade, and some minor ticks when the axis spans less than a decade or
    two), but with a unit a reader knows at a glance instead of ``10^-3`` in
    mathtext, which is also several times slower to lay out.
    """

    def __call__(self, x, pos=None):
        return delta_label(x) if super().__call__(x, pos) else ""


def _log_time_axis(ax, which: str) -> None:
    """Put ``ax``'s ``which`` axis (``"x"`` or ``"y"``) on a log scale labelled in durations."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(_DurationTicks())
    axis.set_minor_formatter(_DurationTicks())


class Picture(Figure):
    """A matplotlib Figure that shows itself in Jupyter.

    Built without pyplot, a figure has no backend to display it: a notebook
    showed ``<Figure size 1200x700 with 2 Axes>`` for ``result.timeline()``
    unless the user had run ``%matplotlib inline``.  IPython draws an object
    with a ``_repr_png_`` as that picture.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _new_figure(width: float, height: float) -> Figure:
    figure = Picture(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#666666")


def timeline(history: History, stale: pd.DataFrame | None = None, windows: pd.DataFrame | None = None,
             lost: pd.DataFrame | None = None) -> Figure:
    """Client operations and copy divergence over time, faults shaded.

    Top: latency of each client operation against its invoke time, coloured
    by status, stale reads marked with a red x, phantom reads with a purple
    cross, lost writes with a black diamond.  Bottom: one row per copy,
    bars where the copy was behind the truth or held a phantom version, open
    windows hatched with an arrow at the end of the run, and a line giving how
    many keys it had divergent.  ``stale`` and ``windows`` are the analysis
    tables; without them the marks they feed are left out.
    """
    figure = _new_figure(12, 7)
    n_copies = max(len(history.copy_info), 1)
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, max(1.2, min(3.0, 0.45 * n_copies))]}
    )
    colours = shade_faults([top, bottom], history.faults)
    step = _draw_operations(top, history, stale)
    _draw_lost(top, history, lost)
    _draw_events([top, bottom], history.events)
    _draw_divergence(bottom, history, windows)
    bottom.set_xlim(0.0, history.duration_s if history.duration_s > 0 else 1.0)
    _legends(top, bottom, colours)

    title = f"{_run_name(history)}: client operations and copy divergence over time"
    if step > 1:
        title += f"\n(one operation in {step} drawn)"
    figure.suptitle(title, fontsize=13)
    top.set_title("client operations: latency by status", fontsize=11, loc="left")
    bottom.set_title("divergence of each copy from the source of truth", fontsize=11, loc="left")
    return figure


def divergence(history: History, *, stale: pd.DataFrame | None = None, windows: pd.DataFrame | None = None,
             lost: pd.DataFrame | None = None) -> Figure:
    """Where each copy diverged from the truth: one row per copy, faults shaded.

    Bars where the copy was behind the truth (orange) or held a phantom version
    (purple); windows still open at the end of the run are hatched, with an
    arrow at the end; a thin line gives how many keys were divergent at once.
    ``windows`` is computed from the history when not given; ``stale`` is not
    used (accepted so that every figure takes the same arguments).
    """
    windows = window_table(history) if windows is None else windows
    n_copies = len(dict.fromkeys([*history.copy_info["copy"], *windows["copy"].unique()]))
    figure = _new_figure(12, max(3.5, 1.6 + 0.75 * n_copies))
    ax = figure.subplots()
    colours = shade_faults([ax], history.faults)
    _draw_divergence(ax, history, windows)
    ax.set_xlim(0.0, history.duration_s if history.duration_s > 0 else 1.0)
    ax.legend(
        handles=_divergence_handles() + fault_handles(colours),
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False,
    )
    open_count = int(windows["open"].sum())
    figure.suptitle(
        f"{_run_name(history)}: when each copy diverged from the source of truth\n"
        f"({len(windows)} inconsistency windows, {open_count} still open at the end)",
        fontsize=13,
    )
    return figure


def _ecdf_points(values: np.ndarray, limit: int = MAX_CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their empirical CDF, thinned to at most ``limit`` points (extremes kept)."""
    values = np.sort(values)
    n = len(values)
    keep = np.unique(np.r_[np.linspace(0, n - 1, min(n, limit)).astype(np.int64), n - 1])
    return values[keep], (keep + 1) / n


def window_cdf(history: History, *, stale: pd.DataFrame | None = None, windows: pd.DataFrame | None = None,
             lost: pd.DataFrame | None = None) -> Figure:
    """How long copies stayed divergent: the CDF of inconsistency-window durations per copy.

    One curve per copy with windows, on a log time axis; the legend gives each
    copy's number of windows, how many were still open at the end (their
    duration runs to the end of the run, so it is a lower bound) and its median.
    Dotted vertical lines mark 1 ms, 10 ms, ..., 60 s, the delays of the
    "consistent after" table.  ``windows`` is computed when not given.
    """
    windows = window_table(history) if windows is None else windows
    figure = _new_figure(11, 6)
    ax = figure.subplots()
    durations = windows["duration_s"].to_numpy(np.float64)
    floor = _log_floor(durations)
    copies = list(dict.fromkeys([*history.copy_info["copy"], *windows["copy"].unique()]))
    grouped = dict(tuple(windows.groupby("copy", sort=False))) if len(windows) else {}
    drawn = 0
    for copy in copies:
        mine = grouped.get(copy)
        if mine is None or len(mine) == 0:
            continue
        x, y = _ecdf_points(np.maximum(mine["duration_s"].to_numpy(np.float64), floor))
        still_open = int(mine["open"].sum())
        label = f"{copy}: {len(mine)} windows, median {delta_label(float(np.median(mine['duration_s'])))}"
        if still_open:
            label += f", {still_open} open at end"
        ax.step(
            np.r_[x[0], x], np.r_[0.0, y], where="post", lw=2.2,
            color=COPY_COLOURS[drawn % len(COPY_COLOURS)],
            linestyle=COPY_STYLES[(drawn // len(COPY_COLOURS)) % len(COPY_STYLES)], label=label,
        )
        drawn += 1
    _log_time_axis(ax, "x")
    if drawn:
        low, high = float(np.maximum(durations, floor).min()), float(durations.max())
        ax.set_xlim(low / 1.5, max(high, low * 10) * 1.5)
    else:
        ax.set_xlim(1e-4, max(history.duration_s, 1.0))
        _no_data(ax, "no inconsistency windows: every copy always matched the truth")
    lo, hi = ax.get_xlim()
    for delta in DEFAULT_DELTAS:
        if lo <= delta <= hi:
            ax.axvline(delta, color="#999999", lw=0.8, ls=":", zorder=0)
            ax.annotate(delta_label(delta), xy=(delta, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                        textcoords="offset points", va="top", fontsize=9, color="#666666")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("window duration (log scale)", fontsize=12)
    ax.set_ylabel("fraction of the copy's windows this short or shorter", fontsize=12)
    ax.grid(True, which="major", alpha=0.3)
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.93), fontsize=11, frameon=True)
    figure.suptitle(
        f"{_run_name(history)}: how long each copy stayed divergent\n"
        "(CDF of inconsistency-window durations per copy)",
        fontsize=13,
    )
    return figure


def _bin_positions(table: pd.DataFrame) -> np.ndarray:
    """Where to draw each t-visibility bin on a log axis: its geometric middle."""
    start = table["t_s"].to_numpy(np.float64)
    end = table["t_end_s"].to_numpy(np.float64)
    middle = np.sqrt(start * np.where(np.isfinite(end), end, start))
    middle = np.where(start > 0, middle, end / 2)  # the first bin [0, t1)
    return np.where(np.isfinite(end), middle, start)


def visibility(
    history: History,
    *,
    stale: pd.DataFrame | None = None,
    windows: pd.DataFrame | None = None,
    lost: pd.DataFrame | None = None,
    kmax: int = 10,
) -> Figure:
    """The PBS curves measured from the reads: t-visibility (left) and k-staleness (right).

    Left: the probability that a read started ``t`` after the latest commit of
    its key returned that version (or a newer one), per bin of ``t`` on a log
    axis, with the 95 % Wilson band; each point is drawn at the middle of its
    bin.  Right: the probability that a read returned one of the last ``k``
    committed versions, with 95 % Wilson error bars.  See
    :mod:`simulator.analysis.visibility` for the definitions.  ``stale`` is
    computed when not given; ``windows`` is not used.
    """
    stale = stale_reads(history) if stale is None else stale
    curve = t_visibility(history, stale=stale)
    kcurve = k_staleness(history, kmax=kmax, stale=stale)
    figure = _new_figure(13, 5.5)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})

    seen = curve["reads"].to_numpy() > 0
    shown = curve.loc[seen]
    x = _bin_positions(shown)
    if len(shown):
        left.fill_between(x, shown["low"], shown["high"], color="#0072B2", alpha=0.2, lw=0, label="95% Wilson band")
        probability = shown["probability"].to_numpy(np.float64)
        errors = np.vstack([probability - shown["low"].to_numpy(), shown["high"].to_numpy() - probability])
        left.errorbar(x, probability, yerr=errors, color="#0072B2", marker="o", lw=2.2, ms=5, elinewidth=0.8,
                      capsize=2, label=f"measured ({int(shown['reads'].sum())} reads)")
        left.set_xlim(x.min() / 2, x.max() * 2)
        left.legend(loc="best", fontsize=11)
    else:
        left.set_xlim(1e-4, max(history.duration_s, 1.0))
        _no_data(left, "no ok reads of a key written before them")
    _log_time_axis(left, "x")
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel("t: time from the latest commit to the read's start (log scale)", fontsize=12)
    left.set_ylabel("P(read returns the latest version)", fontsize=12)
    left.set_title("t-visibility: how soon a write becomes visible", fontsize=12, loc="left")
    left.grid(True, alpha=0.3)

    known = kcurve["reads"].to_numpy() > 0
    if known.any():
        probability = kcurve["probability"].to_numpy(np.float64)
        errors = np.vstack([probability - kcurve["low"].to_numpy(), kcurve["high"].to_numpy() - probability])
        right.errorbar(kcurve["k"], probability, yerr=errors, color="#D55E00", marker="s", lw=2.2, ms=6,
                       capsize=4, label=f"measured ({int(kcurve['reads'].iloc[0])} ok reads)")
        right.legend(loc="best", fontsize=11)
    else:
        _no_data(right, "no ok reads")
    right.set_xlim(0.5, len(kcurve) + 0.5)
    right.set_xticks(kcurve["k"].to_numpy())
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("k (versions)", fontsize=12)
    right.set_ylabel("P(read within the last k versions)", fontsize=12)
    right.set_title("k-staleness: how many versions behind", fontsize=12, loc="left")
    right.grid(True, alpha=0.3)
    figure.suptitle(
        f"{_run_name(history)}: probability that a read sees the latest write (PBS, measured)", fontsize=13
    )
    return figure


def latency(
    history: History,
    *,
    stale: pd.DataFrame | None = None,
    windows: pd.DataFrame | None = None,
    lost: pd.DataFrame | None = None,
    window_s: float | None = None,
) -> Figure:
    """Latency of ``ok`` operations over time: p50 and p99 in moving windows, faults shaded.

    Windows as in :func:`~simulator.analysis.latency.percentiles_over_time`
    (default width: the run's duration / 100, at least 0.1 s, every half
    window); each point is drawn at its window's centre.  A gap means no ``ok``
    operation was invoked in that window.  ``stale`` and ``windows`` are not used.
    """
    table = percentiles_over_time(history, window_s=window_s, quantiles=(0.5, 0.99))
    width = float(table["end_s"].iloc[0] - table["start_s"].iloc[0])
    figure = _new_figure(12, 5.5)
    ax = figure.subplots()
    colours = shade_faults([ax], history.faults)
    handles = []
    # zero latencies (a run with no delays) lifted below the others, as in the timeline
    values = table[[quantile_column(q) for q in (0.5, 0.99)]].to_numpy(np.float64)
    floor = _log_floor(values)
    for q, colour, lw, name in ((0.99, "#D55E00", 3.2, "p99"), (0.5, "#0072B2", 2.0, "p50 (median)")):
        column = table[quantile_column(q)].to_numpy(np.float64)  # (NaN <= 0 is false: a gap stays)
        (line,) = ax.plot(table["t_s"], np.where(column <= 0, floor, column),
                          color=colour, lw=lw, marker=".", ms=5, label=name)
        handles.append(line)
    _log_time_axis(ax, "y")
    if (values == 0).any():  # say where a log axis put them
        ax.text(0.01, 0.02, f"a latency of 0 is drawn at {delta_label(floor)}",
                transform=ax.transAxes, fontsize=9, color="#666666")
    if table["ops"].sum() == 0:
        ax.set_ylim(1e-4, 1.0)
        _no_data(ax, "no ok operations")
    ax.set_xlim(0.0, history.duration_s if history.duration_s > 0 else 1.0)
    ax.set_xlabel("simulated time (s), by invoke time", fontsize=12)
    ax.set_ylabel("latency of ok operations (log scale)", fontsize=12)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles + fault_handles(colours), loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=11, frameon=False)
    figure.suptitle(
        f"{_run_name(history)}: latency of ok operations over time\n"
        f"(p50 and p99 in moving windows of {delta_label(width)})",
        fontsize=13,
    )
    return figure


#: Every figure of a run, by file name (without ``.png``).  Each is called as
#: ``figure(history, stale=..., windows=...)`` and returns a matplotlib Figure.
FIGURES = {
    "timeline": timeline,
    "divergence": divergence,
    "window_cdf": window_cdf,
    "visibility": visibility,
    "latency": latency,
}
