"""
The C{twistd sockservice} plugin, a lazy pointer to L{sockservice.tap}, and
the C{sockservice-epoll} reactor (L{sockservice._fast.reactor}, installed by
L{sockservice._fast.switch}) for C{twistd -r}.

Nothing here imports the reactor, so C{twistd -r REACTOR sockservice} works.
"""

from twisted.application.reactors import Reactor
from twisted.application.service import ServiceMaker

sockservice = ServiceMaker(
    "sockservice",
    "sockservice.tap",
    "Upper-casing echo service over TCP and UDP (Kurose & Ross, section 2.7).",
    "sockservice",
)

sockserviceEPoll = Reactor(
    "sockservice-epoll",
    "sockservice._fast.switch",
    "epoll, dispatching events without the legacy log context (Linux).",
)
