"""Plain values for JSON: what the summary and the CAP row hand out."""

from __future__ import annotations

import math

import numpy as np


def plain(value):
    """A numpy or Python scalar as a plain Python value; NaN and infinities become ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value
