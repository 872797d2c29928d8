"""Sweeps: many runs of one scenario over worker processes, one row per run."""

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator import sweeps
from simulator.errors import ScenarioError, SedimentError

ROOT = Path(__file__).resolve().parent.parent
PARTITION = ROOT / "scenarios" / "partition.yaml"
#: the partition story, short: every run takes a fraction of a second
SHORT = {"duration": 12, "overrides": ["workload.rate=50", "faults.0.start=4s",
                                       "faults.0.duration=4s"]}
TTL = "components.cache.ttl"


def _sweep(grid=None, **options):
    return simulator.sweep(PARTITION, grid, **SHORT, **options)


def test_each_row_is_the_run_of_its_values_and_seed():
    table = _sweep({TTL: ["1s", "60s"]}, seeds=[1, 2], processes=2)
    assert len(table) == 4
    for row in table.to_dict("records"):
        alone = simulator.run(PARTITION, row["seed"], **SHORT, **{TTL: row[TTL]})
        expected = {TTL: row[TTL], "seed": row["seed"], **sweeps.cap(alone)}
        assert row == expected
    # the values mattered: a short TTL keeps fewer stale entries through the split
    by_ttl = table.groupby(TTL)["stale_fraction_during_partitions"].mean()
    assert by_ttl["1s"] < by_ttl["60s"]


def test_rows_do_not_depend_on_how_many_processes_ran_them():
    grid = {TTL: ["1s", "60s"], "workload.read_fraction": [0.5, 0.9]}
    tables = [_sweep(grid, seeds=[3], processes=n) for n in (1, 2, 3)]
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])


def test_rows_come_in_grid_order_with_the_seed_varying_fastest():
    table = _sweep({TTL: ["1s", "60s"], "workload.read_fraction": [0.5, 0.9]},
                   seeds=[5, 6], measure=lambda result: {"ops": len(result.ops)})
    assert list(table.columns) == [TTL, "workload.read_fraction", "seed", "ops"]
    assert list(zip(table[TTL], table["workload.read_fraction"], table["seed"])) == [
        (ttl, fraction, seed) for ttl in ("1s", "60s") for fraction in (0.5, 0.9)
        for seed in (5, 6)]


def test_without_a_grid_or_seeds_one_run_with_the_scenario_s_own_seed():
    table = _sweep()
    assert len(table) == 1
    assert table["seed"].iloc[0] == simulator.load(PARTITION).seed


def test_a_measure_may_be_a_lambda_and_return_one_value():
    table = _sweep(seeds=[1, 2], measure=lambda result: len(result.ops), processes=2)
    assert list(table.columns) == ["seed", "value"]
    assert table["value"].tolist() == [len(simulator.run(PARTITION, s, **SHORT).ops)
                                       for s in (1, 2)]


def test_a_measure_does_not_overwrite_the_sweep_s_own_columns():
    table = _sweep({TTL: ["1s"]}, seeds=[4], measure=lambda r: {"seed": 99, TTL: "x", "n": 1})
    assert table.to_dict("records") == [{TTL: "1s", "seed": 4, "n": 1}]


def _pid(_result):
    return os.getpid()


def test_one_process_runs_everything_here():
    table = _sweep(seeds=[1, 2], measure=_pid, processes=1)
    assert set(table["value"]) == {os.getpid()}


def _slow_pid(_result):
    time.sleep(0.3)  # long enough that the other worker takes the next run
    return os.getpid()


def test_several_processes_share_the_runs():
    table = _sweep(seeds=[1, 2, 3, 4], measure=_slow_pid, processes=2)
    assert os.getpid() not in set(table["value"])
    assert len(set(table["value"])) == 2


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_fresh_interpreters_run_the_runs_and_the_caller_s_measure_is_applied_here(
        monkeypatch, method):
    # Jupyter's kernel runs threads, so a sweep there does not fork the kernel:
    # its workers are fresh interpreters, which cannot import a notebook's functions
    grid = {TTL: ["1s", "60s"]}
    forked = _sweep(grid, processes=2)
    monkeypatch.setattr(sweeps, "_start_method", lambda: method)
    assert _sweep(grid, processes=2).equals(forked)  # the CAP row, measured there
    here = _sweep(seeds=[1, 2], processes=2,
                  measure=lambda result: (os.getpid(), len(result.ops)))
    assert [pid for pid, _ in here["value"]] == [os.getpid()] * 2
    assert [n for _, n in here["value"]] == [len(simulator.run(PARTITION, s, **SHORT).ops)
                                             for s in (1, 2)]


def test_workers_are_forked_from_this_process_only_when_no_other_thread_runs(monkeypatch):
    if threading.active_count() == 1:
        assert sweeps._start_method() == "fork"
    with monkeypatch.context() as patch:
        patch.setattr(sys, "platform", "darwin")  # forking is not safe on macOS
        assert sweeps._start_method() == "spawn"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert sweeps._start_method() == "forkserver"
    finally:
        stop.set()
        thread.join()


def test_a_bad_value_fails_before_anything_runs():
    ran = []
    with pytest.raises(ScenarioError, match=r"components\.cache\.ttl"):
        _sweep({TTL: ["1s", "-5s"]}, processes=1, measure=ran.append)
    assert ran == []


@pytest.mark.parametrize("grid, error", [
    ([("components.cache.ttl", "1s")], TypeError),
    ({TTL: "1s"}, TypeError),
    ({TTL: 5}, TypeError),
    ({TTL: []}, ValueError),
])
def test_a_grid_that_is_not_paths_to_lists_of_values_is_refused(grid, error):
    with pytest.raises(error, match="grid"):
        _sweep(grid)


def test_seeds_are_given_as_seeds():
    with pytest.raises(TypeError, match=r"seeds=\["):
        _sweep(seed=3)
    with pytest.raises(TypeError, match=r"seeds=\["):
        _sweep({"seed": [1, 2]})


@pytest.mark.parametrize("processes", [0, -1, 1.5, True])
def test_processes_must_be_a_positive_whole_number(processes):
    with pytest.raises(ValueError, match="processes"):
        _sweep(processes=processes)


def test_processes_may_be_any_whole_number_type():
    assert len(_sweep(seeds=[1, 2], processes=np.int64(2), measure=_pid)) == 2


def test_no_seeds_is_refused():
    with pytest.raises(ValueError, match="seeds"):
        _sweep(seeds=[])


class Unpicklable(Exception):
    def __init__(self, what, why):  # pickled with one argument, rebuilt with two
        super().__init__(f"{what}: {why}")


def test_an_error_that_cannot_come_back_says_so_and_keeps_its_cause():
    def broken(_result):
        raise Unpicklable("measure", "broken")

    with pytest.raises(SedimentError, match="could not send back") as caught:
        _sweep(seeds=[1, 2], measure=broken, processes=2)
    assert caught.value.__cause__ is not None
    with pytest.raises(Unpicklable):  # in this process it shows as it is
        _sweep(seeds=[1, 2], measure=broken, processes=1)


def _sweep_in_a_pool_worker(_):
    return _sweep(seeds=[1, 2], measure=_pid, processes=2)["value"].tolist()


def test_a_pool_worker_runs_its_sweep_itself():
    # a daemonic process may not have children: the runs happen in the worker
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pids = pool.map(_sweep_in_a_pool_worker, [0])[0]
    assert len(set(pids)) == 1 and pids[0] != os.getpid()


def test_a_measure_failing_in_a_worker_fails_the_sweep_with_its_error():
    def broken(result):
        raise ValueError(f"cannot measure {len(result.ops)} operations")

    with pytest.raises(ValueError, match="cannot measure"):
        _sweep(seeds=[1, 2], measure=broken, processes=2)


UNGUARDED = """
import threading
import simulator
threading.Thread(target=threading.Event().wait, daemon=True).start()  # no forking now
simulator.sweep({path!r}, seeds=[1, 2], processes=2, duration=12,
                overrides=["faults.0.start=4s", "faults.0.duration=4s"])
"""


def test_a_script_without_a_main_guard_gets_an_error_not_a_hang(tmp_path):
    # its fresh workers import the script again, which starts a sweep of its own
    # while they bootstrap: they die, and the sweep says how to fix it
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED.format(path=str(PARTITION)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode != 0
    assert "if __name__ == '__main__':" in done.stderr


def test_a_failed_sweep_drops_the_runs_not_started_yet(tmp_path):
    log = tmp_path / "runs"

    def first_fails(result):
        with open(log, "a") as out:
            out.write(f"{result.seed}\n")
        if result.seed == 1:
            raise ValueError("first run")
        return 0

    with pytest.raises(ValueError, match="first run"):
        _sweep(seeds=range(1, 13), measure=first_fails, processes=2)
    assert len(log.read_text().split()) < 12


@pytest.mark.parametrize("processes", [1, 2])
def test_progress_is_told_of_every_row_as_it_comes_in(processes):
    calls = []
    _sweep({TTL: ["1s", "60s"]}, seeds=[1, 2], processes=processes,
           progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


QUORUM = ROOT / "scenarios" / "quorum.yaml"
R, W = "components.kv.read_quorum", "components.kv.write_quorum"


def test_a_grid_may_list_its_combinations():
    # the (R, W) pairs of a quorum lesson are not every combination of R and W
    pairs = [{R: 1, W: 1}, {R: 1, W: 2}, {R: 2, W: 2}]
    table = simulator.sweep(QUORUM, pairs, seeds=[1, 2], duration="5s", faults=[],
                            measure=lambda result: result.summary["reads"]["stale"])
    assert list(table.columns) == [R, W, "seed", "value"]
    assert list(zip(table[R], table[W], table["seed"])) == [
        (1, 1, 1), (1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 2, 1), (2, 2, 2)]
    for row in table.to_dict("records"):
        alone = simulator.run(QUORUM, row["seed"], duration="5s", faults=[],
                              **{R: row[R], W: row[W]})
        assert row["value"] == alone.summary["reads"]["stale"]
    assert table.loc[table[R] + table[W] > 3, "value"].eq(0).all()  # overlapping quorums


@pytest.mark.parametrize("grid, error, words", [
    ([], ValueError, "no combination"),
    ([{R: 1, W: 1}, {R: 2}], ValueError, "same paths"),
    ([{R: 1}, 2], TypeError, "mappings"),
    ([{"seed": 1}], TypeError, r"seeds=\["),
])
def test_a_list_of_combinations_must_be_mappings_of_the_same_paths(grid, error, words):
    with pytest.raises(error, match=words):
        simulator.sweep(QUORUM, grid, duration="5s", faults=[])


def test_a_sweep_says_each_setting_with_no_effect_once():
    import warnings
    from simulator.errors import ScenarioNote
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _sweep({"components.db.acks": [2, 3]}, seeds=[1, 2], processes=1)
    notes = [str(w.message) for w in caught if w.category is ScenarioNote]
    assert len(notes) == 2  # one per value, not one per run
    # at the caller's line, not inside the package
    assert {w.filename for w in caught if w.category is ScenarioNote} == {__file__}
    assert all("components.db.acks: has no effect" in note for note in notes)
