"""Exporting the client history in Jepsen's EDN and as JSON lines."""

from __future__ import annotations

import json
import re

import pandas as pd

from simulator.export import events, to_edn, to_jsonl
from simulator.history import History, empty


def history() -> History:
    ops = pd.DataFrame([
        # index, process, op, key, invoke, complete, status, version, served_by
        (0, 0, "write", 7, 0.001, 0.004, "ok", 1, "db-primary"),
        (1, 1, "read", 7, 0.002, 0.003, "ok", 0, "cache"),
        (2, 0, "read", 7, 0.005, 0.006, "ok", 1, "cache"),
        (3, 2, "write", 7, 0.0055, 1.0055, "info", -1, ""),
        (4, 3, "read", 8, 0.007, 0.008, "fail", -1, ""),
    ], columns=["index", "process", "op", "key", "invoke_s", "complete_s", "status", "version",
                "served_by"])
    truth = pd.DataFrame({"key": [7, 7], "version": [1, 2], "commit_s": [0.0035, 0.5],
                          "source": "db-primary", "writer": [0, 3]})
    return History(ops=ops, truth=truth, copies=empty("copies"), copy_info=empty("copy_info"),
                   faults=empty("faults"))


def test_events_are_invokes_and_completions_in_time_order():
    table = events(history())
    assert len(table) == 10
    assert list(table["index"]) == list(range(10))
    assert (table["time_ns"].diff().dropna() >= 0).all()
    assert list(table["type"][:3]) == ["invoke", "invoke", "ok"]  # op 1 completes at 3 ms
    assert table.loc[0, "time_ns"] == 1_000_000


def test_writes_carry_unique_values_and_reads_return_the_writers_value():
    table = events(history()).set_index(["op", "type"])
    assert table.loc[(0, "invoke"), "value"] == 0 and table.loc[(0, "ok"), "value"] == 0
    assert table.loc[(3, "info"), "value"] == 3
    assert table.loc[(1, "ok"), "value"] == -1      # version 0: the initial nil
    assert table.loc[(2, "ok"), "value"] == 0       # version 1 was written by op 0
    assert table.loc[(4, "fail"), "value"] == -1


def test_edn_lines_have_jepsen_fields():
    lines = to_edn(history()).splitlines()
    assert len(lines) == 10
    pattern = re.compile(r"^\{:index \d+, :time \d+, :type :(invoke|ok|fail|info), "
                         r":process \d+, :f :(read|write), :value \[\d+ (nil|\d+)\]\}$")
    assert all(pattern.match(line) for line in lines), lines
    # op 2 (process 0) read version 1, whose writer was op 0: the value 0
    assert any(line.endswith(":type :ok, :process 0, :f :read, :value [7 0]}")
               for line in lines)


def test_jsonl_parses_and_keeps_sediment_fields():
    records = [json.loads(line) for line in to_jsonl(history()).splitlines()]
    assert [r["index"] for r in records] == list(range(10))
    ok_read = next(r for r in records if r["op"] == 2 and r["type"] == "ok")
    assert ok_read["value"] == [7, 0] and ok_read["served_by"] == "cache"
    assert ok_read["version"] == 1
    assert next(r for r in records if r["op"] == 1 and r["type"] == "ok")["value"] == [7, None]


def test_empty_history_exports_nothing():
    empty_history = History(ops=empty("ops"), truth=empty("truth"), copies=empty("copies"),
                            copy_info=empty("copy_info"), faults=empty("faults"))
    assert to_edn(empty_history) == "" and to_jsonl(empty_history) == ""


def test_a_process_never_has_two_operations_outstanding_in_the_export():
    import simulator
    data = {"duration": "1s", "network": {"latency": 0},
            "components": {"db": {"kind": "database", "disk_write": 0, "read_time": 0}},
            "workload": {"target": "db", "arrivals": "closed", "clients": 2, "think": 0,
                         "read_fraction": 0.5}}
    history = simulator.run(data, seed=1).history
    table = events(history)
    assert len(table) > 100
    for _, mine in table.groupby("process"):
        kinds = list(mine["type"])
        assert kinds[0::2] == ["invoke"] * len(kinds[0::2])
        assert "invoke" not in kinds[1::2]


def test_reads_get_the_writer_of_their_own_source_and_a_version_committed_twice_once():
    import pandas as pd
    from simulator.export import events
    from simulator.history import History
    ops = pd.DataFrame({"index": [0, 1, 2], "process": [0, 1, 2],
                        "op": ["write", "read", "read"], "key": [0, 0, 0],
                        "invoke_s": [1.0, 2.0, 2.0], "complete_s": [1.1, 2.1, 2.1],
                        "status": ["ok", "ok", "ok"], "version": [1, 1, 1],
                        "served_by": ["a", "a", "b"], "node": "", "error": ""})
    truth = pd.DataFrame({"key": [0, 0, 0], "version": [1, 1, 1],
                          "commit_s": [1.05, 1.5, 0.5], "source": ["a", "a", "b"],
                          "writer": [0, 0, 7], "lost_s": [1.2, float("nan"), float("nan")]})
    info = pd.DataFrame({"copy": [], "component": [], "kind": [], "source": [],
                         "initial": [], "learns_stale_by": []})
    faults = pd.DataFrame({"fault": [], "kind": [], "start_s": [], "end_s": [], "targets": []})
    history = History(ops=ops, truth=truth, copies=pd.DataFrame(
        {"time_s": [], "copy": [], "key": [], "version": []}), copy_info=info, faults=faults)
    table = events(history)
    done = table[table["type"] == "ok"].set_index("op")
    assert len(table) == 6
    assert done.loc[1, "value"] == 0 and done.loc[2, "value"] == 7
