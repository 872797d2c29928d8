"""The scenario reference, generated from the schema itself (``simulate schema``)."""

from __future__ import annotations

from ..schema import REQUIRED, _DIST_VARIANTS, kind_of
from .topology import COMPONENT, FAULT, LINK_RULE, NETWORK, SCENARIO


def _default(field) -> str:
    if field.default is REQUIRED:
        return "required"
    if field.default is None:
        return "-"
    if isinstance(field.default, list):
        return ", ".join(map(str, field.default)) or "[]"
    return f"{field.default}"


def _table(fields: dict, skip=()) -> list[str]:
    lines = ["| key | accepts | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in fields.items():
        if name in skip:
            continue
        doc = field.doc.replace("|", "\\|")
        lines.append(f"| `{name}` | {kind_of(field.validator).replace('|', 'or')} | "
                     f"{_default(field)} | {doc} |")
    return lines


def sections() -> dict[str, list[str]]:
    """Section title -> Markdown lines, in reading order."""
    out = {"scenario": _table(SCENARIO.fields), "network": _table(NETWORK.fields),
           "network.links[]": _table(LINK_RULE)}
    from ..components.client import SCHEMA as WORKLOAD
    out["workload"] = _table(WORKLOAD)
    for kind, record in COMPONENT.variants.items():
        out[f"components: kind {kind}"] = _table(record.fields)
    for kind, record in FAULT.variants.items():
        out[f"faults[]: kind {kind}"] = _table(record.fields)
    for kind, record in _DIST_VARIANTS.items():
        out[f"distribution: dist {kind}"] = _table(record.fields)
    return out


def markdown(only: str | None = None) -> str:
    """The reference as Markdown; ``only`` keeps the sections whose title contains it."""
    parts = ["# Scenario reference", "",
             "Generated from the schema (`simulate schema`). Durations are `250us`, `5ms`, "
             "`2s`, `1.5m`, `1h` or bare seconds; a distribution is a bare duration "
             "(constant) or a mapping with `dist:`.", ""]
    for title, lines in sections().items():
        if only and only not in title:
            continue
        parts += [f"## {title}", "", *lines, ""]
    return "\n".join(parts)
