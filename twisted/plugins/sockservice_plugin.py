"""
The C{twistd sockservice} plugin: a lazy pointer to L{sockservice.tap}.

Nothing here imports the reactor, so C{twistd -r REACTOR sockservice} works.
"""

from twisted.application.service import ServiceMaker

sockservice = ServiceMaker(
    "sockservice",
    "sockservice.tap",
    "Upper-casing echo service over TCP and UDP (Kurose & Ross, section 2.7).",
    "sockservice",
)
