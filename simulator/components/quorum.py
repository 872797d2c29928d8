"""A leaderless quorum store (Dynamo, Cassandra, Riak style).

N replicas hold each key.  A coordinator (the service instance or client
that calls the store) sends a write to the replicas and calls it committed
after the first ``write_quorum`` (W) acknowledgements; it sends a read to the
replicas and answers, after the first ``read_quorum`` (R) responses, the
newest version among them.  With ``fanout: all`` (the usual, "expanding")
every replica gets every request; with ``fanout: quorum`` only W (or R)
replicas chosen at random do, the non-expanding quorums of the PBS paper.

Each of the four message legs of the WARS model (Bailis et al.,
"Probabilistically Bounded Staleness for Practical Partial Quorums", VLDB
2012) has its own latency distribution, per replica if wished: W (write to a
replica), A (its ack back), R (read request), S (its response back).  They
come on top of the network's link latency; set that to 0 to get the WARS
model exactly.

Versions come from one counter per key (``conflict: version``, as if clocks
were perfect), or from the coordinator's clock (``conflict: timestamp``, as
Cassandra does: the version is the clock reading in microseconds, so a
coordinator whose clock is ahead stamps its writes later than they are); a
replica applies a version only if it is newer than what it holds (last writer
wins).  With timestamps, a write stamped older than a version committed
before it even began (before its coordinator took it) can never be seen: it is committed and lost at once
(``lost_how``: ``older timestamp``), the lost update of clock skew.  A version is committed, for the truth, at the instant the W-th
replica acknowledges it, whether or not its coordinator still waits for the
answer (a write whose acks are lost is ``info`` to its client, yet
committed); a version acknowledged only after a newer one was committed is
recorded at that newer one's commit time, since it was already superseded.
``read_repair: true`` sends the newest version read to the replicas that
answered an older one.

Sloppy quorum with hinted handoff (``spares: K``, after Dynamo, DeCandia et
al., SOSP 2007).  K spare nodes (``<name>-spare-1`` ...) hold no data of their
own.  A coordinator that saw a replica fail to answer (a timeout or a refusal)
suspects it for ``suspect_for`` and sends its writes meant for that replica to
a spare instead, with a hint naming the replica; the spare acknowledges (its
ack counts towards W) and hands the write off to the replica, retrying every
``handoff_every``, until the replica takes it.  Writes stay available while
replicas are cut off, but reads still go to the replicas only, so R + W > N no
longer means a read sees the latest write.  Hints are durable; they are not
copies a reader can see, so they are not in the history's copies.
"""

from __future__ import annotations

import bisect

from ..distributions import build
from ..engine import Waiting
from ..network import Node, Reply
from ..schema import Field, boolean, choice, distribution, duration, integer, list_of, record
from .base import Component

#: Timestamps count microseconds from this many seconds before the run starts.
TIMESTAMP_EPOCH = 1000.0

LEGS = {
    "w": Field(distribution, 0, "write request, coordinator to replica"),
    "a": Field(distribution, 0, "write acknowledgement, replica to coordinator"),
    "r": Field(distribution, 0, "read request, coordinator to replica"),
    "s": Field(distribution, 0, "read response, replica to coordinator"),
}


class Gather(Waiting):
    """Waits for ``needed`` ok replies among several pending requests.

    Completes with ``("ok", replies)`` as soon as there are ``needed`` ok
    replies, or, once every request has answered (a reply or a timeout)
    without reaching it, with ``("refused", None)`` when every replica refused
    (definitely not done) and ``("timeout", None)`` otherwise (unknown).
    """

    __slots__ = ("needed", "ok", "others", "outstanding", "finished")

    def __init__(self, pendings: list, needed: int) -> None:
        super().__init__()
        self.needed, self.ok, self.others = needed, [], []
        self.outstanding, self.finished = len(pendings), False
        for pending in pendings:
            pending.then = self._one

    def _one(self, reply: Reply) -> None:
        self.outstanding -= 1
        (self.ok if reply.status == "ok" else self.others).append(reply)
        if self.finished:
            return
        if len(self.ok) >= self.needed:
            self.finished = True
            self.then(("ok", list(self.ok)))
        elif self.outstanding == 0:
            self.finished = True
            refused = not self.ok and all(r.status == "refused" for r in self.others)
            self.then(("refused" if refused else "timeout", None))


class QuorumReplica(Node):
    #: the W and R legs are time on the way to the replica, not work at it: a
    #: request on its way when the replica crashes reaches the restarted one
    processing_in_transit = True

    def __init__(self, name: str, store: "QuorumStore", legs: dict) -> None:
        super().__init__(name, store.network)
        self.store = store
        self.stream = store.sim.streams[f"node:{name}"]
        self.held: dict[int, int] = {}
        self.legs = legs
        # W and R legs: the request reaches the replica that much later
        self.processing = {"put": legs["w"], "get": legs["r"]}

    def _take(self, key: int, version: int, change: str) -> None:
        """Hold ``version`` if it is newer (last writer wins), and acknowledge it."""
        if version > self.held.get(key, 0):
            self.held[key] = version
            self.sim.record.copy_change(self.sim.env.now, self.name, key, version, change)
        self.store.acknowledged(key, version, self.name)

    def on_put(self, message) -> None:
        key, version = message.args
        self._take(key, version, "apply")
        # the A and S legs are transit time of the answer, like W and R
        self.network.reply(message, "ok", (version, self.name), self.legs["a"].sample(self.stream))

    def on_get(self, message) -> None:
        self.network.reply(message, "ok", (self.held.get(message.args, 0), self.name),
                           self.legs["s"].sample(self.stream))

    def on_handoff(self, message) -> None:
        """A spare hands off a write it took for this replica."""
        key, version = message.args
        self._take(key, version, "handoff")
        self.network.reply(message, "ok")


class Spare(Node):
    """A node that takes writes for unreachable replicas and hands them off later."""

    def __init__(self, name: str, store: "QuorumStore") -> None:
        super().__init__(name, store.network)
        self.store = store
        self.hints: dict[tuple[str, int], int] = {}  # (replica, key) -> newest version
        self.armed = False

    def on_put(self, message) -> None:
        key, version, replica = message.args
        if version > self.hints.get((replica, key), 0):
            self.hints[(replica, key)] = version
        # it stands in for the replica: the replica's own ack later is not a second one
        self.store.acknowledged(key, version, replica)
        self.network.reply(message, "ok", (version, self.name))
        self._arm()

    def _arm(self) -> None:
        if not self.armed:
            self.armed = True
            self.after(self.store.handoff_every, self._hand_off, self.epoch)

    def _hand_off(self, epoch: int) -> None:
        """Offer every hint to its replica; a hint goes when the replica takes it."""
        if epoch != self.epoch:
            return  # armed before the spare stopped: the restart armed its own
        for (replica, key), version in list(self.hints.items()):
            pending = self.network.request(self.name, replica, "handoff", (key, version),
                                           self.store.handoff_every)
            pending.then = self._delivered(replica, key, version)
        if self.hints:
            self.after(self.store.handoff_every, self._hand_off, epoch)
        else:
            self.armed = False

    def on_stop(self, how: str) -> None:
        """Its hints are durable; its alarm dies with the process (one waiting out
        a pause is dropped, the epoch silences any other)."""
        self.armed = False

    def on_start(self) -> None:
        if self.hints:
            self._arm()

    def _delivered(self, replica: str, key: int, version: int):
        def then(reply) -> None:
            if reply.status == "ok" and self.hints.get((replica, key)) == version:
                del self.hints[(replica, key)]
        return then


class QuorumStore(Component):
    kind = "quorum"
    summary = "a leaderless N-replica store with read and write quorums (WARS latencies)"
    schema = {
        "replicas": Field(integer(1, 64), 3, "N: replicas of every key"),
        "write_quorum": Field(integer(1, 64), 2, "W: acknowledgements a write waits for"),
        "read_quorum": Field(integer(1, 64), 2, "R: responses a read waits for"),
        "fanout": Field(choice("all", "quorum"), "all",
                        "all: every request goes to all N replicas; quorum: only to W (or "
                        "R) random ones (non-expanding quorums)"),
        "read_repair": Field(boolean, False, "send the newest version read to replicas "
                                             "that answered an older one"),
        "conflict": Field(choice("version", "timestamp"), "version",
                          "last writer wins by a version from one counter per key (perfect "
                          "clocks), or by the coordinator's clock (timestamp: clock faults "
                          "make it lose writes)"),
        "spares": Field(integer(0, 64), 0, "sloppy quorum: spare nodes that take writes "
                                           "for replicas a coordinator suspects, and hand "
                                           "them off later (hinted handoff)"),
        "suspect_for": Field(duration(positive=True), "2s",
                             "spares: how long a coordinator avoids a replica that failed "
                             "to answer it"),
        "handoff_every": Field(duration(positive=True), "1s",
                               "spares: how often a spare offers its hints to their replicas"),
        "legs": Field(record(LEGS, what="the WARS legs"), {}, "latency of each leg, for "
                                                               "every replica"),
        "per_replica": Field(list_of(record({k: Field(f.validator, None, f.doc)
                                             for k, f in LEGS.items()},
                                            what="one replica's legs")), [],
                             "overrides of `legs` for replicas 1, 2, ... in order"),
    }

    @staticmethod
    def check(config: dict, path: tuple, ctx) -> None:
        n = config["replicas"]
        for key in ("write_quorum", "read_quorum"):
            if config[key] > n:
                ctx.fail(path + (key,), f"{key} is {config[key]} but there are only {n} "
                                        f"replicas")
        if len(config["per_replica"]) > n:
            ctx.fail(path + ("per_replica",), f"{len(config['per_replica'])} entries for "
                                              f"{n} replicas")

    @staticmethod
    def node_names(name: str, config: dict) -> list[str]:
        return [f"{name}-{i + 1}" for i in range(config["replicas"])] + [
            f"{name}-spare-{i + 1}" for i in range(config["spares"])]

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        self.n, self.w, self.r = config["replicas"], config["write_quorum"], config["read_quorum"]
        self.fanout_all = config["fanout"] == "all"
        self.read_repair = config["read_repair"]
        self.stream = self.sim.streams[f"component:{name}"]
        base = {k: build(v) for k, v in config["legs"].items()}
        self.replicas = []
        for i, node in enumerate(self.node_names(name, {**config, "spares": 0})):
            legs = dict(base)
            if i < len(config["per_replica"]):
                legs.update({k: build(v) for k, v in config["per_replica"][i].items()
                             if v is not None})
            self.replicas.append(QuorumReplica(node, self, legs))
        self.names = [r.name for r in self.replicas]
        self.spares = [Spare(f"{name}-spare-{i + 1}", self) for i in range(config["spares"])]
        self.suspect_for = config["suspect_for"]
        self.handoff_every = config["handoff_every"]
        #: (coordinator, replica) -> until when the coordinator avoids the replica
        self.suspects: dict[tuple[str, str], float] = {}
        self.versions: dict[int, int] = {}   # key -> last version handed out
        self.recorded: dict[int, list] = {}  # key -> [(version, commit time)] recorded
        self.acks: dict[tuple, set] = {}     # (key, version) -> replicas that hold it
        self.writers: dict[tuple, int] = {}  # (key, version) -> the writing operation
        self.by_timestamp = config["conflict"] == "timestamp"
        self.latest: dict[int, int] = {}     # key -> newest version committed
        #: timestamps: (key, version) -> newest version committed when the write began
        self.floors: dict[tuple, int] = {}
        self.used: dict[int, set] = {}       # timestamps: key -> versions handed out

    @property
    def truth(self) -> str:
        return self.name

    def _targets(self, count: int) -> list[str]:
        if self.fanout_all or count >= self.n:
            return self.names
        chosen = list(self.names)
        for i in range(count):  # a partial Fisher-Yates: count distinct replicas
            j = i + self.stream.below(self.n - i)
            chosen[i], chosen[j] = chosen[j], chosen[i]
        return chosen[:count]

    def write(self, caller: str, key: int, writer: int, timeout: float):
        """Coordinate a write (a flow): ``(status, value)`` like a reply."""
        if self.by_timestamp:
            version = self._stamp(key, self.world.clocks.read(caller))
            self.floors[(key, version)] = self.latest.get(key, 0)
        else:
            version = self.versions.get(key, 0) + 1
            self.versions[key] = version
        self.writers[(key, version)] = writer
        self.acks[(key, version)] = set()
        net = self.network
        if self.spares:
            status, _ = yield self._sloppy_put(caller, key, version, timeout)
        else:
            pendings = [net.request(caller, node, "put", (key, version), timeout)
                        for node in self._targets(self.w)]
            status, _ = yield Gather(pendings, self.w)
        if status != "ok":
            return status, "quorum-not-reached"
        return "ok", (version, self.name)

    def _stamp(self, key: int, reading: float) -> int:
        """A version from a clock reading: microseconds since the clocks' epoch
        (1,000 s before the run, so clocks behind by less still count up), made
        unique per key."""
        version = max(1, round((reading + TIMESTAMP_EPOCH) * 1e6))
        used = self.used.setdefault(key, set())
        while version in used:
            version += 1
        used.add(version)
        return version

    def _sloppy_put(self, caller: str, key: int, version: int, timeout: float) -> Gather:
        """Send a write to its replicas, or to spares for the replicas ``caller``
        suspects; watch who fails to answer."""
        net, now = self.network, self.sim.env.now
        free = [s.name for s in self.spares
                if self.suspects.get((caller, s.name), 0.0) <= now]
        pendings, nodes = [], []
        for node in self._targets(self.w):
            if self.suspects.get((caller, node), 0.0) > now and free:
                spare = free.pop(0)
                pendings.append(net.request(caller, spare, "put", (key, version, node),
                                            timeout))
                nodes.append(spare)
            else:
                pendings.append(net.request(caller, node, "put", (key, version), timeout))
                nodes.append(node)
        gather = Gather(pendings, self.w)
        for pending, node in zip(pendings, nodes):
            pending.then = self._watched(caller, node, pending.then)
        return gather

    def _watched(self, caller: str, node: str, then):
        def watch(reply) -> None:
            if reply.status in ("timeout", "refused"):
                self.suspects[(caller, node)] = self.sim.env.now + self.suspect_for
            then(reply)
        return watch

    def acknowledged(self, key: int, version: int, replica: str) -> None:
        """A replica acknowledged ``version``: at the W-th it is committed, whether or
        not the coordinator is still waiting for the answer."""
        holders = self.acks.get((key, version))
        if holders is None:
            return  # committed already (or not a write of this store)
        holders.add(replica)
        if len(holders) >= self.w:
            del self.acks[(key, version)]
            self._commit(key, version, self.writers.pop((key, version), -1))

    def _commit(self, key: int, version: int, writer: int) -> None:
        now = self.sim.env.now
        if self.by_timestamp and version < self.floors.pop((key, version), 0):
            # Older than a version committed before this write began: last
            # writer wins keeps that one, and this write is never seen.
            record = self.sim.record
            record.lose(record.commit(key, version, now, self.name, writer), now,
                        "older timestamp")
            return
        self.latest[key] = max(self.latest.get(key, 0), version)
        recorded = self.recorded.setdefault(key, [])
        at = now
        if recorded and recorded[-1][0] > version:
            # Superseded before it was acknowledged: place it just before the
            # first newer version the truth already has.
            i = bisect.bisect_right(recorded, (version, float("inf")))
            at = recorded[i][1]
        bisect.insort(recorded, (version, at))
        self.sim.record.commit(key, version, at, self.name, writer)

    def read(self, caller: str, key: int, timeout: float, token: int = 0):
        """Coordinate a read (a flow): the newest version among R responses.

        (Session tokens are not used: R and W decide what a read sees.)
        """
        net = self.network
        targets = self._targets(self.r)
        pendings = [net.request(caller, node, "get", key, timeout) for node in targets]
        status, replies = yield Gather(pendings, self.r)
        if status != "ok":
            return status, "quorum-not-reached"
        version, served_by = max(r.value for r in replies)
        if self.read_repair:
            for reply in replies:
                if reply.value[0] < version:
                    net.send(caller, reply.value[1], "put", (key, version))
        return "ok", (version, served_by)

    def copies(self) -> list[dict]:
        how = "none" if not self.read_repair else "read repair"
        return [{"copy": name, "component": self.name, "kind": "replica", "source": self.name,
                 "initial": "v0",
                 "learns_stale_by": f"quorum read (R={self.r}, W={self.w}, N={self.n}); "
                                    f"repair: {how}"} for name in self.names]
