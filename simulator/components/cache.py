"""A key-value cache with TTL, used cache-aside by services.

The cache itself is simple: ``get`` answers a version or a miss, ``fill`` and
``set`` store a version (overwriting whatever is there), ``delete`` removes
an entry.  Entries expire ``ttl`` after they were stored; the expiry is a real
event at that simulated instant and is recorded, so the history shows exactly
what a read would have seen.  A crash loses every entry.

How the cache is kept fresh is the service's side of the contract:
``on_write: delete`` invalidates the entry after a database write,
``on_write: update`` overwrites it with the new version, ``on_write: none``
leaves it to the TTL.  A miss that read an old version from the database may
fill the cache *after* a write's delete: the classic fill/invalidate race,
which leaves a stale entry until TTL (or forever, with no TTL).

Two guards close the race.  ``guard: lease`` follows memcache's leases
(Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013): a miss hands
out a lease token, any later delete or set of the key invalidates it, and a
fill with an invalidated token is rejected.  ``guard: version`` rejects a
fill or set older than the entry held; it protects an entry that is there
(pair it with ``on_write: update``), so a newer entry evicted before the stale
fill lands lets the stale fill in.  ``capacity`` bounds the entries with LRU
eviction; ``ttl_jitter`` spreads expiry times.

``mode: through`` puts the cache in front of its store (``database``):
services only talk to the cache, which loads misses from the store
(read-through) and writes the store before it answers (write-through).  A
crash of the cache ends the loads and writes it was waiting on the store for:
their callers get no answer (a write may still have reached the store).
``mode: behind`` answers a write at once and writes the store later
(write-behind): the write waits ``flush_delay`` in the cache's queue, then is
flushed, one at a time and in order, retried until the store takes it; until
then a read of the key gets it, even if its entry expired or was evicted.  The
cache is the only writer of its store, so it names each write's version when
it takes it.  A crash loses the queue: those writes were acknowledged and
never reach the store (lost writes), and their versions are never used.
"""

from __future__ import annotations

from collections import deque

from ..distributions import build
from ..durations import format_duration
from ..network import STOPPED, Node, cause, failed
from ..schema import Field, choice, distribution, duration, integer, number, text
from ..engine import Flow
from .base import Component
from .entries import Entries



class CacheNode(Node):
    def __init__(self, name: str, cache: "Cache") -> None:
        super().__init__(name, cache.network)
        self.cache = cache
        self.stream = cache.sim.streams[f"node:{name}"]
        self.entries = Entries(self.sim, name, cache.ttl, capacity=cache.capacity,
                               jitter=cache.ttl_jitter, stream=self.stream,
                               clocks=cache.world.clocks, node=name)
        self.processing = dict.fromkeys(("get", "fill", "set", "delete", "load", "write"),
                                        cache.op_time)
        #: per key, how many invalidations (delete, set) it has seen: a lease
        #: handed out on a miss is valid only while this has not moved
        self.invalidations: dict[int, int] = {}
        #: bumped when the cache loses everything (flush, crash): every lease dies
        self.lease_epoch = 0
        #: write-behind: (due time, key, version, writer) waiting to be flushed, in order
        self.dirty: deque = deque()
        #: write-behind: key -> the newest version not yet flushed (what a read must
        #: see, even if the entry expired or was evicted meanwhile)
        self.unflushed: dict[int, int] = {}
        self.flusher: Flow | None = None
        #: read-through loads and write-through writes under way: flow -> request
        self.serving: dict[Flow, object] = {}

    # Each operation takes op_time, folded into the message's delivery
    # (``Node.processing``): the handler runs when the work is done.
    def on_get(self, message) -> None:
        key = message.args
        version = self.entries.get(key)
        if version is None and self.cache.guard == "lease":
            version = Miss(self._lease(key))
        self.network.reply(message, "ok", version)

    def on_fill(self, message) -> None:
        key, version, lease = message.args
        rejected = self._rejects(key, version, lease)
        if rejected:
            self.network.reply(message, "fail", rejected)
            return
        self.entries.store(key, version, "fill")
        self.network.reply(message, "ok")

    def _lease(self, key: int) -> tuple[int, int]:
        """The lease a miss of ``key`` hands out now."""
        return self.lease_epoch, self.invalidations.get(key, 0)

    def _rejects(self, key: int, version: int, lease) -> str:
        """Why the guard rejects filling ``key`` with ``version`` under ``lease``
        (the token of the miss that read it), or "" if it does not."""
        guard = self.cache.guard
        if guard == "lease" and (lease is None or lease != self._lease(key)):
            return "lease-invalidated"
        if guard == "version" and not self._newer(key, version):
            return "older-version"
        return ""

    def on_set(self, message) -> None:
        key, version = message.args
        self.invalidations[key] = self.invalidations.get(key, 0) + 1
        if self.cache.guard == "version" and not self._newer(key, version):
            self.network.reply(message, "fail", "older-version")
            return
        self.entries.store(key, version, "overwrite")
        self.network.reply(message, "ok")

    def on_delete(self, message) -> None:
        key = message.args
        self.invalidations[key] = self.invalidations.get(key, 0) + 1
        self.entries.delete(key)
        self.network.reply(message, "ok")

    # --- read-through and write-through: the cache talks to the store itself ---
    def on_load(self, message) -> None:
        version = self.entries.get(message.args)
        if version is None and message.args in self.unflushed:
            # written here and not flushed yet: the store has an older version
            version = self.unflushed[message.args]
            self.entries.store(message.args, version, "fill")
        if version is not None:
            self.network.reply(message, "ok", (version, self.name))
        else:
            self._serve(message, self._load(message, message.args))

    def _serve(self, message, work) -> None:
        """Serve ``message`` with the generator ``work`` (it answers), as a flow
        that a stop or a crash ends with the process."""
        flow = Flow(self.sim, self)
        self.serving[flow] = message
        flow.start(self._served(flow, work))

    def _served(self, flow: Flow, work):
        try:
            yield from work
        finally:
            self.serving.pop(flow, None)

    def _load(self, message, key):
        lease = self._lease(key)
        status, value = yield from self.cache.store.read(self.name, key,
                                                         self.cache.database_timeout)
        if status != "ok":
            self.network.reply(message, "fail", "database-" + cause(status, value))
            return
        # The load races with writes like a cache-aside fill does: a write that
        # came through meanwhile makes it stale, unless a guard stops it.
        if not self._rejects(key, value[0], lease):
            self.entries.store(key, value[0], "fill")
        self.network.reply(message, "ok", value)

    def on_write(self, message) -> None:
        if self.cache.behind:
            self._write_behind(message, *message.args)
            return
        self._serve(message, self._write(message, *message.args))

    def _write_behind(self, message, key, writer) -> None:
        """Take the write, answer it, flush it later."""
        version = self.cache.store.reserve(key)
        self.invalidations[key] = self.invalidations.get(key, 0) + 1
        self.entries.store(key, version, "overwrite")
        self.dirty.append((self.sim.env.now + self.cache.flush_delay, key, version, writer))
        self.unflushed[key] = version
        self.network.reply(message, "ok", (version, self.name))
        if self.flusher is None:
            self.flusher = Flow(self.sim, self)
            self.flusher.start(self._flush())

    def _flush(self):
        """Write the queue to the store, oldest first, each until the store takes it."""
        cache = self.cache
        dirty = self.dirty
        while dirty:
            due, key, version, writer = dirty[0]
            wait = due - self.sim.env.now
            if wait > 0:
                yield wait
            status, value = yield from cache.store.write(self.name, key, writer,
                                                         cache.database_timeout, version)
            if status == "ok":
                dirty.popleft()
                if self.unflushed.get(key) == version:
                    del self.unflushed[key]
            else:  # not taken (or not known to be): try the same write again
                yield cache.database_timeout
        self.flusher = None

    def _write(self, message, key, writer):
        status, value = yield from self.cache.store.write(self.name, key, writer,
                                                          self.cache.database_timeout)
        if status != "ok":
            self.network.reply(message, *failed(status, value, "database-"))
            return
        self.invalidations[key] = self.invalidations.get(key, 0) + 1
        if self.cache.guard != "version" or self._newer(key, value[0]):
            self.entries.store(key, value[0], "overwrite")
        self.network.reply(message, "ok", value)

    def _newer(self, key: int, version: int) -> bool:
        held = self.entries.peek(key)
        return held is None or version > held

    def flush(self) -> None:
        """Empty the cache (a flush fault): every entry is lost, and every lease."""
        self.entries.lose_all("flush")
        self.lease_epoch += 1

    def on_stop(self, how: str) -> None:
        self.entries.lose_all()
        self.lease_epoch += 1
        self.dirty.clear()  # write-behind: acknowledged, never to reach the store
        self.unflushed.clear()
        if self.flusher is not None:
            self.flusher.stop()
            self.flusher = None
        # Loads and writes through to the store die with the process: a stopped
        # one's connections are reset, a crashed host says nothing.
        serving, self.serving = self.serving, {}
        for flow, message in serving.items():
            flow.stop()
            if how == STOPPED:
                self.network.reply(message, "reset", "connection-reset")


class Miss:
    """A miss that carries a lease: the token a later fill must present."""

    __slots__ = ("lease",)

    def __init__(self, lease: int) -> None:
        self.lease = lease


class Cache(Component):
    kind = "cache"
    summary = "a key-value cache with TTL, kept fresh cache-aside by the services that use it"
    schema = {
        "ttl": Field(duration(), "30s", "entries expire this long after they were stored; "
                                        "0 means never"),
        "on_write": Field(choice("delete", "update", "none"), "delete",
                          "after a database write the service deletes or updates the entry, "
                          "or leaves it alone (none: only the TTL repairs it)"),
        "op_time": Field(distribution, "100us", "time to serve one cache operation"),
        "guard": Field(choice("none", "lease", "version"), "none",
                       "how fills are guarded: none; lease (a miss gets a token that any "
                       "later delete or set invalidates, and a fill with an invalid token is "
                       "rejected); version (a fill or set older than the held entry is "
                       "rejected)"),
        "capacity": Field(integer(0, 10**9), 0, "at most this many entries, least recently "
                                                "used evicted first (0: unlimited)"),
        "ttl_jitter": Field(number(0.0, 1.0), 0.0, "each entry's TTL is drawn uniformly from "
                                                   "ttl * (1 - jitter) .. ttl * (1 + jitter)"),
        "mode": Field(choice("aside", "through", "behind"), "aside",
                      "aside: services read and write the database and keep the cache "
                      "fresh; through: services only talk to the cache, which reads the "
                      "database on a miss (read-through) and writes it before answering "
                      "(write-through); behind: like through, but a write is answered at "
                      "once and written to the database later (write-behind)"),
        "database": Field(text, "", "through, behind: the store behind the cache"),
        "database_timeout": Field(duration(positive=True), "500ms",
                                  "through, behind: give up on a store call after this"),
        "flush_delay": Field(duration(), "1s",
                             "behind: how long a write waits in the cache before it is "
                             "written to the database"),
    }

    @staticmethod
    def check(config: dict, path: tuple, ctx) -> None:
        if config["mode"] != "aside" and not config["database"]:
            ctx.fail(path, f"a {config['mode']} cache needs 'database': the store behind it")

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        self.ttl = config["ttl"]
        self.on_write = config["on_write"]
        self.guard = config["guard"]
        self.capacity = config["capacity"]
        self.ttl_jitter = config["ttl_jitter"]
        self.op_time = build(config["op_time"])
        self.through = config["mode"] in ("through", "behind")
        self.behind = config["mode"] == "behind"
        self.flush_delay = config["flush_delay"]
        self.store = world.components[config["database"]] if self.through else None
        self.database_timeout = config["database_timeout"]
        self.node = CacheNode(name, self)
        # the source of truth: its own store, or the one of the services using it
        self.source = self.store.truth if self.through else ""

    def copies(self) -> list[dict]:
        ttl = f"ttl {format_duration(self.ttl)}" if self.ttl else "no ttl"
        if self.behind:
            signal = f"{ttl} + write-behind (ahead of the store until it flushes)"
        elif self.through:
            signal = f"{ttl} + write-through"
        else:
            signal = ttl if self.on_write == "none" else f"{ttl} + {self.on_write} on write"
        if self.guard != "none":
            signal += f", {self.guard}-guarded fills"
        return [{"copy": self.name, "component": self.name, "kind": "cache",
                 "source": self.source, "initial": "empty", "learns_stale_by": signal}]
