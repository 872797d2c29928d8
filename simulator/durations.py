"""Durations with units: ``250us``, ``5ms``, ``2s``, ``1.5m``, ``1h``.

A bare number is seconds.  Results are floats in simulated seconds.
"""

from __future__ import annotations

import math
import re

UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*$")


def parse_duration(value, *, allow_zero: bool = True) -> float:
    """Parse a duration into seconds.

    Raises ``ValueError`` with a message meant for users when the value is not
    a non-negative, finite duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '5ms' or '2s', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        sign = 1.0
        if text.startswith("-"):
            sign, text = -1.0, text[1:]
        match = _PATTERN.match(text)
        if not match or match.group(2) not in UNITS | {"": 1.0}:
            units = ", ".join(u for u in UNITS if u != "µs")
            raise ValueError(
                f"expected a duration like '5ms' or '2s' (units: {units}), got {value!r}")
        seconds = sign * float(match.group(1)) * UNITS.get(match.group(2), 1.0)
    else:
        raise ValueError(f"expected a duration like '5ms' or '2s', got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    if seconds == 0 and not allow_zero:
        raise ValueError(f"a duration must be greater than zero, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``0.0025`` -> ``2.5ms``."""
    if seconds == 0:
        return "0s"
    for unit, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.4g}{unit}"
    return f"{seconds / 1e-6:.4g}us"
