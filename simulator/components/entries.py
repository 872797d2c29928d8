"""What a cache-like copy holds: key -> version, with TTL expiry as real events.

Every change is recorded in the history when it happens in simulated time,
expiry and eviction included, so the history says exactly what a read would
have seen.  Optional: a capacity with least-recently-used eviction, and TTL
jitter (each entry lives a TTL drawn uniformly from ``ttl * (1 +- jitter)``).

Without jitter every entry lives the same TTL, so entries fall due in the
order they were stored: they wait in a FIFO queue behind a single alarm set
for the oldest live one (entries overwritten or deleted meanwhile are
skipped), instead of an alarm each in the event queue, where thousands of
them would make every other event slower to schedule.  With jitter they wait
in a heap, still behind one alarm.

Deadlines are kept on the clock of the node that holds the copy (see
``simulator.clocks``), as a real cache keeps absolute expiry times: a clock
that jumps ahead expires entries early, one that runs slow keeps them late.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from heapq import heapify, heappop, heappush
from itertools import count


class _Entry:
    __slots__ = ("version",)

    def __init__(self, version: int) -> None:
        self.version = version


class Entries:
    def __init__(self, sim, copy: str, ttl: float, *, capacity: int = 0,
                 jitter: float = 0.0, stream=None, clocks=None, node: str = "") -> None:
        self.sim = sim
        self.copy = copy
        self.ttl = ttl
        self.capacity = capacity
        self.jitter = jitter
        self.stream = stream
        self._held: OrderedDict[int, _Entry] = OrderedDict()
        #: (deadline on the node's clock, tie-break, key, entry): a FIFO queue
        #: without jitter, a heap with it; one alarm, for the earliest
        self._due = [] if jitter else deque()
        #: a FIFO queue stays in deadline order only without jitter and clock steps
        self._heap = bool(jitter)
        self._order = count()
        self._alarm = 0  # the alarm that counts; older ones are ignored when they ring
        self._armed = False
        self._clocks, self._node = clocks, node
        if clocks is not None:
            clocks.watchers.setdefault(node, []).append(self._rearm)

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
            clock = self.sim.env.now if self._clocks is None else \
                self._clocks.read(self._node)
            if self._heap:
                ttl = self.ttl
                if self.jitter:
                    ttl *= 1.0 + self.jitter * (2.0 * self.stream.uniform() - 1.0)
                item = (clock + ttl, next(self._order), key, entry)
                heappush(self._due, item)
                if not self._armed or self._due[0] is item:  # a new earliest
                    self._arm()
                return
            self._due.append((clock + self.ttl, 0, key, entry))
            if not self._armed:
                self._arm()

    def _when(self, deadline: float) -> float:
        """The true time at which the node's clock reads ``deadline``."""
        if self._clocks is None:
            return deadline
        return self._clocks.when(self._node, deadline)

    def _arm(self) -> None:
        self._armed = True
        self._alarm += 1
        self.sim.at(self._when(self._due[0][0]), self._expire_due, self._alarm)

    def _rearm(self) -> None:
        """The node's clock was stepped or changed rate: every deadline moved, and
        entries stored from now on may fall due before older ones (a clock stepped
        back): from here on they wait in a heap."""
        if not self._heap:
            self._heap = True
            self._due = [(deadline, next(self._order), key, entry)
                         for deadline, _, key, entry in self._due]
            heapify(self._due)
        if self._armed:
            self._arm()

    def _expire_due(self, alarm: int) -> None:
        """Expire every entry due now; set the alarm for the next one still held."""
        if alarm != self._alarm:
            return  # superseded by a later alarm
        now = self.sim.env.now
        clock = now if self._clocks is None else self._clocks.read(self._node)
        if clock != now:  # a skewed clock: allow for the rounding of its arithmetic
            clock += _SLACK
        due, held = self._due, self._held
        pop = heappop if self._heap else deque.popleft
        while due and (due[0][0] <= clock or held.get(due[0][2]) is not due[0][3]):
            _, _, key, entry = pop(due)
            if held.get(key) is entry:
                del held[key]
                self.sim.record.copy_change(now, self.copy, key, -1, "expire")
        if due:
            self._arm()
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


#: A deadline this close to a skewed clock's reading is due (rounding of clock arithmetic).
_SLACK = 1e-9
