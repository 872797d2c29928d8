"""report.md and a self-contained report.html (figures embedded)."""

from __future__ import annotations

import base64
import itertools
import html as escape_html

import pandas as pd

from . import tables

FIGURE_TITLES = {
    "timeline": "Client operations and divergence over time",
    "divergence": "When each copy diverged from the truth",
    "window_cdf": "How long copies stayed divergent",
    "visibility": "How soon a write becomes visible",
    "latency": "Latency over time",
}


def _md_table(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "| " + " | ".join("---" for _ in frame.columns) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _sections(result):
    summary = result.summary
    yield "Headline", pd.DataFrame(tables.headline(summary), columns=["metric", "value"])
    yield "Where the state lives", tables.state_map(result)
    yield "Phases", tables.phases(summary)
    if len(result.history.faults):
        yield "Faults", tables.faults(result)
    if len(result.history.events):
        yield "What the components did (failover)", tables.events(result)
    lost = result.lost_writes
    if len(lost):
        shown = min(len(lost), tables.LOST_SHOWN)
        yield (f"Lost writes (acknowledged, then gone; {shown} of {len(lost)} shown)",
               tables.lost_writes(result))


def _title(result) -> tuple[str, str]:
    meta = result.history.meta
    return (f"{meta.get('scenario', 'run')} (seed {meta.get('seed')})",
            meta.get("description") or "")


def markdown(result, figures: dict[str, str]) -> str:
    """The report as Markdown; ``figures`` maps figure names to file names."""
    title, description = _title(result)
    parts = [f"# {title}", ""]
    if description:
        parts += [description, ""]
    for heading, frame in _sections(result):
        parts += [f"## {heading}", "", _md_table(frame), ""]
    for name, file in figures.items():
        parts += [f"## {FIGURE_TITLES.get(name, name)}", "", f"![{name}]({file})", ""]
    meta = result.history.meta
    parts += [f"_Sediment {meta.get('version')}; every number is computed from the recorded "
              f"history in this folder._", ""]
    return "\n".join(parts)


def notebook(result) -> str:
    """The headline, where the state lives and the phases, as the HTML fragment a
    notebook shows for a :class:`~simulator.result.Result` (the figures are a
    call away: ``result.plot.timeline()``)."""
    title, description = _title(result)
    esc = escape_html.escape
    parts = [f"<h4>{esc(title)}</h4>"]
    if description:
        parts.append(f"<p>{esc(description)}</p>")
    for heading, frame in itertools.islice(_sections(result), 3):
        parts.append(f"<p><b>{esc(heading)}</b></p>")
        parts.append(frame.to_html(index=False, escape=True, border=0))
    return "\n".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; }
"""


def html(result, images: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page; ``images`` maps names to PNG bytes."""
    title, description = _title(result)
    esc = escape_html.escape
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
             f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{esc(title)}</h1>"]
    if description:
        parts.append(f"<p>{esc(description)}</p>")
    for heading, frame in _sections(result):
        parts.append(f"<h2>{esc(heading)}</h2>")
        parts.append(frame.to_html(index=False, escape=True, border=0))
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{esc(FIGURE_TITLES.get(name, name))}</h2>")
        parts.append(f"<img alt='{esc(name)}' src='data:image/png;base64,{data}'>")
    meta = result.history.meta
    parts.append(f"<p><em>Sediment {esc(str(meta.get('version')))}; every number is computed "
                 f"from the recorded history.</em></p></body></html>")
    return "\n".join(parts) + "\n"
