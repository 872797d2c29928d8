"""Scenario files: YAML in, a plain validated :class:`Scenario` out.

Loading never builds anything: it parses safely, applies ``--set`` overrides,
validates every value against the schema (filling in defaults and turning
durations into seconds) and checks that every name refers to something that
exists.  Any problem is a :class:`~simulator.errors.ScenarioError` naming the
file, the YAML path and the line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ScenarioError, format_path
from ..schema import Context
from .bundled import scenario_path
from .notes import notes
from .yamlfile import dump_yaml, load_yaml, parse_value
from .topology import SCENARIO, check_references


@dataclass
class Scenario:
    """A validated scenario: plain data with every default filled in."""

    data: dict
    source: str = "<scenario>"
    nodes: dict = field(default_factory=dict)  # component name -> its node names
    #: settings the file gives that have no effect (see :mod:`.notes`)
    notes: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def description(self) -> str:
        return self.data["description"]

    @property
    def seed(self) -> int:
        return self.data["seed"]

    @property
    def duration(self) -> float:
        return self.data["duration"]

    def to_yaml(self) -> str:
        """The resolved scenario (defaults filled in), loadable again."""
        return dump_yaml(self.data)


def load(source, overrides: list[str] | tuple = (), *, seed: int | None = None,
         duration=None, duration_from: str | None = None, **values) -> Scenario:
    """Load and validate a scenario from a path to a YAML file, or a dict.

    ``overrides`` are ``PATH=VALUE`` strings as given to ``--set``; ``values``
    are the same as keyword arguments with ``__`` or ``.`` between the parts
    of the path (``workload__rate=500``).  ``duration_from`` names where
    ``duration`` came from in messages (``--duration 40s`` on the command line).
    """
    if isinstance(overrides, str):  # one override, not a list of its characters
        overrides = [overrides]
    if isinstance(source, (str, Path)):
        source = scenario_path(source)  # a bundled scenario by its name
    if isinstance(source, Scenario):
        data, name, marks = copy.deepcopy(source.data), source.source, {}
    elif isinstance(source, dict):
        data, name, marks = copy.deepcopy(source), "<scenario>", {}
    else:
        path = Path(source)
        name = str(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError("no such scenario file", source=name) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"cannot read this file: {exc}", source=name) from None
        data, marks = load_yaml(text, name)
        if isinstance(data, dict):
            data.setdefault("name", path.stem)
    ctx = Context(name, marks)
    if data is None:
        ctx.fail((), "the file is empty; a scenario is a mapping with at least "
                     "'duration', 'components' and 'workload'")
    if not isinstance(data, dict):
        ctx.fail((), "a scenario is a mapping (key: value lines) at the top level")
    for item in overrides:
        _override(data, ctx, item)
    for dotted, value in values.items():
        _set(data, ctx, tuple(_part(p) for p in dotted.replace("__", ".").split(".")), value,
             f"{dotted}={value!r}")
    if seed is not None:
        _set(data, ctx, ("seed",), seed, f"seed={seed!r}")
    if duration is not None:
        _set(data, ctx, ("duration",), duration, duration_from or f"duration={duration!r}")
    resolved = SCENARIO(data, (), ctx)
    nodes = check_references(resolved, ctx)
    return Scenario(resolved, name, nodes, notes(resolved, ctx))


def _part(text: str):
    return int(text) if text.isdigit() else text


def _override(data: dict, ctx: Context, item: str) -> None:
    if "=" not in item:
        raise ScenarioError(f"--set takes PATH=VALUE (for example workload.rate=500), "
                            f"got {item!r}", source=ctx.source)
    dotted, text = item.split("=", 1)
    parts = dotted.strip().split(".")
    if not all(p.strip() for p in parts):
        raise ScenarioError(f"--set has an empty part in the path {dotted!r}", source=ctx.source)
    path = tuple(_part(p.strip()) for p in parts)
    try:
        value = parse_value(text)
    except ScenarioError as exc:
        raise ScenarioError(f"--set {item}: {exc.message}", source=ctx.source) from None
    _set(data, ctx, path, value, f"--set {item}")


def _set(data: dict, ctx: Context, path: tuple, value, origin: str) -> None:
    target = data
    for depth, part in enumerate(path[:-1]):
        if isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        elif isinstance(target, dict):
            if part not in target:  # a mapping the override makes: it comes from there
                ctx.override(path[:depth + 1], origin)
            target = target.setdefault(part, {})
        else:
            where = format_path(path[:depth + 1])
            raise ScenarioError(f"{origin}: there is no {where} to set a value in",
                                source=ctx.source)
    last = path[-1]
    if isinstance(target, list):
        if not isinstance(last, int) or last >= len(target):
            raise ScenarioError(f"{origin}: no item {last!r} in that list", source=ctx.source)
    elif not isinstance(target, dict):
        raise ScenarioError(f"{origin}: cannot set a value inside {target!r}", source=ctx.source)
    target[last] = value
    ctx.override(path, origin)


__all__ = ["Scenario", "load", "ScenarioError"]
