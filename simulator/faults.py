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
from .schema import Field, boolean, choice, distribution, duration, integer, list_of, names, \
    number, offset, probability, record, text

#: Named partition shapes, after Jepsen's nemesis grudges.
SHAPES = ("halves", "random-halves", "random-node", "bridge", "majorities-ring",
          "minority-third")

COMMON = {
    "name": Field(text, "", "a name for plots and tables (default: kind-N)"),
    "start": Field(duration(), doc="when the fault starts"),
    "duration": Field(duration(), None, "how long it lasts"),
    "end": Field(duration(), None, "when it is healed (instead of duration)"),
}

SCHEMAS = {
    "partition": {
        "groups": Field(list_of(names, 2), None,
                        "nodes in different groups cannot talk; unlisted nodes reach "
                        "everyone ('*' in one group: every node but the client that no "
                        "other group names)"),
        "isolate": Field(names, None, "cut these nodes off from every other node"),
        "one_way": Field(record({"from": Field(names), "to": Field(names)},
                                what="a one-way partition"), None,
                         "drop messages from `from` to `to` (to does not hear from; "
                         "'*' on one side: every node but the client the other side does "
                         "not name)"),
        "shape": Field(choice(*SHAPES), None,
                       "a named Jepsen shape over the nodes in `among`: "
                       + ", ".join(SHAPES)),
        "among": Field(names, ["*"], "the nodes a `shape` partitions ('*': every node "
                                     "but the client)"),
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
    "pause": {
        "node": Field(names, doc="nodes (or components) that stop processing for a while; "
                                 "messages reaching them wait and are handled on resume"),
    },
    "clock": {
        "node": Field(names, doc="nodes (or components) whose clocks go wrong"),
        "skew": Field(offset, "0s", "the clock jumps this far ahead (negative: behind) at "
                                    "the start"),
        "drift": Field(number(-0.5, 0.5), 0.0, "and runs this many seconds fast (negative: "
                                               "slow) per second; corrected at the end"),
    },
    "failures": {
        "node": Field(names, doc="nodes (or components) that fail and recover at random"),
        "mttf": Field(duration(positive=True), doc="mean time to failure (exponential)"),
        "mttr": Field(duration(positive=True), doc="mean time to repair (exponential)"),
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
        if fault.get("shape"):
            return f"{fault['shape']} of {', '.join(fault['among'])}"
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
    if kind == "failures":
        return f"{', '.join(fault['node'])} (mttf {fault['mttf']:g}s, mttr {fault['mttr']:g}s)"
    if kind == "clock":
        return f"{', '.join(fault['node'])} (skew {fault['skew']:+g}s, drift {fault['drift']:+g})"
    return ", ".join(fault["node"])  # crash, flush


def shape_grudge(shape: str, nodes: list[str], stream) -> dict[str, set[str]]:
    """For a named shape: each node -> the nodes it does not hear from.

    ``nodes`` in a fixed order; the random shapes shuffle or pick with
    ``stream``.  halves: the first half against the second; random-halves:
    the same after a shuffle; random-node: one random node against the rest;
    bridge: two halves that cannot talk, except through one node in the
    middle that hears and reaches both; majorities-ring: around a ring each
    node hears a majority (itself and its nearest neighbours), a different
    majority for every node; minority-third: a random third (at least one
    node) against the rest.
    """
    nodes = list(nodes)
    n = len(nodes)
    if shape in ("random-halves", "random-node", "minority-third", "majorities-ring"):
        order = nodes[:]
        for i in range(n - 1, 0, -1):  # Fisher-Yates with the fault's own stream
            j = stream.below(i + 1)
            order[i], order[j] = order[j], order[i]
        nodes = order
    if shape in ("halves", "random-halves"):
        groups = [nodes[:n // 2], nodes[n // 2:]]
    elif shape == "random-node":
        groups = [nodes[:1], nodes[1:]]
    elif shape == "minority-third":
        cut = max(1, n // 3)
        groups = [nodes[:cut], nodes[cut:]]
    elif shape == "bridge":
        middle = n // 2
        left, right = set(nodes[:middle]), set(nodes[middle + 1:])
        return {a: (right if a in left else left if a in right else set()) for a in nodes}
    else:  # majorities-ring
        hears = n // 2  # others heard: with itself, a majority
        grudge = {}
        for i, a in enumerate(nodes):
            heard = {nodes[(i + d) % n] for d in range(-(hears // 2), hears - hears // 2 + 1)}
            grudge[a] = set(nodes) - heard
        return grudge
    grudge = {}
    for group in groups:
        others = set(nodes) - set(group)
        for a in group:
            grudge[a] = others
    return grudge


def blocked_pairs(fault: dict, resolve, everyone: list[str], stream=None) -> list[tuple[str, str]]:
    """The directed (src, dst) pairs a partition drops."""
    pairs = []
    if fault.get("shape"):
        among = [n for n in resolve(fault["among"]) if n != "client"]
        grudge = shape_grudge(fault["shape"], among, stream)
        pairs += [(src, dst) for dst, deaf_to in grudge.items() for src in deaf_to]
    elif fault.get("groups"):
        groups = _sides(fault["groups"], resolve)
        for i, a in enumerate(groups):
            for j, b in enumerate(groups):
                if i != j:
                    pairs += [(s, d) for s in a for d in b]
    elif fault.get("isolate"):
        cut = set(resolve(fault["isolate"]))
        rest = [n for n in everyone if n not in cut]
        pairs += [(s, d) for s in cut for d in rest] + [(s, d) for s in rest for d in cut]
    else:
        senders, receivers = _sides([fault["one_way"]["from"], fault["one_way"]["to"]], resolve)
        pairs += [(s, d) for s in senders for d in receivers]
    return sorted({(s, d) for s, d in pairs if s != d})  # never a node from itself


def _sides(sides: list, resolve) -> list[list[str]]:
    """The nodes of each side of a partition: the names it gives, and for ``*``
    every node but the client that no other side names (everyone *else*, as in
    a shape's ``among``: a node is on one side, nodes that share a side still
    talk, and the clients reach everyone unless a side names ``client``)."""
    named = [resolve([n for n in side if n != "*"]) for side in sides]
    result = []
    for i, side in enumerate(sides):
        nodes = list(named[i])
        if "*" in side:
            elsewhere = {n for j, other in enumerate(named) if j != i for n in other}
            nodes += [n for n in resolve(["*"]) if n != "client" and n not in elsewhere
                      and n not in nodes]
        result.append(nodes)
    return result


def schedule(fault: dict, world) -> None:
    """Arrange for ``fault`` to start and to heal on the world's clock."""
    sim, net = world.sim, world.network
    kind, start, end = fault["kind"], fault["start"], fault["end"]

    def at(time, action):
        sim.after(time - sim.env.now, lambda _: action())

    if kind == "partition":
        pairs = blocked_pairs(fault, world.resolve, list(net.nodes),
                              sim.streams[f"fault:{fault['name']}"])
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
    elif kind == "pause":
        nodes = [net.nodes[n] for n in world.resolve(fault["node"])]
        at(start, lambda: [n.pause() for n in nodes])
        at(end, lambda: [n.resume() for n in nodes])
    elif kind == "failures":
        for name in world.resolve(fault["node"]):
            Flapping(world, fault, net.nodes[name]).schedule()
    elif kind == "clock":
        names = world.resolve(fault["node"])
        entries = {}
        at(start, lambda: entries.update(
            {n: world.clocks.skew(n, fault["skew"], fault["drift"]) for n in names}))
        at(end, lambda: [world.clocks.correct(n, entries[n]) for n in names])


class Flapping:
    """One node failing and recovering at random while a ``failures`` fault lasts.

    Times to failure and to repair are exponential (means ``mttf``, ``mttr``),
    drawn from the node's own stream for this fault.  The node starts in its
    stationary state (down with probability mttr / (mttf + mttr)), so it is up
    a fraction mttf / (mttf + mttr) of the time from the very start; at the
    fault's end it is brought back up.
    """

    def __init__(self, world, fault: dict, node) -> None:
        self.sim, self.node = world.sim, node
        self.start, self.end = fault["start"], fault["end"]
        self.mttf, self.mttr = fault["mttf"], fault["mttr"]
        self.stream = world.sim.streams[f"fault:{fault['name']}:{node.name}"]
        self.down = False

    def schedule(self) -> None:
        self.sim.after(self.start - self.sim.env.now, self._begin)

    def _begin(self, _) -> None:
        if self.stream.uniform() < self.mttr / (self.mttf + self.mttr):
            self._fail(None)
        else:
            self._next(self.mttf, self._fail)

    def _next(self, mean: float, action) -> None:
        gap = mean * self.stream.exponential()
        now = self.sim.env.now
        if now + gap < self.end:
            self.sim.after(gap, action)
        else:
            self.sim.after(self.end - now, self._heal)

    def _fail(self, _) -> None:
        self.down = True
        self.node.hold(CRASHED)
        self._next(self.mttr, self._repair)

    def _repair(self, _) -> None:
        self.down = False
        self.node.release()
        self._next(self.mttf, self._fail)

    def _heal(self, _) -> None:
        if self.down:
            self.down = False
            self.node.release()
