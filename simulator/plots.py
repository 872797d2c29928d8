"""Pictures of a run, drawn from the history and the analysis tables.

Figures are built without pyplot, on an Agg canvas: nothing interactive, no
global state, safe to call from threads and worker processes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simulator.analysis.windows import empty_windows, overlap_union
from simulator.history import History

#: Most client operations drawn in the scatter; beyond it every k-th is drawn.
MAX_POINTS = 50_000

STATUS_COLOURS = {"ok": "#2b8cbe", "fail": "#f03b20", "info": "#999999"}
STALE_COLOUR = "#d7191c"
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


def _fault_colours(kinds) -> dict[str, str]:
    colours, others = {}, iter(OTHER_FAULT_COLOURS * (1 + len(kinds)))
    for kind in dict.fromkeys(kinds):
        colours[kind] = FAULT_COLOURS.get(kind) or next(others)
    return colours


def _every_kth(frame: pd.DataFrame, limit: int = MAX_POINTS) -> tuple[pd.DataFrame, int]:
    """Every k-th row, with k the smallest step that keeps at most ``limit`` rows."""
    step = max(1, math.ceil(len(frame) / limit))
    return frame.iloc[::step], step


def _shade_faults(axes, faults: pd.DataFrame, colours: dict[str, str]) -> None:
    top = axes[0]
    for fault in faults.itertuples(index=False):
        for ax in axes:
            ax.axvspan(fault.start_s, fault.end_s, color=colours[fault.kind], alpha=0.25, lw=0, zorder=0)
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


def _latency_floor(ops: pd.DataFrame):
    """A function giving latencies, with zero latencies lifted to a floor below all others (log scale)."""
    latency = (ops["complete_s"] - ops["invoke_s"]).to_numpy(np.float64)
    positive = latency[latency > 0]
    floor = positive.min() / 2 if len(positive) else MIN_LATENCY_S

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
            label=f"{name} ({int((ops['status'] == name).sum())})", rasterized=True,
        )
    if stale is not None and len(stale):
        stale_ops = ops.loc[ops["index"].isin(stale.loc[stale["stale"], "index"])]
        stale_shown, _ = _every_kth(stale_ops)
        ax.scatter(
            stale_shown["invoke_s"], latency_of(stale_shown), marker="x", s=max(size, 24), color=STALE_COLOUR,
            lw=1.1, alpha=0.85, label=f"stale read ({len(stale_ops)})", zorder=3,
        )
    ax.set_yscale("log")
    if len(ops) == 0:
        ax.set_ylim(1e-4, 1.0)
        ax.text(0.5, 0.5, "no client operations", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_ylabel("latency (s, log scale)")
    return step


def _divergent_keys(start: np.ndarray, end: np.ndarray, open_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step function: how many keys a copy had divergent from each instant on."""
    times = np.r_[start, end[~open_]]
    steps = np.r_[np.ones(len(start)), -np.ones(int((~open_).sum()))]
    order = np.lexsort((steps, times))  # at one instant, windows close before others open
    return times[order], np.cumsum(steps[order])


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
            scaled = row + 0.35 - 0.7 * np.r_[0, counts, counts[-1]] / peak
            ax.step(
                np.r_[0.0, times, max(duration, times[-1])], scaled, where="post", color="#222222", lw=0.7, alpha=0.8
            )
        labels.append(f"{copy}\n(max {peak} key{'' if peak == 1 else 's'})")
    ax.set_yticks(range(len(copies)), labels)
    ax.set_ylim(len(copies) - 0.5 if copies else 0.5, -0.5)
    if not copies:
        ax.text(0.5, 0.5, "no copies recorded", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_ylabel("copy")
    ax.set_xlabel("simulated time (s)")


def _legends(top, bottom, fault_colours: dict[str, str]) -> None:
    handles, labels = top.get_legend_handles_labels()
    handles += [Patch(color=c, alpha=0.25, label=f"fault: {k}") for k, c in fault_colours.items()]
    top.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False, markerscale=1.5
    )
    bottom.legend(
        handles=[
            Patch(color=WINDOW_COLOURS["behind"], label="behind the truth"),
            Patch(color=WINDOW_COLOURS["phantom"], label="phantom (never committed)"),
            Patch(facecolor="white", edgecolor="#333333", hatch="//", label="still open at end"),
            Line2D([], [], color="#222222", lw=0.8, label="keys divergent (scaled)"),
        ],
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False,
    )


def timeline(history: History, stale: pd.DataFrame | None = None, windows: pd.DataFrame | None = None) -> Figure:
    """Client operations and copy divergence over time, faults shaded.

    Top: latency of each client operation against its invoke time, coloured
    by status, stale reads marked with a red x.  Bottom: one row per copy,
    bars where the copy was behind the truth or held a phantom version, open
    windows hatched with an arrow at the end of the run, and a line giving how
    many keys it had divergent.  ``stale`` and ``windows`` are the analysis
    tables; without them the marks they feed are left out.
    """
    figure = Figure(figsize=(12, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    n_copies = max(len(history.copy_info), 1)
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, max(1.2, min(3.0, 0.45 * n_copies))]}
    )
    fault_colours = _fault_colours(list(history.faults["kind"]))
    _shade_faults([top, bottom], history.faults, fault_colours)
    step = _draw_operations(top, history, stale)
    _draw_divergence(bottom, history, windows)
    bottom.set_xlim(0.0, history.duration_s if history.duration_s > 0 else 1.0)
    _legends(top, bottom, fault_colours)

    scenario = history.meta.get("scenario") or "run"
    seed = history.meta.get("seed")
    run = f"{scenario} (seed {seed})" if seed is not None else str(scenario)
    title = f"{run}: client operations and copy divergence over time"
    if step > 1:
        title += f"\n(one operation in {step} drawn)"
    figure.suptitle(title, fontsize=13)
    top.set_title("client operations: latency by status", fontsize=11, loc="left")
    bottom.set_title("divergence of each copy from the source of truth", fontsize=11, loc="left")
    return figure
