"""The scenario schema as data.

A validator is a callable ``(value, path, ctx) -> resolved value``.  Records
of named fields with defaults, tagged unions (``kind:``, ``dist:``), lists and
scalars compose into the whole schema.  Resolved values are plain data:
durations become seconds (floats), defaults are filled in, so the resolved
scenario can be saved and validated again unchanged.
"""

from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from .durations import parse_duration
from .errors import ScenarioError


class Context:
    """Where values come from: the file name and the line of each YAML path."""

    def __init__(self, source: str, marks: dict[tuple, int] | None = None) -> None:
        self.source = source
        self.marks = marks or {}
        self.overrides: dict[tuple, str] = {}

    def override(self, path: tuple, origin: str) -> None:
        """Values at and below ``path`` come from ``origin`` (``--set ...``), not the file."""
        self.overrides[tuple(path)] = origin

    def line(self, path: tuple) -> int | None:
        path = tuple(path)
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return None
            path = path[:-1]

    def origin(self, path: tuple) -> str | None:
        """The override (``--set ...``) the value at ``path`` comes from, if any."""
        path = tuple(path)
        for depth in range(len(path), -1, -1):
            origin = self.overrides.get(path[:depth])
            if origin is not None:
                return origin
        return None

    def error(self, path: tuple, message: str) -> ScenarioError:
        """``message`` about the value at ``path``, placed where it came from: an
        override names itself, a value of the file its line."""
        path = tuple(path)
        origin = self.origin(path)
        if origin is not None:
            return ScenarioError(f"{message} (from {origin})", source=self.source, path=path)
        return ScenarioError(message, source=self.source, path=path, line=self.line(path))

    def fail(self, path: tuple, message: str):
        raise self.error(path, message)


Validator = Callable[[Any, tuple, Context], Any]
REQUIRED = object()


@dataclass(frozen=True)
class Field:
    validator: Validator
    default: Any = REQUIRED
    doc: str = ""


def _describe(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def kind_of(validator) -> str:
    """A short human name for what a validator accepts (for the reference)."""
    return getattr(validator, "kind", "value")


def _named(kind: str):
    def mark(function):
        function.kind = kind
        return function
    return mark


@_named("text")
def string(value, path, ctx):
    if not isinstance(value, str) or not value:
        ctx.fail(path, f"expected a non-empty string, got {_describe(value)}")
    return value


@_named("text")
def text(value, path, ctx):
    if value is None:
        return ""
    if not isinstance(value, str):
        ctx.fail(path, f"expected text, got {_describe(value)}")
    return value


@_named("true or false")
def boolean(value, path, ctx):
    if not isinstance(value, bool):
        ctx.fail(path, f"expected true or false, got {_describe(value)}")
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(value, path, ctx):
        if isinstance(value, str):  # YAML 1.1 reads 1e6 (no dot) as a string, as for number
            try:
                value = int(value.strip())
            except ValueError:
                try:
                    value = float(value)
                except ValueError:
                    ctx.fail(path, f"expected a whole number, got {_describe(value)}")
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)  # numpy's integers too (np.arange gives them)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            ctx.fail(path, f"expected a whole number, got {_describe(value)}")
        if minimum is not None and value < minimum:
            ctx.fail(path, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            ctx.fail(path, f"must be at most {maximum}, got {value}")
        return value
    check.kind = "whole number" + _bounds(minimum, maximum)
    return check


def _bounds(minimum=None, maximum=None, above=None) -> str:
    parts = []
    if above is not None:
        parts.append(f"> {above:g}")
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    return f" ({', '.join(parts)})" if parts else ""


def number(minimum: float | None = None, maximum: float | None = None,
           above: float | None = None) -> Validator:
    def check(value, path, ctx):
        if isinstance(value, str):  # YAML 1.1 reads 1e3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                ctx.fail(path, f"expected a number, got {_describe(value)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.fail(path, f"expected a number, got {_describe(value)}")
        value = float(value)
        if not math.isfinite(value):
            ctx.fail(path, f"expected a finite number, got {value}")
        if minimum is not None and value < minimum:
            ctx.fail(path, f"must be at least {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            ctx.fail(path, f"must be at most {maximum:g}, got {value:g}")
        if above is not None and value <= above:
            ctx.fail(path, f"must be greater than {above:g}, got {value:g}")
        return value
    check.kind = "number" + _bounds(minimum, maximum, above)
    return check


probability = number(0.0, 1.0)
probability.kind = "probability (0 to 1)"


def duration(positive: bool = False, maximum: float | None = None,
             why: str = "") -> Validator:
    """A duration in seconds; at most ``maximum`` (``why`` says why, in the error)."""
    def check(value, path, ctx):
        if isinstance(value, (dict, list)):
            fixed = " (a fixed duration: no distribution here)" if isinstance(value, dict) \
                and "dist" in value else ""
            ctx.fail(path, f"expected a duration like '5ms' or '2s', got {_describe(value)}"
                           f"{fixed}")
        try:
            seconds = parse_duration(value, allow_zero=not positive)
        except ValueError as exc:
            ctx.fail(path, str(exc))
        if maximum is not None and seconds > maximum:
            ctx.fail(path, f"must be at most {maximum:g}s{why}, got {seconds:g}s")
        return seconds
    bounds = (["> 0"] if positive else []) + (
        [f"at most {maximum:g}s"] if maximum is not None else [])
    check.kind = "duration" + (f" ({', '.join(bounds)})" if bounds else "")
    return check


def offset(value, path, ctx):
    """A signed duration: ``-200ms`` is 0.2 s behind, ``1s`` one second ahead."""
    text = value.strip() if isinstance(value, str) else value
    negative = isinstance(text, str) and text.startswith("-")
    try:
        seconds = parse_duration(text[1:] if negative else text)
    except ValueError as exc:
        ctx.fail(path, str(exc).replace("cannot be negative", "cannot be negative here"))
    return -seconds if negative else seconds


offset.kind = "signed duration"


def choice(*options: str) -> Validator:
    def check(value, path, ctx):
        if value not in options:
            ctx.fail(path, f"expected one of {', '.join(map(repr, options))}, "
                           f"got {_describe(value)}{_suggest(value, options)}")
        return value
    check.kind = " | ".join(options)
    return check


def list_of(item: Validator, min_length: int = 0) -> Validator:
    def check(value, path, ctx):
        if not isinstance(value, list):
            ctx.fail(path, f"expected a list, got {_describe(value)}")
        if len(value) < min_length:
            ctx.fail(path, f"expected at least {min_length} item(s), got {len(value)}")
        return [item(v, path + (i,), ctx) for i, v in enumerate(value)]
    check.kind = f"list of {kind_of(item)}"
    check.item = item
    return check


@_named("name or list of names")
def names(value, path, ctx):
    """One name or a list of names (of nodes or components)."""
    if isinstance(value, str):
        value = [value]
    return list_of(string, 1)(value, path, ctx)


def mapping_of(item: Validator) -> Validator:
    def check(value, path, ctx):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.fail(path, f"expected a mapping, got {_describe(value)}")
        result = {}
        for key, v in value.items():
            if not isinstance(key, str):
                ctx.fail(path + (key,), f"expected a name as key, got {_describe(key)}")
            result[key] = item(v, path + (key,), ctx)
        return result
    check.kind = f"mapping of name to {kind_of(item)}"
    check.item = item
    return check


def _suggest(word, options) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def record(fields: dict[str, Field], *, what: str = "this section",
           check: Callable | None = None) -> Validator:
    """A mapping with known keys; unknown keys are errors, defaults are filled."""
    def validate(value, path, ctx):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.fail(path, f"expected a mapping for {what}, got {_describe(value)}")
        for key in value:
            if key not in fields:
                known = ", ".join(fields)
                ctx.fail(path + (key,), f"unknown key {key!r} in {what}"
                                        f"{_suggest(key, fields)}; known keys: {known}")
        result = {}
        for name, field in fields.items():
            if name in value and value[name] is None and field.default is None:
                result[name] = None  # an optional value left out explicitly
            elif name in value:
                result[name] = field.validator(value[name], path + (name,), ctx)
            elif field.default is REQUIRED:
                ctx.fail(path, f"{what} needs the key {name!r}"
                               + (f" ({field.doc})" if field.doc else ""))
            elif field.default is None:
                result[name] = None
            else:
                result[name] = field.validator(field.default, path + (name,), ctx)
        if check is not None:
            check(result, path, ctx)
        return result
    validate.fields = fields
    validate.kind = "mapping"
    validate.what = what
    return validate


def tagged(tag: str, variants: dict[str, Validator], *, what: str) -> Validator:
    """A mapping whose ``tag`` key picks which record validates it."""
    def validate(value, path, ctx):
        if not isinstance(value, dict):
            ctx.fail(path, f"expected a mapping with a {tag!r} key for {what}, "
                           f"got {_describe(value)}")
        if tag not in value:
            ctx.fail(path, f"{what} needs a {tag!r} key, one of: {', '.join(variants)}")
        kind = value[tag]
        if not isinstance(kind, str) or kind not in variants:
            ctx.fail(path + (tag,), f"unknown {what} {tag} {_describe(kind)}"
                                    f"{_suggest(kind, variants)}; known: {', '.join(variants)}")
        rest = {k: v for k, v in value.items() if k != tag}
        return {tag: kind, **variants[kind](rest, path, ctx)}
    validate.variants = variants
    validate.tag = tag
    validate.kind = f"mapping with {tag}: {' | '.join(variants)}"
    return validate


# --- distributions -----------------------------------------------------------

def _check_uniform(spec, path, ctx):
    if spec["high"] < spec["low"]:
        ctx.fail(path + ("high",), f"high ({spec['high']:g}s) is below low ({spec['low']:g}s)")


def _check_empirical(spec, path, ctx):
    table = spec["percentiles"]
    if not table:
        ctx.fail(path + ("percentiles",), "needs at least one percentile")
    points = []
    for key, value in table.items():
        try:
            p = float(key)
        except (TypeError, ValueError):
            ctx.fail(path + ("percentiles", key), f"percentile keys are numbers 0-100, got {key!r}")
        if not 0 <= p <= 100:
            ctx.fail(path + ("percentiles", key), f"percentile must be within 0-100, got {p:g}")
        seconds = duration()(value, path + ("percentiles", key), ctx)
        points.append((p, seconds, key))
    points.sort()
    for (p0, v0, _), (p1, v1, k1) in zip(points, points[1:]):
        if v1 < v0:
            ctx.fail(path + ("percentiles", k1),
                     f"values must not decrease with the percentile ({p1:g} is below {p0:g})")
    spec["percentiles"] = {p: v for p, v, _ in points}


def _raw_mapping(value, path, ctx):
    if not isinstance(value, dict):
        ctx.fail(path, f"expected a mapping, got {_describe(value)}")
    return value


_DIST_VARIANTS: dict[str, Validator] = {
    "constant": record({"value": Field(duration(), doc="a duration")}, what="a constant"),
    "uniform": record({"low": Field(duration()), "high": Field(duration())},
                      what="a uniform distribution", check=_check_uniform),
    "exponential": record({"mean": Field(duration(positive=True))},
                          what="an exponential distribution"),
    "normal": record({"mean": Field(duration()), "stddev": Field(duration())},
                     what="a normal distribution"),
    "lognormal": record({"median": Field(duration(positive=True)),
                         "sigma": Field(number(minimum=0.0, maximum=10.0))},
                        what="a lognormal distribution"),
    "pareto": record({"scale": Field(duration(positive=True), doc="the minimum value"),
                      "shape": Field(number(minimum=0.1), doc="the tail index alpha")},
                     what="a Pareto distribution"),
    "empirical": record({"percentiles": Field(_raw_mapping, doc="percentile: duration")},
                        what="an empirical distribution", check=_check_empirical),
}


@_named("distribution")
def distribution(value, path, ctx):
    """A latency distribution: a bare duration (constant) or ``{dist: ..., ...}``."""
    if not isinstance(value, dict):
        return {"dist": "constant", "value": duration()(value, path, ctx)}
    return _DISTRIBUTION(value, path, ctx)


def _weighted(value, path, ctx):
    if not isinstance(value, dict):
        ctx.fail(path, f"a mixture part is a mapping with 'weight' and 'dist', "
                       f"got {_describe(value)}")
    rest = dict(value)
    weight = number(above=0.0)(rest.pop("weight", 1.0), path + ("weight",), ctx)
    return {"weight": weight, **_DISTRIBUTION(rest, path, ctx)}


_DIST_VARIANTS["mixture"] = record({"of": Field(list_of(_weighted, 1))}, what="a mixture")
_DISTRIBUTION = tagged("dist", _DIST_VARIANTS, what="distribution")
