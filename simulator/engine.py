"""The engine: simulated clock, named random streams and the recorder.

A thin layer over ``simpy.Environment``.  Components schedule plain callbacks
with :meth:`Simulation.after`, the cheapest thing SimPy's event loop can run
(an object with the event protocol, scheduled with ``Environment.schedule``),
and write multi-step flows as generators driven by :class:`Flow`, which
resumes them straight from callbacks instead of through a SimPy process per
request.  SimPy processes remain available for hand-written components.
"""

from __future__ import annotations

from typing import Callable

import simpy
from simpy.core import NORMAL

from .recorder import Recorder
from .streams import Streams


class Alarm:
    """A scheduled callback, as SimPy's event loop sees an event.

    ``Environment.step`` pops it, takes its ``callbacks`` and calls them with
    it; ``_ok`` tells the loop it did not fail.
    """

    __slots__ = ("callbacks", "_ok", "_value", "fn")


def _fire(alarm: Alarm) -> None:
    alarm.fn(alarm._value)


class Simulation:
    """Clock, streams and recorder of one run."""

    def __init__(self, seed: int) -> None:
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.record = Recorder()
        self._schedule = self.env.schedule

    @property
    def now(self) -> float:
        return self.env.now

    def after(self, delay: float, callback: Callable[[object], None], value=None) -> None:
        """Call ``callback(value)`` ``delay`` simulated seconds from now."""
        alarm = Alarm()
        alarm.callbacks = [_fire]
        alarm._ok = True
        alarm._value = value
        alarm.fn = callback
        self._schedule(alarm, NORMAL, delay)

    def event(self) -> simpy.Event:
        return self.env.event()

    def process(self, generator) -> simpy.Process:
        return self.env.process(generator)

    def run(self, until: float, progress: Callable[[float], None] | None = None,
            steps: int = 200) -> None:
        """Run to ``until``; call ``progress(now)`` ``steps`` times along the way."""
        if progress is None:
            self.env.run(until=until)
            return
        for i in range(1, steps + 1):
            self.env.run(until=until * i / steps)
            progress(self.env.now)


class Waiting:
    """Something a :class:`Flow` waits for; whoever completes it calls ``then(value)``."""

    __slots__ = ("then",)

    def __init__(self) -> None:
        self.then = None


class Flow:
    """A generator driven by callbacks: the request flows of components.

    The generator yields either a number (sleep that many simulated seconds)
    or a :class:`Waiting` (a pending reply, a turn in a queue), and receives
    what it waited for.  :meth:`stop` closes it at once: its ``finally``
    blocks run, and late replies are ignored.
    """

    __slots__ = ("generator", "alive", "_after")

    def __init__(self, sim: Simulation, node=None) -> None:
        self.generator = None
        self.alive = False
        # a flow run by a node sleeps on the node's clock, which a pause stops
        self._after = node.after if node is not None else sim.after

    def start(self, generator) -> None:
        self.generator = generator
        self.alive = True
        self.resume(None)

    def resume(self, value) -> None:
        if not self.alive:
            return
        try:
            wait = self.generator.send(value)
        except StopIteration:
            self.alive = False
            return
        if isinstance(wait, (float, int)):
            self._after(wait, self.resume)
        else:
            wait.then = self.resume

    def stop(self) -> None:
        if self.alive:
            self.alive = False
            self.generator.close()
