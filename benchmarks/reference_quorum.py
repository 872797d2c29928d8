"""The issue's ladder of hand-written quorum writes, to calibrate the machine.

The performance issue states what four hand-written models of the same quorum
write reach on its machine: idiomatic SimPy (a process per message, Stores
as inboxes; :func:`handwritten_quorum.run`) about 40k writes a second; SimPy
with timeout callbacks instead of a process per message about 70k; SimPy
with callbacks dispatching straight to handlers about 180k; a plain heapq
event loop about 300k.  Measuring the same four here tells how this machine
compares with the one the targets were written for.

Each model is the flow of :mod:`handwritten_quorum`: one closed-loop client,
a coordinator that sends each write to 3 replicas and answers after the
first 2 acknowledgements, every message delayed by an exponential time with
a mean of 1 ms.  Each returns the (invoke, complete) time of every write.
"""

from __future__ import annotations

import heapq
import random

import simpy

from handwritten_quorum import MEAN_DELAY, QUORUM, REPLICAS, inboxes, serve
from handwritten_quorum import run as idiomatic

__all__ = ["MODELS", "handlers", "heap_loop", "idiomatic", "timeout_callbacks"]


def timeout_callbacks(writes: int, seed: int = 1) -> list[tuple[float, float]]:
    """Nodes are still processes reading Store inboxes (:func:`handwritten_quorum.serve`),
    but a message in flight is a timeout whose callback puts it into the inbox
    (no process per message)."""
    env = simpy.Environment()
    rng = random.Random(seed)
    inbox = inboxes(env)

    def send(to, message):
        delay = env.timeout(rng.expovariate(1 / MEAN_DELAY))
        delay.callbacks.append(lambda _: inbox[to].put(message))

    return serve(env, inbox, send, writes)


def handlers(writes: int, seed: int = 1) -> list[tuple[float, float]]:
    """No processes and no inboxes: a message is a timeout whose callback calls
    the receiver's handler with it."""
    env = simpy.Environment()
    rng = random.Random(seed)
    log: list[tuple[float, float]] = []
    acks: dict[int, int] = {}
    state = {"next": 0, "invoked": 0.0}

    def send(handler, write_id):
        delay = env.timeout(rng.expovariate(1 / MEAN_DELAY))
        delay.callbacks.append(lambda _: handler(write_id))

    def on_write(write_id):
        acks[write_id] = 0
        for _ in range(REPLICAS):
            send(on_replicate, write_id)

    def on_replicate(write_id):
        send(on_ack, write_id)

    def on_ack(write_id):
        acks[write_id] += 1
        if acks[write_id] == QUORUM:
            send(on_ok, write_id)
        elif acks[write_id] == REPLICAS:
            del acks[write_id]

    def issue():
        state["invoked"] = env.now
        send(on_write, state["next"])

    def on_ok(_write_id):
        log.append((state["invoked"], env.now))
        state["next"] += 1
        if state["next"] < writes:
            issue()

    issue()
    env.run()
    return log


def heap_loop(writes: int, seed: int = 1) -> list[tuple[float, float]]:
    """No SimPy: a heap of (time, sequence, handler, write) and a loop popping it."""
    rng = random.Random(seed)
    queue: list = []
    sequence = 0
    now = 0.0
    log: list[tuple[float, float]] = []
    acks: dict[int, int] = {}
    written = 0
    invoked = 0.0
    WRITE, REPLICATE, ACK, OK = range(4)

    def send(kind, write_id):
        nonlocal sequence
        sequence += 1
        heapq.heappush(queue, (now + rng.expovariate(1 / MEAN_DELAY), sequence, kind, write_id))

    send(WRITE, 0)
    while queue:
        now, _, kind, write_id = heapq.heappop(queue)
        if kind == WRITE:
            acks[write_id] = 0
            for _ in range(REPLICAS):
                send(REPLICATE, write_id)
        elif kind == REPLICATE:
            send(ACK, write_id)
        elif kind == ACK:
            acks[write_id] += 1
            if acks[write_id] == QUORUM:
                send(OK, write_id)
            elif acks[write_id] == REPLICAS:
                del acks[write_id]
        else:
            log.append((invoked, now))
            written += 1
            if written < writes:
                invoked = now
                send(WRITE, written)
    return log


#: (name, model, writes a second the performance issue states on its machine)
MODELS = [
    ("idiomatic SimPy (a process per message)", idiomatic, 40_000),
    ("SimPy, timeout callbacks", timeout_callbacks, 70_000),
    ("SimPy, callbacks to handlers", handlers, 180_000),
    ("plain heapq loop", heap_loop, 300_000),
]
