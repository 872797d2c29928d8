"""What a cache-like copy holds: key -> version, with TTL expiry as real events.

Every change is recorded in the history when it happens in simulated time,
expiry and eviction included, so the history says exactly what a read would
have seen.  Optional: a capacity with least-recently-used eviction, and TTL
jitter (each entry lives a TTL drawn uniformly from ``ttl * (1 +- jitter)``).

Without jitter every entry lives the same TTL, so entries fall due in the
order they were stored: they wait in a FIFO queue behind a single alarm set
for the oldest live one (entries overwritten or deleted meanwhile are
skipped), instead of an alarm each in the event queue, where thousands of
them would make every other event slower to schedule.
"""

from __future__ import annotations

from collections import OrderedDict, deque


class _Entry:
    __slots__ = ("version",)

    def __init__(self, version: int) -> None:
        self.version = version


class Entries:
    def __init__(self, sim, copy: str, ttl: float, *, capacity: int = 0,
                 jitter: float = 0.0, stream=None) -> None:
        self.sim = sim
        self.copy = copy
        self.ttl = ttl
        self.capacity = capacity
        self.jitter = jitter
        self.stream = stream
        self._held: OrderedDict[int, _Entry] = OrderedDict()
        #: without jitter: (due time, key, entry) in due order, the oldest one
        #: still held has an alarm (``_armed``)
        self._due: deque = deque()
        self._armed = False

    def __len__(self) -> int:
        return len(self._held)

    def get(self, key: int) -> int | None:
        """The held version (a read: it counts as a use for LRU)."""
        entry = self._held.get(key)
        if entry is None:
            return None
        if self.capacity:
            self._held.move_to_end(key)
        return entry.version

    def peek(self, key: int) -> int | None:
        """The held version, without counting as a use."""
        entry = self._held.get(key)
        return None if entry is None else entry.version

    def store(self, key: int, version: int, change: str) -> None:
        held = self._held
        if self.capacity and key not in held and len(held) >= self.capacity:
            victim, _ = held.popitem(last=False)
            self.sim.record.copy_change(self.sim.env.now, self.copy, victim, -1, "evict")
        entry = held[key] = _Entry(version)
        if self.capacity:
            held.move_to_end(key)
        self.sim.record.copy_change(self.sim.env.now, self.copy, key, version, change)
        if self.ttl:
            if self.jitter:
                ttl = self.ttl * (1.0 + self.jitter * (2.0 * self.stream.uniform() - 1.0))
                self.sim.after(ttl, self._expire, (key, entry))
                return
            due = self.sim.env.now + self.ttl
            self._due.append((due, key, entry))
            if not self._armed:
                self._armed = True
                self.sim.at(due, self._expire_due)

    def _expire(self, item) -> None:
        key, entry = item
        if self._held.get(key) is entry:
            del self._held[key]
            self.sim.record.copy_change(self.sim.env.now, self.copy, key, -1, "expire")

    def _expire_due(self, _) -> None:
        """Expire every entry due now; set the alarm for the next one still held."""
        now = self.sim.env.now
        due, held = self._due, self._held
        while due and (due[0][0] <= now or held.get(due[0][1]) is not due[0][2]):
            _, key, entry = due.popleft()
            if held.get(key) is entry:
                del held[key]
                self.sim.record.copy_change(now, self.copy, key, -1, "expire")
        if due:
            self.sim.at(due[0][0], self._expire_due)
        else:
            self._armed = False

    def delete(self, key: int, change: str = "delete") -> None:
        if self._held.pop(key, None) is not None:
            self.sim.record.copy_change(self.sim.env.now, self.copy, key, -1, change)

    def lose_all(self, change: str = "crash") -> None:
        now = self.sim.env.now
        for key in sorted(self._held):
            self.sim.record.copy_change(now, self.copy, key, -1, change)
        self._held.clear()
