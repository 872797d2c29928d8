"""The baseline: a quorum write written by hand in idiomatic SimPy.

One closed-loop client writes to a coordinator, which sends the write to 3
replicas and answers the client after the first 2 acknowledgements.  Every
link delay is exponential with a mean of 1 ms.  Written the way the SimPy
documentation teaches: each node is a process reading its inbox (a
``simpy.Store``), and each message in flight is a process of its own that
sleeps for the link delay and then puts the message into the inbox.

It records what a simulation user would minimally record (each write's
invoke and completion time) and returns those (invoke, complete) pairs.
"""

from __future__ import annotations

import random

import simpy

MEAN_DELAY = 0.001
REPLICAS = 3
QUORUM = 2


def run(writes: int, seed: int = 1) -> list[tuple[float, float]]:
    env = simpy.Environment()
    rng = random.Random(seed)  # a private generator, never the global one
    inbox = inboxes(env)

    def deliver(to, message):
        yield env.timeout(rng.expovariate(1 / MEAN_DELAY))
        yield inbox[to].put(message)

    def send(to, message):
        env.process(deliver(to, message))

    return serve(env, inbox, send, writes)


def inboxes(env: simpy.Environment) -> dict[str, simpy.Store]:
    """One Store per node, its inbox."""
    return {name: simpy.Store(env) for name in
            ["client", "coordinator"] + [f"replica-{i}" for i in range(REPLICAS)]}


def serve(env: simpy.Environment, inbox: dict, send, writes: int) -> list[tuple[float, float]]:
    """Run the nodes, each a process reading its inbox, until the client has made
    ``writes`` writes; ``send(to, message)`` carries a message to an inbox."""
    log: list[tuple[float, float]] = []

    def replica(name):
        while True:
            kind, write_id = yield inbox[name].get()
            send("coordinator", ("ack", write_id))

    def coordinator():
        acks: dict[int, int] = {}
        while True:
            kind, write_id = yield inbox["coordinator"].get()
            if kind == "write":
                acks[write_id] = 0
                for i in range(REPLICAS):
                    send(f"replica-{i}", ("replicate", write_id))
            else:
                acks[write_id] += 1
                if acks[write_id] == QUORUM:
                    send("client", ("ok", write_id))
                elif acks[write_id] == REPLICAS:
                    del acks[write_id]

    def client():
        for write_id in range(writes):
            invoked = env.now
            send("coordinator", ("write", write_id))
            yield inbox["client"].get()
            log.append((invoked, env.now))

    for i in range(REPLICAS):
        env.process(replica(f"replica-{i}"))
    env.process(coordinator())
    done = env.process(client())
    env.run(until=done)
    return log
