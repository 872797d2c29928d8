"""Faults: a timeline of events applied to the network and the components.

A fault is data (validated by ``SCHEMAS``) plus a small function that starts
it and returns how to heal it.  Every fault is healed at its end, so a run
always finishes healed and what happens after the heal (convergence, stale
entries left behind) is measured too.

Names in a fault are node names (``api-1``, ``db-primary``) or component
names, which stand for all of a component's nodes (``api``, ``db``).
"""

from __future__ import annotations

import math

from .distributions import build
from .network import CRASHED, STOPPED
from .schema import Field, boolean, distribution, duration, integer, list_of, names, text, \
    probability, record

COMMON = {
    "name": Field(text, "", "a name for plots and tables (default: kind-N)"),
    "start": Field(duration(), doc="when the fault starts"),
    "duration": Field(duration(), None, "how long it lasts"),
    "end": Field(duration(), None, "when it is healed (instead of duration)"),
}

SCHEMAS = {
    "partition": {
        "groups": Field(list_of(names, 2), None,
                        "nodes in different groups cannot talk; unlisted nodes reach everyone"),
        "isolate": Field(names, None, "cut these nodes off from every other node"),
        "one_way": Field(record({"from": Field(names), "to": Field(names)},
                                what="a one-way partition"), None,
                         "drop messages from `from` to `to` (to does not hear from)"),
    },
    "degrade": {
        "from": Field(names, ["*"], "senders affected ('*': all)"),
        "to": Field(names, ["*"], "receivers affected ('*': all)"),
        "both_ways": Field(boolean, True, "also degrade the links from `to` back to `from`"),
        "latency": Field(distribution, None, "extra latency added to each message"),
        "loss": Field(probability, 0.0, "extra probability of losing a message"),
        "duplicate": Field(probability, 0.0, "extra probability of duplicating a message"),
    },
    "slow-writes": {
        "node": Field(names, doc="database nodes (a database component means its primary)"),
        "extra": Field(distribution, doc="extra disk-write latency of each commit"),
    },
    "deploy": {
        "service": Field(names, doc="the service to restart, instance by instance"),
        "batch": Field(integer(1), 1, "instances restarted at once"),
        "restart": Field(duration(positive=True), "5s", "how long an instance is down"),
        "pause": Field(duration(), "0s", "wait between batches"),
    },
    "crash": {
        "node": Field(names, doc="nodes (or components) that crash and restart at the end"),
    },
    "flush": {
        "node": Field(names, doc="caches emptied at `start` (an instant: no duration)"),
    },
}

#: Faults that happen at an instant rather than over an interval.
INSTANT = {"flush"}


def deploy_length(fault: dict, instances: int) -> float:
    batches = math.ceil(instances / fault["batch"])
    return batches * fault["restart"] + (batches - 1) * fault["pause"]


def describe(fault: dict) -> str:
    """A short human description of what a fault hits."""
    kind = fault["kind"]
    if kind == "partition":
        if fault.get("groups"):
            return " | ".join(", ".join(g) for g in fault["groups"])
        if fault.get("isolate"):
            return "isolate " + ", ".join(fault["isolate"])
        return f"{', '.join(fault['one_way']['from'])} -/-> {', '.join(fault['one_way']['to'])}"
    if kind == "degrade":
        arrow = "<->" if fault["both_ways"] else "->"
        return f"{', '.join(fault['from'])} {arrow} {', '.join(fault['to'])}"
    if kind == "slow-writes":
        return ", ".join(fault["node"])
    if kind == "deploy":
        return f"{', '.join(fault['service'])} (batch {fault['batch']})"
    return ", ".join(fault["node"])  # crash, flush


def blocked_pairs(fault: dict, resolve, everyone: list[str]) -> list[tuple[str, str]]:
    """The directed (src, dst) pairs a partition drops."""
    pairs = []
    if fault.get("groups"):
        groups = [resolve(g) for g in fault["groups"]]
        for i, a in enumerate(groups):
            for j, b in enumerate(groups):
                if i != j:
                    pairs += [(s, d) for s in a for d in b]
    elif fault.get("isolate"):
        cut = set(resolve(fault["isolate"]))
        rest = [n for n in everyone if n not in cut]
        pairs += [(s, d) for s in cut for d in rest] + [(s, d) for s in rest for d in cut]
    else:
        pairs += [(s, d) for s in resolve(fault["one_way"]["from"])
                  for d in resolve(fault["one_way"]["to"])]
    return sorted(set(pairs))


def schedule(fault: dict, world) -> None:
    """Arrange for ``fault`` to start and to heal on the world's clock."""
    sim, net = world.sim, world.network
    kind, start, end = fault["kind"], fault["start"], fault["end"]

    def at(time, action):
        sim.after(time - sim.env.now, lambda _: action())

    if kind == "partition":
        pairs = blocked_pairs(fault, world.resolve, list(net.nodes))
        at(start, lambda: net.block(pairs))
        at(end, lambda: net.unblock(pairs))
    elif kind == "degrade":
        # One entry per fault, so a link that matches both ways is degraded once.
        entry = (set(world.resolve(fault["from"])), set(world.resolve(fault["to"])),
                 fault["both_ways"], {
                     "latency": build(fault["latency"]) if fault["latency"] else None,
                     "loss": fault["loss"], "duplicate": fault["duplicate"]})
        at(start, lambda: net.degrade(entry))
        at(end, lambda: net.restore(entry))
    elif kind == "slow-writes":
        extra = build(fault["extra"])
        disks = [world.database_node(n) for n in fault["node"]]
        at(start, lambda: [d.slow.append(extra) for d in disks])
        at(end, lambda: [d.slow.remove(extra) for d in disks])
    elif kind == "deploy":
        instances = [net.nodes[n] for n in world.resolve(fault["service"])]
        step = fault["restart"] + fault["pause"]
        for b in range(0, len(instances), fault["batch"]):
            batch = instances[b:b + fault["batch"]]
            t = start + (b // fault["batch"]) * step
            at(t, lambda batch=batch: [i.hold(STOPPED) for i in batch])
            at(t + fault["restart"], lambda batch=batch: [i.release() for i in batch])
    elif kind == "crash":
        nodes = [net.nodes[n] for n in world.resolve(fault["node"])]
        at(start, lambda: [n.hold(CRASHED) for n in nodes])
        at(end, lambda: [n.release() for n in nodes])
    elif kind == "flush":
        caches = [world.components[n].node for n in fault["node"]]
        at(start, lambda: [c.flush() for c in caches if c.up])
