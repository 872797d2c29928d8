"""Named random streams derived from the run seed.

Each stream is an independent ``numpy.random.Generator`` seeded from
``SeedSequence([run_seed, hash(name)])`` with a stable hash of the stream's
name, so adding or removing a component never changes the draws of another.
Draws are served from small pre-drawn blocks: a Python float from a list is
much cheaper than one call into numpy per event.  A block is kept reversed
and popped from its end, so draws come out in the order numpy made them.
"""

from __future__ import annotations

import hashlib

import numpy as np

BLOCK = 1024


def name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class Stream:
    """One named source of randomness: uniform, standard normal, standard exponential."""

    __slots__ = ("name", "generator", "_u", "_n", "_e")

    def __init__(self, seed: int, name: str) -> None:
        self.name = name
        self.generator = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([int(seed), name_key(name)])))
        # the rest of the current block of each kind, last draw first
        self._u: list[float] = []
        self._n: list[float] = []
        self._e: list[float] = []

    def uniform(self) -> float:
        """A float in [0, 1)."""
        if not self._u:
            self._u = self.generator.random(BLOCK)[::-1].tolist()
        return self._u.pop()

    def normal(self) -> float:
        """A standard normal draw."""
        if not self._n:
            self._n = self.generator.standard_normal(BLOCK)[::-1].tolist()
        return self._n.pop()

    def exponential(self) -> float:
        """A standard exponential draw (mean 1)."""
        if not self._e:
            self._e = self.generator.standard_exponential(BLOCK)[::-1].tolist()
        return self._e.pop()

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return min(int(self.uniform() * n), n - 1)


class Streams:
    """The run's streams, created on first use by name."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, Stream] = {}

    def __getitem__(self, name: str) -> Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = Stream(self.seed, name)
        return stream
