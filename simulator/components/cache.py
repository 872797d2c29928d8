"""A key-value cache with TTL, used cache-aside by services.

The cache itself is simple: ``get`` answers a version or a miss, ``fill`` and
``set`` store a version (overwriting whatever is there), ``delete`` removes
an entry.  Entries expire ``ttl`` after they were stored; the expiry is a real
event at that simulated instant and is recorded, so the history shows exactly
what a read would have seen.  A crash loses every entry.

How the cache is kept fresh is the service's side of the contract:
``on_write: delete`` invalidates the entry after a database write,
``on_write: update`` overwrites it with the new version, ``on_write: none``
leaves it to the TTL.  A miss that read an
old version from the database may fill the cache *after* a write's delete:
the classic fill/invalidate race, which leaves a stale entry until TTL.
"""

from __future__ import annotations

from ..distributions import build
from ..durations import format_duration
from ..network import Node
from ..schema import Field, choice, distribution, duration
from .base import Component
from .entries import Entries


class CacheNode(Node):
    def __init__(self, name: str, cache: "Cache") -> None:
        super().__init__(name, cache.network)
        self.cache = cache
        self.stream = cache.sim.streams[f"node:{name}"]
        self.entries = Entries(self.sim, name, cache.ttl)
        self.processing = dict.fromkeys(("get", "fill", "set", "delete"), cache.op_time)

    # Each operation takes op_time, folded into the message's delivery
    # (``Node.processing``): the handler runs when the work is done.
    def on_get(self, message) -> None:
        self.network.reply(message, "ok", self.entries.get(message.args))

    def on_fill(self, message) -> None:
        key, version = message.args
        self.entries.store(key, version, "fill")
        self.network.reply(message, "ok")

    def on_set(self, message) -> None:
        key, version = message.args
        self.entries.store(key, version, "overwrite")
        self.network.reply(message, "ok")

    def on_delete(self, message) -> None:
        self.entries.delete(message.args)
        self.network.reply(message, "ok")

    def on_stop(self, how: str) -> None:
        self.entries.lose_all()


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
    }

    def __init__(self, name: str, config: dict, world) -> None:
        super().__init__(name, config, world)
        self.ttl = config["ttl"]
        self.on_write = config["on_write"]
        self.op_time = build(config["op_time"])
        self.node = CacheNode(name, self)
        self.source = ""  # set by the services that use this cache

    def copies(self) -> list[dict]:
        ttl = f"ttl {format_duration(self.ttl)}" if self.ttl else "no ttl"
        return [{"copy": self.name, "component": self.name, "kind": "cache",
                 "source": self.source, "initial": "empty",
                 "learns_stale_by": ttl if self.on_write == "none"
                 else f"{ttl} + {self.on_write} on write"}]
