"""The one place YAML is read, always with the safe loader.

``load_yaml`` returns plain Python data plus a map from each value's YAML path
(a tuple of keys and indices) to its 1-based line, so that validation errors
can point at the line a user has to fix.
"""

from __future__ import annotations

import datetime

import yaml

from ..errors import ScenarioError


def load_yaml(text: str, source: str) -> tuple[object, dict[tuple, int]]:
    """Parse ``text`` safely; raise :class:`ScenarioError` on any YAML problem."""
    _check_depth(text, source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError(f"this is not valid YAML: {problem}", source=source,
                            line=line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise ScenarioError(f"this is not valid YAML: {exc}", source=source) from None
    marks: dict[tuple, int] = {}
    if node is None:
        return None, marks
    constructor = yaml.SafeLoader("")
    return _build(node, (), marks, constructor, source), marks


#: Limits that keep aliases ("billion laughs") and deep nesting from
#: exhausting memory or the stack.
MAX_VALUES = 200_000
MAX_DEPTH = 40
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before composing the document.

    PyYAML's parser is a state machine, but its composer recurses once a
    level: a few hundred nested brackets would exhaust the stack before
    :func:`_build` could count them.  (A syntax error is left to the composer,
    which reports it with its line.)
    """
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, starts):
                depth += 1
                if depth > MAX_DEPTH + 1:  # the root collection is depth 1
                    raise ScenarioError("this file is too deeply nested to be a scenario",
                                        source=source, line=event.start_mark.line + 1)
            elif isinstance(event, ends):
                depth -= 1
    except yaml.YAMLError:
        return


def _build(node, path, marks, constructor, source):
    if len(marks) >= MAX_VALUES or len(path) > MAX_DEPTH:
        raise ScenarioError("this file is too large or too deeply nested (or its aliases "
                            "expand too far) to be a scenario", source=source, path=path,
                            line=node.start_mark.line + 1)
    marks[path] = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
        raise ScenarioError(f"cannot read this value: the YAML tag {node.tag!r} is not "
                            "supported", source=source, path=path, line=node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        result = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ScenarioError("a mapping key must be a plain value", source=source,
                                    path=path, line=key_node.start_mark.line + 1)
            key = _scalar(key_node, constructor, source, path)
            if isinstance(key, (list, dict)) or key is None:
                raise ScenarioError("a mapping key must be a plain value", source=source,
                                    path=path, line=key_node.start_mark.line + 1)
            if key in result:
                raise ScenarioError(f"the key {key!r} appears twice", source=source,
                                    path=path + (key,), line=key_node.start_mark.line + 1)
            result[key] = _build(value_node, path + (key,), marks, constructor, source)
            marks.setdefault(path + (key,), key_node.start_mark.line + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), marks, constructor, source)
                for i, item in enumerate(node.value)]
    return _scalar(node, constructor, source, path)


def _scalar(node, constructor, source, path):
    try:
        value = constructor.construct_object(node, deep=True)
        # no scenario value is a date: keep the text, so a message shows what was written
        return node.value if isinstance(value, datetime.date) else value
    except yaml.YAMLError as exc:
        raise ScenarioError(f"cannot read this value: {getattr(exc, 'problem', exc)}",
                            source=source, path=path, line=node.start_mark.line + 1) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ScenarioError(f"cannot read this value: {exc}", source=source, path=path,
                            line=node.start_mark.line + 1) from None


def parse_value(text: str):
    """A single YAML scalar or flow value, as given to ``--set``."""
    data, _ = load_yaml(text, "--set")
    return data


def dump_yaml(data) -> str:
    """Plain data as YAML, keys in their given order (used for the resolved scenario)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
