"""A stateless service: N instances behind a load balancer.

Each instance has a pool of ``workers``; a request holds a worker for its
whole life (service time, then the calls it makes), and requests wait in FIFO
order when every worker is busy (at most ``queue_limit`` of them: more are
refused at once as ``overloaded``).  Reads and writes use the cache cache-aside:

- read: ask the cache; on a hit answer its version.  On a miss (or when the
  cache does not answer) read the database, answer, and fill the cache with
  what the database returned (fire and forget, so the fill can land late).
- write: write to the database primary; once it commits, delete or update the
  cache entry (the cache's ``on_write``), then answer.

Instances hold no state that survives a restart.  When an instance stops, the
requests it is working on end with ``reset`` (the client cannot know whether a
write took effect) and requests still queued are dropped the same way.
"""

from __future__ import annotations

from collections import deque

from ..distributions import Exponential, build
from ..engine import Flow
from ..durations import format_duration
from ..network import Node, cause, failed
from ..schema import Field, choice, distribution, duration, integer, string, text
from .base import Component
from .cache import Miss
from .entries import Entries


def hit(got, session: int) -> bool:
    """Whether the cache's answer ``got`` to a get is a version a reader with
    ``session`` (its last written version, or 0) may use: an entry, not a miss,
    and not older than the reader's own write."""
    value = got[1]
    return (got[0] == "ok" and value is not None and value.__class__ is not Miss
            and value >= session)


class Job:
    """A request an instance is serving, from its arrival to its answer.

    It holds a worker from its turn to its answer.  The common paths are
    served by callbacks alone, each step a method here: a cache-aside read
    (the cache's answer, then on a miss the database's) and a write to a
    database (then the cache's invalidation).  Anything else (a read-through
    or write-through cache, a local copy, a quorum store, a read-your-writes
    session) goes on as the service's generator, run by a :class:`Flow`
    (``flow``).  ``alive`` turns false when the instance stops: late timers
    and replies are then ignored.
    """

    __slots__ = ("instance", "message", "flow", "alive", "key", "session", "fill", "lease",
                 "value")

    def __init__(self, instance: "Instance", message) -> None:
        self.instance = instance
        self.message = message
        self.flow = None
        self.alive = True

    # --- a cache-aside read ------------------------------------------------------
    def cached(self, got) -> None:
        """The cache's answer to this read's get."""
        if not self.alive:
            return
        instance = self.instance
        service = instance.service
        if hit(got, self.session):
            instance.network.reply(self.message, "ok", (got[1], service.plain_cache.name))
            instance.finish(self)
            return
        if self.session or not service.flat_reads:
            self.run(service._read_database(instance, self.key, self.session, got))
            return
        # Service._read_database, flattened: read the database; fill the cache
        # if it answered (a miss, or an entry older than this reader's write)
        self.fill = got[0] == "ok"
        self.lease = got[1].lease if self.fill and got[1].__class__ is Miss else None
        service.database.read_request(instance.name, self.key,
                                      service.database_timeout).then = self.read

    def read(self, got) -> None:
        """The database's answer to this read."""
        if not self.alive:
            return
        status, value = got
        instance = self.instance
        if status != "ok":
            instance.network.reply(self.message, "fail", "database-" + cause(status, value))
        else:
            if self.fill:
                instance.network.send(instance.name, instance.service.cache.name, "fill",
                                      (self.key, value[0], self.lease))
            instance.network.reply(self.message, "ok", value)
        instance.finish(self)

    # --- a write to a database ---------------------------------------------------
    def write(self, key: int, writer: int) -> None:
        """Service.write, flattened: write the database, then the cache's
        invalidation (``on_write``), then answer."""
        instance = self.instance
        service = instance.service
        self.key = key
        service.database.write_request(instance.name, key, writer,
                                       service.database_timeout).then = self.written

    def written(self, got) -> None:
        """The database's answer to this write."""
        if not self.alive:
            return
        status, value = got
        instance = self.instance
        if status != "ok":
            instance.network.reply(self.message, *failed(status, value, "database-"))
            instance.finish(self)
            return
        if instance.local is not None:
            instance.local.delete(self.key)
        service = instance.service
        cache = service.cache
        if cache is not None and cache.on_write != "none":
            self.value = value
            if cache.on_write == "delete":
                method, args = "delete", self.key
            else:
                method, args = "set", (self.key, value[0])
            instance.network.request(instance.name, cache.name, method, args,
                                     service.cache_timeout).then = self.invalidated
            return
        instance.network.reply(self.message, "ok", value)
        instance.finish(self)

    def invalidated(self, _) -> None:
        """The cache's answer to the write's invalidation (whatever it is)."""
        if self.alive:
            self.instance.network.reply(self.message, "ok", self.value)
            self.instance.finish(self)

    # --- anything else -----------------------------------------------------------
    def run(self, rest) -> None:
        """Go on with the generator ``rest``, which returns the reply."""
        self.flow = Flow(self.instance.sim, self.instance)
        self.flow.start(self._answer(rest))

    def _answer(self, rest):
        reply = yield from rest
        self.instance.network.reply(self.message, *reply)
        self.instance.finish(self)

    def stop(self) -> None:
        self.alive = False
        if self.flow is not None:
            self.flow.stop()


class Instance(Node):
    def __init__(self, name: str, service: "Service") -> None:
        super().__init__(name, service.network)
        self.service = service
        self.stream = service.sim.streams[f"node:{name}"]
        self.busy = 0
        self.waiting: deque = deque()  # jobs waiting for a worker, in arrival order
        self.active: dict = {}  # job -> message
        self.local = (Entries(self.sim, f"{name}/local", service.local_ttl,
                              clocks=service.world.clocks, node=name)
                      if service.local_ttl else None)

    def on_request(self, message) -> None:
        service = self.service
        limit = service.queue_limit
        if limit and self.busy >= service.workers and len(self.waiting) >= limit:
            # shed load: refused at once, definitely not done
            self.network.reply(message, "fail", "overloaded")
            return
        job = Job(self, message)
        self.active[job] = message
        if self.busy < service.workers:
            self.busy += 1
            # its service time starts (_begin, inlined, with the common exponential
            # draw inlined too: the same draw as Exponential.sample)
            work = service.service_time
            if work.__class__ is Exponential:
                draws = self.stream._e
                work = work.mean * (draws.pop() if draws else self.stream.exponential())
            else:
                work = work.sample(self.stream)
            self.after(work, self._work, job)
        else:
            self.waiting.append(job)

    def _begin(self, job: Job) -> None:
        """A worker is ``job``'s: its service time starts (unless the instance
        stopped since the worker was handed over: a stopped job draws nothing)."""
        if job.alive:
            self.after(self.service.service_time.sample(self.stream), self._work, job)

    def _work(self, job: Job) -> None:
        """The service time is over: read or write."""
        if not job.alive:
            return
        op, key, writer, token = job.message.args
        service = self.service
        if op == "read":
            cache = service.plain_cache
            if cache is not None:
                # Service.read, flattened for the common case (cache-aside, no
                # local copy): a cache hit needs no generator (Job.cached).
                job.key = key
                job.session = token if service.sessions else 0
                self.network.request(self.name, cache.name, "get", key,
                                     service.cache_timeout).then = job.cached
                return
            job.run(service.read(self, key, token))
        elif service.flat_writes:
            job.write(key, writer)
        else:
            job.run(service.write(self, key, writer))

    def finish(self, job: Job) -> None:
        """``job`` answered: its worker goes to the next job waiting, if any."""
        if job.alive:  # not when the instance stopped meanwhile: it reset its pool
            del self.active[job]
            if self.waiting:
                self.after(0.0, self._begin, self.waiting.popleft())
            else:
                self.busy -= 1

    def on_start(self) -> None:
        self.service.up = None

    def on_stop(self, how: str) -> None:
        self.service.up = None
        if self.local is not None:
            self.local.lose_all()
        active, self.active = self.active, {}
        self.waiting.clear()
        self.busy = 0
        for job, message in active.items():
            job.stop()
            if how == "stopped":  # the connection is reset; a crashed host says nothing
                self.network.reply(message, "reset", "connection-reset")


class Service(Component):
    kind = "service"
    summary = "stateless instances behind a load balancer, using a cache cache-aside"
    schema = {
        "instances": Field(integer(1, 10_000), 2, "number of instances"),
        "workers": Field(integer(1, 100_000), 8, "concurrent requests per instance"),
        "queue_limit": Field(integer(0, 10**9), 0,
                             "requests that may wait for a worker; more are refused at once "
                             "('overloaded'); 0: no limit"),
        "service_time": Field(distribution, "1ms", "CPU time of one request"),
        "balancer": Field(choice("round_robin", "random"), "round_robin",
                          "how requests are spread over the instances that are up"),
        "database": Field(string, doc="the database (or quorum store) it reads and writes"),
        "cache": Field(text, "", "the cache component it uses cache-aside (empty: none)"),
        "cache_timeout": Field(duration(positive=True), "50ms",
                               "give up on a cache call after this and go to the database"),
        "database_timeout": Field(duration(positive=True), "500ms",
                                  "give up on a database call after this"),
        "local_cache_ttl": Field(duration(), "0s",
                                 "keep what each instance read in its own memory this long "
                                 "(0: no local copy); other instances' writes do not reach it"),
    }

    @staticmethod
    def node_names(name: str, config: dict) -> list[str]:
        return [f"{name}-{i + 1}" for i in range(config["instances"])]

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        self.workers = config["workers"]
        self.queue_limit = config["queue_limit"]
        self.service_time = build(config["service_time"])
        self.cache_timeout = config["cache_timeout"]
        self.database_timeout = config["database_timeout"]
        self.local_ttl = config["local_cache_ttl"]
        self.instances = [Instance(n, self) for n in self.node_names(name, config)]
        self.database = world.components[config["database"]]
        self.cache = world.components[config["cache"]] if config["cache"] else None
        if self.cache is not None:
            if not self.cache.through:
                self.cache.source = self.database.truth
        #: whether reads carry the reader's session token to the store
        self.sessions = getattr(self.database, "read_your_writes", False)
        #: the cache when reads take the flattened path in Instance._serve:
        #: cache-aside (not read-through) and no local copy
        self.plain_cache = (self.cache if self.cache is not None and not self.cache.through
                            and not self.local_ttl else None)
        #: whether a read's database step after the cache, and writes, take the
        #: flattened paths (Job.cached, Job.write): a database (not a quorum
        #: store), and for writes no cache in front of it
        self.flat_reads = hasattr(self.database, "read_request")
        self.flat_writes = (hasattr(self.database, "write_request")
                            and not (self.cache is not None and self.cache.through))
        self.stream = self.sim.streams[f"balancer:{name}"]
        self.random_balance = config["balancer"] == "random"
        self._next = 0
        #: the instances that are up, in order (None: to be listed again, after
        #: an instance stopped or started)
        self.up: list[Instance] | None = None

    def pick(self) -> Instance | None:
        """The instance the load balancer sends the next request to, or None if all are down."""
        up = self.up
        if up is None:
            up = self.up = [i for i in self.instances if i.up]
        if not up:
            return None
        if self.random_balance:
            return up[self.stream.below(len(up))]
        self._next += 1
        return up[self._next % len(up)]

    def copies(self) -> list[dict]:
        if not self.local_ttl:
            return []
        return [{"copy": i.local.copy, "component": self.name, "kind": "local",
                 "source": self.database.truth, "initial": "empty",
                 "learns_stale_by": f"ttl {format_duration(self.local_ttl)} (only this "
                                    f"instance's own writes invalidate it)"}
                for i in self.instances]

    def read(self, instance: Instance, key: int, token: int = 0):
        """A read; ``token`` (the reader's last written version) skips older copies
        when the store keeps read-your-writes sessions."""
        local = instance.local
        session = token if self.sessions else 0
        if local is not None:
            version = local.get(key)
            if version is not None and version >= session:
                return "ok", (version, local.copy)
        reply = yield from self._read_shared(instance, key, session)
        if local is not None and reply[0] == "ok":
            local.store(key, reply[1][0], "fill")
        return reply

    def _read_shared(self, instance: Instance, key: int, session: int = 0):
        net = self.network
        cache = self.cache
        if cache is not None and cache.through:  # the cache reads the store itself
            got = yield net.request(instance.name, cache.name, "load", key,
                                    self.cache_timeout + cache.database_timeout)
            if got.status == "ok" and got.value[0] >= session:
                return "ok", got.value
            if got.status == "ok":  # older than this reader's own write
                cache = None
            else:
                return "fail", cause(got.status, got.value)
        got = None
        if cache is not None:
            got = yield net.request(instance.name, cache.name, "get", key, self.cache_timeout)
            if hit(got, session):
                return "ok", (got.value, cache.name)
        return (yield from self._read_database(instance, key, session, got))

    def _read_database(self, instance: Instance, key: int, session: int, got):
        """The rest of a read after the cache's answer ``got`` (None: no cache
        asked) was not a usable hit: read the database, and fill the cache if it
        answered (a miss, or an entry older than this reader's own write)."""
        cache_answered = False
        lease = None
        if got is not None and got[0] == "ok":
            cache_answered = True
            if got[1].__class__ is Miss:
                lease = got[1].lease
        status, value = yield from self.database.read(instance.name, key,
                                                      self.database_timeout, session)
        if status != "ok":
            return "fail", "database-" + cause(status, value)
        if cache_answered:
            self.network.send(instance.name, self.cache.name, "fill", (key, value[0], lease))
        return "ok", value

    def write(self, instance: Instance, key: int, writer: int = -1):
        net = self.network
        cache = self.cache
        if cache is not None and cache.through:  # the cache writes the store itself
            got = yield net.request(instance.name, cache.name, "write", (key, writer),
                                    self.cache_timeout + cache.database_timeout)
            if got.status == "ok":
                if instance.local is not None:
                    instance.local.delete(key)
                return "ok", got.value
            return failed(got.status, got.value)
        status, value = yield from self.database.write(instance.name, key, writer,
                                                       self.database_timeout)
        if status != "ok":
            return failed(status, value, "database-")
        if instance.local is not None:
            instance.local.delete(key)
        cache = self.cache
        if cache is not None and cache.on_write != "none":
            if cache.on_write == "delete":
                yield net.request(instance.name, cache.name, "delete", key, self.cache_timeout)
            else:
                yield net.request(instance.name, cache.name, "set", (key, value[0]),
                                  self.cache_timeout)
        return "ok", value

