"""scenarios/partition.yaml tells the seed story: two copies drift apart under a partition."""

from __future__ import annotations

from pathlib import Path

import pytest

import simulator

PARTITION = Path(__file__).resolve().parent.parent / "scenarios" / "partition.yaml"
CACHE_SIDE, DB_SIDE = {"api-1", "api-2"}, {"api-3", "api-4"}


@pytest.fixture(scope="module")
def result():
    return simulator.run(PARTITION)


def _phase(result, name):
    return result.phases.set_index("name").loc[name]


def test_stale_reads_happen_during_the_partition_and_the_summary_shows_them(result):
    before, during = _phase(result, "before split"), _phase(result, "during split")
    assert during["stale"] > 0
    assert during["stale_fraction"] > before["stale_fraction"]
    summary = result.summary
    assert summary["reads"]["stale"] == int(result.stale_reads["stale"].sum()) > 0
    named = {p["name"]: p for p in summary["phases"]}
    assert named["during split"]["stale_fraction"] == pytest.approx(during["stale_fraction"])


def test_the_cache_drifts_from_the_database_while_split(result):
    fault = result.history.faults.iloc[0]
    cache = result.windows[(result.windows["copy"] == "cache")
                           & (result.windows["kind"] == "behind")]
    during = cache[(cache["start_s"] >= fault["start_s"]) & (cache["start_s"] < fault["end_s"])]
    # Writes on the database side commit but cannot invalidate the cache, so
    # cache entries stay behind for a long time, most of them past the heal.
    assert len(during) > 10
    assert (during["end_s"] > fault["end_s"]).mean() > 0.5
    outside = cache[cache["start_s"] < fault["start_s"]]
    assert during["duration_s"].median() > 100 * outside["duration_s"].median()
    stale = result.stale_reads[result.stale_reads["stale"]]
    assert set(stale["served_by"]) == {"cache"}


def test_reads_on_the_cache_side_are_less_available_than_on_the_database_side(result):
    fault = result.history.faults.iloc[0]
    ops = result.ops
    reads = ops[(ops["op"] == "read") & (ops["invoke_s"] >= fault["start_s"])
                & (ops["invoke_s"] < fault["end_s"])]
    cache_side = reads[reads["node"].isin(CACHE_SIDE)]
    db_side = reads[reads["node"].isin(DB_SIDE)]
    cache_ok = (cache_side["status"] == "ok").mean()
    db_ok = (db_side["status"] == "ok").mean()
    assert cache_ok < db_ok
    # What the cache side still answers, it answers from the cache: a miss
    # needs the database, which it cannot reach.
    assert set(cache_side[cache_side["status"] == "ok"]["served_by"]) == {"cache"}
    writes = ops[(ops["op"] == "write") & ops["node"].isin(CACHE_SIDE)
                 & (ops["invoke_s"] >= fault["start_s"] + 1) & (ops["invoke_s"] < fault["end_s"])]
    assert len(writes) > 0 and (writes["status"] != "ok").all()


def test_a_shorter_ttl_trades_availability_for_freshness(result):
    short = simulator.run(PARTITION, components__cache__ttl="5s")
    long_after = _phase(result, "after split")
    short_after = _phase(short, "after split")
    # Stale entries left by the partition live until their TTL: a short TTL
    # clears them sooner ...
    assert short_after["stale"] < long_after["stale"]
    # ... but during the split the cache side can answer only what it holds,
    # and with a short TTL it holds less.
    assert _phase(short, "during split")["availability"] < \
        _phase(result, "during split")["availability"]
