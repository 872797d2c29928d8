"""The summary as text for the terminal."""

from __future__ import annotations


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _secs(value) -> str:
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.3g}s"
    return f"{1000 * value:.3g}ms"


def format_summary(summary: dict) -> str:
    """A compact table of the headline numbers and the phases."""
    ops, reads, windows = summary["ops"], summary["reads"], summary["windows"]
    lines = [
        f"{summary['scenario']}  (seed {summary['seed']}, "
        f"{summary['duration_s']:g}s simulated, sediment {summary['version']})",
        "",
        f"  operations       {ops['total']:>9}   ok {ops['ok']}  fail {ops['fail']}  "
        f"info {ops['info']}",
        f"  availability     {_pct(summary['availability']):>9}   (ok / all operations)",
        f"  stale reads      {reads['stale']:>9}   {_pct(reads['stale_fraction'])} of "
        f"{reads['ok']} ok reads" + _phantom(reads),
        f"  lost writes      {summary['writes'].get('lost', 0):>9}   of "
        f"{summary['writes']['ok']} ok writes (acknowledged, then gone)",
        f"  windows          {windows['count']:>9}   {windows['open_at_end']} still open at "
        f"the end; p50 {_secs(windows['p50_s'])}  p99 {_secs(windows['p99_s'])}  "
        f"max {_secs(windows['max_s'])}",
    ]
    nodes = summary.get("by_node") or {}
    if nodes:
        cells = [f"{name} {_pct(v['availability'])}" for name, v in nodes.items()]
        lines.append("  by instance      " + "  ".join(cells[:8])
                     + (f"  (+{len(cells) - 8} more)" if len(cells) > 8 else ""))
    phases = summary.get("phases") or []
    if phases:
        width = max(len(p["name"]) for p in phases)
        phantom = bool(reads.get("phantom"))  # a column only when there are any
        lines += ["", f"  {'phase':<{width}}  {'from':>8}  {'to':>8}  {'ops':>8}  "
                      f"{'available':>9}  {'stale':>7}" + (f"  {'phantom':>7}" if phantom else "")]
        for p in phases:
            lines.append(f"  {p['name']:<{width}}  {p['start_s']:>7.3g}s  {p['end_s']:>7.3g}s  "
                         f"{p.get('ops', 0):>8}  {_pct(p['availability']):>9}  "
                         f"{_pct(p['stale_fraction']):>7}"
                         + (f"  {p.get('phantom', 0):>7}" if phantom else ""))
    return "\n".join(lines)


def _phantom(reads: dict) -> str:
    """The phantom reads, and how many of them the stale count includes."""
    if not reads.get("phantom"):
        return ""
    both = reads.get("phantom_and_stale", 0)
    return f"; {reads['phantom']} phantom" + (f" ({both} also stale)" if both else "")
