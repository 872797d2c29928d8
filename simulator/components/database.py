"""A database: one primary (where writes commit) and zero or more replicas.

Writes commit at the primary after a disk-write latency.  With ``async``
replication the commit happens then and each replica is sent the new version
afterwards; with ``sync`` replication the commit waits for every replica's
acknowledgement, with ``semi-sync`` for ``acks`` of them.  A replica writes
what it receives to its own disk (the same ``disk_write`` latency) before it
applies and acknowledges it.  Per key, versions are assigned in the order the
disk writes finish and commit in that order.  ``applier: single`` makes each
replica a replication log: entries arrive in order (FIFO links) and are
written one at a time.  Replication is reliable in the end: an entry a replica
has not acknowledged is sent again every ``replication_retry`` while the
replica answers; once it has been silent for a retry, only its oldest
unacknowledged entry is, once a retry, until an acknowledgement comes back:
then everything due is sent again, and the rest as it falls due.  So a
replica cut off by a partition catches up after the heal, and a long
partition costs one message a retry.
Replicas apply by version and never go back to an older one, except when
they rejoin after a failover (below).  Committed data and replica contents are
durable: a crash loses only writes still in flight.

Failover (``failover:``).  A monitor node (``<name>-monitor``, like Redis
Sentinel or Orchestrator) pings every database node each ``heartbeat``.  When
the primary has not answered for ``after``, it promotes the replica that holds
the most (the highest sum of versions) among those that answered the last
round, under a new *term*.  Nodes learn a newer term from the monitor's pings:
a primary that learns it was replaced steps down, and every node of an older
term rejoins the new primary with a full resync (it takes the new primary's
contents, going back where it held writes the new primary never had).  Callers
learn who the primary is from the monitor too (it tells every node that has
called the database, each round), so a caller cut off from the monitor keeps
writing to the old primary: with ``fencing: none`` that primary keeps
accepting writes (split brain); with ``fencing: lease`` it accepts and commits
writes only while it holds a lease: each ping the monitor sends it while it
answers grants ``after`` more on the primary's own clock, and the monitor
promotes no one until every lease it granted has run out.  (A primary whose
clock runs behind keeps its lease too long: clock faults can break fencing.)
A promotion is itself a ping: it names the new primary under the new term.

What the truth is across a failover.  The truth of a database is the lineage
that survives: versions come from one counter per key for the whole database,
so they stay unique; a version committed by a primary and missing from the
replica promoted after it is *lost* at the promotion, and a version committed
by a primary that was already replaced is lost at once.  Lost versions keep
their row in the truth table, with the time they were lost (``lost_s``); the
analysis holds every read and copy against the surviving versions, so a read
of a lost version is a phantom, and an acknowledged write whose version was
lost is a lost write.  A version the promoted replica holds but no primary had
committed yet (a synchronous write still waiting for acks) commits at the
promotion.
"""

from __future__ import annotations

import math
from collections import deque

from ..distributions import ZERO, build
from ..network import Node
from ..schema import Field, choice, distribution, duration, integer, record
from .base import Component

PRIMARY, REPLICA = "primary", "replica"


class DatabaseNode(Node):
    """A node of a database, primary or replica: it has a disk (which a
    slow-writes fault can slow down) and holds one version per key."""

    def __init__(self, name: str, db: "Database", primary: bool) -> None:
        super().__init__(name, db.network)
        self.db = db
        self.stream = db.sim.streams[f"node:{name}"]
        self.slow: list = []  # extra disk latency from slow-writes faults
        self.processing = {"read": db.read_time}
        self.held: dict[int, int] = {}  # key -> version held (a primary's are committed)
        self.position = 0  # sum of held versions: how far along this copy is
        self.term = 1      # the newest failover term this node knows of
        self.synced = True  # a node rejoining after a failover is not, until resynced
        self.syncing = False
        #: with lease fencing: until when (on this node's clock) the monitor lets it
        #: accept writes as primary; the first primary starts with one lease
        self.lease_until = db.failover_after if primary else 0.0
        # as a replica: the replication log waiting for the disk (single applier)
        self.log: deque = deque()
        self.applying = False
        self.role = REPLICA
        if primary:
            self._lead()

    def disk_latency(self) -> float:
        delay = self.db.disk_write.sample(self.stream)
        for extra in self.slow:
            delay += extra.sample(self.stream)
        return delay

    def _hold(self, key: int, version: int, change: str) -> None:
        held = self.held
        self.position += version - held.get(key, 0)
        held[key] = version
        self.sim.record.copy_change(self.sim.env._now, self.name, key, version, change)

    # --- as the primary --------------------------------------------------------
    def _lead(self) -> None:
        self.role = PRIMARY
        self.others = [n for n in self.db.node_list if n != self.name]
        self.pending: dict[int, list] = {}  # key -> [[version, acks_needed, message, writer]...]
        self.acked: dict[str, dict[int, int]] = {r: {} for r in self.others}
        # Entries shipped and not yet known to be acknowledged, per replica, in
        # the order they become due for a resend; one alarm per replica, due at
        # ``resend_due`` (None: none armed; an alarm due at another time is void).
        self.unacked: dict[str, deque] = {r: deque() for r in self.others}
        self.resend_due: dict[str, float | None] = dict.fromkeys(self.others)
        #: when each replica last acknowledged anything, and whether it has gone
        #: silent (only the oldest entry is being sent again, as a probe)
        self.heard: dict[str, float] = dict.fromkeys(self.others, self.sim.env._now)
        self.silent: dict[str, bool] = dict.fromkeys(self.others, False)
        self.log.clear()
        self.applying = False

    def on_write(self, message) -> None:
        if self.role != PRIMARY:
            self.network.reply(message, "fail", "read-only")
            return
        if self.db.fenced(self):
            self.network.reply(message, "fail", "fenced")
            return
        self._to_disk(self._written, message)

    def _to_disk(self, then, message) -> None:
        """Write ``message`` to the disk, then ``then((message, epoch))``; a crash
        meanwhile bumps the epoch, so ``then`` can tell the write was lost."""
        delay = self.disk_latency()
        if delay > 0:
            self.after(delay, then, (message, self.epoch))
        else:
            then((message, self.epoch))

    def _written(self, item) -> None:
        message, epoch = item
        if epoch != self.epoch or self.role != PRIMARY:
            return  # lost in a crash before it reached the disk, or stepped down
        if self.db.fenced(self):  # the lease ran out while the disk wrote: not committed
            self.network.reply(message, "fail", "fenced")
            return
        # args: (key, index of the writing operation[, version reserved by the
        # writer]) or just the key
        args = message.args if isinstance(message.args, tuple) else (message.args, -1)
        key, writer = args[0], args[1]
        if len(args) > 2:  # a write-behind flush: its version was reserved at the write
            version = args[2]
            if version <= self.held.get(key, 0):  # a retry of what is already committed
                self.network.reply(message, "ok", (version, self.name))
                return
            if any(entry[0] == version for entry in self.pending.get(key, ())):
                return  # a copy of a write still waiting for acks: that one answers
            self.db.assigned[key] = max(self.db.assigned.get(key, 0), version)
        else:
            version = self.db.assigned.get(key, 0) + 1
            self.db.assigned[key] = version
        if self.db.acks_needed:
            self.pending.setdefault(key, []).append(
                [version, self.db.acks_needed, message, writer])
            if self.db.failover:
                self.db.writers.setdefault(key, {})[version] = writer
        else:
            self._commit(key, version, message, writer)
        for replica in self.others:
            self._ship(replica, key, version)

    def _commit(self, key: int, version: int, message, writer: int) -> None:
        self._hold(key, version, "commit")
        self.db.committed(self, key, version, writer)
        self.network.reply(message, "ok", (version, self.name))

    def _ship(self, replica: str, key: int, version: int) -> None:
        self.network.send(self.name, replica, "apply", (key, version, self.term))
        due = self.sim.env._now + self.db.retry
        self.unacked[replica].append((due, key, version, self.epoch))
        if self.resend_due[replica] is None:
            self._arm(replica, due)

    def _arm(self, replica: str, due: float) -> None:
        """Set ``replica``'s resend alarm for ``due``; one set before is void."""
        self.resend_due[replica] = due
        self.after(due - self.sim.env._now, self._resend, (replica, self.term, self.epoch, due))

    def _resend(self, item) -> None:
        """Send again what ``replica`` has not acknowledged within ``replication_retry``.

        While the replica answers, every entry due is sent again.  Once it has
        been silent for a retry (cut off, down, or its acknowledgements lost),
        only the oldest unacknowledged entry is, once a retry, as a probe; the
        first acknowledgement after the silence sends every due entry again
        and sets the alarm for the next one to fall due (:meth:`on_ack`).  A
        partition then costs one message a retry, where sending every entry
        again every retry cost the square of its length.
        """
        replica, term, epoch, due = item
        if self.role != PRIMARY or term != self.term or epoch != self.epoch:
            return  # an alarm from an earlier time this node led, or from before a stop
        if self.resend_due[replica] != due:
            return  # replaced by an earlier one when the replica answered again
        now = self.sim.env._now
        if now - self.heard[replica] > self.db.retry:
            queue = self._settled(replica)
            if not queue:
                self.resend_due[replica] = None
                return
            self.silent[replica] = True
            _, key, version, _ = queue[0]
            self.network.send(self.name, replica, "apply", (key, version, self.term))
            self._arm(replica, now + self.db.retry)
            return
        self._send_due(replica)
        queue = self.unacked[replica]
        if queue:
            self._arm(replica, queue[0][0])
        else:
            self.resend_due[replica] = None

    def _settled(self, replica: str) -> deque:
        """``replica``'s queue without the acknowledged or pre-crash entries at its head."""
        queue, acked = self.unacked[replica], self.acked[replica]
        while queue and (queue[0][3] != self.epoch or acked.get(queue[0][1], 0) >= queue[0][2]):
            queue.popleft()
        return queue

    def _send_due(self, replica: str) -> None:
        """Send again every entry of ``replica`` due by now (not acknowledged a retry
        after it was last sent)."""
        queue, now = self._settled(replica), self.sim.env._now
        due = []
        while queue and queue[0][0] - now <= 1e-12:
            _, key, version, _ = queue.popleft()
            due.append((key, version))
            self._settled(replica)
        for key, version in due:
            self._ship(replica, key, version)

    def on_ack(self, message) -> None:
        key, version, term = message.args
        if self.role != PRIMARY or term != self.term:
            return
        replica = message.src
        self.heard[replica] = self.sim.env._now
        acked = self.acked[replica]
        previous = acked.get(key, 0)
        if previous < version:
            acked[key] = version
            queue = self.pending.get(key)
            if queue:
                for entry in queue:
                    if previous < entry[0] <= version:
                        entry[1] -= 1
                # a primary whose lease ran out commits nothing (its writers wait, then
                # time out: they may yet survive, if a replica that has them is promoted)
                while queue and queue[0][1] <= 0 and not self.db.fenced(self):
                    entry_version, _, request, writer = queue.pop(0)
                    self._commit(key, entry_version, request, writer)
        if self.silent[replica]:  # it answers again: everything due goes now, and
            self.silent[replica] = False  # what falls due later, when it does (not at
            self._send_due(replica)  # the next probe's time)
            queue, due = self._settled(replica), self.resend_due[replica]
            if queue and (due is None or queue[0][0] < due):
                self._arm(replica, queue[0][0])

    def on_sync(self, message) -> None:
        """A node rejoining under this primary's term asks for its whole contents."""
        if self.role != PRIMARY or message.args != self.term:
            self.network.reply(message, "fail", "not-primary")
            return
        snapshot = dict(self.held)
        acked = self.acked[message.src]  # a duplicated request must not lower it
        for key, version in snapshot.items():
            if version > acked.get(key, 0):
                acked[key] = version
        self.network.reply(message, "ok", snapshot)

    # --- as a replica ------------------------------------------------------------
    def on_apply(self, message) -> None:
        if self.role != REPLICA or not self.synced or message.args[2] != self.term:
            return  # from a primary of another term: not this node's lineage
        if self.db.single_applier:
            self.log.append(message)
            if not self.applying:
                self._next_entry()
            return
        self._to_disk(self._apply, message)

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

    def _apply(self, item) -> None:
        message, epoch = item
        if epoch != self.epoch or self.role != REPLICA or message.args[2] != self.term:
            return  # lost in a crash before it reached the disk, or a failover came first
        if self.db.single_applier:
            self._next_entry()
        key, version, _ = message.args
        if version > self.held.get(key, 0):
            self._hold(key, version, "apply")
        self.network.send(self.name, message.src, "ack", message.args)

    # --- both ------------------------------------------------------------------
    def on_read(self, message) -> None:  # read_time is folded into the delivery
        key, token = message.args if isinstance(message.args, tuple) else (message.args, 0)
        held = self.held.get(key, 0)
        if held < token:  # behind this reader's own writes: send it to the primary
            self.network.reply(message, "fail", "behind-session")
        else:
            self.network.reply(message, "ok", (held, self.name))

    def on_ping(self, message) -> None:
        """The monitor's heartbeat: its term, who it says leads, and (to that node) a
        lease.  A ping naming this node primary under a newer term promotes it."""
        term, primary, lease_until = message.args
        if term > self.term:
            if primary == self.name:
                self._promote(term)
            else:
                self._learn(term, primary)
        elif self.role == REPLICA and not self.synced and not self.syncing:
            self._resync(primary)
        if term == self.term and primary == self.name:
            self.lease_until = max(self.lease_until, lease_until)
        self.network.reply(message, "ok", (self.term, self.role, self.position, self.synced))

    def _promote(self, term: int) -> None:
        if self.role == PRIMARY:  # led an older term and never heard of the newer ones
            self.pending.clear()
        self.term = term
        self.synced, self.syncing = True, False
        self._lead()
        self.db.promoted(self, term)

    def _learn(self, term: int, primary: str) -> None:
        """A newer term: step down if this node led, and rejoin the new primary."""
        if self.role == PRIMARY:
            self.sim.record.event(self.sim.env.now, self.name, "step-down",
                                  f"term {self.term} -> {term}")
            self.pending.clear()  # their writers get no answer: indeterminate
            self.role = REPLICA
        self.term = term
        self.synced = False
        self.log.clear()
        self.applying = False
        if primary != self.name:
            self._resync(primary)

    def _resync(self, primary: str) -> None:
        self.syncing = True
        term = self.term
        pending = self.network.request(self.name, primary, "sync", term, self.db.heartbeat)
        pending.then = lambda reply: self._synced(term, reply)

    def _synced(self, term: int, reply) -> None:
        self.syncing = False
        if reply.status != "ok" or term != self.term or self.synced or not self.up:
            return  # tried again at the next ping
        snapshot = reply.value
        changed = 0
        for key in list(self.held) + [k for k in snapshot if k not in self.held]:
            version = snapshot.get(key, 0)
            if version != self.held.get(key, 0):
                self._hold(key, version, "resync")
                changed += 1
        self.synced = True
        self.sim.record.event(self.sim.env.now, self.name, "resync",
                              f"term {term}: {changed} keys changed")

    def on_stop(self, how: str) -> None:
        self.log.clear()  # what had not reached the disk is shipped again later
        self.applying = False
        self.syncing = False
        if self.role == PRIMARY:
            # Writes not yet committed are lost with the process; their versions
            # are never reused, so a replica that applied one holds a phantom.
            # What was shipped is shipped again from the log at the restart.
            self.pending.clear()
            for queue in self.unacked.values():
                queue.clear()
            # Its alarms die with the process (one still waiting out a pause is
            # dropped, and the epoch silences the others): the restart arms new ones.
            for replica in self.others:
                self.resend_due[replica] = None
                self.silent[replica] = False

    def on_start(self) -> None:
        if self.role != PRIMARY:
            return
        for replica, acked in self.acked.items():
            for key, version in self.held.items():
                if acked.get(key, 0) < version:
                    self._ship(replica, key, version)


class Monitor(Node):
    """Watches the primary and promotes a replica when it stays unreachable."""

    def __init__(self, name: str, db: "Database") -> None:
        super().__init__(name, db.network)
        self.db = db
        self.term = 1
        self.primary = db.node_list[0]
        self.next_term = 2
        self.last_ok = 0.0  # the primary's last answer
        self.last_grant = 0.0  # when it last granted the primary a lease
        self.round = 0
        self.due = 0.0  # when the next round is due
        self.answers: dict[str, tuple] = {}  # node -> (round, term, role, position, synced)

    def on_start(self) -> None:
        """Back after a crash: judge only by what it hears from now on.  It keeps
        its memory, and its rounds go on where they would have been due had it
        not stopped (its alarm died with the process: see :meth:`_round`)."""
        self.answers.clear()
        now = self.sim.env._now
        self.last_ok = now
        due, heartbeat = self.due, self.db.heartbeat
        if due < now:  # the first round of the old grid not yet past
            due += math.floor((now - due) / heartbeat) * heartbeat
            while due < now:
                due += heartbeat
        self.due = due
        self.after(due - now, self._round, self.epoch)

    def watch(self) -> None:
        """Start the rounds of pings (at time 0, then every heartbeat)."""
        self.after(0.0, self._round, self.epoch)

    def _round(self, epoch: int) -> None:
        if epoch != self.epoch:
            # Armed before the monitor stopped: the restart armed the next round.
            # (An alarm waiting out a pause is dropped at a stop, so a chain that
            # outlived the stop would not be enough.)
            return
        self.due = self.sim.env._now + self.db.heartbeat
        self.after(self.db.heartbeat, self._round, epoch)
        self.round += 1
        now, after = self.sim.env.now, self.db.failover_after
        promoted = False
        # Promote only once the primary has been silent for `after` and every lease
        # granted to it has run out.
        if now - self.last_ok >= after - 1e-12 and now - self.last_grant >= after - 1e-12:
            promoted = self._promote()
        answered = self.answers.get(self.primary, (0,))[0] == self.round - 1
        lease = 0.0
        if promoted or answered:  # a lease only to a primary that still answers
            lease = self.db.world.clocks.read(self.name) + after
            self.last_grant = now
        for node in self.db.node_list:
            args = (self.term, self.primary, lease if node == self.primary else 0.0)
            pending = self.network.request(self.name, node, "ping", args, self.db.heartbeat)
            pending.then = self._answered(node, self.round)
        for caller in self.db.callers:
            self.network.send(self.name, caller, "discover", (self.db.name, self.term,
                                                              self.primary))

    def _answered(self, node: str, round_: int):
        def then(reply) -> None:
            if reply.status != "ok":
                return
            term, role, position, synced = reply.value
            self.answers[node] = (round_, term, role, position, synced)
            if node == self.primary and term == self.term and role == PRIMARY:
                self.last_ok = self.sim.env.now
        return then

    def _promote(self) -> bool:
        """Choose the replica holding the most among those that answered the last
        round, synced, under the current term; from now on the pings name it primary
        under a new term (the ping is the promotion)."""
        candidates = [(-answer[3], node) for node, answer in self.answers.items()
                      if node != self.primary and answer[0] == self.round - 1
                      and answer[1] == self.term and answer[2] == REPLICA and answer[4]]
        if not candidates:
            return False
        self.primary = min(candidates)[1]
        self.term, self.next_term = self.next_term, self.next_term + 1
        self.last_ok = self.sim.env.now  # give it `after` to answer as primary
        return True


class Database(Component):
    kind = "database"
    summary = "a primary with optional replicas, sync or async replication, optional failover"
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
                                   "resend an unacknowledged replication entry after this "
                                   "(only the oldest, as a probe, to a replica silent "
                                   "this long)"),
        "disk_write": Field(distribution, "2ms",
                            "disk-write latency of a commit (primary) or an apply (replica)"),
        "read_time": Field(distribution, "200us", "time to serve a read"),
        "read_from": Field(choice("primary", "replica", "any", "nearest"), "primary",
                           "where reads go: the primary, a random replica, any node, or the "
                           "node nearest the reader (lowest mean link latency)"),
        "session": Field(choice("none", "read-your-writes"), "none",
                         "read-your-writes: a reader carries the last version it wrote; a "
                         "replica behind it sends the read to the primary"),
        "failover": Field(record({
            "after": Field(duration(positive=True), "3s",
                           "promote a replica when the primary has not answered the monitor "
                           "for this long"),
            "heartbeat": Field(duration(positive=True), "500ms",
                               "how often the monitor pings every node (and tells callers "
                               "who the primary is)"),
            "fencing": Field(choice("none", "lease"), "none",
                             "none: a primary that was replaced keeps accepting writes until "
                             "it hears of it (split brain); lease: a primary accepts writes "
                             "only while it holds a lease, renewed by `after` with each ping "
                             "it answers; no one is promoted before it runs out"),
        }, what="failover"), None, "automatic failover by a monitor node <name>-monitor "
                                   "(off when left out)"),
    }

    @staticmethod
    def check(config: dict, path: tuple, ctx) -> None:
        if config["replication"] == "semi-sync" and config["acks"] > config["replicas"]:
            ctx.fail(path + ("acks",), f"semi-sync waits for {config['acks']} acks but there "
                                       f"are only {config['replicas']} replicas")
        if config["failover"] is not None and config["replicas"] == 0:
            ctx.fail(path + ("failover",), "failover needs at least one replica to promote")

    @staticmethod
    def node_names(name: str, config: dict) -> list[str]:
        names = [f"{name}-primary"] + [f"{name}-replica-{i + 1}"
                                       for i in range(config["replicas"])]
        if config["failover"] is not None:
            names.append(f"{name}-monitor")
        return names

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        self.node_list = [f"{name}-primary"] + [f"{name}-replica-{i + 1}"
                                                for i in range(config["replicas"])]
        self.replica_names = self.node_list[1:]
        mode = config["replication"]
        #: replica acknowledgements a commit waits for (0: it does not wait)
        self.acks_needed = {"async": 0, "sync": len(self.replica_names),
                            "semi-sync": config["acks"]}[mode] if self.replica_names else 0
        self.retry = config["replication_retry"]
        self.single_applier = config["applier"] == "single"
        self.disk_write = build(config["disk_write"])
        self.read_time = build(config["read_time"]) if config["read_time"] else ZERO
        failover = config["failover"]
        self.failover = failover is not None
        self.failover_after = failover["after"] if failover else 0.0
        self.heartbeat = failover["heartbeat"] if failover else 0.0
        self.lease = failover is not None and failover["fencing"] == "lease"
        self.assigned: dict[int, int] = {}  # key -> latest version assigned, by any primary
        self.term = 1  # the term of the newest promotion that happened
        #: key -> [(version, truth row)] committed in the lineage that survives so far
        #: (failover only)
        self.lineage: dict[int, list[tuple[int, int]]] = {}
        #: (key, version) -> writer, for versions assigned but not yet committed
        self.writers: dict[int, dict[int, int]] = {}  # key -> {version: writer}
        #: the nodes that called this database, in order: the monitor tells them the primary
        self.callers: dict[str, None] = {}
        self.primary = DatabaseNode(self.node_list[0], self, primary=True)
        self.replicas = [DatabaseNode(n, self, primary=False) for n in self.replica_names]
        self.nodes = [self.primary] + self.replicas
        self.monitor = Monitor(f"{name}-monitor", self) if self.failover else None
        self.stream = self.sim.streams[f"component:{name}"]
        self.nearest = config["read_from"] == "nearest"
        self._nearest: dict[str, str] = {}
        self.read_your_writes = config["session"] == "read-your-writes"
        self.reads_primary = config["read_from"] == "primary" or not self.replicas
        if self.reads_primary:
            self._read_nodes = [self.primary.name]
        elif config["read_from"] == "replica":
            self._read_nodes = list(self.replica_names)
        else:
            self._read_nodes = list(self.node_list)

    def start(self) -> None:
        if self.monitor is not None:
            self.monitor.watch()

    @property
    def truth(self) -> str:
        """The name of this source of truth in the history: the database itself."""
        return self.name

    # --- the truth across failovers -----------------------------------------------
    def committed(self, node: DatabaseNode, key: int, version: int, writer: int) -> None:
        """``node`` committed ``version`` of ``key`` as primary."""
        now, record = self.sim.env.now, self.sim.record
        if not self.failover:
            record.commit(key, version, now, self.name, writer)
            return
        waiting = self.writers.get(key)
        if waiting is not None:
            waiting.pop(version, None)
        if node.term != self.term:
            if any(v == version for v, _ in self.lineage.get(key, ())):
                # A replaced primary got the last acks of a write the promoted
                # replica already held: that write committed at the promotion.
                return
            # a primary that was already replaced: this write cannot survive
            record.lose(record.commit(key, version, now, self.name, writer), now,
                        "replaced primary")
            return
        row = record.commit(key, version, now, self.name, writer)
        self.lineage.setdefault(key, []).append((version, row))

    def promoted(self, node: DatabaseNode, term: int) -> None:
        """``node`` became primary under ``term``: what it lacks of the lineage is lost,
        and what it holds beyond it commits now."""
        record, now = self.sim.record, self.sim.env.now
        record.event(now, node.name, "promoted", f"term {term}")
        if term <= self.term:
            return  # a newer promotion already happened: this primary is replaced from birth
        self.term = term
        held = node.held
        for key, versions in self.lineage.items():
            mine = held.get(key, 0)
            while versions and versions[-1][0] > mine:
                record.lose(versions.pop()[1], now, "failover")
        for key, version in held.items():
            versions = self.lineage.setdefault(key, [])
            last = versions[-1][0] if versions else 0
            if version <= last:
                continue
            # Held but never committed (a write still waiting for acks), with the
            # waiting writes it superseded: they commit now, in version order.
            waiting = self.writers.get(key, {})
            for v in sorted(v for v in waiting if last < v < version) + [version]:
                row = record.commit(key, v, now, self.name, waiting.pop(v, -1))
                versions.append((v, row))

    def fenced(self, node: DatabaseNode) -> bool:
        """Whether lease fencing stops ``node`` from accepting writes right now: its
        lease, on its own clock, has run out."""
        return self.lease and self.world.clocks.read(node.name) >= node.lease_until

    # --- callers -----------------------------------------------------------------
    def primary_for(self, caller: str) -> str:
        """Where ``caller`` believes the primary is (the monitor tells it)."""
        if not self.failover:
            return self.primary.name
        self.callers[caller] = None
        view = self.network.nodes[caller].views.get(self.name)
        return view[1] if view is not None else self.primary.name

    def read(self, caller: str, key: int, timeout: float, token: int = 0):
        """Read ``key`` from where ``read_from`` says (a flow): ``(status, value)``.

        With ``session: read-your-writes`` the reader's token (the last version
        it wrote of the key) goes along; a replica that is behind it answers
        ``behind-session`` and the read goes to the primary instead.
        """
        if not (self.read_your_writes and token):
            got = yield self.read_request(caller, key, timeout)
            return got.status, got.value
        deadline = self.sim.env.now + timeout
        got = yield self.network.request(caller, self.read_node(caller), "read", (key, token),
                                         timeout)
        if got.status == "fail" and got.value == "behind-session":
            left = deadline - self.sim.env.now  # both tries within the one timeout
            if left <= 0:
                return "timeout", "timeout"
            got = yield self.network.request(caller, self.primary_for(caller), "read", key, left)
        return got.status, got.value

    def read_request(self, caller: str, key: int, timeout: float):
        """:meth:`read` without a session token, as one request: the ``Pending``
        its reply comes to."""
        return self.network.request(caller, self.read_node(caller), "read", key, timeout)

    def write(self, caller: str, key: int, writer: int, timeout: float, version: int = 0):
        """Write ``key`` at the primary (a flow): ``(status, value)``.  ``version``,
        when given, was reserved with :meth:`reserve` (a write-behind flush)."""
        got = yield self.write_request(caller, key, writer, timeout, version)
        return got.status, got.value

    def write_request(self, caller: str, key: int, writer: int, timeout: float,
                      version: int = 0):
        """:meth:`write` as one request: the ``Pending`` its reply comes to."""
        args = (key, writer, version) if version else (key, writer)
        return self.network.request(caller, self.primary_for(caller), "write", args, timeout)

    def reserve(self, key: int) -> int:
        """The version the next write of ``key`` will commit as, taken now: a
        write-behind cache, the only writer of its store, names its writes before
        flushing them.  A reserved version that is never flushed is never reused."""
        version = self.assigned[key] = self.assigned.get(key, 0) + 1
        return version

    def read_node(self, caller: str | None = None) -> str:
        """Where the next read from ``caller`` goes."""
        if self.reads_primary:
            return self.primary_for(caller) if caller is not None else self.primary.name
        nodes = self._read_nodes
        if self.failover and caller is not None:
            self.callers[caller] = None
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
        rejoin = "; after a failover, the monitor's next ping and a resync" \
            if self.failover else ""
        primary = {"copy": self.primary.name, "component": self.name, "kind": "primary",
                   "source": self.truth, "initial": "v0",
                   "learns_stale_by": "it commits every write" + (
                       " while it is primary" + rejoin if self.failover else "")}
        return [primary] + [{"copy": r, "component": self.name, "kind": "replica",
                             "source": self.truth, "initial": "v0",
                             "learns_stale_by": f"none ({mode} replication stream){rejoin}"}
                            for r in self.replica_names]
