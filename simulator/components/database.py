"""A database: a primary (the source of truth) and zero or more replicas.

Writes commit at the primary after a disk-write latency.  With ``async``
replication the commit happens then and each replica is sent the new version
afterwards; with ``sync`` replication the commit waits for every replica's
acknowledgement, with ``semi-sync`` for ``acks`` of them.  A replica writes
what it receives to its own disk (the same ``disk_write`` latency) before it
applies and acknowledges it.  Per key, versions are assigned in the order the
disk writes finish and commit in that order.  ``applier: single`` makes each
replica a replication log: entries arrive in order (FIFO links from the
primary) and are written one at a time.  Replication is reliable in the end: an entry
a replica has not acknowledged is sent again every ``replication_retry``, so a
replica cut off by a partition catches up after the heal.  Replicas apply by
version and never go back to an older one.  Committed data and replica
contents are durable: a crash loses only writes still in flight.
"""

from __future__ import annotations

from collections import deque

from ..distributions import ZERO, build
from ..network import Node
from ..schema import Field, choice, distribution, duration, integer
from .base import Component


class DatabaseNode(Node):
    """A node of a database: it has a disk, which a slow-writes fault can slow down."""

    def __init__(self, name: str, db: "Database") -> None:
        super().__init__(name, db.network)
        self.db = db
        self.stream = db.sim.streams[f"node:{name}"]
        self.slow: list = []  # extra disk latency from slow-writes faults
        self.processing = {"read": db.read_time}

    def disk_latency(self) -> float:
        delay = self.db.disk_write.sample(self.stream)
        for extra in self.slow:
            delay += extra.sample(self.stream)
        return delay


class Primary(DatabaseNode):
    def __init__(self, name: str, db: "Database") -> None:
        super().__init__(name, db)
        self.committed: dict[int, int] = {}  # key -> latest committed version
        self.assigned: dict[int, int] = {}   # key -> latest assigned version
        self.pending: dict[int, list] = {}   # key -> [[version, acks_needed, message]...]
        self.acked: dict[str, dict[int, int]] = {r: {} for r in db.replica_names}
        # Entries shipped and not yet known to be acknowledged, per replica, in
        # the order they become due for a resend; one alarm per replica.
        self.unacked: dict[str, deque] = {r: deque() for r in db.replica_names}
        self.resend_armed: dict[str, bool] = dict.fromkeys(db.replica_names, False)

    def on_write(self, message) -> None:
        delay = self.disk_latency()
        if delay > 0:
            self.after(delay, self._written, (message, self.epoch))
        else:
            self._written((message, self.epoch))

    def _written(self, item) -> None:
        message, epoch = item
        if epoch != self.epoch:
            return  # lost in a crash before it reached the disk
        # args: (key, index of the writing operation) or just the key
        key, writer = message.args if isinstance(message.args, tuple) else (message.args, -1)
        version = self.assigned.get(key, 0) + 1
        self.assigned[key] = version
        if self.db.acks_needed:
            self.pending.setdefault(key, []).append(
                [version, self.db.acks_needed, message, writer])
        else:
            self._commit(key, version, message, writer)
        for replica in self.db.replica_names:
            self._ship(replica, key, version)

    def _commit(self, key: int, version: int, message, writer: int) -> None:
        self.committed[key] = version
        self.sim.record.commit(key, version, self.sim.env.now, self.name, writer)
        self.network.reply(message, "ok", (version, self.name))

    def _ship(self, replica: str, key: int, version: int) -> None:
        self.network.send(self.name, replica, "apply", (key, version))
        self.unacked[replica].append((self.sim.env.now + self.db.retry, key, version,
                                      self.epoch))
        if not self.resend_armed[replica]:
            self.resend_armed[replica] = True
            self.after(self.db.retry, self._resend, replica)

    def _resend(self, replica: str) -> None:
        """Send again what ``replica`` has not acknowledged within ``replication_retry``."""
        queue, acked, now = self.unacked[replica], self.acked[replica], self.sim.env.now
        due = []
        while queue and (queue[0][0] - now <= 1e-12 or queue[0][3] != self.epoch
                         or acked.get(queue[0][1], 0) >= queue[0][2]):
            _, key, version, epoch = queue.popleft()
            if epoch == self.epoch and acked.get(key, 0) < version:
                due.append((key, version))
        for key, version in due:
            self._ship(replica, key, version)
        if queue:
            self.after(queue[0][0] - now, self._resend, replica)
        else:
            self.resend_armed[replica] = False

    def on_ack(self, message) -> None:
        replica, (key, version) = message.src, message.args
        acked = self.acked[replica]
        if acked.get(key, 0) >= version:
            return
        previous = acked.get(key, 0)
        acked[key] = version
        queue = self.pending.get(key)
        if queue:
            for entry in queue:
                if previous < entry[0] <= version:
                    entry[1] -= 1
            while queue and queue[0][1] <= 0:
                entry_version, _, request, writer = queue.pop(0)
                self._commit(key, entry_version, request, writer)

    def on_read(self, message) -> None:  # read_time is folded into the delivery
        key = message.args[0] if isinstance(message.args, tuple) else message.args
        self.network.reply(message, "ok", (self.committed.get(key, 0), self.name))

    def on_stop(self, how: str) -> None:
        # Writes not yet committed are lost with the process; their versions
        # are never reused, so a replica that applied one holds a phantom.
        # What was shipped is shipped again from the log at the restart.
        self.pending.clear()
        for queue in self.unacked.values():
            queue.clear()

    def on_start(self) -> None:
        for replica, acked in self.acked.items():
            for key, version in self.committed.items():
                if acked.get(key, 0) < version:
                    self._ship(replica, key, version)


class Replica(DatabaseNode):
    def __init__(self, name: str, db: "Database") -> None:
        super().__init__(name, db)
        self.held: dict[int, int] = {}
        self.log: deque = deque()  # single applier: entries waiting for the disk
        self.applying = False

    def on_apply(self, message) -> None:
        if self.db.single_applier:
            self.log.append(message)
            if not self.applying:
                self._next_entry()
            return
        delay = self.disk_latency()
        if delay > 0:
            self.after(delay, self._apply, (message, self.epoch))
        else:
            self._apply((message, self.epoch))

    def _next_entry(self) -> None:
        """Single applier: write the oldest waiting entry, then the next."""
        log = self.log
        while log and log[0].args[1] <= self.held.get(log[0].args[0], 0):
            message = log.popleft()  # a resend of what is already written: just ack it
            self.network.send(self.name, message.src, "ack", message.args)
        if not log:
            self.applying = False
            return
        self.applying = True
        self.after(self.disk_latency(), self._apply, (self.log.popleft(), self.epoch))

    def on_stop(self, how: str) -> None:
        self.log.clear()  # what had not reached the disk is shipped again later
        self.applying = False

    def _apply(self, item) -> None:
        message, epoch = item
        if epoch != self.epoch:
            return  # lost in a crash before it reached the disk
        if self.db.single_applier:
            self._next_entry()
        key, version = message.args
        if version > self.held.get(key, 0):
            self.held[key] = version
            self.sim.record.copy_change(self.sim.env.now, self.name, key, version, "apply")
        self.network.send(self.name, message.src, "ack", (key, version))

    def on_read(self, message) -> None:  # read_time is folded into the delivery
        key, token = message.args if isinstance(message.args, tuple) else (message.args, 0)
        held = self.held.get(key, 0)
        if held < token:  # behind this reader's own writes: send it to the primary
            self.network.reply(message, "fail", "behind-session")
        else:
            self.network.reply(message, "ok", (held, self.name))


class Database(Component):
    kind = "database"
    summary = "a primary (source of truth) with optional replicas, sync or async replication"
    schema = {
        "replicas": Field(integer(0, 64), 0, "number of read replicas"),
        "replication": Field(choice("async", "sync", "semi-sync"), "async",
                             "async: commit, then ship; sync: commit waits for every replica; "
                             "semi-sync: commit waits for `acks` replicas"),
        "acks": Field(integer(1, 64), 1, "semi-sync: replica acknowledgements a commit waits for"),
        "applier": Field(choice("parallel", "single"), "parallel",
                         "parallel: a replica writes what it receives as it arrives; single: "
                         "one entry at a time, in order, over a FIFO link (a replication log "
                         "with one applier, whose lag grows under load)"),
        "replication_retry": Field(duration(positive=True), "200ms",
                                   "resend an unacknowledged replication entry after this"),
        "disk_write": Field(distribution, "2ms",
                            "disk-write latency of a commit (primary) or an apply (replica)"),
        "read_time": Field(distribution, "200us", "time to serve a read"),
        "read_from": Field(choice("primary", "replica", "any", "nearest"), "primary",
                           "where reads go: the primary, a random replica, any node, or the "
                           "node nearest the reader (lowest mean link latency)"),
        "session": Field(choice("none", "read-your-writes"), "none",
                         "read-your-writes: a reader carries the last version it wrote; a "
                         "replica behind it sends the read to the primary"),
    }

    @staticmethod
    def check(config: dict, path: tuple, ctx) -> None:
        if config["replication"] == "semi-sync" and config["acks"] > config["replicas"]:
            ctx.fail(path + ("acks",), f"semi-sync waits for {config['acks']} acks but there "
                                       f"are only {config['replicas']} replicas")

    @staticmethod
    def node_names(name: str, config: dict) -> list[str]:
        return [f"{name}-primary"] + [f"{name}-replica-{i + 1}"
                                      for i in range(config["replicas"])]

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        names = self.node_names(name, config)
        self.replica_names = names[1:]
        mode = config["replication"]
        #: replica acknowledgements a commit waits for (0: it does not wait)
        self.acks_needed = {"async": 0, "sync": len(self.replica_names),
                            "semi-sync": config["acks"]}[mode] if self.replica_names else 0
        self.retry = config["replication_retry"]
        self.single_applier = config["applier"] == "single"
        self.disk_write = build(config["disk_write"])
        self.read_time = build(config["read_time"]) if config["read_time"] else ZERO
        self.primary = Primary(names[0], self)
        self.replicas = [Replica(n, self) for n in self.replica_names]
        self.stream = self.sim.streams[f"component:{name}"]
        self.nearest = config["read_from"] == "nearest"
        self._nearest: dict[str, str] = {}
        self.read_your_writes = config["session"] == "read-your-writes"
        if config["read_from"] == "primary" or not self.replicas:
            self._read_nodes = [self.primary.name]
        elif config["read_from"] == "replica":
            self._read_nodes = list(self.replica_names)
        else:
            self._read_nodes = [self.primary.name] + list(self.replica_names)

    @property
    def truth(self) -> str:
        return self.primary.name

    def read(self, caller: str, key: int, timeout: float, token: int = 0):
        """Read ``key`` from where ``read_from`` says (a flow): ``(status, value)``.

        With ``session: read-your-writes`` the reader's token (the last version
        it wrote of the key) goes along; a replica that is behind it answers
        ``behind-session`` and the read goes to the primary instead.
        """
        node = self.read_node(caller)
        if self.read_your_writes and token:
            deadline = self.sim.env.now + timeout
            got = yield self.network.request(caller, node, "read", (key, token), timeout)
            if got.status == "fail" and got.value == "behind-session":
                left = deadline - self.sim.env.now  # both tries within the one timeout
                if left <= 0:
                    return "timeout", "timeout"
                got = yield self.network.request(caller, self.truth, "read", key, left)
        else:
            got = yield self.network.request(caller, node, "read", key, timeout)
        return got.status, got.value

    def write(self, caller: str, key: int, writer: int, timeout: float):
        """Write ``key`` at the primary (a flow): ``(status, value)``."""
        got = yield self.network.request(caller, self.truth, "write", (key, writer), timeout)
        return got.status, got.value

    def read_node(self, caller: str | None = None) -> str:
        """Where the next read from ``caller`` goes."""
        nodes = self._read_nodes
        if self.nearest and caller is not None:
            nearest = self._nearest.get(caller)
            if nearest is None:  # the lowest mean link latency from the caller
                nearest = self._nearest[caller] = min(
                    nodes, key=lambda n: (self.network.link(caller, n).base["latency"].mean, n))
            return nearest
        return nodes[0] if len(nodes) == 1 else nodes[self.stream.below(len(nodes))]

    def copies(self) -> list[dict]:
        mode = {"async": "asynchronous", "sync": "synchronous",
                "semi-sync": f"semi-synchronous, {self.config['acks']} of "
                             f"{len(self.replica_names)} acks"}[self.config["replication"]]
        return [{"copy": r, "component": self.name, "kind": "replica", "source": self.truth,
                 "initial": "v0", "learns_stale_by": f"none ({mode} replication stream)"}
                for r in self.replica_names]
