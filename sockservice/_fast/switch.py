# -*- test-case-name: tests.test_switch, tests.integration.test_switch -*-
"""
The one switch for the speed tricks, and the calls the services make.

At import, L{sockservice._fast.selftest} runs the tricks on socket pairs
and a throwaway reactor.  If every check passes, L{enabled} is true and
L{fastWriter}, L{install} and L{tuneJIT} use the tricks.  If one
fails (a Twisted release renamed or changed an internal they rely on), one
line is logged naming the Twisted version and what failed, L{enabled} is
false, and all three take Twisted's public path: C{transport.write} and
C{transport.loseConnection}, Twisted's own reactor, no JIT tuning.  A
Twisted upgrade can then make the server slower, never break it.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Protocol

import twisted
from twisted.internet import tcp
from twisted.internet.interfaces import ITransport
from twisted.internet.main import installReactor
from twisted.logger import Logger

from sockservice._fast.jit import raiseTraceLimit
from sockservice._fast.selftest import checkInternals
from sockservice._fast.writing import ImmediateWriter

__all__ = [
    "Writer",
    "enabled",
    "fastWriter",
    "install",
    "installEPoll",
    "problem",
    "serverReactor",
    "tuneJIT",
]

log = Logger()


class Writer(Protocol):
    """
    What a protocol writes its replies to and closes its connection with.
    """

    def write(self, data: bytes) -> None:
        """
        Send C{data}, in order after everything written before.
        """

    def loseConnection(self) -> None:
        """
        Close the connection once everything written has been sent.
        """


def _decide(problem: Optional[str]) -> bool:
    """
    Whether to turn the tricks on, given what the self-test found; if not,
    say why in one line.
    """
    if problem is None:
        return True
    log.warn(
        "sockservice: Twisted {version}: {problem}; speed tricks off, using Twisted's public API",
        version=twisted.__version__,
        problem=problem,
        event="fast_path_off",
    )
    return False


#: What the self-test found wrong with this Twisted, or L{None}.
problem: Optional[str] = checkInternals()

#: Whether the speed tricks are on: the one switch.
enabled: bool = _decide(problem)


def fastWriter(transport: ITransport) -> Writer:
    """
    What to write replies to on C{transport}, and close it with.

    @return: an L{ImmediateWriter} for a plain Twisted TCP connection while
        the switch is on; otherwise C{transport} itself.
    """
    # isPlainTCP, in line: this runs once per connection.
    if enabled and isinstance(transport, tcp.Connection) and not getattr(transport, "TLS", False):
        return ImmediateWriter(transport)
    return transport


def install() -> object:
    """
    Install L{sockservice._fast.reactor}'s reactor as the global one, or
    Twisted's own epoll reactor where the switch is off.  The entry point of
    C{twistd -r sockservice-epoll}.

    @raise ImportError: where this system has no epoll.
    """
    from twisted.internet.epollreactor import EPollReactor

    from sockservice._fast.reactor import DirectEPollReactor

    reactor = DirectEPollReactor() if enabled else EPollReactor()
    installReactor(reactor)
    return reactor


def installEPoll() -> None:
    """
    L{install} where this system has epoll; elsewhere do nothing, so that
    Twisted's default reactor applies.
    """
    try:
        install()
    except ImportError:
        pass  # no epoll here: Twisted's default will do


def tuneJIT() -> bool:
    """
    Raise PyPy's JIT trace limit (L{sockservice._fast.jit}) while the switch
    is on.

    @return: whether it was raised.
    """
    return enabled and raiseTraceLimit()


def serverReactor() -> Any:
    """
    The global reactor, set up for a server process: installed by
    L{installEPoll} unless one is installed already (C{twistd -r}, a test
    runner), with PyPy's JIT tuned (L{tuneJIT}).
    """
    if "twisted.internet.reactor" not in sys.modules:
        installEPoll()
    from twisted.internet import reactor

    tuneJIT()
    return reactor
