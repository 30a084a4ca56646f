# -*- test-case-name: tests.test_tap -*-
"""
Interfaces for type hints: the reactor a server process needs, and the
transport of a stream connection as the services use it.

Only for type hints (as Twisted's own C{IDistTrialReactor}): each combines
interfaces that the objects passed already provide, but no object declares
these, so never test for them with C{providedBy}.
"""

from __future__ import annotations

from twisted.internet.interfaces import (
    IConsumer,
    IPushProducer,
    IReactorCore,
    IReactorFDSet,
    IReactorProcess,
    IReactorSocket,
    IReactorTCP,
    IReactorTime,
    IReactorUDP,
    ITCPTransport,
)
from zope.interface import Attribute

__all__ = ["IServerReactor", "IStreamTransport"]


class IServerReactor(
    IReactorCore,
    IReactorTime,
    IReactorTCP,
    IReactorUDP,
    IReactorSocket,
    IReactorProcess,
    IReactorFDSet,
):
    """
    The reactor interfaces the services of one process use together: TCP
    and UDP listeners, inherited sockets, the clock, child processes
    (C{--workers}, the command service) and the parent's pipe.  Every
    reactor Twisted installs on POSIX provides them.
    """


class IStreamTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    The transport of a stream connection: write and close, pause and resume
    reading (flow control), and register a producer of replies.  Twisted's
    TCP and TLS transports provide all of it (UNIX ones all but the TCP
    options), and so does the L{sockservice.server.guard} wrapper around
    them.
    """

    disconnecting = Attribute(
        "True once loseConnection was called: nothing more should be written."
    )
