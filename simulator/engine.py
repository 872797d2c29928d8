"""The engine: simulated clock, named random streams and the recorder.

A thin layer over ``simpy.Environment``.  Components schedule plain callbacks
with :meth:`Simulation.after` (cheap: one event, no process) and use SimPy
processes only where a flow really has several steps (a service request).
"""

from __future__ import annotations

from typing import Callable

import simpy
from simpy.events import Timeout

from .recorder import Recorder
from .streams import Streams


class Simulation:
    """Clock, streams and recorder of one run."""

    def __init__(self, seed: int) -> None:
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.record = Recorder()

    @property
    def now(self) -> float:
        return self.env.now

    def after(self, delay: float, callback: Callable[[object], None], value=None) -> Timeout:
        """Call ``callback(value)`` ``delay`` simulated seconds from now."""
        event = Timeout(self.env, delay, value)
        event.callbacks.append(lambda ev: callback(ev._value))
        return event

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
