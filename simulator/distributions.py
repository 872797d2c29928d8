"""Latency distributions.

A distribution is built from a validated spec (a plain dict such as
``{"dist": "exponential", "mean": 0.002}``, durations already in seconds; see
``simulator.scenario.schema.distribution``) and draws from a
:class:`~simulator.streams.Stream`.  Every distribution knows its mean, which
the tests and the docs use.
"""

from __future__ import annotations

import bisect
import math

from .streams import Stream


class Constant:
    def __init__(self, value: float) -> None:
        self.value = float(value)
        self.mean = self.value

    def sample(self, stream: Stream) -> float:
        return self.value


class Uniform:
    def __init__(self, low: float, high: float) -> None:
        self.low, self.width = float(low), float(high) - float(low)
        self.mean = self.low + self.width / 2

    def sample(self, stream: Stream) -> float:
        return self.low + self.width * stream.uniform()


class Exponential:
    def __init__(self, mean: float) -> None:
        self.mean = float(mean)

    def sample(self, stream: Stream) -> float:
        return self.mean * stream.exponential()


class Normal:
    """A normal distribution truncated at 0 (negative draws are redrawn)."""

    def __init__(self, mean: float, stddev: float) -> None:
        self.mu, self.sigma = float(mean), float(stddev)
        if self.sigma == 0:
            self.mean = max(self.mu, 0.0)
        else:
            # Mean of a normal truncated below at 0.
            alpha = -self.mu / self.sigma
            pdf = math.exp(-alpha * alpha / 2) / math.sqrt(2 * math.pi)
            tail = 0.5 * math.erfc(alpha / math.sqrt(2))
            self.mean = self.mu + self.sigma * pdf / tail if tail > 0 else 0.0

    def sample(self, stream: Stream) -> float:
        if self.sigma == 0:
            return max(self.mu, 0.0)
        for _ in range(1000):
            value = self.mu + self.sigma * stream.normal()
            if value >= 0:
                return value
        return 0.0  # only reachable when almost all mass is below zero


class LogNormal:
    def __init__(self, median: float, sigma: float) -> None:
        self.mu, self.sigma = math.log(median), float(sigma)
        self.mean = math.exp(self.mu + self.sigma ** 2 / 2)

    def sample(self, stream: Stream) -> float:
        return math.exp(self.mu + self.sigma * stream.normal())


class Pareto:
    """Pareto type I: minimum ``scale``, tail index ``shape``."""

    def __init__(self, scale: float, shape: float) -> None:
        self.scale, self.shape = float(scale), float(shape)
        self.mean = self.scale * self.shape / (self.shape - 1) if self.shape > 1 else math.inf

    def sample(self, stream: Stream) -> float:
        return self.scale * (1.0 - stream.uniform()) ** (-1.0 / self.shape)


class Empirical:
    """Inverse-CDF interpolation in a table of percentiles.

    ``percentiles`` maps a percentile (0-100) to a value; below the smallest
    listed percentile the table starts at 0 s at percentile 0.
    """

    def __init__(self, percentiles: dict) -> None:
        points = sorted((float(p) / 100.0, float(v)) for p, v in percentiles.items())
        if points[0][0] > 0:
            points.insert(0, (0.0, 0.0))
        if points[-1][0] < 1:
            points.append((1.0, points[-1][1]))
        self.ps = [p for p, _ in points]
        self.vs = [v for _, v in points]
        self.mean = sum((p1 - p0) * (v0 + v1) / 2
                        for p0, p1, v0, v1 in zip(self.ps, self.ps[1:], self.vs, self.vs[1:]))

    def sample(self, stream: Stream) -> float:
        u = stream.uniform()
        i = bisect.bisect_right(self.ps, u)
        if i >= len(self.ps):
            return self.vs[-1]
        p0, p1 = self.ps[i - 1], self.ps[i]
        v0, v1 = self.vs[i - 1], self.vs[i]
        return v0 + (v1 - v0) * ((u - p0) / (p1 - p0) if p1 > p0 else 0.0)


class Mixture:
    """Pick a component with probability proportional to its weight, then draw from it."""

    def __init__(self, parts: list[tuple[float, object]]) -> None:
        total = sum(w for w, _ in parts)
        self.cumulative = []
        acc = 0.0
        for weight, _ in parts:
            acc += weight / total
            self.cumulative.append(acc)
        self.parts = [d for _, d in parts]
        self.mean = sum(w / total * d.mean for w, d in parts)

    def sample(self, stream: Stream) -> float:
        i = bisect.bisect_right(self.cumulative, stream.uniform())
        return self.parts[min(i, len(self.parts) - 1)].sample(stream)


class Shifted:
    """``base`` plus ``extra``: used when a fault adds latency to a link or a disk."""

    def __init__(self, base, extra) -> None:
        self.base, self.extra = base, extra
        self.mean = base.mean + extra.mean

    def sample(self, stream: Stream) -> float:
        return self.base.sample(stream) + self.extra.sample(stream)


def build(spec: dict):
    """A distribution object from a validated spec."""
    kind = spec["dist"]
    if kind == "constant":
        return Constant(spec["value"])
    if kind == "uniform":
        return Uniform(spec["low"], spec["high"])
    if kind == "exponential":
        return Exponential(spec["mean"])
    if kind == "normal":
        return Normal(spec["mean"], spec["stddev"])
    if kind == "lognormal":
        return LogNormal(spec["median"], spec["sigma"])
    if kind == "pareto":
        return Pareto(spec["scale"], spec["shape"])
    if kind == "empirical":
        return Empirical(spec["percentiles"])
    if kind == "mixture":
        return Mixture([(part["weight"], build(part)) for part in spec["of"]])
    raise ValueError(f"unknown distribution {kind!r}")


ZERO = Constant(0.0)
