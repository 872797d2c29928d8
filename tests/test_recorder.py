"""The recorder's conversion to a History, and what a History shares with its inputs."""

from __future__ import annotations

import pandas as pd

from simulator.history import History, empty
from simulator.recorder import Recorder


def _op(recorder, index, complete):
    recorder.op(index, index, "read", index % 3, 0.5 * index, complete, "ok", 1, "db", "api-1", "")


def test_operations_come_out_in_index_order_and_recording_can_go_on():
    recorder = Recorder()
    for index, complete in [(0, 2.0), (2, 2.5), (1, 3.0)]:  # completions out of order
        _op(recorder, index, complete)
    recorder.commit(1, 1, 0.25, "db", 0)  # in order: converted without reordering
    first = recorder.history({})
    assert list(first.ops["index"]) == [0, 1, 2]
    assert list(first.ops["complete_s"]) == [2.0, 3.0, 2.5]
    assert list(first.ops.index) == [0, 1, 2]
    # the history holds no view of the recorder's buffers: they can still grow
    for index in range(3, 2000):
        _op(recorder, index, index + 1.0)
    for version in range(2, 2000):
        recorder.commit(1, version, 0.25 + version, "db", 0)
    second = recorder.history({})
    assert len(second.ops) == 2000 and len(second.truth) == 1999
    assert list(first.ops["index"]) == [0, 1, 2]


def test_a_history_never_shares_writes_with_the_frames_it_was_made_from():
    ops = pd.DataFrame({"index": [0], "process": [0], "op": ["read"], "key": [1],
                        "invoke_s": [0.0], "complete_s": [0.1], "status": ["ok"], "version": [1],
                        "served_by": ["db"], "node": ["api-1"], "error": [""]})
    history = History(ops=ops, truth=empty("truth"), copies=empty("copies"),
                      copy_info=empty("copy_info"), faults=empty("faults"))
    ops.loc[0, "version"] = 7
    ops.loc[0, "status"] = "fail"
    assert history.ops.loc[0, "version"] == 1 and history.ops.loc[0, "status"] == "ok"
    history.ops.loc[0, "key"] = 9
    assert ops.loc[0, "key"] == 1


def test_a_finished_run_releases_its_recorded_columns():
    # The world's recorder sits in reference cycles after the run; its columns
    # (100 MB at a million operations) are dropped once the history holds them.
    from simulator.scenario import load
    from simulator.world import World
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    world = World(load(root / "scenarios" / "partition.yaml", ["faults=[]"], duration=5.0), 1)
    history = world.run()
    assert len(history.ops) > 500 and len(history.copies) > 0 and len(history.truth) > 0
    record = world.sim.record
    for table in (record.ops, record.truth, record.copies):
        assert all(len(column) == 0 for column in table.columns.values())
