"""Fast paths give what the plain code gives: inlined latency draws, a database
write as one request, figures drawn in a second process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import simulator
from simulator import results
from simulator.distributions import Constant, Exponential, LogNormal, Normal, Shifted
from simulator.engine import Simulation
from simulator.errors import SedimentError
from simulator.network import Network, Node
from simulator.streams import Stream


class Sink(Node):
    def __init__(self, name, network):
        super().__init__(name, network)
        self.times = []

    def on_ping(self, message):
        self.times.append(self.sim.now)


@pytest.mark.parametrize("latency", [Exponential(0.002), LogNormal(0.0005, 0.4),
                                     Normal(0.001, 0.0003),
                                     Shifted(Exponential(0.001), Constant(0.01))])
def test_send_draws_each_latency_exactly_as_its_sample(latency):
    sim = Simulation(7)
    net = Network(sim, {"latency": latency, "loss": 0.0, "duplicate": 0.0, "fifo": False}, [])
    Sink("a", net)
    b = Sink("b", net)
    sends = 3000  # more than a block of pre-drawn values
    for i in range(sends):
        sim.at(i * 0.01, lambda _: net.send("a", "b", "ping", None, extra=0.25))
    sim.run(100.0)
    stream = Stream(7, "link:a->b")  # the link's stream, drawn again through sample()
    expected = sorted(i * 0.01 + (latency.sample(stream) + 0.25) for i in range(sends))
    assert sorted(b.times) == expected  # the very same floats


def test_a_database_write_as_one_request_is_the_same_as_its_flow():
    base = {"name": "w", "duration": "2s", "seed": 3,
            "components": {"db": {"kind": "database", "replicas": 2,
                                  "replication": "semi-sync", "acks": 1}},
            "workload": {"target": "db", "arrivals": "closed", "clients": 3,
                         "read_fraction": 0.3, "keys": 5}}
    fast = simulator.run(base).ops
    from simulator.components.client import Clients
    original = Clients.__init__

    def without(self, *args, **kwargs):  # the clients drive every write as a flow
        original(self, *args, **kwargs)
        self.write_request = None

    Clients.__init__ = without
    try:
        slow = simulator.run(base).ops
    finally:
        Clients.__init__ = original
    assert (fast["op"] == "write").sum() > 50
    assert fast.equals(slow)


def _generic_service(monkeypatch):
    """Make every service request take the service's generators (Service.read
    and Service.write run by a Flow) instead of Job's callbacks."""
    from simulator.components.service import Service
    original = Service.__init__

    def generic(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.plain_cache = None
        self.flat_reads = self.flat_writes = False

    monkeypatch.setattr(Service, "__init__", generic)


@pytest.mark.parametrize("overrides", [
    [],
    ["components.cache.on_write=update", "components.cache.guard=version"],
    ["components.cache.guard=lease"],
    ["components.api.local_cache_ttl=2s"],
    ["components.db.replicas=2", "components.db.read_from=replica",
     "components.db.session=read-your-writes"],
    ["components.api.service_time=20ms", "components.api.workers=4",  # jobs caught in stops
     "faults=[{kind: partition, start: 4s, duration: 4s, groups: [[api-1, api-2, cache], "
     "[api-3, api-4, db]]}, {kind: deploy, service: api, start: 1s, restart: 500ms}, "
     "{kind: crash, node: api-2, start: 9s, duration: 1s}, {kind: pause, node: api-3, "
     "start: 5500ms, duration: 300ms}, {kind: pause, node: db, start: 10s, duration: 200ms}, "
     "{kind: crash, node: cache, start: 10500ms, duration: 100ms}]"],
], ids=["delete", "update", "lease", "local", "sessions", "restarts-crashes-pauses"])
def test_requests_served_by_callbacks_are_the_same_as_their_flows(overrides, monkeypatch,
                                                                  request):
    # Job serves a cache-aside read, its database read and a write with callbacks;
    # Service.read and Service.write are the generic flows they flatten.
    data = ROOT / "scenarios" / "partition.yaml"
    overrides = ["workload.rate=300", "workload.read_fraction=0.7", "faults.0.start=4s",
                 "faults.0.duration=4s", "components.cache.ttl=3s"] + overrides
    fast = simulator.run(data, duration=12, overrides=overrides).history
    _generic_service(monkeypatch)
    slow = simulator.run(data, duration=12, overrides=overrides).history
    ops = fast.ops
    served = ops["served_by"].value_counts()
    assert served.filter(like="db-").sum() > 100 and (ops["op"] == "write").sum() > 500
    assert (ops["status"] != "ok").sum() > 50  # failures in the split
    if "restarts" in request.node.callspec.id:
        assert (ops["error"] == "connection-reset").any()  # jobs reset by a stop
    assert ops.equals(slow.ops) and fast.copies.equals(slow.copies)
    assert fast.truth.equals(slow.truth)


ROOT = Path(__file__).resolve().parent.parent


def _small():
    return simulator.run(ROOT / "scenarios" / "partition.yaml", duration=20, overrides=[
        "workload.rate=50", "faults.0.start=5s", "faults.0.duration=5s"])


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_figures_drawn_in_a_second_process_are_the_same_files(tmp_path, monkeypatch):
    result = _small()
    assert results._figures_in_parallel()
    result.save(tmp_path / "parallel")
    monkeypatch.setattr(results, "PARALLEL_FIGURES", False)
    result.save(tmp_path / "here")
    parallel, here = _files(tmp_path / "parallel"), _files(tmp_path / "here")
    assert parallel == here and "timeline.png" in here


def _save_logging_shares(result, folder, log, monkeypatch) -> list[tuple[str, list[str]]]:
    """Save ``result`` into ``folder``; return (process id, figure names) per call of
    ``draw``, logged to a file because the calls happen in child processes."""
    real = results.draw

    def logged(result, names=None):
        with open(log, "a") as out:
            out.write(f"{os.getpid()} {','.join(names or ['*'])}\n")
        return real(result, names)

    with monkeypatch.context() as patch:
        patch.setattr(results, "draw", logged)
        result.save(folder)
    shares = [line.split() for line in log.read_text().splitlines()]
    log.unlink()
    return [(pid, names.split(",")) for pid, names in shares]


@pytest.mark.parametrize("drawers", [1, 3, 9])
def test_figures_shared_among_any_number_of_processes_are_the_same_files(tmp_path, monkeypatch,
                                                                         drawers):
    result = _small()
    monkeypatch.setattr(results, "DRAWERS", drawers)
    shares = _save_logging_shares(result, tmp_path / "shared", tmp_path / "log", monkeypatch)
    monkeypatch.setattr(results, "PARALLEL_FIGURES", False)
    result.save(tmp_path / "here")
    assert _files(tmp_path / "shared") == _files(tmp_path / "here")
    names = list(result.plot.names)
    assert len(shares) == min(drawers, len(names))
    pids = {pid for pid, _ in shares}
    assert len(pids) == len(shares) and str(os.getpid()) not in pids
    assert sorted(name for _, share in shares for name in share) == sorted(names)


def test_a_large_history_has_its_figures_drawn_by_one_process(tmp_path, monkeypatch):
    result = _small()
    assert results.DRAWERS > 1
    monkeypatch.setattr(results, "ONE_DRAWER_ABOVE", len(result.history.ops) - 1)
    shares = _save_logging_shares(result, tmp_path / "run", tmp_path / "log", monkeypatch)
    assert [names for _, names in shares] == [list(result.plot.names)]


def test_one_share_failing_fails_the_save(tmp_path, monkeypatch):
    result = _small()
    real = results.draw

    def second_share_fails(result, names=None):
        if names is not None and "timeline" not in names:
            raise ValueError("no ink for " + ", ".join(names))
        return real(result, names)

    monkeypatch.setattr(results, "draw", second_share_fails)
    with pytest.raises(ValueError, match="no ink for divergence"):
        result.save(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_figure_failing_in_the_second_process_fails_the_save(tmp_path, monkeypatch):
    result = _small()

    def broken(*_):
        raise ValueError("no ink")

    monkeypatch.setattr(results, "draw", broken)
    with pytest.raises(ValueError, match="no ink"):
        result.save(tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no half-written folder either


def test_an_exception_that_does_not_pickle_still_surfaces(tmp_path, monkeypatch):
    result = _small()

    class Odd(Exception):
        def __reduce__(self):
            raise TypeError("cannot pickle")

    def broken(*_):
        raise Odd("strange")

    monkeypatch.setattr(results, "draw", broken)
    with pytest.raises(RuntimeError, match="strange"):
        result.save(tmp_path / "run")


def test_a_second_process_that_dies_fails_the_save(tmp_path, monkeypatch):
    result = _small()
    monkeypatch.setattr(results, "draw", lambda *_: os._exit(3))
    with pytest.raises(SedimentError, match="exit code 3"):
        result.save(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _save_in_a_pool_worker(folder):
    result = _small()
    assert not results._figures_in_parallel()  # a daemonic worker may not fork
    result.save(folder)
    return sorted(p.name for p in folder.iterdir())


def test_a_pool_worker_draws_the_figures_itself(tmp_path):
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(1) as pool:
        names = pool.apply(_save_in_a_pool_worker, (tmp_path / "run",))
    assert "timeline.png" in names and "ops.csv" in names
