# -*- test-case-name: tests.test_tap -*-
"""
Tests for L{sockservice.tap}, L{sockservice.server.addresses} and
L{sockservice.server.listeners}, without sockets.
"""

from twisted.application.service import IServiceMaker
from twisted.internet.defer import fail
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from sockservice._fast import switch
from sockservice.server.addresses import InetAddress, parseTCP, parseUDP
from sockservice.server.heap import HeapFreeze
from sockservice.server.listeners import ListenFailed, TCPListener, UDPListener
from sockservice.server.options import ServerConfig
from sockservice.tap import Options, makeService
from sockservice.uppercase.tcp import UppercaseFactory
from sockservice.uppercase.udp import UppercaseDatagramProtocol


def _parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """
    L{Options} parses the command line of C{twistd sockservice}.
    """

    def test_defaults(self):
        """
        With neither --tcp nor --udp, TCP 12000 and UDP 12000 are served, and
        the documented defaults apply.
        """
        options = _parse()
        uppercase = options.config.uppercase
        self.assertEqual(uppercase.tcp, [("12000", "tcp:12000:backlog=1024")])
        self.assertEqual(uppercase.udp, [("12000", InetAddress(12000, ""))])
        self.assertEqual(uppercase.case, "unicode")
        self.assertEqual(
            options.config.server,
            ServerConfig(
                idleTimeout=300.0,
                maxConnections=10000,
                maxPerAddress=100,
                backlog=1024,
                udpRate=50.0,
                udpBurst=100,
                udpSources=10000,
                limitLoopback=False,
                drain=5.0,
            ),
        )

    def test_onlyWhatIsNamed(self):
        """
        With --tcp only, no UDP is served (and the reverse).
        """
        self.assertEqual(_parse("--tcp", "1234").config.uppercase.udp, [])
        self.assertEqual(_parse("--udp", "1234").config.uppercase.tcp, [])

    def test_repeatable(self):
        """
        --tcp and --udp may be given several times; duplicates collapse.
        """
        options = _parse(
            "--tcp", "1", "--tcp", "tcp6:2", "--tcp", "1", "--udp", "3", "--udp", "udp:4"
        )
        uppercase = options.config.uppercase
        self.assertEqual(
            [full for _, full in uppercase.tcp], ["tcp:1:backlog=1024", "tcp6:2:backlog=1024"]
        )
        self.assertEqual([a for _, a in uppercase.udp], [InetAddress(3), InetAddress(4)])

    def test_numbers(self):
        """
        Numeric options are converted.
        """
        options = _parse("--idle-timeout", "2.5", "--max-per-ip", "0", "--udp-rate", "0")
        self.assertEqual(
            (options["idle-timeout"], options["max-per-ip"], options["udp-rate"]), (2.5, 0, 0.0)
        )

    def assertUsageError(self, message, *argv):
        error = self.assertRaises(UsageError, _parse, *argv)
        self.assertEqual(str(error), message)

    def test_badNumbers(self):
        """
        A negative or non-numeric limit is a usage error naming the option.
        """
        self.assertUsageError(
            "--max-connections: expected a non-negative number, got 'many'",
            "--max-connections",
            "many",
        )
        self.assertUsageError(
            "--idle-timeout: expected a non-negative number, got '-1'", "--idle-timeout", "-1"
        )
        self.assertUsageError(
            "--udp-burst: expected a non-negative number, got '1.5'", "--udp-burst", "1.5"
        )
        self.assertUsageError("--udp-sources: must be at least 1", "--udp-sources", "0")

    def test_badCase(self):
        """
        An unknown --case is a usage error listing the choices.
        """
        self.assertUsageError(
            "--case: expected one of unicode, ascii, got 'title'", "--case", "title"
        )

    def test_badTCP(self):
        """
        A bad TCP port or endpoint description is a usage error.
        """
        self.assertUsageError("--tcp: invalid port '99999' (expected 0-65535)", "--tcp", "99999")
        self.assertUsageError(
            "--tcp: invalid endpoint 'bogus:1': Unknown endpoint type: 'bogus'", "--tcp", "bogus:1"
        )
        self.assertUsageError("--tcp: empty endpoint description", "--tcp", "")

    def test_badUDP(self):
        """
        A bad UDP description is a usage error.
        """
        self.assertUsageError(
            "--udp: invalid description 'tcp:1' (expected PORT or udp:PORT[:interface=ADDR])",
            "--udp",
            "tcp:1",
        )
        self.assertUsageError("--udp: invalid port '-3' (expected 0-65535)", "--udp", "udp:-3")
        self.assertUsageError(
            "--udp: unknown parameter 'colour=red' in 'udp:1:colour=red'",
            "--udp",
            "udp:1:colour=red",
        )
        self.assertUsageError("--udp: no port in 'udp:interface=::'", "--udp", "udp:interface=::")


class DescriptionTests(SynchronousTestCase):
    """
    Listen descriptions are normalised.
    """

    def test_tcpBacklog(self):
        """
        tcp and tcp6 descriptions get the backlog unless they set one; others
        are left alone.
        """
        self.assertEqual(parseTCP("7", 99), "tcp:7:backlog=99")
        self.assertEqual(
            parseTCP("tcp6:7:interface=\\:\\:1", 99), "tcp6:7:interface=\\:\\:1:backlog=99"
        )
        self.assertEqual(parseTCP("tcp:7:backlog=5", 99), "tcp:7:backlog=5")
        self.assertEqual(parseTCP("unix:/tmp/s", 99), "unix:/tmp/s")

    def test_udpForms(self):
        """
        UDP takes a port, udp:PORT, port= and interface= (colons escaped).
        """
        self.assertEqual(parseUDP("53000"), InetAddress(53000, ""))
        self.assertEqual(parseUDP("udp:5:interface=127.0.0.1"), InetAddress(5, "127.0.0.1"))
        self.assertEqual(parseUDP("udp:interface=\\:\\::port=6"), InetAddress(6, "::"))
        self.assertEqual(parseUDP("udp:6:interface=::1"), InetAddress(6, "::1"))
        self.assertEqual(parseUDP("udp:6:interface=fe80::1%lo"), InetAddress(6, "fe80::1%lo"))


class MakeServiceTests(SynchronousTestCase):
    """
    L{makeService} builds one listener per description under one parent.
    """

    def test_structure(self):
        """
        Each --tcp gets a L{TCPListener} sharing one factory, each --udp a
        L{UDPListener} with its own protocol reading whole 64 KiB datagrams.
        """
        reactor = MemoryReactorClock()
        options = _parse(
            "--tcp",
            "tcp:0",
            "--tcp",
            "tcp6:0",
            "--udp",
            "udp:0:interface=127.0.0.1",
            "--case",
            "ascii",
            "--max-per-ip",
            "3",
        )
        top = makeService(options, reactor)
        tcp = [s for s in top if isinstance(s, TCPListener)]
        udp = [s for s in top if isinstance(s, UDPListener)]
        self.assertEqual(len(tcp), 2)
        self.assertIs(tcp[0].factory, tcp[1].factory)
        self.assertIsInstance(tcp[0].factory, UppercaseFactory)
        self.assertEqual(tcp[0].factory.mode, "ascii")
        self.assertEqual(tcp[0].factory.guard.connections.maxPerAddress, 3)
        [listener] = udp
        port, protocol = listener.args
        self.assertEqual(port, 0)
        self.assertIsInstance(protocol, UppercaseDatagramProtocol)
        self.assertEqual(protocol.mode, "ascii")
        self.assertEqual(listener.kwargs, {"interface": "127.0.0.1", "maxPacketSize": 65535})

    def test_jitTuned(self):
        """
        Run as the server (no reactor given: C{twistd}), it sets up the
        server's reactor, JIT tuning included; given a reactor, as a library
        or a test is, it leaves the process alone.
        """
        calls = []
        self.patch(switch, "serverReactor", lambda: calls.append("server") or MemoryReactorClock())
        makeService(_parse("--tcp", "tcp:0"), MemoryReactorClock())
        self.assertEqual(calls, [])
        makeService(_parse("--tcp", "tcp:0"))
        self.assertEqual(calls, ["server"])

    def test_heapFrozenAsServer(self):
        """
        Run as the server, the tree has one L{HeapFreeze}, after the
        listeners, so that it freezes what they made as they started; given
        a reactor, there is none.
        """
        self.patch(switch, "serverReactor", MemoryReactorClock)
        served = list(makeService(_parse("--tcp", "tcp:0", "--udp", "udp:0")))
        [freeze] = [i for i, s in enumerate(served) if isinstance(s, HeapFreeze)]
        listeners = [i for i, s in enumerate(served) if isinstance(s, (TCPListener, UDPListener))]
        self.assertEqual(len(listeners), 2)
        self.assertGreater(freeze, max(listeners))
        embedded = makeService(_parse("--tcp", "tcp:0"), MemoryReactorClock())
        self.assertFalse([s for s in embedded if isinstance(s, HeapFreeze)])

    def test_serverReactorTunesJIT(self):
        """
        L{switch.serverReactor} tunes PyPy's JIT and returns
        the reactor already installed (here, the test runner's).
        """
        from twisted.internet import reactor

        calls = []
        self.patch(switch, "tuneJIT", lambda: calls.append("raised"))
        self.assertIs(switch.serverReactor(), reactor)
        self.assertEqual(calls, ["raised"])

    def test_listens(self):
        """
        Starting the service listens on each TCP endpoint with the backlog,
        and stopping it stops listening.
        """
        reactor = MemoryReactorClock()
        top = makeService(_parse("--tcp", "tcp:4321:interface=127.0.0.1"), reactor)
        top.privilegedStartService()
        top.startService()
        [(port, factory, backlog, interface)] = reactor.tcpServers
        self.assertEqual((port, backlog, interface), (4321, 1024, "127.0.0.1"))
        self.assertIsInstance(factory, UppercaseFactory)
        [listener] = [s for s in top if isinstance(s, TCPListener)]
        self.assertIsNotNone(listener.port)
        top.stopService()
        self.assertIsNone(listener.port)

    def test_tcpInUse(self):
        """
        A TCP port in use makes starting fail with a one-line exit naming it.
        """
        reactor = MemoryReactorClock()
        top = makeService(_parse("--tcp", "12000"), reactor)
        [listener] = [s for s in top if isinstance(s, TCPListener)]
        error = CannotListenError("", 12000, OSError(98, "Address already in use"))
        listener.endpoint.listen = lambda factory: fail(error)
        exit = self.assertRaises(ListenFailed, top.privilegedStartService)
        self.assertEqual(
            exit.code, "sockservice: cannot listen on TCP 12000: Address already in use"
        )
        self.assertIsInstance(exit, SystemExit)

    def test_udpInUse(self):
        """
        A UDP port in use makes starting fail with a one-line exit naming it.
        """

        class _Reactor(MemoryReactorClock):
            def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
                raise CannotListenError(interface, port, OSError(98, "Address already in use"))

        top = makeService(_parse("--udp", "udp:53:interface=127.0.0.1"), _Reactor())
        exit = self.assertRaises(ListenFailed, top.privilegedStartService)
        self.assertEqual(
            exit.code,
            "sockservice: cannot listen on UDP udp:53:interface=127.0.0.1: Address already in use",
        )


class PluginTests(SynchronousTestCase):
    """
    twistd finds the plugin.
    """

    def test_discoverable(self):
        """
        The sockservice service maker is among the installed twistd plugins
        and points at L{sockservice.tap}.
        """
        makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
        self.assertIn("sockservice", makers)
        self.assertEqual(makers["sockservice"].module, "sockservice.tap")
