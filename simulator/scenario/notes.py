"""Settings a valid scenario gives that have no effect: notes, not errors.

A rate with a closed loop of clients, ``acks`` without semi-synchronous
replication, a flush delay on a cache that does not write behind, a degrade
fault that degrades nothing: the run is well defined, but the reader of the
file believes something it does not do (and a sweep may start from such a
value: ``--over faults.0.loss=0,0.2``).
A setting is noted only when it differs from its default, so the resolved
scenario a run saves (every default written out) replays without notes it
did not have.
"""

from __future__ import annotations

from ..schema import Context


def _default(schema: dict, key: str):
    """The resolved default of ``schema[key]`` (durations in seconds)."""
    field = schema[key]
    return field.validator(field.default, (key,), Context("<default>"))


def notes(data: dict, ctx: Context) -> list[str]:
    """One line per setting of the resolved ``data`` that has no effect."""
    from ..components import KINDS
    from ..components.client import SCHEMA as WORKLOAD

    found = []

    def note(path: tuple, why: str) -> None:
        found.append(str(ctx.error(path, why)))  # placed as an error would be

    def given(path: tuple, schema: dict, why: str) -> None:
        section = data
        for part in path[:-1]:
            section = section[part]
        if section[path[-1]] != _default(schema, path[-1]):
            note(path, why)

    load = data["workload"]
    if load["arrivals"] == "closed":
        given(("workload", "rate"), WORKLOAD, "has no effect with arrivals: closed (the "
                                              "clients and their think time set the pace)")
    else:
        for key in ("clients", "think"):
            given(("workload", key), WORKLOAD, "has no effect with arrivals: poisson (the "
                                               "rate sets the pace)")
    if load["key_distribution"] == "uniform":
        given(("workload", "zipf_exponent"), WORKLOAD,
              "has no effect with key_distribution: uniform")
    for name, config in data["components"].items():
        kind = config["kind"]
        schema = KINDS[kind].schema
        at = ("components", name)
        if kind == "database" and config["replication"] != "semi-sync":
            given(at + ("acks",), schema,
                  f"has no effect with replication: {config['replication']}")
        elif kind == "cache" and config["mode"] != "behind":
            given(at + ("flush_delay",), schema, f"has no effect with mode: {config['mode']} "
                                                 f"(only a write-behind cache flushes)")
        elif kind == "quorum" and config["spares"] == 0:
            for key in ("suspect_for", "handoff_every"):
                given(at + (key,), schema, "has no effect without spares")
        elif kind == "service" and not config["cache"]:
            given(at + ("cache_timeout",), schema, "has no effect without a cache")
    for i, fault in enumerate(data["faults"]):
        if fault["kind"] == "degrade" and fault["latency"] is None and not fault["loss"] \
                and not fault["duplicate"]:
            note(("faults", i), "a degrade fault without latency, loss or duplicate changes "
                                "nothing")
    return found
