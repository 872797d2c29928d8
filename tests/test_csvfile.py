"""CSV files written by simulator.csvfile are byte for byte what pandas writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator import csvfile

SPECIAL_FLOATS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e16, 9.999999999999998e15, 1e-4,
                  9.99999e-5, 1e-5, 0.1, 1 / 3, 123456789.123, 5e-324, 2.2250738585072014e-308,
                  1.7976931348623157e308, 120.00000000000001, 2.5, 1e22, -7.25e-9]
STRINGS = ["ok", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " padded ", "ünïcode",
           "api-1", "database-connection-reset", "tab\there", "'single'"]


def pandas_bytes(frame, tmp_path) -> bytes:
    path = tmp_path / "pandas.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    return path.read_bytes()


def ours(frame, tmp_path) -> bytes:
    path = tmp_path / "ours.csv"
    csvfile.write(frame, path)
    return path.read_bytes()


def mixed_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63, size=n, dtype=np.int64) * rng.choice([1, -1], size=n)
    anything = bits.view(np.float64)  # every magnitude, subnormals, NaN and inf too
    times = rng.exponential(50.0, size=n)
    floats = np.where(rng.random(n) < 0.1, rng.choice(SPECIAL_FLOATS, size=n), times)
    strings = np.array(STRINGS, dtype=object)[rng.integers(0, len(STRINGS), size=n)]
    strings[rng.random(n) < 0.05] = None
    return pd.DataFrame({
        "index": np.arange(n, dtype=np.int64),
        "key": rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64),
        "time_s": floats,
        "anything": anything,
        "name": strings,
        "stale": rng.random(n) < 0.5,
        "small": rng.integers(-5, 5, size=n).astype(np.int32),
    })


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_columns_match_pandas_byte_for_byte(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(csvfile, "CHUNK", 997)  # several chunks, one of them short
    frame = mixed_frame(5_000, seed)
    assert ours(frame, tmp_path) == pandas_bytes(frame, tmp_path)


@pytest.mark.parametrize("values", [
    np.arange(-40, 60, dtype=np.int64).repeat(30),                    # a small range: a table
    np.int64(2**63 - 1) - np.arange(50, dtype=np.int64).repeat(9),   # at the edge of int64
    np.uint64(2**64 - 1) - np.arange(50, dtype=np.uint64).repeat(9),
    np.array([-2**63, 2**63 - 1] * 400, dtype=np.int64),              # a range of everything
    np.full(500, 7, dtype=np.int16),
    np.arange(10, dtype=np.int8),                                     # too short for a table
])
def test_integer_columns_match_pandas(tmp_path, monkeypatch, values):
    monkeypatch.setattr(csvfile, "CHUNK", 311)
    frame = pd.DataFrame({"n": values, "flag": np.arange(len(values)) % 3 == 0})
    assert ours(frame, tmp_path) == pandas_bytes(frame, tmp_path)


def test_string_dtype_and_missing_values_match_pandas(tmp_path):
    frame = pd.DataFrame({"a": pd.array(["x", None, "y,z"], dtype="string"),
                          "b": [1.5, np.nan, 2.0]})
    assert ours(frame, tmp_path) == pandas_bytes(frame, tmp_path)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": [], "b": []}),                      # header only
    pd.DataFrame({"a": ["", "x"]}),                        # one column: pandas' own rules
    pd.DataFrame({"a,b": [1], 'q"': ["v"]}),               # names that need quoting
    pd.DataFrame({"a": [1, 2], "b": [[1], [2]]}),          # not strings: left to pandas
    pd.DataFrame({"a": [1, 2], "b": pd.Categorical(["x", "y"])}),
])
def test_edge_tables_match_pandas(tmp_path, frame):
    assert ours(frame, tmp_path) == pandas_bytes(frame, tmp_path)


def test_history_tables_use_it(tmp_path, monkeypatch):
    import simulator
    from simulator import history as history_io
    written = []
    real = csvfile.write
    monkeypatch.setattr(csvfile, "write", lambda frame, path: (written.append(path.name),
                                                                real(frame, path)))
    result = simulator.run("scenarios/partition.yaml", overrides=["faults=[]"], duration="2s")
    history_io.save(result.history, tmp_path / "h")
    assert {"ops.csv", "truth.csv", "copies.csv"} <= set(written)
