"""Build a validated scenario into a running world, run it, return its history."""

from __future__ import annotations

from . import __version__
from .components import KINDS, STORES
from .clocks import Clocks
from .components.client import CLIENT, Clients
from .distributions import build
from .engine import Simulation
from .faults import describe, schedule
from .history import History
from .network import Network
from .scenario import Scenario

#: build order: what a component refers to is built before it
_ORDER = {"database": 0, "quorum": 0, "cache": 1, "service": 2}


class World:
    """The simulation of one scenario with one seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        data = scenario.data
        self.sim = Simulation(seed)
        self.groups = {name: list(nodes) for name, nodes in scenario.nodes.items()}
        everyone = [CLIENT] + [n for nodes in self.groups.values() for n in nodes]
        self.groups["*"] = everyone
        for node in everyone:
            self.groups.setdefault(node, [node])
        net = data["network"]
        defaults = {"latency": build(net["latency"]), "loss": net["loss"],
                    "duplicate": net["duplicate"], "fifo": net["fifo"]}
        self.network = Network(self.sim, defaults, self._link_rules(net["links"]))
        self.clocks = Clocks(self.sim)
        self.components = {}
        for name, config in sorted(data["components"].items(),
                                   key=lambda item: _ORDER.get(item[1]["kind"], 9)):
            self.components[name] = KINDS[config["kind"]](name, config, self)
        self.end = data["duration"] + data["workload"]["timeout"]
        self.clients = Clients(data["workload"], self, until=data["duration"])

    def resolve(self, names) -> list[str]:
        """Node names for a list of node or component names, in order, without repeats."""
        result = []
        for name in names:
            for node in self.groups[name]:
                if node not in result:
                    result.append(node)
        return result

    def database_node(self, name: str):
        """A database node by name; a database component's name means its primary."""
        component = self.components.get(name)
        if component is not None:
            return component.primary
        return self.network.nodes[name]

    def _link_rules(self, rules: list) -> list:
        result = []
        for rule in rules:
            override = {k: (build(v) if k == "latency" else v) for k, v in rule.items()
                        if k in ("latency", "loss", "duplicate", "fifo") and v is not None}
            sources, targets = set(self.resolve(rule["from"])), set(self.resolve(rule["to"]))
            result.append((sources, targets, override))
            if rule["both_ways"]:
                result.append((targets, sources, override))
        for name, config in self.scenario.data["components"].items():
            if config["kind"] == "database" and config["applier"] == "single":
                # a replication log is delivered in order, whichever node leads
                nodes = set(self.groups[name]) - {f"{name}-monitor"}
                result.append((nodes, nodes, {"fifo": True}))
        return result

    def run(self, progress=None) -> History:
        record = self.sim.record
        for fault in self.scenario.data["faults"]:
            schedule(fault, self)
            record.faults.append({"fault": fault["name"], "kind": fault["kind"],
                                  "start_s": fault["start"], "end_s": fault["end"],
                                  "targets": describe(fault)})
        for component in self.components.values():
            record.copy_info.extend(component.copies())
            component.start()
        self.clients.start_workload()
        self.sim.run(self.end, progress)
        meta = {"scenario": self.scenario.name, "seed": self.seed, "duration_s": self.end,
                "workload_s": self.scenario.duration, "version": __version__,
                "description": self.scenario.description,
                "sources": {c.truth: c.name for c in self.components.values()
                            if c.kind in STORES},
                "keys": self.scenario.data["workload"]["keys"]}
        history = record.history(meta)
        record.release()  # the history holds its own copy of every column
        return history


def simulate(scenario: Scenario, seed: int | None = None, progress=None) -> History:
    """Run ``scenario`` with ``seed`` (default: the scenario's) and return its history."""
    return World(scenario, scenario.seed if seed is None else seed).run(progress)
