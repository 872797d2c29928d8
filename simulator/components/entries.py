"""What a cache-like copy holds: key -> version, with TTL expiry as real events.

Every change is recorded in the history when it happens in simulated time,
expiry included, so the history says exactly what a read would have seen.
"""

from __future__ import annotations


class _Entry:
    __slots__ = ("version",)

    def __init__(self, version: int) -> None:
        self.version = version


class Entries:
    def __init__(self, sim, copy: str, ttl: float) -> None:
        self.sim = sim
        self.copy = copy
        self.ttl = ttl
        self._held: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: int) -> int | None:
        entry = self._held.get(key)
        return None if entry is None else entry.version

    def store(self, key: int, version: int, change: str) -> None:
        entry = self._held[key] = _Entry(version)
        self.sim.record.copy_change(self.sim.env.now, self.copy, key, version, change)
        if self.ttl:
            self.sim.after(self.ttl, self._expire, (key, entry))

    def _expire(self, item) -> None:
        key, entry = item
        if self._held.get(key) is entry:
            del self._held[key]
            self.sim.record.copy_change(self.sim.env.now, self.copy, key, -1, "expire")

    def delete(self, key: int, change: str = "delete") -> None:
        if self._held.pop(key, None) is not None:
            self.sim.record.copy_change(self.sim.env.now, self.copy, key, -1, change)

    def lose_all(self, change: str = "crash") -> None:
        now = self.sim.env.now
        for key in sorted(self._held):
            self.sim.record.copy_change(now, self.copy, key, -1, change)
        self._held.clear()
