# -*- test-case-name: tests.test_impair -*-
"""
An impairing proxy for tests: a bad network path on loopback, on the reactor.

L{UDPImpairingProxy} and L{TCPImpairingProxy} listen on 127.0.0.1 (port 0)
and relay to a target; each direction goes through L{Impairer}s, which delay
every unit (a datagram; a chunk as read, or a line with C{lines=True} on TCP)
by a fixed time, and drop, corrupt, duplicate or reorder chosen units: every
k-th, or each with a probability drawn from a C{random.Random} seeded by the
test. A L{Record} per direction says exactly what was done, so that a test
can compare what the probe counted with the truth.

A unit gets at most one action, the first chosen in this order: drop,
corrupt, duplicate, reorder. Every probability is drawn for every unit (when
it is non-zero), so the choices depend only on the seed and the unit's
number. Units leave in the order they came, each C{delay} after it came,
except a reordered one: it is held back and sent right after the next unit
that passes (then it counts as reordered), or after C{holdFor} seconds when
none does (then it counts as released, not reordered). Corruption flips the
case bit (C{0x20}) of one byte, at C{corruptOffset}: the last byte of a
datagram by default; C{-2} keeps a line's newline.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IDelayedCall, IHalfCloseableProtocol, IReactorTime
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = [
    "Impairer",
    "Impairment",
    "Record",
    "TCPImpairingProxy",
    "UDPImpairingProxy",
]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Impairment:
    """
    What to do to the units going one way. C{...Every} of k chooses units k,
    2k, 3k... (counted from 1); C{...Probability} of p chooses each unit with
    probability p; 0 chooses none.

    @ivar delay: seconds added to every unit.
    @ivar holdFor: the longest a reordered unit waits for another to pass it.
    @ivar corruptOffset: the index (negative: from the end) of the byte flipped.
    """

    delay: float = 0.0
    dropEvery: int = 0
    dropProbability: float = 0.0
    corruptEvery: int = 0
    corruptProbability: float = 0.0
    duplicateEvery: int = 0
    duplicateProbability: float = 0.0
    reorderEvery: int = 0
    reorderProbability: float = 0.0
    corruptOffset: int = -1
    holdFor: float = 0.5


ACTIONS = ("drop", "corrupt", "duplicate", "reorder")


@dataclass
class Record:
    """
    What an impairment did to one direction, across all its flows.

    @ivar received: units that came in.
    @ivar delivered: units sent on (a duplicate counts twice).
    @ivar reordered: held units that another unit overtook.
    @ivar released: held units sent after C{holdFor}, overtaken by none.
    @ivar actions: C{(unit number, action)} for each unit acted on.
    """

    received: int = 0
    delivered: int = 0
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    reordered: int = 0
    released: int = 0
    actions: List[Tuple[int, str]] = field(default_factory=list)


class Direction:
    """
    One direction of a proxy: its impairment, its seeded generator, its
    record, and the count of units that gives each its number.
    """

    def __init__(self, impairment: Impairment, seed: int) -> None:
        self.impairment = impairment
        self.random = random.Random(seed)
        self.record = Record()

    def choose(self) -> Tuple[int, Optional[str]]:
        """
        Number the next unit and choose its action (or L{None}).
        """
        self.record.received += 1
        number = self.record.received
        chosen = None
        for action in ACTIONS:
            every: int = getattr(self.impairment, action + "Every")
            probability: float = getattr(self.impairment, action + "Probability")
            hit = bool(every) and number % every == 0
            if probability and self.random.random() < probability:
                hit = True
            if hit and chosen is None:
                chosen = action
        return number, chosen


def corrupt(data: bytes, offset: int) -> bytes:
    """
    Flip the case bit of the byte at C{offset} (the last one where the unit is
    shorter).
    """
    index = offset if -len(data) <= offset < len(data) else -1
    changed = bytearray(data)
    changed[index] ^= 0x20
    return bytes(changed)


class Impairer:
    """
    One flow's units in one direction: chosen actions applied, every unit
    delayed, and sent on in order through C{deliver}.
    """

    def __init__(
        self, reactor: IReactorTime, direction: Direction, deliver: Callable[[bytes], None]
    ) -> None:
        self._reactor = reactor
        self._direction = direction
        self._deliver = deliver
        self._queue: Deque[Tuple[float, bytes]] = deque()
        self._timer: Optional[IDelayedCall] = None
        self._held: Optional[Tuple[float, bytes]] = None
        self._holdTimer: Optional[IDelayedCall] = None
        self._drained: List[Deferred[None]] = []
        self._lastDue = 0.0

    def receive(self, data: bytes) -> None:
        """
        Take one unit and do to it what its direction chooses.
        """
        number, action = self._direction.choose()
        record = self._direction.record
        now = self._reactor.seconds()
        if action == "corrupt" and not data:
            action = None
        if action == "reorder" and self._held is not None:
            action = None
        if action is not None:
            record.actions.append((number, action))
        if action == "drop":
            record.dropped += 1
            self._checkDrained()
            return
        if action == "corrupt":
            record.corrupted += 1
            data = corrupt(data, self._direction.impairment.corruptOffset)
        if action == "reorder":
            self._held = (now, data)
            self._holdTimer = self._reactor.callLater(
                self._direction.impairment.holdFor, self._releaseHeld, False
            )
            return
        self._enqueue(now, data)
        if action == "duplicate":
            record.duplicated += 1
            self._enqueue(now, data)
        if self._held is not None:
            self._releaseHeld(True)

    def _releaseHeld(self, overtaken: bool) -> None:
        assert self._held is not None
        came, data = self._held
        self._held = None
        if self._holdTimer is not None and self._holdTimer.active():
            self._holdTimer.cancel()
        self._holdTimer = None
        if overtaken:
            self._direction.record.reordered += 1
        else:
            self._direction.record.released += 1
        self._enqueue(came, data)

    def _enqueue(self, came: float, data: bytes) -> None:
        due = max(came + self._direction.impairment.delay, self._lastDue)
        self._lastDue = due
        self._queue.append((due, data))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        while self._queue and self._queue[0][0] <= self._reactor.seconds():
            self._direction.record.delivered += 1
            self._deliver(self._queue.popleft()[1])
        if self._queue:
            wait = self._queue[0][0] - self._reactor.seconds()
            self._timer = self._reactor.callLater(wait, self._fire)
        else:
            self._checkDrained()

    def _fire(self) -> None:
        self._timer = None
        self._schedule()

    def _checkDrained(self) -> None:
        if not self._queue and self._held is None and self._timer is None:
            drained, self._drained = self._drained, []
            for waiting in drained:
                waiting.callback(None)

    def whenDrained(self) -> Deferred[None]:
        """
        Release a held unit now; fire once every unit taken has been sent on.
        """
        if self._held is not None:
            self._releaseHeld(False)
        waiting: Deferred[None] = Deferred()
        self._drained.append(waiting)
        self._checkDrained()
        return waiting

    def stop(self) -> None:
        """
        Forget what is queued or held, and cancel the timers.
        """
        for timer in (self._timer, self._holdTimer):
            if timer is not None and timer.active():
                timer.cancel()
        self._timer = self._holdTimer = self._held = None
        self._queue.clear()
        self._checkDrained()


class UDPImpairingProxy:
    """
    A UDP relay on 127.0.0.1: each client address gets a port of its own
    towards the target, as a NAT gives it.

    @ivar port: the port clients send to, once L{start}ed.
    @ivar requests: the direction client to target.
    @ivar replies: the direction target to client.
    """

    def __init__(
        self,
        reactor: Any,
        targetPort: int,
        replies: Impairment = Impairment(),
        requests: Impairment = Impairment(),
        seed: int = 0,
    ) -> None:
        self._reactor = reactor
        self._target = (LOOPBACK, targetPort)
        self.replies = Direction(replies, seed)
        self.requests = Direction(requests, seed + 1)
        self._front: Any = None
        self._flows: Dict[Tuple[str, int], Tuple[Any, Impairer, Impairer]] = {}
        self.port = 0

    def start(self) -> int:
        """
        Listen; return the port to send to.
        """
        front = DatagramProtocol()
        front.datagramReceived = self._fromClient  # type: ignore[method-assign]
        self._front = self._reactor.listenUDP(0, front, interface=LOOPBACK, maxPacketSize=65535)
        self.port = self._front.getHost().port
        return self.port

    def _fromClient(self, data: bytes, client: Tuple[str, int]) -> None:
        if client not in self._flows:
            back = DatagramProtocol()
            upstream = self._reactor.listenUDP(0, back, interface=LOOPBACK, maxPacketSize=65535)
            toTarget = Impairer(
                self._reactor, self.requests, lambda d: upstream.write(d, self._target)
            )
            toClient = Impairer(self._reactor, self.replies, lambda d: self._front.write(d, client))

            def fromTarget(reply: bytes, source: Tuple[str, int]) -> None:
                if source == self._target:
                    toClient.receive(reply)

            back.datagramReceived = fromTarget  # type: ignore[method-assign]
            self._flows[client] = (upstream, toTarget, toClient)
        self._flows[client][1].receive(data)

    def stop(self) -> Deferred[Any]:
        """
        Stop every port and timer.
        """
        stopping = [self._front.stopListening()] if self._front is not None else []
        for upstream, toTarget, toClient in self._flows.values():
            toTarget.stop()
            toClient.stop()
            stopping.append(upstream.stopListening())
        self._flows.clear()
        return gatherResults([d for d in stopping if d is not None])


class Lines:
    """
    Cuts a byte stream into lines, each with its newline; L{flush} gives
    what is left.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> List[bytes]:
        """
        The lines that C{data} completes.
        """
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line + b"\n" for line in lines]

    def flush(self) -> List[bytes]:
        """
        The unfinished line, if any.
        """
        rest, self._buffer = self._buffer, b""
        return [rest] if rest else []


class _Back(Protocol):
    """
    The proxy's connection to the target, for one client connection.
    """

    def __init__(self, front: _Front) -> None:
        self.front = front
        self.lines = Lines()
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        for unit in self.front.split(self.lines, data):
            self.front.toClient.receive(unit)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        for unit in self.lines.flush():
            self.front.toClient.receive(unit)
        self.front.toClient.whenDrained().addCallback(
            lambda _: self.front.transport.loseConnection()
        )
        self.closed.callback(None)


@implementer(IHalfCloseableProtocol)
class _Front(Protocol):
    """
    One client connection: held paused until its connection to the target
    is made, then relayed both ways through an impairer each.
    """

    toTarget: Impairer
    toClient: Impairer

    def __init__(self, proxy: TCPImpairingProxy) -> None:
        self.proxy = proxy
        self.lines = Lines()
        self.back: Optional[_Back] = None
        self.closed: Deferred[None] = Deferred()

    def split(self, lines: Lines, data: bytes) -> List[bytes]:
        return lines.feed(data) if self.proxy.lines else [data]

    def connectionMade(self) -> None:
        self.transport.pauseProducing()
        self.proxy.connections.append(self)
        reactor = self.proxy.reactor
        endpoint = TCP4ClientEndpoint(reactor, LOOPBACK, self.proxy.targetPort)
        connecting = endpoint.connect(Factory.forProtocol(lambda: _Back(self)))
        connecting.addCallbacks(self._connected, lambda _: self.transport.abortConnection())

    def _connected(self, back: _Back) -> None:
        self.back = back
        reactor = self.proxy.reactor
        self.toTarget = Impairer(reactor, self.proxy.requests, back.transport.write)
        self.toClient = Impairer(reactor, self.proxy.replies, self.transport.write)
        self.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        for unit in self.split(self.lines, data):
            self.toTarget.receive(unit)

    def _sendRest(self) -> Deferred[None]:
        for unit in self.lines.flush():
            self.toTarget.receive(unit)
        return self.toTarget.whenDrained()

    def readConnectionLost(self) -> None:
        if self.back is not None:
            back = self.back
            self._sendRest().addCallback(lambda _: back.transport.loseWriteConnection())

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self.back is not None:
            back = self.back
            self.toClient.stop()
            self._sendRest().addCallback(lambda _: back.transport.loseConnection())
        self.closed.callback(None)


class TCPImpairingProxy:
    """
    A TCP relay on 127.0.0.1: one connection to the target per client
    connection. Units are the chunks as read, or lines with C{lines=True}
    (then a dropped, duplicated or reordered unit is a whole reply line).

    @ivar port: the port clients connect to, once L{start}ed.
    @ivar requests: the direction client to target, all connections together.
    @ivar replies: the direction target to client, likewise.
    """

    def __init__(
        self,
        reactor: Any,
        targetPort: int,
        replies: Impairment = Impairment(),
        requests: Impairment = Impairment(),
        seed: int = 0,
        lines: bool = False,
    ) -> None:
        self.reactor = reactor
        self.targetPort = targetPort
        self.replies = Direction(replies, seed)
        self.requests = Direction(requests, seed + 1)
        self.lines = lines
        self.connections: List[_Front] = []
        self._listening: Any = None
        self.port = 0

    def start(self) -> int:
        """
        Listen; return the port to connect to.
        """
        factory = Factory.forProtocol(lambda: _Front(self))
        self._listening = self.reactor.listenTCP(0, factory, interface=LOOPBACK)
        self.port = self._listening.getHost().port
        return self.port

    def stop(self) -> Deferred[Any]:
        """
        Stop listening, close every connection both ways, cancel the timers.
        """
        stopping = [self._listening.stopListening()] if self._listening is not None else []
        for front in self.connections:
            if front.back is not None:
                front.toTarget.stop()
                front.toClient.stop()
                front.back.transport.abortConnection()
                stopping.append(front.back.closed)
            front.transport.abortConnection()
            stopping.append(front.closed)
        return gatherResults([d if d is not None else succeed(None) for d in stopping])
