"""Each node's clock: the true simulated time, plus what clock faults do to it.

A ``clock`` fault steps a node's clock by ``skew`` when it starts and makes it
run ``drift`` seconds fast per second (negative: slow) while it lasts; at its
end the clock is corrected to the true time again (as NTP would step it).
Faults on one node add up.  Only what a node *reads* from its clock is
skewed (timestamps it puts on writes, the expiry deadlines of its cache
entries); the simulation itself always runs on true time.
"""

from __future__ import annotations


#: The slowest rate a clock can run at, in its seconds per true second.
_SLOWEST = 0.1


class Clocks:
    def __init__(self, sim) -> None:
        self.sim = sim
        #: node -> the clock faults on it: [(skew, drift, since)]
        self._faults: dict[str, list[tuple[float, float, float]]] = {}
        #: called with the node's name whenever its clock is stepped or changes rate
        self.watchers: dict[str, list] = {}

    def read(self, node: str) -> float:
        """What ``node``'s clock says now."""
        now = self.sim.env.now
        faults = self._faults.get(node)
        if not faults:
            return now
        return now + sum(skew + drift * (now - since) for skew, drift, since in faults)

    def rate(self, node: str) -> float:
        """How many of its seconds ``node``'s clock counts per true second."""
        return 1.0 + sum(drift for _, drift, _ in self._faults.get(node, ()))

    def when(self, node: str, reading: float) -> float:
        """The true time at which ``node``'s clock will read ``reading`` (now if it
        already does); exactly ``reading`` for a clock without faults."""
        if not self._faults.get(node):
            return max(reading, self.sim.env.now)
        return self.sim.env.now + self.until(node, reading)

    def until(self, node: str, reading: float) -> float:
        """True seconds from now until ``node``'s clock reads ``reading`` (0 if it does)."""
        return max(0.0, (reading - self.read(node)) / self.rate(node))

    def skew(self, node: str, skew: float, drift: float) -> tuple:
        """Start a clock fault on ``node``; returns what :meth:`correct` needs.

        Drifts of overlapping faults add up, limited so that a clock never runs
        slower than a tenth of true time (nor backwards)."""
        drift = max(drift, _SLOWEST - self.rate(node))
        entry = (skew, drift, self.sim.env.now)
        self._faults.setdefault(node, []).append(entry)
        self._changed(node)
        return entry

    def correct(self, node: str, entry: tuple) -> None:
        """End a clock fault: the node's clock no longer has it."""
        self._faults[node].remove(entry)
        self._changed(node)

    def _changed(self, node: str) -> None:
        for watcher in self.watchers.get(node, ()):
            watcher()
