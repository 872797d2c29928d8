"""The engine's own event loop and the TTL expiry queue of cache-like copies."""

from __future__ import annotations

import pytest

from simulator.components.entries import Entries
from simulator.engine import Simulation


def _mixed_run(sim: Simulation, run) -> list:
    """Alarms, SimPy timeouts, processes and plain events, many due at equal times."""
    log = []
    env = sim.env

    def note(label):
        log.append((env.now, label))

    def process(name, delays):
        for delay in delays:
            yield env.timeout(delay)
            note(f"{name} woke")
            done = env.event()
            sim.after(0.0, lambda _: done.succeed())
            yield done
            note(f"{name} got its event")

    for i in range(3):
        sim.after(1.0, note, f"alarm {i}")
        sim.at(1.0, note, f"alarm at {i}")
    env.process(process("p", [1.0, 0.5, 1.5]))
    env.process(process("q", [1.0, 1.0]))
    sim.after(3.0, note, "due at the end")  # not run: the end comes first
    run(3.0)
    note("end")
    return log


def test_run_processes_events_in_the_same_order_as_simpy():
    ours = Simulation(1)
    simpys = Simulation(1)
    expected = _mixed_run(simpys, lambda until: simpys.env.run(until=until))
    assert _mixed_run(ours, ours.run) == expected
    assert ours.env.now == simpys.env.now == 3.0
    assert (3.0, "due at the end") not in expected


def test_run_in_progress_steps_matches_one_run():
    whole = Simulation(1)
    steps = Simulation(1)
    seen = []
    assert _mixed_run(steps, lambda until: steps.run(until, seen.append, steps=7)) == \
        _mixed_run(whole, whole.run)
    assert seen == [3.0 * i / 7 for i in range(1, 8)]


def test_run_raises_a_failed_simpy_event_like_simpy():
    sim = Simulation(1)
    sim.env.event().fail(ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        sim.run(1.0)


def test_run_refuses_an_end_in_the_past():
    sim = Simulation(1)
    sim.run(1.0)
    with pytest.raises(ValueError):
        sim.run(0.5)


def _expiries(sim: Simulation):
    frame = sim.record.history({}).copies
    return list(frame.itertuples(index=False, name=None))


def test_entries_expire_exactly_ttl_after_their_store_in_store_order():
    sim = Simulation(1)
    entries = Entries(sim, "c", 10.0)
    sim.at(0.25, lambda _: entries.store(1, 1, "fill"))
    sim.at(0.5, lambda _: entries.store(2, 1, "fill"))
    sim.at(0.75, lambda _: entries.store(1, 2, "overwrite"))  # key 1 lives on from here
    sim.at(3.0, lambda _: entries.delete(2))                   # key 2 never expires
    sim.at(4.0, lambda _: entries.store(3, 1, "fill"))
    sim.run(20.0)
    assert _expiries(sim) == [
        (0.25, "c", 1, 1, "fill"), (0.5, "c", 2, 1, "fill"), (0.75, "c", 1, 2, "overwrite"),
        (3.0, "c", 2, -1, "delete"), (4.0, "c", 3, 1, "fill"),
        (10.75, "c", 1, -1, "expire"), (14.0, "c", 3, -1, "expire")]
    assert len(entries) == 0


def test_entries_wait_for_expiry_behind_one_alarm():
    sim = Simulation(1)
    entries = Entries(sim, "c", 60.0)
    for key in range(1000):
        sim.at(key * 0.01, lambda _, key=key: entries.store(key, 1, "fill"))
    sim.run(20.0)
    assert len(entries) == 1000
    assert len(sim.queue) == 1  # one alarm for the oldest entry, not one per entry
    sim.run(100.0)
    assert len(entries) == 0
    expired = [row for row in _expiries(sim) if row[4] == "expire"]
    assert [row[2] for row in expired] == list(range(1000))
    assert all(time == key * 0.01 + 60.0 for time, _, key, _, _ in expired)
