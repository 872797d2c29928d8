"""The client workload: who sends what, when, and how long they wait.

Open loop (``arrivals: poisson``): operations arrive as a Poisson process at
``rate`` per second, whatever the system does.  Closed loop
(``arrivals: closed``): ``clients`` clients each send one operation, wait for
its outcome, think, and send the next.  Each operation is a read with
probability ``read_fraction``, otherwise a write, on a key drawn uniformly or
from a Zipf law.  A client gives up after ``timeout``: a read is then
recorded ``fail`` (it had no effect), a write ``info`` (it may have happened).

A closed-loop client whose operation fails instantly (no instance is up)
waits at least 1 ms before its next one.

Process ids follow Jepsen: a process has at most one operation outstanding,
and a process whose operation ended ``info`` is never used again.
"""

from __future__ import annotations

import bisect
import math
from functools import partial

import numpy as np

from ..distributions import build
from ..engine import Flow
from ..network import Node, Reply, failed
from ..schema import Field, choice, distribution, duration, integer, number, \
    probability, record, string

CLIENT = "client"

#: A closed-loop client whose operation failed at once (no instance up)
#: waits at least this long before the next one, so it cannot spin forever.
INSTANT_RETRY = 0.001

SCHEMA = {
    "target": Field(string, doc="the service (or database) component the clients call"),
    "arrivals": Field(choice("poisson", "closed"), "poisson",
                      "poisson: open loop at `rate`; closed: `clients` loops with `think`"),
    "rate": Field(number(above=0.0), 100.0,
                  "operations per second (poisson; times the duration, at most 100 million)"),
    "clients": Field(integer(1, 1_000_000), 10, "concurrent clients (closed)"),
    "think": Field(distribution, "10ms", "pause between a client's operations (closed)"),
    "read_fraction": Field(probability, 0.9, "probability that an operation is a read"),
    "keys": Field(integer(1, 100_000_000), 100, "number of keys"),
    "key_distribution": Field(choice("uniform", "zipf"), "uniform", "how keys are chosen"),
    "zipf_exponent": Field(number(minimum=0.0), 1.0, "exponent s of the Zipf law"),
    "timeout": Field(duration(positive=True), "1s", "a client gives up after this"),
}
def _check(config: dict, path: tuple, ctx) -> None:
    if config["key_distribution"] == "zipf" and config["keys"] > 10_000_000:
        ctx.fail(path + ("keys",), "a zipf workload takes at most 10,000,000 keys "
                                   "(its table of probabilities is kept in memory)")


workload = record(SCHEMA, what="the workload", check=_check)


def _outcome(op: str, reply) -> tuple[str, str]:
    """Map a reply to a history status and error."""
    if reply.status == "ok":
        return "ok", ""
    # a write that timed out, was reset or is "unknown" to the service may have
    # happened (info); a read had no effect either way (fail)
    outcome, why = failed(reply.status, reply.value)
    return ("fail" if op == "read" else outcome), why


#: The Zipf key lookup splits [0, 1) into this many equal buckets (a power of
#: two, so that ``int(u * BUCKETS)`` is exact).
BUCKETS = 4096


def _buckets(cdf: list[float], keys: int) -> list[int]:
    """Per bucket of uniform draws, the key every draw in it maps to (the same
    key the bisection of ``cdf`` gives), or -1 where the bucket spans several
    keys: the Zipf head, where most draws fall, needs no bisection."""
    def key(u: float) -> int:
        return min(bisect.bisect_right(cdf, u), keys - 1)

    table = []
    for j in range(BUCKETS):
        first, last = key(j / BUCKETS), key(math.nextafter((j + 1) / BUCKETS, 0.0))
        table.append(first if first == last else -1)  # the lookup is monotone in u
    return table


class Clients(Node):
    """The node all client traffic leaves from."""

    def __init__(self, config: dict, world, until: float) -> None:
        super().__init__(CLIENT, world.network)
        self.config = config
        self.until = until
        self.service = world.components[config["target"]]
        # clients of a database or quorum store itself (they coordinate)
        self.direct = self.service.kind in ("database", "quorum")
        #: a store whose write is one request (``write_request``): no flow needed
        self.write_request = getattr(self.service, "write_request", None) \
            if self.direct else None
        self.timeout = config["timeout"]
        self.read_fraction = config["read_fraction"]
        self.stream = self.sim.streams["workload"]
        self.keys = config["keys"]
        self.cdf = None
        if config["key_distribution"] == "zipf":
            weights = np.arange(1, self.keys + 1, dtype=float) ** -config["zipf_exponent"]
            self.cdf = (np.cumsum(weights) / weights.sum()).tolist()
            self.buckets = _buckets(self.cdf, self.keys)
        self.count = 0
        #: per process, the last version it wrote of each key (its session token)
        self.sessions: dict[int, dict[int, int]] = {}
        self.idle: list[int] = []
        self.processes = 0
        self.think = build(config["think"])
        self.closed = config["arrivals"] == "closed"
        self.rate = config["rate"]

    def start_workload(self) -> None:
        if self.config["arrivals"] == "poisson":
            self._arrive(None)
        else:
            for _ in range(self.config["clients"]):
                self.sim.after(self.think.sample(self.stream), self._issue, None)

    def _arrive(self, _) -> None:
        gap = self.stream.exponential() / self.rate
        if self.sim.env._now + gap < self.until:
            self.sim.after(gap, self._arrive_and_issue, None)

    def _arrive_and_issue(self, _) -> None:
        self._issue(None)
        gap = self.stream.exponential() / self.rate  # the next arrival (_arrive, inlined)
        if self.sim.env._now + gap < self.until:
            self.sim.after(gap, self._arrive_and_issue, None)

    def _key(self) -> int:
        stream = self.stream
        draws = stream._u  # stream.uniform(), inlined
        u = draws.pop() if draws else stream.uniform()
        if self.cdf is None:
            return min(int(u * self.keys), self.keys - 1)
        key = self.buckets[int(u * BUCKETS)]
        return key if key >= 0 else min(bisect.bisect_right(self.cdf, u), self.keys - 1)

    def _issue(self, process) -> None:
        now = self.sim.env._now
        if now >= self.until:
            return
        if process is None:
            if self.idle:
                process = self.idle.pop()
            else:
                process = self.processes
                self.processes += 1
        stream = self.stream
        draws = stream._u  # stream.uniform(), inlined
        op = "read" if (draws.pop() if draws else stream.uniform()) < self.read_fraction \
            else "write"
        key = self._key()
        index = self.count
        self.count += 1
        session = self.sessions.get(process)
        token = session.get(key, 0) if session is not None else 0
        if self.direct:  # the client coordinates the store's read or write itself
            store = self.service
            if op == "write" and self.write_request is not None:  # a single request
                self.write_request(self.name, key, index, self.timeout).then = partial(
                    self._answered, index, process, op, key, now, "")
                return
            call = (store.write(self.name, key, index, self.timeout) if op == "write"
                    else store.read(self.name, key, self.timeout, token))
            Flow(self.sim).start(self._direct(call, index, process, op, key, now))
            return
        instance = self.service.pick()
        if instance is None:
            self._done(index, process, op, key, now, "fail", -1, "", "", "no-instance-up")
            return
        node = instance.name
        pending = self.network.request(self.name, node, "request", (op, key, index, token),
                                       self.timeout)
        # a partial, not a lambda: a closure would make every local of _issue a cell
        pending.then = partial(self._answered, index, process, op, key, now, node)

    def _direct(self, call, index, process, op, key, invoked):
        status, value = yield from call
        self._finish(index, process, op, key, invoked, "", status, value)

    def _answered(self, index, process, op, key, invoked, node, reply) -> None:
        status, value = reply
        if status == "ok":  # _finish, inlined for the common case
            self._done(index, process, op, key, invoked, "ok", value[0], value[1], node, "")
        else:
            self._finish(index, process, op, key, invoked, node, status, value)

    def _finish(self, index, process, op, key, invoked, node, status, value) -> None:
        if status == "ok":
            version, served_by = value
            self._done(index, process, op, key, invoked, "ok", version, served_by, node, "")
            return
        outcome, error = _outcome(op, Reply(status, value))
        self._done(index, process, op, key, invoked, outcome, -1, "", node, error)

    def _done(self, index, process, op, key, invoked, status, version, served_by, node,
              error) -> None:
        now = self.sim.env._now
        self.sim.record.op(index, process, op, key, invoked, now, status, version, served_by,
                           node, error)
        if op == "write" and status == "ok":
            self.sessions.setdefault(process, {})[key] = version
        closed = self.closed
        if status == "info":
            self.sessions.pop(process, None)
            process = self.processes  # Jepsen: a crashed process gets a fresh id
            self.processes += 1
            if not closed:
                return
        if closed:
            pause = self.think.sample(self.stream)
            if now == invoked:  # an instant failure: never spin at one instant
                pause = max(pause, INSTANT_RETRY)
            if pause > 0:
                self.sim.after(pause, self._issue, process)
            else:  # no think time: the next operation now, without an event between
                self._issue(process)
        else:
            self.idle.append(process)
