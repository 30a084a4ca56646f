# -*- test-case-name: tests.test_fragments -*-
"""
Tests for the time, chat and command options of L{sockservice.tap.Options}
and the listeners L{sockservice.tap.makeService} builds for them, without
sockets.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List

from twisted.internet.task import Clock
from twisted.python.usage import UsageError
from twisted.trial.unittest import TestCase

from sockservice.chat.relay import ChatProtocol
from sockservice.command.factory import CommandFactory
from sockservice.command.tap import isLocalDescription
from sockservice.server.guard import GuardedFactory
from sockservice.server.listeners import TCPListener, UDPListener
from sockservice.tap import Options, makeService
from sockservice.timeserver.protocol import TimeDatagramProtocol, TimeLineFactory
from tests.servicefakes import tempPath


class TapServicesTestCase(TestCase):
    """
    Helpers: parse options, write an allow-list and a token file.
    """

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def assertUsage(self, message: str, *argv: str) -> None:
        with self.assertRaises(UsageError) as e:
            self.parse(*argv)
        self.assertEqual(str(e.exception), message)

    def allowFile(self) -> str:
        path = tempPath(self)
        with open(path, "w") as f:
            f.write(f"[py]\nargv = {sys.executable} -c pass\n")
        return path

    def tokenFile(self, token: bytes = b"0123456789abcdef\n") -> str:
        path = tempPath(self)
        with open(path, "wb") as f:
            f.write(token)
        os.chmod(path, 0o600)
        return path

    def children(self, options: Options) -> List[Any]:
        """The listeners that makeService builds (not the drain service)."""
        return [
            s for s in makeService(options, Clock()) if isinstance(s, (TCPListener, UDPListener))
        ]


class TimeOptionsTests(TapServicesTestCase):
    """
    Tests for C{--time} and C{--utc}.
    """

    def test_barePortBoth(self) -> None:
        """A bare port serves time on UDP and TCP, and nothing else is served."""
        options = self.parse("--time", "12013")
        time, uppercase = options.config.time, options.config.uppercase
        self.assertEqual(time.udp[0][1].port, 12013)
        self.assertEqual(time.tcp[0][1], "tcp:12013:backlog=1024")
        self.assertEqual((uppercase.tcp, uppercase.udp), ([], []))

    def test_kinds(self) -> None:
        """A udp: description serves UDP only; other descriptions serve TCP only."""
        options = self.parse("--time", "udp:0:interface=127.0.0.1", "--time", "tcp6:0", "--utc")
        time = options.config.time
        self.assertEqual([d for d, _ in time.udp], ["udp:0:interface=127.0.0.1"])
        self.assertEqual([d for d, _ in time.tcp], ["tcp6:0"])
        self.assertTrue(time.utc)

    def test_listeners(self) -> None:
        """makeService adds a TCP line-protocol listener and a UDP time-protocol listener."""
        tcp, udp = self.children(self.parse("--time", "0", "--utc"))
        self.assertIsInstance(tcp, TCPListener)
        self.assertIsInstance(tcp.factory, GuardedFactory)
        self.assertIsInstance(tcp.factory.wrappedFactory, TimeLineFactory)
        self.assertTrue(tcp.factory.wrappedFactory.utc)
        self.assertIsInstance(udp, UDPListener)
        protocol = udp.args[1]
        self.assertIsInstance(protocol, TimeDatagramProtocol)
        self.assertEqual(udp.kwargs["maxPacketSize"], 65535)
        self.assertEqual(udp.description, "UDP 0 (time)")

    def test_bad(self) -> None:
        """A bad description names the --time option."""
        self.assertUsage("--time: invalid port 'x' (expected 0-65535)", "--time", "udp:x")

    def test_defaultsStillApply(self) -> None:
        """With none of the service options, the upper-casing defaults apply as before."""
        options = self.parse()
        config = options.config
        self.assertEqual(
            ([d for d, _ in config.uppercase.tcp], [d for d, _ in config.uppercase.udp]),
            (["12000"], ["12000"]),
        )
        self.assertEqual((config.time.tcp, config.chat.udp, config.command.tcp), ([], [], []))


class ChatOptionsTests(TapServicesTestCase):
    """
    Tests for C{--chat}.
    """

    def test_listener(self) -> None:
        """Each --chat is one UDP relay."""
        [udp] = self.children(self.parse("--chat", "udp:0:interface=::1"))
        self.assertIsInstance(udp.args[1], ChatProtocol)
        self.assertEqual((udp.args[0], udp.kwargs["interface"]), (0, "::1"))

    def test_bad(self) -> None:
        """A description that is not UDP is refused, naming --chat."""
        self.assertUsage(
            "--chat: invalid description 'tcp:1' (expected PORT or udp:PORT[:interface=ADDR])",
            "--chat",
            "tcp:1",
        )


class CommandOptionsTests(TapServicesTestCase):
    """
    Tests for C{--command}, C{--command-allow}, C{--command-token-file}.
    """

    def test_barePortIsLoopback(self) -> None:
        """A bare port listens on 127.0.0.1 only, and needs no token."""
        options = self.parse("--command", "12015", "--command-allow", self.allowFile())
        self.assertEqual(
            options.config.command.tcp, [("12015", "tcp:12015:interface=127.0.0.1:backlog=1024")]
        )
        [tcp] = self.children(options)
        self.assertIsInstance(tcp.factory, GuardedFactory)
        commands = tcp.factory.wrappedFactory
        self.assertIsInstance(commands, CommandFactory)
        self.assertIsNone(commands.token)
        self.assertEqual(list(commands.allowList.commands), ["py"])

    def test_offUnlessAsked(self) -> None:
        """Without --command there is no command listener."""
        options = self.parse("--tcp", "0")
        self.assertEqual(len(self.children(options)), 1)

    def test_needsAllowList(self) -> None:
        """--command without --command-allow is refused."""
        self.assertUsage("--command requires --command-allow FILE", "--command", "0")

    def test_allowWithoutCommand(self) -> None:
        """--command-allow alone is refused (it would do nothing)."""
        self.assertUsage("--command-allow given without --command", "--command-allow", "x")

    def test_badAllowList(self) -> None:
        """An allow-list that does not load is a usage error naming the file's problem."""
        path = tempPath(self)
        with open(path, "w") as f:
            f.write("[x]\n")
        self.assertUsage(
            "--command-allow: [x] argv is required", "--command", "0", "--command-allow", path
        )

    def test_remoteNeedsToken(self) -> None:
        """Listening beyond loopback without a token is refused."""
        allow = self.allowFile()
        for description in [
            "tcp:0",
            "tcp6:0",
            "tcp:0:interface=0.0.0.0",
            "haproxy:tcp:0",
            "tcp6:0:interface=\\:\\:",
        ]:
            self.assertUsage(
                f"--command {description}: listening beyond loopback requires --command-token-file",
                "--command",
                description,
                "--command-allow",
                allow,
            )

    def test_token(self) -> None:
        """With a token file, any address may be used and the factory holds the token."""
        options = self.parse(
            "--command",
            "tcp:0",
            "--command-allow",
            self.allowFile(),
            "--command-token-file",
            self.tokenFile(),
        )
        [tcp] = self.children(options)
        self.assertEqual(tcp.factory.wrappedFactory.token, b"0123456789abcdef")

    def test_shortToken(self) -> None:
        """A token shorter than 16 bytes is refused."""
        self.assertUsage(
            "--command-token-file: the token must be at least 16 bytes",
            "--command",
            "0",
            "--command-allow",
            self.allowFile(),
            "--command-token-file",
            self.tokenFile(b"short\n"),
        )

    def test_looseTokenFile(self) -> None:
        """
        A token file that its group or others may read is refused, as ssh
        refuses such a private key.
        """
        path = self.tokenFile()
        os.chmod(path, 0o640)
        self.assertUsage(
            f"--command-token-file: {path} is accessible by group or others "
            "(mode 0640): chmod 600 it",
            "--command",
            "0",
            "--command-allow",
            self.allowFile(),
            "--command-token-file",
            path,
        )

    def test_nulInFileNames(self) -> None:
        """
        A file name with a NUL byte, which no file can have, is a usage
        error naming the option, not a traceback.
        """
        self.assertUsage(
            "--command-token-file: not a file name: 'a\\x00b'",
            "--command",
            "0",
            "--command-allow",
            self.allowFile(),
            "--command-token-file",
            "a\x00b",
        )
        self.assertUsage(
            "--command-allow: not a file name: 'a\\x00b'",
            "--command",
            "0",
            "--command-allow",
            "a\x00b",
        )

    def test_unixSocketPrivate(self) -> None:
        """
        A UNIX socket for commands is created 0600, unless the description
        gives its own mode.
        """
        allow = self.allowFile()
        options = self.parse("--command", "unix:/tmp/x.sock", "--command-allow", allow)
        self.assertEqual(
            options.config.command.tcp, [("unix:/tmp/x.sock", "unix:/tmp/x.sock:mode=600")]
        )
        options = self.parse("--command", "unix:/tmp/x.sock:mode=660", "--command-allow", allow)
        self.assertEqual(options.config.command.tcp[0][1], "unix:/tmp/x.sock:mode=660")

    def test_missingToken(self) -> None:
        """An unreadable token file is refused."""
        with self.assertRaises(UsageError) as e:
            self.parse(
                "--command",
                "0",
                "--command-allow",
                self.allowFile(),
                "--command-token-file",
                os.path.join(tempPath(self), "none"),
            )
        self.assertIn("--command-token-file: cannot read", str(e.exception))

    def test_localDescriptions(self) -> None:
        """Loopback TCP and UNIX sockets are local; anything else is not."""
        for local in [
            "tcp:1:interface=127.0.0.1",
            "tcp6:1:interface=\\:\\:1",
            "unix:/tmp/s",
            "tcp:interface=127.0.0.2:port=1",
        ]:
            self.assertTrue(isLocalDescription(local), local)
        for remote in [
            "tcp:1",
            "tcp:1:interface=192.0.2.1",
            "tcp:1:interface=localhost",
            "ssl:1:interface=127.0.0.1",
            "systemd:domain=INET:index=0",
            "haproxy:tcp:1:interface=127.0.0.1",
        ]:
            self.assertFalse(isLocalDescription(remote), remote)


class WorkersTests(TapServicesTestCase):
    """
    The services of this module with C{--workers}.
    """

    def test_workersNeedUppercase(self) -> None:
        """--workers without --tcp or --udp is refused rather than serving defaults in workers."""
        self.assertUsage(
            "--workers: applies to --tcp and --udp, and neither is given",
            "--workers",
            "2",
            "--time",
            "0",
        )

    def test_servedByParent(self) -> None:
        """With --workers the time, chat and command services run in the parent only."""
        options = self.parse(
            "--workers",
            "2",
            "--tcp",
            "0",
            "--time",
            "udp:0",
            "--chat",
            "0",
            "--command",
            "0",
            "--command-allow",
            self.allowFile(),
        )
        names = [
            getattr(child, "description", type(child).__name__) for child in self.children(options)
        ]
        self.assertEqual(names[:3], ["UDP udp:0 (time)", "UDP 0 (chat)", "TCP 0 (command)"])
        arguments = options.workerArguments()
        self.assertFalse([a for a in arguments if a.startswith("--command")])
