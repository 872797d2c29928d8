"""Plain values for JSON, and a column's rows that hold a value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.analysis.values import holds, plain


@pytest.mark.parametrize("column", [
    pd.Series(["ok", "fail", "ok", "info", "ok"], dtype=object),
    pd.Series(["ok", "fail", None, "info", "ok"], dtype=object),   # a missing value
    pd.Series(["ok", "fail", "ok", "info", None], dtype="string"),
    pd.Series(["ok", "fail", float("nan"), "ok", "x"], dtype=object),
    pd.Series(["ok", pd.NA, "ok", "info", "ok"], dtype=object),
    pd.Series([], dtype=object),
], ids=["object", "object-missing", "string-dtype", "object-nan", "object-na", "empty"])
def test_holds_is_the_comparison_as_a_boolean_array(column):
    for value in ("ok", "fail", "absent"):
        got = holds(column, value)
        assert isinstance(got, np.ndarray) and got.dtype == bool and len(got) == len(column)
        assert got.tolist() == [bool(x) for x in (column == value).fillna(False)]


def test_holds_keeps_row_positions_whatever_the_index():
    column = pd.Series(["a", "b", "a"], index=[10, 3, 7], dtype=object)
    assert holds(column, "a").tolist() == [True, False, True]


def test_plain_values_for_json():
    assert plain(np.int64(3)) == 3 and type(plain(np.int64(3))) is int
    assert plain(np.bool_(True)) is True
    assert plain(np.float64(0.5)) == 0.5 and type(plain(np.float64(0.5))) is float
    assert plain(float("nan")) is None and plain(math.inf) is None and plain(None) is None
    assert plain("x") == "x"
