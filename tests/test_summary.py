"""The headline summary: right numbers, plain JSON values, and fast on a million operations."""

import json
import time

import numpy as np
import pytest
from conftest import large_history, make_history, random_history

from simulator.analysis import phases, stale_reads, summary, windows
from simulator.analysis.summary import time_divergent_s


@pytest.fixture(name="run")
def small_run():
    return make_history(
        ops=[
            ("write", 0, 0.5, 1.0, "ok", 1, "db-primary"),
            ("read", 0, 1.5, 1.6, "ok", 0, "replica"),  # stale
            ("read", 0, 2.0, 2.2, "ok", 9, "cache"),  # phantom
            ("write", 0, 3.0, 4.0, "info", -1, ""),
            ("read", 1, 5.0, 5.5, "fail", -1, ""),
        ],
        truth=[(0, 1, 1.0)],
        copies=[(3.0, "replica", 0, 1), (2.0, "cache", 0, 9, "fill"), (6.0, "cache", 0, -1, "expire")],
        copy_info=[("replica", "v0"), ("cache", "empty"), ("idle", "v0")],
        faults=[("partition-1", "partition", 1.0, 3.0)],
        duration=10,
        meta={"scenario": "tiny", "seed": 7, "version": "0.1.0"},
    )


def all_plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and all_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(all_plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


def test_summary_is_json_serialisable_without_nan(run):
    result = summary(run)
    assert all_plain(result)
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_summary_of_an_empty_history_is_json_serialisable():
    result = summary(make_history())
    json.dumps(result, allow_nan=False)
    assert all_plain(result)
    assert result["stale_by_copy"] == {} and result["convergence"] == [] and result["errors"] == []
    assert result["staleness"]["versions"] == {"p50": None, "p99": None, "max": None}
    assert result["availability"] is None
    assert result["reads"]["stale_fraction"] is None
    assert result["windows"]["p50_s"] is None and result["windows"]["max_s"] is None
    assert result["latency"] == {"p50_s": None, "p99_s": None, "max_s": None}


def test_summary_numbers(run):
    result = summary(run)
    assert (result["scenario"], result["seed"], result["version"], result["duration_s"]) == ("tiny", 7, "0.1.0", 10.0)
    assert result["ops"] == {"total": 5, "ok": 3, "fail": 1, "info": 1}
    assert result["availability"] == 0.6
    assert result["writes"] == {"total": 2, "ok": 1, "fail": 0, "info": 1, "lost": 0,
                                "lost_fraction": 0.0,
                                "lost_by_how": {}}
    reads = result["reads"]
    assert (reads["ok"], reads["stale"], reads["phantom"]) == (2, 1, 1)
    assert reads["stale_fraction"] == 0.5
    assert result["latency"]["p50_s"] == pytest.approx(0.2)


def test_window_summary(run):
    found = summary(run)["windows"]
    # replica behind [1, 3); cache phantom [2, 6); idle replica behind [1, 10) and open.
    assert (found["count"], found["open_at_end"], found["behind"], found["phantom"]) == (3, 1, 2, 1)
    assert found["p50_s"] == 4.0
    assert found["p99_s"] == pytest.approx(np.percentile([2.0, 4.0, 9.0], 99))
    assert found["max_s"] == 9.0
    assert found["by_copy"]["idle"] == {
        "count": 1, "behind": 1, "phantom": 0, "open_at_end": 1, "max_s": 9.0, "time_divergent_s": 9.0,
        "p50_s": 9.0, "p90_s": 9.0, "p99_s": 9.0, "fraction_time_divergent": 0.9,
    }
    assert found["p90_s"] == pytest.approx(np.percentile([2.0, 4.0, 9.0], 90))
    assert found["by_copy"]["replica"]["fraction_time_divergent"] == 0.2
    assert found["by_copy"]["cache"]["max_s"] == 4.0
    assert list(found["by_copy"]) == ["replica", "cache", "idle"]


def test_copy_without_windows_is_listed_with_zero_counts():
    history = make_history(copy_info=[("replica", "v0")], duration=1)
    assert summary(history)["windows"]["by_copy"] == {
        "replica": {"count": 0, "behind": 0, "phantom": 0, "open_at_end": 0, "max_s": None, "time_divergent_s": 0.0,
                    "p50_s": None, "p90_s": None, "p99_s": None, "fraction_time_divergent": 0.0}
    }


def test_time_divergent_is_the_union_of_a_copys_windows():
    frame = windows(
        make_history(
            truth=[(0, 1, 1.0), (1, 1, 2.0), (2, 1, 7.0)],
            copies=[(4.0, "replica", 0, 1), (3.0, "replica", 1, 1), (8.0, "replica", 2, 1)],
            copy_info=[("replica", "v0")],
            duration=10,
        )
    )
    # [1, 4) and [2, 3) overlap; [7, 8) is apart: 3 + 1 seconds.
    assert time_divergent_s(frame) == 4.0
    assert time_divergent_s(frame.iloc[:0]) == 0.0


def test_phases_in_summary(run):
    listed = summary(run)["phases"]
    assert [p["name"] for p in listed] == ["overall", "before partition-1", "during partition-1", "after partition-1"]
    assert listed[1] == {
        "name": "before partition-1", "fault": "partition-1", "start_s": 0.0, "end_s": 1.0,
        "ops": 1, "availability": 1.0, "stale_fraction": None, "phantom": 0,
        "latency_p99_s": 0.5,
        "staleness_p99_s": None, "windows": 0, "window_max_s": None, "lost_writes": 0,
    }
    # During the partition [1, 3): the replica's window [1, 3), the idle replica's open
    # window from 1 s to the end (9 s) and the cache's phantom from 2 s; the stale read
    # at 1.5 s missed the version committed at 1 s.
    during = listed[2]
    assert (during["windows"], during["window_max_s"], during["staleness_p99_s"]) == (3, 9.0, 0.5)
    assert during["phantom"] == 1  # the cache's read of v9 at 2 s
    # ok latencies: 0.5 (before), 0.1 and 0.2 (during), none after.
    assert listed[0]["latency_p99_s"] == pytest.approx(np.percentile([0.5, 0.1, 0.2], 99))
    assert listed[2]["latency_p99_s"] == pytest.approx(np.percentile([0.1, 0.2], 99))
    assert listed[3]["latency_p99_s"] is None


def test_stale_reads_by_copy_and_staleness(run):
    result = summary(run)
    assert result["stale_by_copy"] == {
        "cache": {"reads_ok": 1, "stale": 0, "stale_fraction": 0.0, "phantom": 1,
                  "p50_staleness_s": None, "p99_staleness_s": None, "max_missed_versions": 0},
        "replica": {"reads_ok": 1, "stale": 1, "stale_fraction": 1.0, "phantom": 0,
                    "p50_staleness_s": 0.5, "p99_staleness_s": 0.5, "max_missed_versions": 1},
    }
    assert result["staleness"] == {
        "versions": {"p50": 1.0, "p99": 1.0, "max": 1},
        "time_s": {"p50": 0.5, "p99": 0.5, "max": 0.5},
    }


def test_staleness_distribution_over_several_stale_reads():
    history = make_history(
        ops=[("read", 0, 4.0, 4.1, "ok", v, "replica") for v in (0, 1, 2, 3)],
        truth=[(0, 1, 1.0), (0, 2, 2.0), (0, 3, 3.0)],
        duration=5,
    )
    staleness = summary(history)["staleness"]
    # Stale reads missed 3, 2 and 1 versions, for 3, 2 and 1 seconds.
    assert staleness["versions"] == {"p50": 2.0, "p99": pytest.approx(2.98), "max": 3}
    assert staleness["time_s"] == {"p50": 2.0, "p99": pytest.approx(2.98), "max": 3.0}
    assert summary(history)["stale_by_copy"]["replica"]["max_missed_versions"] == 3


def test_consistency_after_delta_in_summary(run):
    after = summary(run)["consistency_after"]
    assert list(after) == ["replica", "cache", "idle"]
    # replica: one 2 s window; cache: one 4 s phantom; idle: open at the end, never repaired.
    expected = {"1ms": 0.0, "10ms": 0.0, "100ms": 0.0, "1s": 0.0, "10s": 1.0, "60s": 1.0}
    assert after["replica"] == expected and after["cache"] == expected
    assert set(after["idle"].values()) == {0.0}


def test_convergence_cap_and_errors_in_summary(run):
    result = summary(run)
    # The idle replica never catches up, so the run never converges after the partition,
    # and its window, open at the heal, means the damage is never repaired either.
    assert result["convergence"] == [
        {"fault": "partition-1", "kind": "partition", "heal_s": 3.0, "converged_s": None,
         "time_to_converge_s": None, "converged": False, "damage_repaired_s": None,
         "damage_repaired": False}
    ]
    cap = result["cap"]
    assert (cap["scenario"], cap["seed"], cap["partitions"], cap["ops_during_partitions"]) == ("tiny", 7, 1, 2)
    assert cap["availability_during_partitions"] == 1.0
    assert cap["stale_fraction_during_partitions"] == 0.5
    assert cap["latency_p99_outside_faults_s"] == 0.5
    assert cap["availability_overall"] == 0.6
    assert result["errors"] == [
        {"op": "read", "status": "fail", "error": "timeout", "count": 1},
        {"op": "write", "status": "info", "error": "timeout", "count": 1},
    ]


def test_summary_keeps_every_earlier_key(run):
    assert set(summary(run)) >= {
        "scenario", "seed", "version", "duration_s", "ops", "availability", "reads", "writes", "by_node",
        "windows", "phases", "latency", "stale_by_copy", "staleness", "consistency_after", "convergence",
        "cap", "errors",
    }


def test_precomputed_tables_are_used(run):
    stale = stale_reads(run)
    found = windows(run).iloc[:1]
    table = phases(run, stale=stale)
    table["availability"] = 0.25
    result = summary(run, stale=stale, windows=found, phases=table)
    assert result["windows"]["count"] == 1
    assert {p["availability"] for p in result["phases"]} == {0.25}


def test_a_million_operations_are_analysed_in_seconds():
    history = large_history(1_000_000)
    began = time.perf_counter()
    stale = stale_reads(history)
    found = windows(history)
    result = summary(history, stale=stale, windows=found)
    elapsed = time.perf_counter() - began
    assert result["ops"]["total"] == 1_000_000
    assert result["windows"]["count"] == len(found) > 0
    assert elapsed < 20, f"analysis of a million operations took {elapsed:.1f}s"


def test_summary_of_random_histories_is_plain_json():
    for seed in range(15):
        result = summary(random_history(seed))
        assert all_plain(result)
        json.dumps(result, allow_nan=False)


def test_phantom_reads_that_are_also_stale_are_counted_and_shown_as_such():
    from simulator.report import format_summary
    lost = make_history(
        ops=[("read", 0, 1.5, 1.6, "ok", 1), ("read", 0, 3.0, 3.1, "ok", 1),
             ("read", 0, 3.5, 3.6, "ok", 2), ("read", 0, 3.6, 3.7, "ok", 9)],
        truth=[(0, 1, 1.0, 2.5), (0, 2, 2.0)],  # v1 lost; v9 never written
        faults=[("partition-1", "partition", 2.0, 4.0)], duration=8,
        meta={"scenario": "lost", "seed": 1, "version": "0"})
    result = summary(lost)
    reads = result["reads"]
    assert (reads["stale"], reads["phantom"], reads["phantom_and_stale"]) == (1, 3, 1)
    text = format_summary(result)
    assert "; 3 phantom (1 also stale)" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("phase"))
    assert header.split()[-2:] == ["stale", "phantom"]
    during = next(line for line in text.splitlines() if "during partition-1" in line)
    assert during.split()[-1] == "2"
    # without phantom reads, neither the note nor the column
    plain_text = format_summary(summary(make_history(
        ops=[("read", 0, 1.5, 1.6, "ok", 0)], truth=[(0, 1, 1.0)],
        faults=[("partition-1", "partition", 2.0, 4.0)], duration=8,
        meta={"scenario": "plain", "seed": 1, "version": "0"})))
    assert "phantom" not in plain_text
