"""The engine: simulated clock, named random streams and the recorder.

A thin layer over ``simpy.Environment``.  Components schedule plain callbacks
with :meth:`Simulation.after`, the cheapest thing SimPy's event loop can run
(an object with the event protocol, scheduled with ``Environment.schedule``),
and write multi-step flows as generators driven by :class:`Flow`, which
resumes them straight from callbacks instead of through a SimPy process per
request.  SimPy processes remain available for hand-written components.

:meth:`Simulation.run` runs SimPy's own event queue with a loop of its own:
the same events in the same order as ``Environment.run`` (one queue, one
sequence of event ids), but an :class:`Alarm`, and any event class with a
handler in :attr:`Simulation.handlers` (the network's messages), is
dispatched straight to its function instead of through ``Environment.step``.
Every other event is processed exactly as ``Environment.step`` does.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Callable

import simpy
from simpy.core import NORMAL, URGENT

from .recorder import Recorder
from .streams import Streams


class Alarm:
    """A scheduled callback, as SimPy's event loop sees an event.

    ``Environment.step`` pops it, takes its ``callbacks`` and calls them with
    it; ``_ok`` tells the loop it did not fail.
    """

    __slots__ = ("callbacks", "_value", "fn")
    _ok = True


def _fire(alarm: Alarm) -> None:
    alarm.fn(alarm._value)


#: The callbacks of every alarm (SimPy's ``step`` iterates it and never changes it).
_FIRE = [_fire]


class _Stop:
    """The end of a :meth:`Simulation.run`, scheduled like ``Environment.run``'s own."""

    __slots__ = ("callbacks",)
    _ok = True


class Simulation:
    """Clock, streams and recorder of one run."""

    def __init__(self, seed: int) -> None:
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.record = Recorder()
        self._schedule = self.env.schedule
        # SimPy's queue and event-id counter, shared: an event scheduled here
        # or through the environment takes its place in one order.
        self.queue = self.env._queue
        self.eid = self.env._eid
        #: event class -> function called with the event when it is due
        #: (instead of the event's ``callbacks``)
        self.handlers: dict[type, Callable] = {}

    @property
    def now(self) -> float:
        return self.env.now

    def after(self, delay: float, callback: Callable[[object], None], value=None) -> None:
        """Call ``callback(value)`` ``delay`` simulated seconds from now."""
        alarm = Alarm()
        alarm.callbacks = _FIRE
        alarm._value = value
        alarm.fn = callback
        heappush(self.queue, (self.env._now + delay, NORMAL, next(self.eid), alarm))

    def at(self, time: float, callback: Callable[[object], None], value=None) -> None:
        """Call ``callback(value)`` at simulated ``time`` exactly (not before now)."""
        alarm = Alarm()
        alarm.callbacks = _FIRE
        alarm._value = value
        alarm.fn = callback
        heappush(self.queue, (time, NORMAL, next(self.eid), alarm))

    def event(self) -> simpy.Event:
        return self.env.event()

    def process(self, generator) -> simpy.Process:
        return self.env.process(generator)

    def run(self, until: float, progress: Callable[[float], None] | None = None,
            steps: int = 200) -> None:
        """Run to ``until``; call ``progress(now)`` ``steps`` times along the way."""
        if progress is None:
            self._run(until)
            return
        for i in range(1, steps + 1):
            self._run(until * i / steps)
            progress(self.env.now)

    def _run(self, at: float) -> None:
        """``Environment.run(until=at)``, with alarms and handled events dispatched directly."""
        env = self.env
        now = env._now
        if at <= now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = _Stop()
        stop.callbacks = []
        # the stop comes before every other event due at that instant, as in SimPy
        heappush(self.queue, (now + (at - now), URGENT, next(self.eid), stop))
        queue, handlers, pop = self.queue, self.handlers, heappop
        while True:
            now, _, _, event = pop(queue)
            env._now = now
            cls = event.__class__
            if cls is Alarm:
                event.fn(event._value)
                continue
            handler = handlers.get(cls)
            if handler is not None:
                handler(event)
            elif event is stop:
                return
            else:  # what Environment.step does with any other event
                callbacks, event.callbacks = event.callbacks, None
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    error = type(event._value)(*event._value.args)
                    error.__cause__ = event._value
                    raise error


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
