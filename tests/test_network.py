"""Links, partitions and calls, driven directly on a Network with tiny nodes."""

from __future__ import annotations

import math

import pytest

from simulator.distributions import Constant, Exponential
from simulator.engine import Simulation
from simulator.network import CRASHED, REFUSED, STOPPED, TIMEOUT, Network, Node, Reply

Z = 5.0


class Probe(Node):
    """Records every ping it receives; answers asks after ``work`` seconds."""

    def __init__(self, name, network, work=0.0):
        super().__init__(name, network)
        self.got = []  # (time, payload)
        self.work = work

    def on_ping(self, message):
        self.got.append((self.sim.now, message.args))

    on_note = on_ping  # the same, under a method with no processing time

    def on_ask(self, message):
        self.got.append((self.sim.now, message.args))
        self.sim.after(self.work, lambda _: self.network.reply(message, "ok", message.args * 2))


def make_net(latency=Constant(0.001), loss=0.0, duplicate=0.0, fifo=False, rules=(), seed=1,
             nodes=("a", "b"), work=0.0):
    sim = Simulation(seed)
    net = Network(sim, {"latency": latency, "loss": loss, "duplicate": duplicate, "fifo": fifo},
                  list(rules))
    probes = {n: Probe(n, net, work) for n in nodes}
    return sim, net, probes


def send_many(sim, net, n, gap=0.0, src="a", dst="b"):
    for i in range(n):
        sim.after(i * gap, lambda i: net.send(src, dst, "ping", i), i)


def test_constant_latency_delivers_exactly_that_late():
    sim, net, p = make_net(latency=Constant(0.003))
    sim.after(0.5, lambda _: net.send("a", "b", "ping", "x"))
    sim.run(1.0)
    assert p["b"].got == [(pytest.approx(0.503), "x")]
    assert p["a"].got == []


@pytest.mark.parametrize("loss", [0.1, 0.3])
def test_loss_drops_each_message_with_its_probability(loss):
    sim, net, p = make_net(loss=loss)
    n = 5000
    send_many(sim, net, n)
    sim.run(1.0)
    delivered = len(p["b"].got)
    assert abs(delivered - n * (1 - loss)) <= Z * math.sqrt(n * loss * (1 - loss))
    assert len({payload for _, payload in p["b"].got}) == delivered  # no duplicates


def test_duplicate_delivers_extra_copies_with_its_probability():
    dup = 0.2
    sim, net, p = make_net(duplicate=dup, latency=Exponential(0.001))
    n = 5000
    send_many(sim, net, n)
    sim.run(1.0)
    payloads = [payload for _, payload in p["b"].got]
    extra = len(payloads) - n
    assert set(payloads) == set(range(n))  # nothing lost
    assert max(payloads.count(x) for x in set(payloads[:50])) <= 2
    assert abs(extra - n * dup) <= Z * math.sqrt(n * dup * (1 - dup))


def test_fifo_link_keeps_send_order_with_random_latency():
    sim, net, p = make_net(latency=Exponential(0.010), fifo=True)
    send_many(sim, net, 300, gap=0.001)
    sim.run(5.0)
    order = [payload for _, payload in p["b"].got]
    assert order == list(range(300))
    times = [t for t, _ in p["b"].got]
    assert times == sorted(times)


def test_non_fifo_link_with_random_latency_reorders():
    sim, net, p = make_net(latency=Exponential(0.010), fifo=False)
    send_many(sim, net, 300, gap=0.001)
    sim.run(5.0)
    order = [payload for _, payload in p["b"].got]
    assert sorted(order) == list(range(300))
    inversions = sum(1 for x, y in zip(order, order[1:]) if x > y)
    # With mean latency 10x the gap, overtaking is the rule, not the exception.
    assert inversions > 30


def test_link_rules_override_defaults_and_later_rules_win():
    rules = [({"a"}, {"b"}, {"latency": Constant(0.002)}),
             ({"a"}, {"b"}, {"latency": Constant(0.007)}),
             ({"c"}, {"b"}, {"loss": 1.0})]
    sim, net, p = make_net(rules=rules, nodes=("a", "b", "c"))
    net.send("a", "b", "ping", "ab")
    net.send("b", "a", "ping", "ba")
    net.send("c", "b", "ping", "cb")
    sim.run(1.0)
    assert p["b"].got == [(pytest.approx(0.007), "ab")]
    assert p["a"].got == [(pytest.approx(0.001), "ba")]


def test_block_is_one_way_and_unblock_restores():
    sim, net, p = make_net()
    net.block([("a", "b")])
    assert not net.can_send("a", "b") and net.can_send("b", "a")
    net.send("a", "b", "ping", "dropped")
    net.send("b", "a", "ping", "delivered")
    sim.run(0.1)
    assert p["b"].got == []
    assert [x for _, x in p["a"].got] == ["delivered"]
    net.unblock([("a", "b")])
    assert not net.blocked
    net.send("a", "b", "ping", "after")
    sim.run(0.2)
    assert [x for _, x in p["b"].got] == ["after"]


def test_overlapping_blocks_of_the_same_pair_need_every_unblock():
    sim, net, p = make_net()
    net.block([("a", "b")])
    net.block([("a", "b"), ("b", "a")])
    net.unblock([("a", "b")])
    assert not net.can_send("a", "b")  # the second partition still holds it
    net.unblock([("a", "b"), ("b", "a")])
    assert net.can_send("a", "b") and net.can_send("b", "a")
    assert not net.blocked


def test_message_in_flight_when_a_partition_starts_is_delivered():
    sim, net, p = make_net(latency=Constant(0.010))
    net.send("a", "b", "ping", "before")
    sim.after(0.005, lambda _: net.block([("a", "b")]))
    sim.after(0.006, lambda _: net.send("a", "b", "ping", "during"))
    sim.run(1.0)
    assert p["b"].got == [(pytest.approx(0.010), "before")]


def test_degrade_adds_latency_and_restore_removes_it():
    sim, net, p = make_net(latency=Constant(0.001))
    entry = ({"a"}, {"b"}, False, {"latency": Constant(0.050), "loss": 0.0, "duplicate": 0.0})
    net.send("a", "b", "ping", 0)
    sim.run(0.01)
    net.degrade(entry)
    net.send("a", "b", "ping", 1)
    net.send("b", "a", "ping", "back")  # not degraded: one direction only
    sim.run(0.1)
    net.restore(entry)
    net.send("a", "b", "ping", 2)
    sim.run(0.2)
    assert p["b"].got == [(pytest.approx(0.001), 0), (pytest.approx(0.061), 1),
                          (pytest.approx(0.101), 2)]
    assert p["a"].got == [(pytest.approx(0.011), "back")]


def test_degrade_loss_combines_with_link_loss():
    loss, extra = 0.2, 0.5
    sim, net, p = make_net(loss=loss)
    net.degrade(({"a"}, {"b"}, False, {"latency": None, "loss": extra, "duplicate": 0.0}))
    n = 4000
    send_many(sim, net, n)
    sim.run(1.0)
    q = 1 - (1 - loss) * (1 - extra)
    assert abs(len(p["b"].got) - n * (1 - q)) <= Z * math.sqrt(n * q * (1 - q))


def run_call(sim, net, src, dst, timeout, at=0.0, arg=21):
    result = {}

    def go(_):
        done = net.call(src, dst, "ask", arg, timeout)
        done.callbacks.append(lambda ev: result.update(reply=ev.value, time=sim.now))
    sim.after(at, go)
    return result


def test_call_gets_the_reply():
    sim, net, p = make_net(latency=Constant(0.002), work=0.003)
    result = run_call(sim, net, "a", "b", timeout=1.0)
    sim.run(2.0)
    assert result["reply"] == Reply("ok", 42)
    assert result["time"] == pytest.approx(0.002 + 0.003 + 0.002)


def test_call_to_a_crashed_node_times_out_exactly_at_the_timeout():
    sim, net, p = make_net(latency=Constant(0.002))
    p["b"].stop(CRASHED)
    result = run_call(sim, net, "a", "b", timeout=0.25, at=0.1)
    sim.run(2.0)
    assert result["reply"] == TIMEOUT
    assert result["reply"].status == "timeout"
    assert result["time"] == pytest.approx(0.35)
    assert p["b"].got == []


def test_call_to_a_stopped_node_is_refused_quickly():
    sim, net, p = make_net(latency=Constant(0.002))
    p["b"].stop(STOPPED)
    result = run_call(sim, net, "a", "b", timeout=0.25)
    sim.run(2.0)
    assert result["reply"] == REFUSED
    assert result["reply"].status == "refused"
    assert result["time"] == pytest.approx(0.004)  # a round trip, well before the timeout
    assert p["b"].got == []


def test_call_through_a_partition_times_out_and_a_late_reply_is_ignored():
    sim, net, p = make_net(latency=Constant(0.002), work=0.5)
    blocked = run_call(sim, net, "a", "b", timeout=0.1)
    net.block([("a", "b")])
    sim.run(0.05)
    net.unblock([("a", "b")])
    late = run_call(sim, net, "a", "b", timeout=0.1, at=0.05)  # sent at 0.1; b answers at 0.6
    sim.run(2.0)
    assert blocked["reply"] == TIMEOUT and blocked["time"] == pytest.approx(0.1)
    assert late["reply"] == TIMEOUT and late["time"] == pytest.approx(0.2)
    assert [x for _, x in p["b"].got] == [21]  # only the second call got through


def test_duplicated_reply_resolves_the_call_once():
    sim, net, p = make_net(latency=Constant(0.001), duplicate=1.0)
    result = run_call(sim, net, "a", "b", timeout=1.0)
    sim.run(2.0)
    assert result["reply"] == Reply("ok", 42)
    assert result["time"] == pytest.approx(0.002)
    assert len(p["b"].got) == 2  # the request itself was duplicated too


def test_restarted_node_receives_again():
    sim, net, p = make_net()
    p["b"].stop(CRASHED)
    epoch = p["b"].epoch
    net.send("a", "b", "ping", "lost")
    sim.run(0.1)
    p["b"].start()
    assert p["b"].up and p["b"].epoch == epoch
    net.send("a", "b", "ping", "got")
    sim.run(0.2)
    assert [x for _, x in p["b"].got] == ["got"]


def test_each_link_has_its_own_stream():
    # Traffic on another link must not change this link's latencies.
    def arrivals(extra_traffic):
        sim, net, p = make_net(latency=Exponential(0.01), nodes=("a", "b", "c"), seed=3)
        for i in range(100):
            sim.after(i * 0.001, lambda i: net.send("a", "b", "ping", i), i)
            if extra_traffic:
                sim.after(i * 0.001, lambda i: net.send("c", "b", "ping", -1), i)
        sim.run(5.0)
        return [(t, x) for t, x in p["b"].got if x != -1]

    assert arrivals(False) == arrivals(True)


def test_scenario_link_rules_apply_one_way_and_a_lost_reply_leaves_a_write_unknown():
    import simulator
    # Every answer from the database to the service is lost; requests still get through.
    data = {
        "name": "lost-replies", "duration": "1s",
        "network": {"latency": "1ms",
                    "links": [{"from": "db", "to": "api", "both_ways": False, "loss": 1.0}]},
        "components": {"db": {"kind": "database", "disk_write": "1ms"},
                       "api": {"kind": "service", "instances": 1, "database": "db",
                               "database_timeout": "100ms"}},
        "workload": {"target": "api", "rate": 50, "read_fraction": 0.5, "keys": 3},
    }
    h = simulator.run(data, seed=1).history
    ops, truth = h.ops, h.truth
    writes, reads = ops[ops["op"] == "write"], ops[ops["op"] == "read"]
    assert len(writes) > 5 and len(reads) > 5
    assert set(writes["status"]) == {"info"} and set(reads["status"]) == {"fail"}
    assert set(ops["error"]) == {"database-timeout"}
    # Every "unknown" write did take effect: the truth has one commit per write.
    assert sorted(truth["writer"]) == sorted(writes["index"])


def test_fifo_holds_with_random_processing_time_at_the_receiver():
    from simulator.distributions import Exponential
    sim, net, p = make_net(latency=Constant(0.001), fifo=True)
    p["b"].processing = {"ping": Exponential(0.001)}
    p["b"].stream = sim.streams["node:b"]
    for i in range(200):
        net.send("a", "b", "ping", i)
    sim.run(1.0)
    assert [payload for _, payload in p["b"].got] == list(range(200))


def test_each_callers_requests_time_out_at_their_own_deadline_to_the_last_bit():
    # Two callers whose deadlines lie within rounding of each other: each times
    # out exactly at its own deadline (a queue shared by the callers once timed
    # the later one out with the earlier).
    sim, net, p = make_net(nodes=("a", "b", "c"))
    timeout = 0.125
    fired = {}

    def ask(caller, at):
        def send(_):
            pending = net.request(caller, "c", "ping", None, timeout)
            pending.then = lambda reply: fired.setdefault(caller, (sim.now, reply, at + timeout))
        sim.at(at, send)

    ask("a", 1.0)
    ask("b", math.nextafter(1.0, 2.0))
    sim.run(2.0)
    assert set(fired) == {"a", "b"}
    for caller, (now, reply, deadline) in fired.items():
        assert reply == TIMEOUT and now == deadline, caller
    assert fired["a"][0] < fired["b"][0]


def test_deadline_queues_emptied_are_let_go():
    # A one-off timeout (what is left of a deadline after a redirect) makes a
    # queue of its own; once it is empty the network no longer keeps it.
    sim, net, p = make_net(nodes=("a", "b", "c"))
    replies = []
    for i in range(500):
        timeout = 0.01 + i * 1e-6  # a different timeout every time
        method = "ping" if i % 2 else "ask"  # a ping is never answered: it times out
        sim.at(i * 0.001, lambda _, timeout=timeout, method=method: setattr(
            net.request("a", "b", method, 1, timeout), "then", replies.append))
    sim.run(1.0)
    assert len(replies) == 500 and replies.count(TIMEOUT) == 250
    assert net._deadlines == {}


# --- work in flight dies with the process ------------------------------------------------

def processing_net(transit=False):
    """b spends 0.1 s on each ask (folded into the delivery); links take 2 ms."""
    sim, net, p = make_net(latency=Constant(0.002))
    p["b"].processing = {"ask": Constant(0.1)}
    p["b"].processing_in_transit = transit
    return sim, net, p


def ask_once(sim, net, at=0.0, timeout=1.0):
    """a asks b at ``at``; what the call got, and when (none if it never answered)."""
    got = []

    def go(_):
        net.request("a", "b", "ask", 21, timeout).then = \
            lambda reply: got.append((sim.now, reply))
    sim.at(at, go)
    return got


@pytest.mark.parametrize("down", [0.05, 0.002])  # in its processing; the instant it arrives
def test_a_crash_during_processing_loses_the_request_though_the_node_is_back_before_its_end(down):
    sim, net, p = processing_net()
    got = ask_once(sim, net)
    sim.at(down, lambda _: p["b"].hold(CRASHED))
    sim.at(0.06, lambda _: p["b"].release())  # back before the work would have ended (0.102)
    sim.run(2.0)
    assert p["b"].got == []  # the restarted process never handles it
    assert got == [(pytest.approx(1.0), TIMEOUT)]


def test_a_stop_during_processing_resets_the_connection_at_once():
    sim, net, p = processing_net()
    got = ask_once(sim, net)
    sim.at(0.05, lambda _: p["b"].hold(STOPPED))
    sim.at(0.06, lambda _: p["b"].release())
    sim.run(2.0)
    assert p["b"].got == []
    assert got == [(pytest.approx(0.052), Reply("reset", "connection-reset"))]


@pytest.mark.parametrize("how, expected", [(STOPPED, [(pytest.approx(0.052), REFUSED)]),
                                           (CRASHED, [(pytest.approx(1.0), TIMEOUT)])])
def test_a_request_reaching_a_down_node_is_not_handled_by_its_restart(how, expected):
    # It arrives at 0.002 while b is down; b is back at 0.05, before the end of the
    # processing the request would have had: a stopped process refused it (we can
    # tell the caller no later than the restart), a crashed host never saw it.
    sim, net, p = processing_net()
    p["b"].hold(how)
    got = ask_once(sim, net)
    sim.at(0.05, lambda _: p["b"].release())
    sim.run(2.0)
    assert p["b"].got == []
    assert got == expected


def test_a_message_waiting_its_turn_on_a_fifo_link_dies_with_the_process_too():
    # The ask reaches b at 0.003 but waits behind a ping b works on until 0.502:
    # a crash at 0.2 loses both, though the ask's own work had not begun.
    sim, net, p = make_net(latency=Constant(0.002), fifo=True)
    p["b"].processing = {"ping": Constant(0.5), "ask": Constant(0.1)}
    net.send("a", "b", "ping", "first")
    got = ask_once(sim, net, at=0.001)
    sim.at(0.2, lambda _: p["b"].hold(CRASHED))
    sim.at(0.25, lambda _: p["b"].release())
    sim.run(2.0)
    assert p["b"].got == []
    assert got == [(pytest.approx(1.001), TIMEOUT)]


def test_transit_legs_at_the_receiver_survive_its_crash():
    # A quorum replica's W and R legs are time on the way, not work: a request
    # still on its way is handled by whatever process is up when it arrives.
    sim, net, p = processing_net(transit=True)
    got = ask_once(sim, net)
    sim.at(0.05, lambda _: p["b"].hold(CRASHED))
    sim.at(0.06, lambda _: p["b"].release())
    sim.run(2.0)
    assert [x for _, x in p["b"].got] == [21]
    assert got == [(pytest.approx(0.104), Reply("ok", 42))]


def test_the_answer_to_a_request_sent_before_a_crash_does_not_reach_the_caller_after_it():
    # a asks, crashes and is back before b's answer arrives: the process that
    # asked is gone, so neither the answer nor a timeout reaches its callback.
    sim, net, p = make_net(latency=Constant(0.002), work=0.1)
    got = ask_once(sim, net, timeout=0.5)
    sim.at(0.05, lambda _: p["a"].hold(CRASHED))
    sim.at(0.06, lambda _: p["a"].release())
    sim.run(2.0)
    assert [x for _, x in p["b"].got] == [21]  # b did answer
    assert got == []


def test_a_paused_process_that_is_stopped_refuses_at_once_and_a_crash_drops_its_alarms():
    # b is paused with a request waiting: the stop kills the process, and its host
    # refuses the request at once, pause or not.  An alarm of the dead process
    # that rang during the pause dies with the crash that follows.
    sim, net, p = make_net(latency=Constant(0.002))
    rang = []
    p["b"].pause()
    got = ask_once(sim, net, timeout=0.5)
    p["b"].after(0.015, rang.append)
    sim.at(0.01, lambda _: p["b"].hold(STOPPED))
    sim.at(0.02, lambda _: p["b"].hold(CRASHED))
    sim.at(0.03, lambda _: p["b"].resume())
    sim.run(2.0)
    assert p["b"].state == CRASHED and p["b"].got == [] and rang == []
    assert got == [(pytest.approx(0.012), REFUSED)]


def test_a_duplicate_in_its_processing_dies_with_the_process_too():
    sim, net, p = make_net(latency=Constant(0.002), duplicate=1.0)
    p["b"].processing = {"ask": Constant(0.1)}
    p["b"].stream = sim.streams["node:b"]
    got = ask_once(sim, net)
    sim.at(0.05, lambda _: p["b"].hold(CRASHED))
    sim.at(0.06, lambda _: p["b"].release())
    sim.run(2.0)
    assert p["b"].got == []  # neither copy
    assert got == [(pytest.approx(1.0), TIMEOUT)]


def test_a_fifo_link_does_not_keep_order_behind_messages_lost_with_the_process():
    # b works on a ping until 0.502 and a message sent behind it waits its turn;
    # both die in a crash at 0.1.  An ask sent to the restarted process does not
    # wait for them: it is handled when its own transit and work end (0.222).
    sim, net, p = make_net(latency=Constant(0.002), fifo=True)
    p["b"].processing = {"ping": Constant(0.5), "ask": Constant(0.1)}
    net.send("a", "b", "ping", "first")
    sim.at(0.001, lambda _: net.send("a", "b", "note", "behind"))
    sim.at(0.1, lambda _: p["b"].hold(CRASHED))
    sim.at(0.11, lambda _: p["b"].release())
    got = ask_once(sim, net, at=0.12)
    sim.run(2.0)
    assert p["b"].got == [(pytest.approx(0.222), 21)]
    assert got == [(pytest.approx(0.224), Reply("ok", 42))]
