"""
Command-line handling shared by the benchmark's peer servers.

Every peer takes C{--port} (TCP and UDP on the same number) or
C{--tcp-port}/C{--udp-port}, and C{--host} (default 127.0.0.1).  Peers print
nothing per message: the harness sees them only through their sockets.
"""

import argparse
import resource
from typing import Optional, Sequence

__all__ = ["parseArgs", "raiseFileLimit"]


def raiseFileLimit() -> None:
    """
    Raise the soft limit on open files to the hard limit, so that the idle
    benchmark's thousands of connections fit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parseArgs(
    description: str, argv: Optional[Sequence[str]] = None, extra: Sequence[str] = ()
) -> argparse.Namespace:
    """
    Parse a peer's command line.

    @param description: the peer's one-line description for C{--help}.
    @param argv: the arguments (default C{sys.argv[1:]}).
    @param extra: names of additional boolean flags (e.g. C{"--uvloop"}).
    @return: a namespace with C{host}, C{tcp_port} and C{udp_port} set.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="TCP and UDP port")
    parser.add_argument("--tcp-port", type=int)
    parser.add_argument("--udp-port", type=int)
    for flag in extra:
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args(argv)
    if args.tcp_port is None:
        args.tcp_port = args.port
    if args.udp_port is None:
        args.udp_port = args.port
    if args.tcp_port is None or args.udp_port is None:
        parser.error("give --port, or both --tcp-port and --udp-port")
    raiseFileLimit()
    return args
