"""The Python API as a notebook uses it: what it accepts, and what it shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError

#: the partition story, short
SHORT = {"duration": "12s", "overrides": ["workload.rate=50", "faults.0.start=4s",
                                         "faults.0.duration=4s"]}


def test_the_run_s_seed_is_checked_and_is_the_scenario_s():
    result = simulator.run("partition", seed=2, **SHORT)
    assert result.seed == 2 and result.scenario.seed == 2
    # the scenario a result holds replays it
    again = simulator.run(result.scenario)
    pd.testing.assert_frame_equal(again.ops, result.ops)
    for bad, words in ((1.5, "whole number"), (True, "whole number"), (-1, "at least 0")):
        with pytest.raises(ScenarioError, match=words):
            simulator.run("partition", seed=bad, **SHORT)


def test_numpy_integers_are_whole_numbers(tmp_path):
    result = simulator.run("partition", seed=np.int64(3), workload__keys=np.int32(50), **SHORT)
    assert type(result.seed) is int and result.scenario.data["workload"]["keys"] == 50
    result.save(tmp_path / "run")  # summary.json takes the seed
    table = simulator.sweep("partition", seeds=np.arange(2), processes=1, **SHORT)
    assert table["seed"].tolist() == [0, 1]


def test_strings_are_not_taken_one_character_at_a_time():
    with pytest.raises(TypeError, match="seeds is a list of whole numbers"):
        simulator.sweep("partition", seeds="12")
    one = simulator.load("partition", "workload.rate=50")
    assert one.data["workload"]["rate"] == 50


def test_a_measure_s_series_is_a_column_per_entry():
    table = simulator.sweep("partition", seeds=[1], processes=1,
                            measure=lambda r: r.phases.set_index("name")["availability"],
                            **SHORT)
    assert list(table.columns) == ["seed", "overall", "before split", "during split",
                                   "after split"]


def test_changing_ops_leaves_the_analysis_and_the_saved_folder_alone(tmp_path):
    result = simulator.run("partition", **SHORT)
    before = result.summary["availability"]
    ops = result.ops
    ops.loc[ops["status"] != "ok", "status"] = "ok"  # in place, in the caller's copy
    ops["latency"] = ops["complete_s"] - ops["invoke_s"]
    assert before < 1.0 and result.summary["availability"] == before
    folder = result.save(tmp_path / "run")
    assert "latency" not in pd.read_csv(folder / "ops.csv", nrows=1).columns
    # a folder is analysed as its history is
    assert simulator.analyse(folder).summary["ops"] == result.summary["ops"]


def test_a_folder_without_a_history_says_where_the_runs_are(tmp_path):
    (tmp_path / "seed-1").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no history.json.*\(here: seed-1\)"):
        simulator.load_history(tmp_path)


def test_reprs_are_short():
    result = simulator.run("partition", **SHORT)
    assert repr(result.plot).startswith("<figures timeline, divergence")
    shown = repr(result.history)
    assert shown.startswith("<History partition seed=1: ") and len(shown) < 200
    png = result.plot.latency()._repr_png_()
    assert png.startswith(b"\x89PNG")
