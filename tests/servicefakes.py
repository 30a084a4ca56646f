# -*- test-case-name: tests.test_udpclient, tests.test_timeservice, tests.test_command -*-
"""
Small in-memory doubles for what Twisted's own test doubles lack: a bound
datagram transport, a reactor with C{listenUDP}, and C{spawnProcess}.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, List, Optional, Tuple, Union

from twisted.internet import testing
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IListeningPort,
    IReactorProcess,
    IReactorUDP,
    IUDPTransport,
)
from twisted.internet.task import Clock
from zope.interface import implementer

__all__ = [
    "FakeDatagramTransport",
    "FakeProcessReactor",
    "FakeProcessTransport",
    "FakeUDPPort",
    "FakeUDPReactor",
    "SpawnedProcess",
    "tempPath",
]


def tempPath(testCase: Any) -> str:
    """
    A path in a fresh directory that is removed after the test. (C{mktemp}
    writes under the working directory, which under pytest is the checkout.)
    """
    directory = tempfile.mkdtemp(prefix="sockservice-test-")
    testCase.addCleanup(shutil.rmtree, directory, True)
    return os.path.join(directory, "file")


class FakeDatagramTransport(testing.FakeDatagramTransport):
    """
    Twisted's L{twisted.internet.testing.FakeDatagramTransport}, which records
    what a L{DatagramProtocol} writes as C{(data, addr)} pairs in C{written},
    with the bound address, C{connect} and C{pop} that the service tests
    need.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9999) -> None:
        super().__init__()
        self._host = IPv4Address("UDP", host, port)

    def getHost(self) -> IPv4Address:
        """@return: The address this fake is bound to."""
        return self._host

    def connect(self, host: str, port: int) -> None:
        """Remember the peer of a connected datagram socket."""
        self.connectedTo = (host, port)

    def pop(self) -> List[Tuple[bytes, Any]]:
        """@return: The datagrams written since the last call."""
        out, self.written = self.written, []
        return out


@implementer(IUDPTransport, IListeningPort)
class FakeUDPPort(testing.FakeDatagramTransport):
    """
    A bound UDP port that records what is written and can be stopped: what
    L{FakeUDPReactor.listenUDP} returns.
    """

    def __init__(self, protocol: Any, port: int, interface: str, maxPacketSize: int):
        super().__init__()
        self.protocol = protocol
        self.port = port
        self.interface = interface
        self.maxPacketSize = maxPacketSize
        self.listening = True

    def getHost(self) -> Union[IPv4Address, IPv6Address]:
        if ":" in self.interface:
            return IPv6Address("UDP", self.interface, self.port)
        return IPv4Address("UDP", self.interface or "0.0.0.0", self.port)

    def startListening(self) -> None:
        self.protocol.makeConnection(self)

    def stopListening(self) -> Deferred[None]:
        self.listening = False
        self.protocol.doStop()
        return succeed(None)

    def connect(self, host: str, port: int) -> None:
        raise NotImplementedError()

    def setBroadcastAllowed(self, enabled: bool) -> None:
        pass

    def getBroadcastAllowed(self) -> bool:
        return False


@implementer(IReactorUDP)
class FakeUDPReactor(testing.MemoryReactorClock):
    """
    L{MemoryReactorClock} with the C{listenUDP} it lacks: each call binds a
    L{FakeUDPPort} on the next port from 40000.

    @ivar udpPorts: Every port bound, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.udpPorts: List[FakeUDPPort] = []

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> FakeUDPPort:
        bound = FakeUDPPort(protocol, 40000 + len(self.udpPorts), interface, maxPacketSize)
        self.udpPorts.append(bound)
        bound.startListening()
        return bound


class FakeProcessTransport:
    """
    Stands for a spawned process: records signals and pipe closes.

    @ivar signals: Signals sent, in order.
    """

    pid = 4242

    def __init__(self) -> None:
        self.signals: List[str] = []
        self.stdinClosed = False
        self.lostConnection = False
        self.exited = False

    def closeStdin(self) -> None:
        """Record that standard input was closed."""
        self.stdinClosed = True

    def signalProcess(self, signalID: str) -> None:
        """Record a signal, or fail like Twisted once the process has exited."""
        from twisted.internet.error import ProcessExitedAlready

        if self.exited:
            raise ProcessExitedAlready()
        self.signals.append(signalID)

    def loseConnection(self) -> None:
        """Record that every pipe was closed."""
        self.lostConnection = True


class SpawnedProcess:
    """
    One call to L{FakeProcessReactor.spawnProcess}, with helpers to play the
    child's part.
    """

    def __init__(
        self, protocol: Any, executable: str, args: List[str], env: Any, path: Any
    ) -> None:
        self.protocol = protocol
        self.executable = executable
        self.args = args
        self.env = env
        self.path = path
        self.transport = FakeProcessTransport()
        protocol.makeConnection(self.transport)

    def exit(self, code: int = 0, signal: Optional[int] = None) -> None:
        """End the fake child with an exit code or a signal."""
        from twisted.internet.error import ProcessDone, ProcessTerminated
        from twisted.python.failure import Failure

        self.transport.exited = True
        reason = (
            Failure(ProcessDone(0))
            if code == 0 and signal is None
            else Failure(ProcessTerminated(None if signal else code, signal))
        )
        self.protocol.processExited(reason)
        self.protocol.processEnded(reason)


@implementer(IReactorProcess)
class FakeProcessReactor(Clock):
    """
    A L{Clock} that records C{spawnProcess} calls instead of running anything.

    @ivar spawned: Every L{SpawnedProcess}, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spawned: List[SpawnedProcess] = []

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: str,
        args: Any = (),
        env: Any = None,
        path: Any = None,
        uid: Any = None,
        gid: Any = None,
        usePTY: bool = False,
        childFDs: Any = None,
    ) -> FakeProcessTransport:
        """Record the call and connect C{processProtocol} to a fake process."""
        spawned = SpawnedProcess(processProtocol, executable, list(args), env, path)
        self.spawned.append(spawned)
        return spawned.transport
