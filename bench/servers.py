"""
The servers under test, as processes: how each is started (pinned to its
CPUs), how the harness knows it is ready, how it is stopped, and how its
resident memory and CPU time are read from C{/proc}.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Collection, Dict, List, Mapping, Optional, Sequence, Union

__all__ = [
    "ServerSpec",
    "RunningServer",
    "freePort",
    "serverSpecs",
    "startServer",
    "readRss",
    "readCpuSeconds",
    "readTreeCpuSeconds",
    "readCpuBusy",
    "processTree",
    "sockserviceCommand",
]

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / "peers"

_TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


@dataclass(frozen=True)
class ServerSpec:
    """
    A server under test.

    @ivar name: short name used in results (C{"uvloop"}).
    @ivar label: human name in the report (C{"asyncio+uvloop"}).
    @ivar argv: command line, with C{{port}} standing for the port number.
    @ivar jit: whether it runs on a JIT (PyPy), which needs a longer warm-up
        to reach its steady state.
    """

    name: str
    label: str
    argv: Sequence[str]
    jit: bool = False

    def command(self, port: int) -> List[str]:
        return [a.replace("{port}", str(port)) for a in self.argv]


def sockserviceCommand(python: str, *extra: str) -> List[str]:
    """
    C{twistd -n sockservice} on TCP and UDP C{{port}} of 127.0.0.1, run by
    C{python}, with C{extra} options.
    """
    return [
        python, "-c", _TWISTD, "-n", "--pidfile=", "sockservice",
        "--tcp", "tcp:{port}:interface=127.0.0.1",
        "--udp", "udp:{port}:interface=127.0.0.1",
        *extra,
    ]  # fmt: skip


def serverSpecs(python: str, pypy: Optional[str]) -> List[ServerSpec]:
    """
    Every server the harness knows, in report order.

    @param python: the CPython interpreter with Twisted, uvloop and sockservice.
    @param pypy: the PyPy interpreter with Twisted and sockservice, if any.
    """
    specs = [
        ServerSpec("socketserver", "socketserver (threads)",
                   [python, str(PEERS / "socketserver_peer.py"), "--port", "{port}"]),
        ServerSpec("asyncio", "asyncio",
                   [python, str(PEERS / "asyncio_peer.py"), "--port", "{port}"]),
        ServerSpec("uvloop", "asyncio+uvloop",
                   [python, str(PEERS / "asyncio_peer.py"), "--uvloop", "--port", "{port}"]),
        ServerSpec("twisted", "bare Twisted",
                   [python, str(PEERS / "twisted_peer.py"), "--port", "{port}"]),
        ServerSpec("sockservice", "sockservice", sockserviceCommand(python)),
        ServerSpec("sockservice-ascii", "sockservice --case ascii",
                   sockserviceCommand(python, "--case", "ascii")),
        ServerSpec("sockservice-metrics", "sockservice --metrics 0",
                   sockserviceCommand(python, "--metrics", "0")),
        ServerSpec("epoll", "raw epoll loop (floor)",
                   [python, str(PEERS / "epoll_peer.py"), "--port", "{port}"]),
    ]  # fmt: skip
    if pypy:
        specs += [
            ServerSpec("twisted-pypy", "bare Twisted on PyPy",
                       [pypy, str(PEERS / "twisted_peer.py"), "--port", "{port}"], jit=True),
            ServerSpec("sockservice-pypy", "sockservice on PyPy", sockserviceCommand(pypy), jit=True),
            ServerSpec("epoll-pypy", "raw epoll loop on PyPy (floor)",
                       [pypy, str(PEERS / "epoll_peer.py"), "--port", "{port}"], jit=True),
        ]  # fmt: skip
    return specs


def freePort(host: str = "127.0.0.1") -> int:
    """
    A port number free for both TCP and UDP on C{host} right now.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


def readRss(pid: int) -> int:
    """
    The resident set size of process C{pid}, in bytes (C{VmRSS}).
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def readCpuSeconds(pid: int) -> float:
    """
    User plus system CPU time of process C{pid} (all its threads), in seconds.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processTree(pid: int) -> List[int]:
    """
    Process C{pid} and all its descendants alive now (from C{/proc}).
    """
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def readTreeCpuSeconds(pid: int) -> float:
    """
    L{readCpuSeconds} summed over process C{pid} and its descendants: a
    server with C{--workers} does its work in child processes.
    """
    total = 0.0
    for p in processTree(pid):
        try:
            total += readCpuSeconds(p)
        except OSError:
            pass  # ended meanwhile
    return total


def readCpuBusy(cpus: Sequence[int]) -> float:
    """
    Seconds the given CPUs have spent busy (anything but idle and iowait,
    steal included) since boot, from C{/proc/stat}.
    """
    names = {f"cpu{c}" for c in cpus}
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in names:
            ticks = [int(x) for x in fields[1:9]]
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _probe(host: str, port: int) -> bool:
    """
    Whether the server answers an upper-casing round trip on TCP and on UDP.
    """
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"ready?")
            got = b""
            while len(got) < 6:
                chunk = s.recv(6 - len(got))
                if not chunk:
                    return False
                got += chunk
            if got != b"READY?":
                return False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(0.3)
            u.sendto(b"ready?", (host, port))
            return u.recv(64) == b"READY?"
    except OSError:
        return False


class RunningServer:
    """
    A started server process.

    @ivar spec: what it is.
    @ivar port: its TCP and UDP port.
    @ivar process: the process itself (its pid is the server's: no wrapper).
    """

    def __init__(self, spec: ServerSpec, port: int, process: subprocess.Popen, log: IO[bytes]):
        self.spec = spec
        self.port = port
        self.process = process
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def waitReady(self, timeout: float = 60.0) -> None:
        """
        Wait until the server answers on both protocols.

        @raise RuntimeError: if it exits or does not answer in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with status {self.process.returncode}")
            if _probe("127.0.0.1", self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"not answering after {timeout:.0f} s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """
        SIGTERM, then SIGKILL after 5 seconds.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def startServer(
    spec: ServerSpec,
    cpu: Union[int, Collection[int], None],
    logPath: Path,
    env: Optional[Mapping[str, str]] = None,
) -> RunningServer:
    """
    Start C{spec} on a free port, pinned to C{cpu} (a CPU or a set of them;
    not pinned if C{None}), its output appended to C{logPath}, with the
    environment C{env} (default: this process's).
    """
    cpus = {cpu} if isinstance(cpu, int) else cpu
    port = freePort()
    log = open(logPath, "ab")
    log.write(f"\n=== {time.strftime('%H:%M:%S')} {spec.name} port {port}\n".encode())
    log.flush()

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    process = subprocess.Popen(
        spec.command(port),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pin,
        cwd=str(BENCH.parent),
        env=None if env is None else dict(env),
    )
    return RunningServer(spec, port, process, log)
