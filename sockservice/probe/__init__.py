"""
C{sockservice-client probe}: measure a network path through an upper-casing
service (latency distribution, loss, reordering, corruption, throughput).

The accounting is pure (L{sockservice.probe.payload},
L{sockservice.probe.accounting}, L{sockservice.probe.latency},
L{sockservice.probe.report}); the I/O on the reactor is in
L{sockservice.probe.pacing}, L{sockservice.probe.transports} and
L{sockservice.probe.modes}.
"""

__all__: "list[str]" = []
