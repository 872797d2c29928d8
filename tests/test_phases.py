"""Availability and stale fraction overall and before, during and after each fault."""

import math

import pytest
from conftest import make_history

from simulator.analysis import availability, availability_by, phases, stale_reads
from simulator.analysis.phases import PHASE_COLUMNS


@pytest.fixture(name="partitioned")
def partitioned_history():
    """A partition over [2, 4): one op before, three during (one at the start instant), two after."""
    return make_history(
        ops=[
            ("read", 0, 1.5, 2.5, "ok", 0, "db", "svc-1"),  # invoked before, completes during: before
            ("write", 0, 2.0, 2.1, "ok", 1, "db", "svc-1"),  # at the start instant: during
            ("read", 0, 3.0, 3.1, "ok", 0, "replica", "svc-2"),  # during, stale
            ("read", 0, 3.5, 4.5, "info", -1, "", "svc-2"),  # during
            ("write", 0, 4.0, 4.1, "fail", -1, "", ""),  # at the end instant: after
            ("read", 0, 6.0, 6.1, "ok", 1, "db", "svc-1"),  # after
        ],
        truth=[(0, 1, 2.1)],
        faults=[("partition-1", "partition", 2.0, 4.0)],
        duration=8,
    )


def test_phases_assign_operations_by_invoke_time(partitioned):
    table = phases(partitioned).set_index("name")
    assert list(table.index) == ["overall", "before partition-1", "during partition-1", "after partition-1"]
    assert table["ops"].tolist() == [6, 1, 3, 2]
    assert table["ok"].tolist() == [4, 1, 2, 1]
    assert table["fail"].tolist() == [1, 0, 0, 1]
    assert table["info"].tolist() == [1, 0, 1, 0]
    assert table["reads_ok"].tolist() == [3, 1, 1, 1]
    assert table["stale"].tolist() == [1, 0, 1, 0]
    assert table.loc["during partition-1", "availability"] == pytest.approx(2 / 3)
    assert table.loc["after partition-1", "availability"] == 0.5
    assert table.loc["overall", "stale_fraction"] == pytest.approx(1 / 3)
    assert table.loc["during partition-1", "stale_fraction"] == 1.0


def test_phase_bounds_and_fault_names(partitioned):
    table = phases(partitioned)
    assert list(table.columns) == PHASE_COLUMNS
    assert table["fault"].tolist() == ["", "partition-1", "partition-1", "partition-1"]
    assert table["start_s"].tolist() == [0.0, 0.0, 2.0, 4.0]
    assert table["end_s"].tolist() == [8.0, 2.0, 4.0, 8.0]


def test_each_fault_splits_all_operations_into_three(partitioned):
    partitioned.faults.loc[len(partitioned.faults)] = ["deploy-1", "deploy", 0.0, 5.0, ""]
    table = phases(partitioned)
    overall = table.iloc[0]
    for fault in ("partition-1", "deploy-1"):
        mine = table[table["fault"] == fault]
        for column in ("ops", "ok", "fail", "info", "reads_ok", "stale"):
            assert mine[column].sum() == overall[column]
    assert table["name"].tolist()[4:] == ["before deploy-1", "during deploy-1", "after deploy-1"]


def test_stale_fraction_is_nan_without_ok_reads_and_availability_without_ops():
    history = make_history(
        ops=[("write", 0, 5.0, 5.1, "ok", 1)], truth=[(0, 1, 5.1)], faults=[("p", "partition", 1.0, 2.0)], duration=6
    )
    table = phases(history).set_index("name")
    assert math.isnan(table.loc["overall", "stale_fraction"])
    assert math.isnan(table.loc["before p", "availability"])
    assert table.loc["after p", "availability"] == 1.0


def test_precomputed_stale_reads_are_used(partitioned):
    stale = stale_reads(partitioned)
    stale["stale"] = True
    assert phases(partitioned, stale=stale).iloc[0]["stale"] == 3


def test_no_faults_gives_only_the_overall_row():
    table = phases(make_history(duration=3))
    assert table["name"].tolist() == ["overall"]
    assert table["ops"].tolist() == [0]
    assert math.isnan(table["availability"].iloc[0])


def test_availability_overall(partitioned):
    assert availability(partitioned) == pytest.approx(4 / 6)
    assert math.isnan(availability(make_history()))


def test_availability_by_node_and_op(partitioned):
    by_node = availability_by(partitioned, "node")
    assert by_node.columns.tolist() == ["node", "ops", "ok", "fail", "info", "availability"]
    assert by_node["node"].tolist() == ["", "svc-1", "svc-2"]
    assert by_node["ops"].tolist() == [1, 3, 2]
    assert by_node["availability"].tolist() == [0.0, 1.0, 0.5]
    by_op = availability_by(partitioned, "op").set_index("op")
    assert by_op.loc["read", "ops"] == 4 and by_op.loc["read", "info"] == 1
    assert by_op.loc["write", "availability"] == 0.5


def test_availability_by_rejects_unknown_columns(partitioned):
    with pytest.raises(ValueError, match="no column"):
        availability_by(partitioned, "colour")


def test_availability_by_on_an_empty_history():
    table = availability_by(make_history(), "node")
    assert len(table) == 0
    assert "availability" in table.columns


def test_phantom_reads_are_counted_by_phase_beside_the_stale_ones():
    # v1 is lost at 2.5 s (never part of the surviving truth): every read of it is a
    # phantom, and the one invoked after v2 committed is stale as well.
    history = make_history(
        ops=[
            ("read", 0, 1.5, 1.6, "ok", 1),  # before: phantom, not stale
            ("read", 0, 3.0, 3.1, "ok", 1),  # during: phantom and stale
            ("read", 0, 3.5, 3.6, "ok", 9),  # during: phantom (never written)
            ("read", 0, 6.0, 6.1, "ok", 2),  # after: neither
        ],
        truth=[(0, 1, 1.0, 2.5), (0, 2, 2.0)],
        faults=[("partition-1", "partition", 2.0, 4.0)],
        duration=8,
    )
    table = phases(history).set_index("name")
    assert table["phantom"].tolist() == [3, 1, 2, 0]
    assert table["stale"].tolist() == [1, 0, 1, 0]
