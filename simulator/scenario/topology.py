"""The top-level scenario schema and the checks that names refer to real things."""

from __future__ import annotations

import re

from ..components import KINDS, STORES
from ..components.client import CLIENT, workload
from ..faults import COMMON, INSTANT, SCHEMAS as FAULT_SCHEMAS, deploy_length
from ..schema import Context, Field, boolean, distribution, duration, integer, list_of, \
    mapping_of, names, probability, record, string, tagged, text

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")

#: The longest run: a million simulated seconds (11.6 days).  Monitors,
#: retries and expiry tick for the whole run whatever the load; a longer one
#: is a slip of the keyboard (1e300s ran until memory ran out), not a lesson.
MAX_DURATION = 1e6
#: The most operations an open-loop workload may be expected to send (rate
#: times duration): the history takes about 400 bytes an operation in memory,
#: and simulating one takes 20-40 us, so this is about 40 GB and an hour.
MAX_OPERATIONS = 100_000_000


def _scenario_name(value, path, ctx):
    """A name that can safely become a folder name."""
    value = string(value, path, ctx)
    if not _NAME.match(value) or len(value) > 100:
        ctx.fail(path, f"a scenario name starts with a letter and uses letters, digits, '-', "
                       f"'_' or '.' (at most 100 characters; it names the results folder); "
                       f"got {value[:40]!r}")
    return value


_scenario_name.kind = "name (a letter, then letters, digits, - _ .)"


LINK = {
    "latency": Field(distribution, "500us", "one-way latency of a message"),
    "loss": Field(probability, 0.0, "probability that a message is lost"),
    "duplicate": Field(probability, 0.0, "probability that a message is delivered twice"),
    "fifo": Field(boolean, False, "deliver messages in the order they were sent"),
}

LINK_RULE = {
    "from": Field(names, doc="sending nodes or components ('*': all)"),
    "to": Field(names, doc="receiving nodes or components ('*': all)"),
    "both_ways": Field(boolean, True, "also apply to the links from `to` back to `from`"),
    **{name: Field(f.validator, None, f.doc) for name, f in LINK.items()},
}

NETWORK = record({**LINK, "links": Field(list_of(record(LINK_RULE, what="a link rule")), [],
                                         "per-link overrides, later rules win")},
                 what="the network")

COMPONENT = tagged("kind", {kind: record(cls.schema, what=f"a {kind}")
                            for kind, cls in KINDS.items()}, what="component")

FAULT = tagged("kind", {kind: record({**COMMON, **fields}, what=f"a {kind} fault")
                        for kind, fields in FAULT_SCHEMAS.items()}, what="fault")

SCENARIO = record({
    "name": Field(_scenario_name, "scenario",
                  "short name, used for the results folder (a file's default: its name)"),
    "description": Field(text, "", "one line shown by `simulate list`"),
    "seed": Field(integer(0, 2**63 - 1), 1, "default seed of the run"),
    "duration": Field(duration(positive=True, maximum=MAX_DURATION,
                               why=" (about 11.6 days simulated)"),
                      doc="how long clients send operations"),
    "network": Field(NETWORK, {}, "link defaults and overrides"),
    "components": Field(mapping_of(COMPONENT), doc="the topology: name -> component"),
    "workload": Field(workload, doc="the clients"),
    "faults": Field(list_of(FAULT), [], "the fault timeline"),
}, what="the scenario")



def _check_sole_writer(cache: str, store: str, components: dict, workload: dict, ctx) -> None:
    """A write-behind cache names the versions of its writes: it must be its
    store's only writer."""
    if components[store]["kind"] != "database":
        ctx.fail(("components", cache, "database"), f"a write-behind cache needs a "
                                                    f"database, and {store!r} is a quorum store")
    for name, config in components.items():
        writes_directly = (
            (config["kind"] == "service" and config["database"] == store
             and config["cache"] != cache)
            or (config["kind"] == "cache" and name != cache and config["mode"] != "aside"
                and config["database"] == store))
        if writes_directly:
            ctx.fail(("components", name), f"{name!r} writes {store!r} directly, but the "
                                           f"write-behind cache {cache!r} must be its only "
                                           f"writer")
    if workload["target"] == store:
        ctx.fail(("workload", "target"), f"clients write {store!r} directly, but the "
                                         f"write-behind cache {cache!r} must be its only writer")


def check_references(data: dict, ctx: Context) -> dict[str, list[str]]:
    """Check every name; return component name -> node names.  Fills fault ends and names."""
    components = data["components"]
    if not components:
        ctx.fail(("components",), "a scenario needs at least one component")
    nodes: dict[str, list[str]] = {}
    owner: dict[str, str] = {CLIENT: CLIENT}
    for name, config in components.items():
        path = ("components", name)
        if not _NAME.match(name):
            ctx.fail(path, f"component names start with a letter and use letters, digits, "
                           f"'-', '_' or '.'; got {name!r}")
        if name in (CLIENT, "*"):
            ctx.fail(path, f"{name!r} is reserved")
        KINDS[config["kind"]].check(config, path, ctx)
        nodes[name] = KINDS[config["kind"]].node_names(name, config)
        for node in nodes[name]:
            clash = owner.get(node)
            if clash is not None or (node in components and node != name):
                ctx.fail(path, f"node name {node!r} of {name!r} clashes with "
                               f"{clash or node!r}; rename one of them")
            owner[node] = name
    known = set(owner) | set(nodes) | {"*"}

    def of_kind(path, name, kind):
        config = components.get(name)
        if config is None or config["kind"] != kind:
            found = [n for n, c in components.items() if c["kind"] == kind]
            ctx.fail(path, f"{name!r} is not a {kind} component; the {kind} components are: "
                           f"{', '.join(found) or 'none'}")

    def check_names(path, values):
        for i, value in enumerate(values):
            if value not in known:
                ctx.fail(path + (i,), f"unknown node or component {value!r}; known: "
                                      f"{', '.join(sorted(known - {'*'}))}")

    for name, config in components.items():
        if config["kind"] == "cache" and config["mode"] != "aside":
            store = config["database"]
            if components.get(store, {}).get("kind") not in STORES:
                ctx.fail(("components", name, "database"),
                         f"{store!r} is not a database or quorum component")
            if config["mode"] == "behind":
                _check_sole_writer(name, store, components, data["workload"], ctx)
        if config["kind"] == "service":
            store = config["database"]
            if components.get(store, {}).get("kind") not in STORES:
                found = [n for n, c in components.items() if c["kind"] in STORES]
                ctx.fail(("components", name, "database"),
                         f"{store!r} is not a database or quorum component; the stores are: "
                         f"{', '.join(found) or 'none'}")
            if config["cache"]:
                of_kind(("components", name, "cache"), config["cache"], "cache")
    target = data["workload"]["target"]
    if components.get(target, {}).get("kind") not in ("service", *STORES):
        found = [n for n, c in components.items() if c["kind"] in ("service", *STORES)]
        ctx.fail(("workload", "target"), f"{target!r} is not a service, database or quorum "
                                         f"component; "
                                         f"clients can call: {', '.join(found) or 'nothing'}")

    for i, rule in enumerate(data["network"]["links"]):
        check_names(("network", "links", i, "from"), rule["from"])
        check_names(("network", "links", i, "to"), rule["to"])

    run = data["duration"]
    load = data["workload"]
    if load["arrivals"] == "poisson" and load["rate"] * run > MAX_OPERATIONS:
        ctx.fail(("workload", "rate"),
                 f"{load['rate']:g} operations a second for {run:g}s is about "
                 f"{load['rate'] * run:.3g} operations; a run takes at most "
                 f"{MAX_OPERATIONS:,} (its history is kept in memory, about 400 bytes "
                 f"an operation)")
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for i, fault in enumerate(data["faults"]):
        path = ("faults", i)
        kind = fault["kind"]
        counts[kind] = counts.get(kind, 0) + 1
        if not fault["name"]:
            fault["name"] = f"{kind}-{counts[kind]}"
        if fault["name"] in seen:
            ctx.fail(path + ("name",), f"two faults are named {fault['name']!r}")
        seen.add(fault["name"])
        _check_fault_targets(fault, path, ctx, check_names, of_kind, components, owner)
        start, length, end = fault["start"], fault["duration"], fault["end"]
        if kind == "deploy":
            instances = len({n for s in fault["service"] for n in nodes.get(s, [s])})
            length = deploy_length(fault, instances)
            if (fault["duration"] not in (None, length)
                    or end not in (None, start + length)):
                ctx.fail(path, "a deploy lasts as long as its batches take; give 'batch', "
                               "'restart' and 'pause' instead of 'duration' or 'end'")
            fault["end"] = start + length
        elif kind in INSTANT:
            if length not in (None, 0) or end not in (None, start):
                ctx.fail(path, f"a {kind} happens at an instant: give 'start' only")
            fault["end"] = start
        elif length is not None and end is not None:
            if abs(start + length - end) > 1e-9:
                ctx.fail(path, f"'duration' and 'end' disagree (it starts at {start:g}s, lasts "
                               f"{length:g}s and ends at {end:g}s): give one of them")
        elif length is not None:
            fault["end"] = start + length
        elif end is None:
            ctx.fail(path, f"a {kind} fault needs 'duration' or 'end'")
        fault["duration"] = fault["end"] - fault["start"]
        if fault["duration"] <= 0 and kind not in INSTANT:
            where = path + ("end",) if end is not None else path + ("duration",)
            ctx.fail(where, f"the fault must end after it starts; it starts at "
                            f"{fault['start']:g}s and ends at {fault['end']:g}s")
        # the run's length may come from elsewhere than the fault (--duration)
        origin = ctx.origin(("duration",))
        ends = f"{run:g}s" + (f", from {origin}" if origin else "")
        if fault["start"] >= run:
            ctx.fail(path + ("start",), f"the fault starts at {fault['start']:g}s, after the "
                                        f"run ends ({ends})")
        if fault["end"] > run + 1e-9:
            ctx.fail(path, f"the fault lasts until {fault['end']:g}s, after the run ends "
                           f"({ends}); every fault is healed within the run")
    _check_ticks(data, nodes, ctx)
    return nodes


def _check_ticks(data: dict, nodes: dict, ctx: Context) -> None:
    """Refuse a timer so fast that the run would not finish: the events a
    periodic timer may cause, at most :data:`MAX_OPERATIONS`.  The monitor
    pings for the whole run; replication probes and hand-offs tick only while
    something is unanswered, which the faults bound (their total length)."""
    run = data["duration"]
    faulted = min(run, sum(fault["duration"] for fault in data["faults"]))
    ticks = []  # (path, what ticks, events)
    for name, config in data["components"].items():
        at = ("components", name)
        if config["kind"] == "database" and config["failover"] is not None:
            every = config["failover"]["heartbeat"]
            ticks.append((at + ("failover", "heartbeat"), "the monitor's pings",
                          run / every * len(nodes[name])))
        if config["kind"] == "database" and config["replicas"]:
            every = config["replication_retry"]
            ticks.append((at + ("replication_retry",), "the probes of a silent replica",
                          faulted / every * config["replicas"]))
        if config["kind"] == "quorum" and config["spares"]:
            every = config["handoff_every"]
            ticks.append((at + ("handoff_every",), "the spares' hand-offs",
                          faulted / every * config["spares"]))
    for i, fault in enumerate(data["faults"]):
        if fault["kind"] == "failures":
            cycle = fault["mttf"] + fault["mttr"]
            ticks.append((("faults", i), "the failures and repairs",
                          fault["duration"] / cycle * 2
                          * sum(len(nodes.get(n, [n])) for n in fault["node"])))
    for path, what, events in ticks:
        if events > MAX_OPERATIONS:
            ctx.fail(path, f"{what} could come about {events:.3g} times in a {run:g}s run; "
                           f"a run's timers may fire at most {MAX_OPERATIONS:,} times (make "
                           f"the period longer or the run shorter)")


def _nodes_of(names: list, components, owner: dict, everyone: bool = True) -> set:
    """The nodes a list of node and component names (or ``*``) stands for; with
    ``everyone`` false, ``*`` stands for none of them (only names written out)."""
    nodes = set()
    for name in names:
        if name == "*":
            if everyone:
                nodes |= set(owner)
        elif name in components:
            nodes |= {n for n, c in owner.items() if c == name}
        else:
            nodes.add(name)
    return nodes


def _check_fault_targets(fault, path, ctx, check_names, of_kind, components, owner):
    kind = fault["kind"]
    if kind == "partition":
        given = [k for k in ("groups", "isolate", "one_way", "shape") if fault[k] is not None]
        if len(given) != 1:
            ctx.fail(path, "a partition needs exactly one of 'groups', 'isolate', 'one_way' "
                           "or 'shape'" + (f"; got {', '.join(given)}" if given else ""))
        if fault["shape"] is not None:
            check_names(path + ("among",), fault["among"])
            among = _nodes_of(fault["among"], components, owner)
            if len(among - {CLIENT}) < 2:
                ctx.fail(path + ("among",), "a partition shape needs at least 2 nodes "
                                            "(other than the client) to split")
        elif fault["among"] != ["*"]:
            ctx.fail(path + ("among",), "'among' goes with 'shape'")
        elif fault["groups"] is not None:
            # node -> the first group that names it ('*', everyone else, names none:
            # a partition never cuts a node off from itself, see blocked_pairs)
            side: dict[str, int] = {}
            starred = [j for j, group in enumerate(fault["groups"]) if "*" in group]
            if len(starred) > 1:
                ctx.fail(path + ("groups", starred[1]), f"'*' is in groups {starred[0]} and "
                                                        f"{starred[1]}: it stands for "
                                                        f"everyone else, on one side only")
            for j, group in enumerate(fault["groups"]):
                check_names(path + ("groups", j), group)
                for node in _nodes_of(group, components, owner, everyone=False):
                    if side.setdefault(node, j) != j:
                        ctx.fail(path + ("groups", j),
                                 f"{node} is in groups {side[node]} and {j}: a node is on "
                                 f"one side of a partition")
        elif fault["isolate"] is not None:
            check_names(path + ("isolate",), fault["isolate"])
        else:
            check_names(path + ("one_way", "from"), fault["one_way"]["from"])
            check_names(path + ("one_way", "to"), fault["one_way"]["to"])
            if "*" in fault["one_way"]["from"] and "*" in fault["one_way"]["to"]:
                ctx.fail(path + ("one_way",), "'*' is on both sides: it stands for everyone "
                                              "else, on one side only")
            both = _nodes_of(fault["one_way"]["from"], components, owner, everyone=False) & \
                _nodes_of(fault["one_way"]["to"], components, owner, everyone=False)
            if both:
                ctx.fail(path + ("one_way",), f"{', '.join(sorted(both))} would be cut off "
                                              f"from itself: 'from' and 'to' share it")
    elif kind == "degrade":
        check_names(path + ("from",), fault["from"])
        check_names(path + ("to",), fault["to"])
    elif kind == "slow-writes":
        for j, name in enumerate(fault["node"]):
            check_names(path + ("node",), [name])
            of_kind(path + ("node", j), owner.get(name, name), "database")
    elif kind == "deploy":
        for j, name in enumerate(fault["service"]):
            of_kind(path + ("service", j), name, "service")
    elif kind == "flush":
        for j, name in enumerate(fault["node"]):
            of_kind(path + ("node", j), name, "cache")
    elif kind in ("crash", "failures", "pause"):
        check_names(path + ("node",), fault["node"])
        if "*" in fault["node"] or CLIENT in fault["node"]:
            ctx.fail(path + ("node",), f"{kind} names nodes or components, not '*' or 'client'")
    elif kind == "clock":
        check_names(path + ("node",), fault["node"])
