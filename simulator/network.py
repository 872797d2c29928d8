"""Nodes, links, partitions and request/response calls.

Messages travel over directed links.  Each link draws a latency from its
distribution and may lose or duplicate a message; messages are delivered
independently (so they can overtake each other) unless the link is FIFO.
A partition is link state: the set of directed (src, dst) pairs that drop
messages.  It is checked when a message is sent; a message already in flight
is delivered.

A request expects a response within a timeout.  Its outcome is one of
``Reply.status``: ``ok``, ``fail`` (the callee says it definitely did not
happen), ``info`` (the callee does not know), ``refused`` (the callee's process
is stopped: definitely not done), ``reset`` (the callee stopped while working on
it: unknown) or ``timeout`` (no answer in time: unknown).  Timeouts cost no
event per request: each caller's pending requests wait in deadline order
behind one alarm.
"""

from __future__ import annotations

from collections import Counter, deque
from heapq import heappush
from typing import NamedTuple

from simpy.core import NORMAL

from math import exp

from .distributions import Constant, Exponential, LogNormal, Shifted
from .engine import Simulation, Waiting

UP, STOPPED, CRASHED = "up", "stopped", "crashed"


class Reply(NamedTuple):
    status: str
    value: object = None


#: ``Reply(status, value)`` without the Python-level ``__new__`` NamedTuple adds
#: (the hot path builds one reply per request): ``_reply(Reply, (status, value))``
_reply = tuple.__new__

TIMEOUT = Reply("timeout", "timeout")
REFUSED = Reply("refused", "refused")
RESET = Reply("reset", "connection-reset")


def cause(status: str, value) -> str:
    """Why a reply was not ok: the message it carries, else its status."""
    return value if isinstance(value, str) else status


def failed(status: str, value, prefix: str = "") -> tuple[str, str]:
    """A reply that was not ok, as the outcome of the operation waiting on it:
    ``fail`` when the callee definitely did not do it (``fail``, ``refused``),
    ``info`` when it may have; with the cause."""
    return ("fail" if status in ("fail", "refused") else "info"), prefix + cause(status, value)


class Message:
    """A message in flight.  It is its own event in SimPy's loop (``callbacks``,
    ``_ok``), so a delivery costs one object, not two.

    A message that takes processing time at its receiver (``Node.processing``,
    folded into its delivery), or waits there for its turn on a FIFO link,
    arrives at ``began`` (unset for the others) and is handled at delivery.  The
    receiver's process holds it in between, so a stop or crash meanwhile loses
    it (its ``node`` becomes :data:`GONE`), and a restart before the delivery
    does not bring it back.  (One class for both: CPython specialises attribute
    access for one class per site, and a subclass would cost every message.)"""

    __slots__ = ("src", "dst", "method", "args", "call", "node", "callbacks", "began")
    _ok = True
    _value = None

    def __init__(self, src, dst, method, args, call, node, callbacks):
        self.src, self.dst, self.method, self.args, self.call = src, dst, method, args, call
        self.node = node  # the destination Node
        self.callbacks = callbacks  # for SimPy's Environment.step; Simulation.run
        # calls Network._deliver directly


class _Gone:
    """Where a message lost with its receiver's process is delivered: a host down
    for good, which answers nothing."""

    state = CRASHED
    pauses = 0


GONE = _Gone()


class Timer:
    """A node's own alarm (:meth:`Node.after`): it fires only while the node is
    not paused, and waits for the resume otherwise.  Dispatched by
    :meth:`Simulation.run` like a message, straight to :func:`_ring`."""

    __slots__ = ("callbacks", "fn", "_value", "node")
    _ok = True


def _ring(timer: Timer) -> None:
    node = timer.node
    if node.pauses:
        node.paused.append((timer.fn, timer._value))
    else:
        timer.fn(timer._value)


_RING = [_ring]  # every timer's callbacks, for SimPy's Environment.step

_new = object.__new__  # an instance without a call to __init__ (hot path)


class Link:
    """A directed link's settings: latency distribution, loss, duplication, FIFO."""

    __slots__ = ("latency", "loss", "duplicate", "fifo", "stream", "last_delivery",
                 "base", "generation", "node", "sender", "inline")

    def __init__(self, base: dict, stream, node, sender) -> None:
        self.base = base
        self.stream = stream
        self.node = node  # the destination
        self.sender = sender
        self.last_delivery = 0.0
        self.generation = -1
        self.latency = base["latency"]
        #: how ``send`` draws the latency itself (see ``_inline``)
        self.inline = _inline(self.latency)
        self.loss = base["loss"]
        self.duplicate = base["duplicate"]
        self.fifo = base["fifo"]


def _inline(latency) -> tuple | None:
    """The parameters ``send`` needs to draw ``latency`` without a call to its
    ``sample`` (the same draws, the same arithmetic): ``(False, mean)`` for an
    exponential, ``(True, mu, sigma)`` for a lognormal, None otherwise."""
    if latency.__class__ is Exponential:
        return (False, latency.mean)
    if latency.__class__ is LogNormal:
        return (True, latency.mu, latency.sigma)
    return None


class Node:
    """Something with an address.  Subclasses define ``on_<method>(message)``."""

    #: whether ``processing`` is time on the way rather than work at the node
    #: (a quorum replica's WARS legs): a message still on its way survives a
    #: crash, and is handled by whatever process is up when it arrives
    processing_in_transit = False

    def __init__(self, name: str, network: "Network") -> None:
        self.name = name
        self.network = network
        self.sim = network.sim
        self.state = UP
        self.epoch = 0  # bumped at every stop or crash; stale callbacks check it
        self.holds = 0  # faults currently keeping the node down
        self.pauses = 0  # pause faults under way
        #: what the node would have done while paused, in order: deliveries,
        #: its own timers and sends, run when it resumes
        self.paused: list = []
        #: method -> processing-time distribution: the message is handled that
        #: long after it arrives (folded into its delivery, no extra event)
        self.processing: dict = {}
        self._handlers: dict = {}
        #: component -> (term, node): where this node believes a component's
        #: primary is, as a monitor last told it (see ``on_discover``)
        self.views: dict = {}
        network.add(self)

    @property
    def up(self) -> bool:
        return self.state == UP

    def on_discover(self, message: Message) -> None:
        """A monitor says who leads a component now; an older term is ignored."""
        component, term, primary = message.args
        view = self.views.get(component)
        if view is None or term > view[0]:
            self.views[component] = (term, primary)

    def after(self, delay: float, callback, value=None) -> None:
        """Like ``Simulation.after`` for the node's own work: it waits out a pause."""
        timer = Timer()
        timer.callbacks = _RING
        timer.fn = callback
        timer._value = value
        timer.node = self
        sim = self.sim
        heappush(sim.queue, (sim.env._now + delay, NORMAL, next(sim.eid), timer))

    def stop(self, how: str) -> None:
        """Stop the node's process (``stopped``: refuses) or the whole host (``crashed``).

        What the process was doing dies with it: the messages it was still
        processing (a stopped one resets their connections), what a pause held
        back (a stopped one refuses the requests), the requests it was waiting
        on (no answer and no timeout reaches its callbacks), and whatever the
        component keeps in memory (:meth:`on_stop`).
        """
        self.state = how
        self.epoch += 1
        self.network.abandon(self.name)
        held, self.paused = self.paused, []
        if how == STOPPED:  # requests it was holding are refused, as new ones would be
            for callback, message in held:
                if isinstance(message, Message):
                    self.network.turn_away(message, REFUSED)
        self._drop_arrived(RESET if how == STOPPED else None)
        self.on_stop(how)

    def start(self) -> None:
        # what reached it while down and is not handled yet: refused by a stopped
        # process (no later than now), never seen by a crashed host
        self._drop_arrived(REFUSED if self.state == STOPPED else None)
        self.state = UP
        self.on_start()

    def _drop_arrived(self, answer: Reply | None) -> None:
        """Lose the messages that have reached the node and are not handled yet (in
        their processing time, or waiting their turn on a FIFO link); answer the
        requests among them with ``answer``.  A FIFO link into the node then
        keeps order only behind the messages still on their way."""
        if self.processing_in_transit:
            return
        now = self.sim.env._now
        mine = [e for e in self.sim.queue if e[3].__class__ is Message and e[3].node is self]
        for entry in sorted(e for e in mine if getattr(e[3], "began", now + 1) <= now):
            message = entry[3]
            message.node = GONE
            if answer is not None:
                self.network.turn_away(message, answer)
        self.network.reorder(self.name, mine)

    def hold(self, how: str) -> None:
        """A fault takes the node down (``stopped`` or ``crashed``) until it releases it.

        Faults compose: the node comes back only when the last one releases it,
        and a crash while stopped turns the stop into a crash.
        """
        self.holds += 1
        if self.state == UP:
            self.stop(how)
        elif how == CRASHED and self.state == STOPPED:
            self.state = CRASHED
            self.paused = []  # what a pause held back (the dead process's alarms) dies too

    def pause(self) -> None:
        """Stop processing (a GC pause): deliveries, timers and sends wait for :meth:`resume`."""
        self.pauses += 1

    def resume(self) -> None:
        self.pauses -= 1
        while self.pauses == 0 and self.paused:
            waiting, self.paused = self.paused, []
            for callback, value in waiting:
                callback(value)

    def release(self) -> None:
        self.holds -= 1
        if self.holds == 0 and self.state != UP:
            self.start()

    def on_stop(self, how: str) -> None:
        """Volatile state is lost here."""

    def on_start(self) -> None:
        """Called when the node comes back."""


class Network:
    """All nodes and links of a run; partitions and link degradations as link state."""

    def __init__(self, sim: Simulation, defaults: dict, rules: list) -> None:
        self.sim = sim
        self.nodes: dict[str, Node] = {}
        self.defaults = defaults
        self.rules = rules  # [(sources, destinations, settings)] later rules win
        self.blocked: Counter = Counter()
        self.degradations: list = []  # [(sources, destinations, both_ways, settings)]
        self.generation = 0
        self._links: dict[tuple[str, str], Link] = {}
        self.fifo_links = False  # whether any link made so far keeps FIFO order
        self._deadlines: dict[tuple[str, float], Deadlines] = {}
        self._env = sim.env
        self._queue, self._eid = sim.queue, sim.eid
        self._delivery = [self._deliver]  # every message's callbacks
        sim.handlers[Message] = self._deliver
        sim.handlers[Timer] = _ring

    def add(self, node: Node) -> None:
        self.nodes[node.name] = node

    # --- link state ----------------------------------------------------------
    def link(self, src: str, dst: str) -> Link:
        link = self._links.get((src, dst))
        if link is None:
            settings = dict(self.defaults)
            for sources, destinations, override in self.rules:
                if src in sources and dst in destinations:
                    settings.update(override)
            link = self._links[(src, dst)] = Link(
                settings, self.sim.streams[f"link:{src}->{dst}"], self.nodes[dst],
                self.nodes[src])
            self.fifo_links |= link.fifo
        if link.generation != self.generation:
            self._refresh(link, src, dst)
        return link

    def _refresh(self, link: Link, src: str, dst: str) -> None:
        latency, loss, duplicate = link.base["latency"], link.base["loss"], link.base["duplicate"]
        for sources, destinations, both_ways, fault in self.degradations:
            if (src in sources and dst in destinations) or (
                    both_ways and src in destinations and dst in sources):
                if fault.get("latency") is not None:
                    latency = Shifted(latency, fault["latency"])
                loss = 1 - (1 - loss) * (1 - fault.get("loss", 0.0))
                duplicate = 1 - (1 - duplicate) * (1 - fault.get("duplicate", 0.0))
        link.latency, link.loss, link.duplicate = latency, loss, duplicate
        link.inline = _inline(latency)
        link.generation = self.generation

    def block(self, pairs) -> None:
        self.blocked.update(pairs)

    def unblock(self, pairs) -> None:
        self.blocked.subtract(pairs)
        self.blocked = +self.blocked  # drop pairs whose count reached zero

    def can_send(self, src: str, dst: str) -> bool:
        """Whether a partition drops messages from ``src`` to ``dst`` right now."""
        return (src, dst) not in self.blocked

    def degrade(self, entry) -> None:
        self.degradations.append(entry)
        self.generation += 1

    def restore(self, entry) -> None:
        self.degradations.remove(entry)
        self.generation += 1

    # --- messages ------------------------------------------------------------
    def send(self, src: str, dst: str, method: str, args=None, call=None,
             extra: float = 0.0) -> None:
        """Send one message; it may be dropped, duplicated, delayed.

        ``extra`` is transit time on top of the link's latency.  This is the
        hottest path of a run: keep it lean.
        """
        pair = (src, dst)  # built once: the link's key and the partition's
        link = self._links.get(pair)
        if link is None or link.generation != self.generation:
            link = self.link(src, dst)
        if link.sender.pauses and link.sender.state == UP:
            # a paused process sends when it resumes (a stopped one's host refuses
            # and resets connections at once)
            link.sender.paused.append((self._send_later, (src, dst, method, args, call, extra)))
            return
        if self.blocked and pair in self.blocked:
            return
        stream = link.stream
        if link.loss and stream.uniform() < link.loss:
            return
        node = link.node
        # _transit, with the latency's draw inlined for the common distributions
        inline = link.inline
        if inline is None:
            delay = link.latency.sample(stream) + extra
        elif inline[0]:  # LogNormal.sample
            draws = stream._n
            delay = exp(inline[1] + inline[2] * (draws.pop() if draws else stream.normal())) \
                + extra
        else:  # Exponential.sample
            draws = stream._e
            delay = inline[1] * (draws.pop() if draws else stream.exponential()) + extra
        message = _new(Message)  # Message(...) without a call to __init__
        processing = node.processing
        if processing:
            work = processing.get(method)
            if work is not None:
                if not node.processing_in_transit:  # work that dies with the process
                    message.began = self._env._now + delay
                delay += work.value if work.__class__ is Constant else work.sample(node.stream)
        if link.fifo:
            delay = self._in_order(link, delay, message)
        message.src, message.dst, message.method, message.args = src, dst, method, args
        message.call, message.node, message.callbacks = call, node, self._delivery
        heappush(self._queue, (self._env._now + delay, NORMAL, next(self._eid), message))
        if link.duplicate and stream.uniform() < link.duplicate:
            self._copy(link, stream, src, dst, method, args, call, extra)

    def _send_later(self, message: tuple) -> None:
        # a method, not a lambda in send: a closure would cost every send its cells
        self.send(*message)

    def _copy(self, link: Link, stream, src, dst, method, args, call, extra: float) -> None:
        """One more copy of a message (a duplicate): its own latency and processing,
        as :meth:`send` draws them."""
        node = link.node
        message = Message(src, dst, method, args, call, node, self._delivery)
        delay = link.latency.sample(stream) + extra
        work = node.processing.get(method) if node.processing else None
        if work is not None:
            if not node.processing_in_transit:
                message.began = self._env._now + delay
            delay += work.sample(node.stream)
        if link.fifo:
            delay = self._in_order(link, delay, message)
        heappush(self._queue, (self._env._now + delay, NORMAL, next(self._eid), message))

    def _in_order(self, link: Link, delay: float, message: Message) -> float:
        """The delay of ``message`` on a FIFO link: it is handled after the ones sent
        before it (whose processing at the receiver is included).  It reaches the
        receiver when its transit ends (``began``) and waits there for its turn,
        so it dies with the process like the work in hand."""
        now = self._env._now
        if not link.node.processing_in_transit and not hasattr(message, "began"):
            message.began = now + delay
        arrival = max(now + delay, link.last_delivery)
        link.last_delivery = arrival
        return arrival - now

    def reorder(self, dst: str, queued: list) -> None:
        """FIFO links into ``dst``, whose process just went or came back: the next
        message waits only for those still on their way (``queued``: their
        entries in the event queue), not for those lost with the process."""
        if not self.fifo_links:  # a stop or restart costs no walk over every link
            return
        now = self._env._now
        for (src, to), link in self._links.items():
            if to == dst and link.fifo:
                link.last_delivery = max([now] + [e[0] for e in queued
                                                  if e[3].src == src and e[3].node is not GONE])

    def _deliver(self, message: Message) -> None:
        node = message.node
        state = node.state
        if node.pauses and state == UP:
            node.paused.append((self._deliver, message))
        elif state == UP:
            method = message.method
            if method == "reply":  # to its call (Pending.answer, inlined): about half
                call = message.call  # of all messages are replies
                if not call.done:
                    call.done = True
                    call.then(message.args)
                return
            handler = node._handlers.get(method)
            if handler is None:
                handler = node._handlers[method] = getattr(node, "on_" + method)
            handler(message)
        elif state == STOPPED:
            self.turn_away(message, REFUSED)
        # a crashed host answers nothing

    def turn_away(self, message: Message, answer: Reply) -> None:
        """Answer ``message`` with ``answer`` (a refusal or a reset) if it is a
        request: its receiver will never handle it."""
        if message.call is not None and message.method != "reply":
            self.send(message.dst, message.src, "reply", answer, message.call)

    def abandon(self, src: str) -> None:
        """``src``'s process is gone: the requests it was waiting on are done, and
        neither their answers nor their timeouts reach its callbacks."""
        for (caller, _), deadlines in self._deadlines.items():
            if caller == src:
                for pending in deadlines.queue:
                    pending.done = True

    def request(self, src: str, dst: str, method: str, args, timeout: float) -> "Pending":
        """Send a request; the returned :class:`Pending` gets the first :class:`Reply`.

        Set its ``then`` before control returns to the event loop: ``then``
        is called exactly once, with the reply or with ``TIMEOUT`` at the
        deadline, unless ``src`` stops or crashes first (then never: see
        :meth:`abandon`).
        """
        pending = _new(Pending)
        pending.then = None
        self.send(src, dst, method, args, pending)
        queue = self._deadlines.get((src, timeout))
        if queue is None:
            queue = self._deadlines[(src, timeout)] = Deadlines(
                self.sim, timeout, self.nodes.get(src), self._deadlines, (src, timeout))
        # into the caller's deadline queue (inlined: one call per request less)
        pending.done = False
        pending.deadline = self._env._now + timeout
        queue.queue.append(pending)
        if not queue.armed:
            queue.armed = True
            self.sim.after(timeout, queue._expire)
        return pending

    def call(self, src: str, dst: str, method: str, args, timeout: float):
        """:meth:`request` as a SimPy event, for components written as SimPy processes.

        If ``src`` stops or crashes first, the event never fires (the process
        that waited on it is gone)."""
        done = self.sim.event()
        self.request(src, dst, method, args, timeout).then = done.succeed
        return done

    def reply(self, message: Message, status: str, value=None, extra: float = 0.0) -> None:
        """Answer a request (if it was one); ``extra`` is transit time on top of the link."""
        if message.call is not None:
            self.send(message.dst, message.src, "reply", _reply(Reply, (status, value)),
                      message.call, extra)


class Pending(Waiting):
    """A request waiting for its reply."""

    __slots__ = ("done", "deadline")

    def answer(self, reply: Reply) -> None:
        if not self.done:
            self.done = True
            self.then(reply)


class Deadlines:
    """The pending requests of one caller with one timeout, in deadline order.

    Deadlines arrive in order, so a single alarm, armed for the oldest
    request still unanswered, times out every request without an event per
    request.  :meth:`Network.request` adds the requests.

    One queue per caller, not one per timeout shared by every caller: with
    constant latencies two callers' deadlines can lie within rounding of each
    other, and a shared queue would time out the later one with the earlier
    (and order same-instant timeouts differently).
    """

    __slots__ = ("sim", "timeout", "queue", "armed", "node", "index", "key")

    def __init__(self, sim: Simulation, timeout: float, node=None, index=None,
                 key=None) -> None:
        self.sim, self.timeout, self.node = sim, timeout, node
        self.queue: deque = deque()
        self.armed = False
        #: where the network keeps this queue (``index[key]``); an emptied queue
        #: leaves it, so that one-off timeouts (what is left of a deadline after
        #: a redirect) do not pile up queues for the whole run
        self.index, self.key = index, key

    def _expire(self, _) -> None:
        now = self.sim.env._now
        queue = self.queue
        while queue and (queue[0].done or queue[0].deadline - now <= _EPSILON):
            pending = queue.popleft()
            if not pending.done:
                if self.node is not None and self.node.pauses:  # noticed on resume
                    self.node.paused.append((pending.answer, TIMEOUT))
                else:
                    pending.answer(TIMEOUT)
        if queue:
            self.sim.after(queue[0].deadline - now, self._expire)
        else:
            self.armed = False
            if self.index is not None and self.index.get(self.key) is self:
                del self.index[self.key]


#: Deadlines this close to now are due (floating-point sums of delays).
_EPSILON = 1e-12
