"""Sediment: a distributed-state fault-injection simulator."""

__version__ = "0.1.0"
