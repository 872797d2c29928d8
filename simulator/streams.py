"""Named random streams derived from the run seed.

Each stream is an independent ``numpy.random.Generator`` seeded from
``SeedSequence([run_seed, hash(name)])`` with a stable hash of the stream's
name, so adding or removing a component never changes the draws of another.
Draws are served from small pre-drawn blocks: a Python float from a list is
much cheaper than one call into numpy per event.
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

    __slots__ = ("name", "generator", "_u", "_ui", "_n", "_ni", "_e", "_ei")

    def __init__(self, seed: int, name: str) -> None:
        self.name = name
        self.generator = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([int(seed), name_key(name)])))
        self._u: list[float] = []
        self._ui = 0
        self._n: list[float] = []
        self._ni = 0
        self._e: list[float] = []
        self._ei = 0

    def uniform(self) -> float:
        """A float in [0, 1)."""
        if self._ui >= len(self._u):
            self._u = self.generator.random(BLOCK).tolist()
            self._ui = 0
        value = self._u[self._ui]
        self._ui += 1
        return value

    def normal(self) -> float:
        """A standard normal draw."""
        if self._ni >= len(self._n):
            self._n = self.generator.standard_normal(BLOCK).tolist()
            self._ni = 0
        value = self._n[self._ni]
        self._ni += 1
        return value

    def exponential(self) -> float:
        """A standard exponential draw (mean 1)."""
        if self._ei >= len(self._e):
            self._e = self.generator.standard_exponential(BLOCK).tolist()
            self._ei = 0
        value = self._e[self._ei]
        self._ei += 1
        return value

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
