# -*- test-case-name: tests.test_systemd, tests.integration.test_systemd -*-
"""
Running under systemd: inherited sockets and readiness notification.

Socket activation: systemd binds the ports and passes the sockets to the
service (C{LISTEN_FDS}, C{LISTEN_PID}).  Twisted's C{systemd:} endpoint adopts
an inherited I{stream} socket as it is told (L{checkInheritedStream} checks
that the socket is what the description says); UDP has no endpoints, so
L{parseInheritedDatagram} finds and checks the socket for C{--udp
systemd:index=N} (or C{systemd:name=NAME}), which
L{sockservice.server.listeners.AdoptedUDPListener} then serves.  Importing
L{twisted.internet.endpoints} consumes C{LISTEN_FDS} from the environment, so
the descriptor is found through that C{systemd:} endpoint machinery, never by
reading the environment again; and the address family is read from the socket
itself (a port-only C{ListenDatagram=} gives an IPv6 socket).

Readiness: with C{Type=notify}, systemd waits for C{READY=1} on the datagram
socket named by C{$NOTIFY_SOCKET} (see sd_notify(3)).  L{Notifier} sends such
messages, L{ReadinessService} sends C{READY=1} once the listeners are up and
C{STOPPING=1} when the service stops.  Without C{$NOTIFY_SOCKET} nothing is
sent.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import Callable, MutableMapping, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.python.usage import UsageError

from sockservice.coerce import isDecimal
from sockservice.server.addresses import descriptionKeywords

__all__ = [
    "InheritedSocket",
    "parseInheritedDatagram",
    "checkInheritedStream",
    "Notifier",
    "ReadinessService",
]

_selector = re.compile(r"systemd:(index|name)=([^:]+)")

_families = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6", socket.AF_UNIX: "UNIX"}


@dataclass(frozen=True)
class InheritedSocket:
    """
    A datagram socket inherited from the service manager.

    @ivar fileno: its file descriptor.
    @ivar family: its address family, L{socket.AF_INET} or L{socket.AF_INET6}.
    """

    fileno: int
    family: int


def _inheritedDescriptor(selector: str, value: str) -> int:
    """
    Look up an inherited descriptor the way the C{systemd:} stream endpoint
    does, and return it without adopting it.

    @raise IndexError: if there is no descriptor at that index.
    @raise KeyError: if there is no descriptor of that name.
    """
    # The domain only matters to the stream endpoint, which is never listened
    # on: what is wanted is the descriptor it found.
    endpoint = serverFromString(None, f"systemd:domain=INET:{selector}={value}")
    fileno: int = endpoint.fileno
    return fileno


def _probe(
    option: str, description: str, selector: str, value: str
) -> tuple[int, socket.AddressFamily, socket.SocketKind]:
    """
    Find the inherited descriptor that C{selector=value} names, and read its
    address family and socket type from the socket itself.

    @param option: C{"--tcp"} or C{"--udp"}, for error messages.
    @return: the descriptor, its family and its type.
    @raise UsageError: if there is no such descriptor or it is not a socket.
    """
    try:
        fileno = _inheritedDescriptor(selector, value)
    except (IndexError, KeyError):
        raise UsageError(
            f"{option}: no inherited socket with {selector} {value} for "
            f"{description!r} (is the service started by its .socket unit?)"
        ) from None
    try:
        probe = socket.socket(fileno=fileno)
    except OSError as e:
        raise UsageError(
            f"{option}: inherited descriptor {fileno} of {description!r} is not a "
            f"socket ({e.strerror})"
        ) from None
    try:
        return fileno, probe.family, probe.type
    finally:
        probe.detach()


def parseInheritedDatagram(description: str) -> InheritedSocket:
    """
    Parse a C{--udp systemd:index=N} or C{--udp systemd:name=NAME} description
    and check the inherited descriptor it names.

    @param description: the C{--udp} value, starting with C{systemd:}.
    @return: the inherited socket, for
        L{sockservice.server.listeners.AdoptedUDPListener}.
    @raise UsageError: when the description is malformed, no such descriptor
        was inherited, or it is not an IPv4 or IPv6 datagram socket.
    """
    match = _selector.fullmatch(description)
    if match is None or (match[1] == "index" and not isDecimal(match[2])):
        raise UsageError(
            f"--udp: invalid description {description!r} "
            "(expected systemd:index=N or systemd:name=NAME)"
        )
    fileno, family, kind = _probe("--udp", description, match[1], match[2])
    if kind != socket.SOCK_DGRAM:
        raise UsageError(
            f"--udp: inherited descriptor {fileno} of {description!r} is not a "
            "datagram socket (use ListenDatagram= in the .socket unit)"
        )
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise UsageError(
            f"--udp: inherited descriptor {fileno} of {description!r} is a "
            f"{_families.get(family, str(family))} socket, not an IPv4 or IPv6 one"
        )
    return InheritedSocket(fileno, family)


def checkInheritedStream(description: str) -> None:
    """
    Check the inherited socket that a C{--tcp systemd:domain=D:index=N} (or
    C{name=NAME}) endpoint description names: Twisted adopts it as it is
    told, and a wrong C{domain} garbles every address (a port-only
    C{ListenStream=} gives an IPv6 socket, which needs C{domain=INET6}).
    Descriptions it cannot parse are left to Twisted's own parser.

    @raise UsageError: when no such descriptor was inherited, or it is not a
        stream socket of that domain.
    """
    fields = descriptionKeywords(description, "--tcp")
    selectors = [key for key in ("index", "name") if key in fields]
    if "domain" not in fields or len(selectors) != 1:
        return
    selector = selectors[0]
    fileno, family, kind = _probe("--tcp", description, selector, fields[selector])
    if kind != socket.SOCK_STREAM:
        raise UsageError(
            f"--tcp: inherited descriptor {fileno} of {description!r} is not a "
            "stream socket (use ListenStream= in the .socket unit)"
        )
    if family != getattr(socket, "AF_" + fields["domain"], None):
        domain = getattr(family, "name", f"AF_{family}")[len("AF_") :]
        raise UsageError(
            f"--tcp: inherited descriptor {fileno} of {description!r} has "
            f"address family {domain}: use domain={domain}"
        )


class Notifier:
    """
    Send sd_notify(3) state messages, such as C{READY=1}, to the service
    manager: one datagram each on an C{AF_UNIX} socket.

    @ivar address: the socket address (abstract ones start with a NUL).
    """

    log = Logger()

    def __init__(
        self,
        address: str,
        socketFactory: Callable[..., socket.socket] = socket.socket,
    ) -> None:
        """
        @param address: the address, as in C{$NOTIFY_SOCKET}: a path, or
            C{@NAME} for a name in the abstract namespace.
        @param socketFactory: makes the sending socket (for tests).
        """
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._socketFactory = socketFactory

    @classmethod
    def fromEnvironment(
        cls, environ: Optional[MutableMapping[str, str]] = None, unset: bool = False
    ) -> Optional[Notifier]:
        """
        @param environ: the environment; L{os.environ} by default.
        @param unset: remove C{NOTIFY_SOCKET} from it, so that child
            processes do not inherit it (as sd_notify's C{unset_environment}).
        @return: a notifier for C{$NOTIFY_SOCKET}, or L{None} when it is unset
            or empty (not started by systemd with C{Type=notify}) or names an
            address family other than C{AF_UNIX}.
        """
        if environ is None:
            environ = os.environ
        address = environ.pop("NOTIFY_SOCKET", None) if unset else environ.get("NOTIFY_SOCKET")
        if not address:
            return None
        if not address.startswith(("/", "@")):
            cls.log.warn(
                "sockservice: ignoring NOTIFY_SOCKET={address}: only AF_UNIX sockets are supported",
                address=address,
                event="notify_socket_ignored",
            )
            return None
        return cls(address)

    def notify(self, state: str) -> bool:
        """
        Send one state message.  It never blocks and never raises: a failure
        is logged.

        @param state: newline-separated C{KEY=VALUE} assignments.
        @return: whether it was sent.
        """
        try:
            sender = self._socketFactory(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        except OSError as e:
            self.log.warn(
                "sockservice: cannot notify systemd: {error}", error=e, event="notify_failed"
            )
            return False
        try:
            sender.setblocking(False)
            sender.sendto(state.encode("utf-8"), self.address)
        except OSError as e:
            self.log.warn(
                "sockservice: cannot notify systemd of {state!r}: {error}",
                state=state,
                error=e,
                event="notify_failed",
            )
            return False
        finally:
            sender.close()
        return True


class ReadinessService(Service):
    """
    Tell systemd C{READY=1} once the service is up, C{STOPPING=1} when it
    stops.

    Add it to the top service I{after} the listeners: L{MultiService} starts
    its children in order, and the listeners are listening once started (a
    listener that cannot listen stops the start-up before this one is
    reached, so systemd never hears C{READY=1} and reports the failure).
    Stopping goes in reverse order, so C{STOPPING=1} is sent first.
    """

    def __init__(self, notifier: Notifier) -> None:
        """
        @param notifier: where to send the messages.
        """
        self.notifier = notifier

    def startService(self) -> None:
        super().startService()
        self.notifier.notify("READY=1")

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.notifier.notify("STOPPING=1")
        return succeed(None)
