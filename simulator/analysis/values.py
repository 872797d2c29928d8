"""Plain values: for JSON (what the summary and the CAP row hand out), and a
column's rows that hold a value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


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


def holds(column: pd.Series, value) -> np.ndarray:
    """``column == value`` as a boolean array.  A column of Python strings is
    compared by numpy: pandas' comparison of object columns is about five times
    slower, and a million-operation history compares its op and status columns
    a dozen times."""
    if column.dtype == object:
        try:
            return np.asarray(column.to_numpy() == value, dtype=bool)
        except TypeError:  # a pd.NA among them: its comparison is NA, not False
            pass
    return (column == value).to_numpy(bool, na_value=False)  # a missing value holds nothing
