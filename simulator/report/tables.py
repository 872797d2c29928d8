"""The tables a report shows, as plain rows computed from a result."""

from __future__ import annotations

import pandas as pd


def pct(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.2f}%"


def secs(value) -> str:
    if value is None or value != value:
        return "-"
    if value == 0:
        return "0 s"
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{1000 * value:.3g} ms"
    return f"{1e6 * value:.3g} us"


def headline(summary: dict) -> list[tuple[str, str]]:
    ops, reads, windows = summary["ops"], summary["reads"], summary["windows"]
    rows = [
        ("operations", f"{ops['total']} (ok {ops['ok']}, fail {ops['fail']}, "
                       f"info {ops['info']})"),
        ("availability", pct(summary["availability"])),
        ("stale reads", f"{reads['stale']} of {reads['ok']} ok reads "
                        f"({pct(reads['stale_fraction'])})"),
        ("phantom reads", str(reads.get("phantom", 0)) + (
            f" ({reads['phantom_and_stale']} of them also stale: a newer version that "
            f"survives had been committed)" if reads.get("phantom_and_stale") else "")),
        ("lost writes", f"{summary['writes'].get('lost', 0)} of {summary['writes']['ok']} ok "
                        f"writes"),
        ("inconsistency windows", f"{windows['count']}, {windows['open_at_end']} still open "
                                  f"at the end"),
        ("window duration", f"p50 {secs(windows['p50_s'])}, p99 {secs(windows['p99_s'])}, "
                            f"max {secs(windows['max_s'])}"),
    ]
    latency = summary.get("latency") or {}
    if latency:
        rows.append(("latency of ok operations", f"p50 {secs(latency.get('p50_s'))}, "
                                                 f"p99 {secs(latency.get('p99_s'))}"))
    return rows


STATE_MAP_COLUMNS = ["copy", "kind", "component", "source of truth",
                     "how a reader learns it is stale", "stale reads served",
                     "worst read staleness", "longest window", "open at end"]


def _served(reads: pd.DataFrame) -> str:
    """'stale of ok reads served', with phantom reads when there were any."""
    if not len(reads):
        return "-"
    text = f"{int(reads['stale'].sum())} of {len(reads)}"
    phantom = int(reads["phantom"].sum())
    return text + (f" (and {phantom} phantom)" if phantom else "")


def state_map(result) -> pd.DataFrame:
    """Where the state lives: each copy, its source of truth, how staleness is learned,
    and how stale it measurably got."""
    history = result.history
    stale = result.stale_reads
    windows = result.windows
    rows = []
    sources = sorted((set(history.copy_info["source"]) | set(history.truth["source"])) - {""})
    for source in sources:
        served = stale[stale["served_by"] == source]
        component = history.meta.get("sources", {}).get(source, "-")
        rows.append([source, "source of truth", component, "(itself)",
                     "it is the truth (what survives of what was committed)",
                     _served(served), "-", "-", "-"])
    for info in history.copy_info.itertuples(index=False):
        served = stale[stale["served_by"] == info.copy]
        mine = windows[windows["copy"] == info.copy]
        rows.append([info.copy, info.kind, info.component, info.source, info.learns_stale_by,
                     _served(served),
                     secs(served["staleness_s"].max()) if served["stale"].any() else "-",
                     secs(mine["duration_s"].max()) if len(mine) else "-",
                     str(int(mine["open"].sum()))])
    return pd.DataFrame(rows, columns=STATE_MAP_COLUMNS)


def phases(summary: dict) -> pd.DataFrame:
    rows = [[p["name"], secs(p["start_s"]), secs(p["end_s"]), p.get("ops", ""),
             pct(p["availability"]), pct(p["stale_fraction"]), p.get("phantom", ""),
             secs(p.get("staleness_p99_s")),
             secs(p.get("latency_p99_s")), p.get("windows", ""), secs(p.get("window_max_s")),
             p.get("lost_writes", "")]
            for p in summary["phases"]]
    return pd.DataFrame(rows, columns=["phase", "from", "to", "operations", "availability",
                                       "stale reads", "phantom reads", "staleness p99",
                                       "latency p99",
                                       "windows opened", "longest window", "lost writes"])


def faults(result) -> pd.DataFrame:
    table = result.history.faults
    return pd.DataFrame({"fault": table["fault"], "kind": table["kind"],
                         "from": table["start_s"].map(secs), "to": table["end_s"].map(secs),
                         "targets": table["targets"]})


def events(result) -> pd.DataFrame:
    """What components did on their own: promotions, step-downs, resyncs."""
    table = result.history.events
    return pd.DataFrame({"time": table["time_s"].map(secs), "node": table["node"],
                         "event": table["event"], "detail": table["detail"]})


#: Lost writes listed in a report (the rest are counted).
LOST_SHOWN = 20


def lost_writes(result) -> pd.DataFrame:
    """The first acknowledged writes that did not survive, and how each was lost."""
    table = result.lost_writes.head(LOST_SHOWN)
    return pd.DataFrame({"operation": table["index"], "key": table["key"],
                         "version": table["version"], "acknowledged at":
                         table["complete_s"].map(secs), "by": table["served_by"],
                         "lost at": table["lost_s"].map(secs), "how": table["how"]})
