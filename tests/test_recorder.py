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


def test_rows_moved_into_the_columns_in_chunks_come_out_as_recorded(monkeypatch):
    # Rows wait as tuples and move into the columns every CHUNK rows, each table
    # on its own schedule; strings first seen in any table at any time keep theirs.
    from simulator import recorder as module
    monkeypatch.setattr(module, "CHUNK", 7)
    recorder = Recorder()
    expected_ops, expected_copies, rows = [], [], []
    for i in range(40):
        node, error = f"api-{i % 5}", ("" if i % 4 else f"why-{i}")
        recorder.op(i, i % 3, "read" if i % 2 else "write", i, i * 0.5, i * 0.5 + 0.1,
                    "ok" if error == "" else "fail", i - 1, f"copy-{i % 6}", node, error)
        expected_ops.append((i, i % 3, "read" if i % 2 else "write", i, i * 0.5, i * 0.5 + 0.1,
                             "ok" if error == "" else "fail", i - 1, f"copy-{i % 6}", node,
                             error))
        if i % 3 == 0:
            recorder.copy_change(i * 0.25, f"copy-{i % 6}", i, i, f"change-{i % 7}")
            expected_copies.append((i * 0.25, f"copy-{i % 6}", i, i, f"change-{i % 7}"))
            rows.append(recorder.commit(i, i, i * 0.25, f"source-{i % 2}", i))
        assert len(recorder.ops) == i + 1
    assert rows == list(range(len(rows)))  # a commit's row counts the buffered ones too
    history = recorder.history({})
    assert list(history.ops.itertuples(index=False, name=None)) == expected_ops
    assert list(history.copies.itertuples(index=False, name=None)) == expected_copies
    assert list(history.truth["source"]) == [f"source-{i % 2}" for i in range(0, 40, 3)]


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
