"""
What the benchmark needs before it can measure: the C load generator built
with the system compiler, a CPython environment with Twisted, uvloop and
sockservice, a PyPy one with Twisted and sockservice (when C{pypy3} is
installed), and a description of the machine for the report.

Everything built goes under C{bench/build/}, which git ignores.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

__all__ = [
    "BUILD",
    "buildGenerator",
    "benchPython",
    "pypyPython",
    "probe",
    "machineDescription",
]

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BUILD = BENCH / "build"


def buildGenerator(cc: Optional[str] = None) -> Path:
    """
    Compile C{bench/loadgen.c} into C{bench/build/loadgen} unless the binary
    is newer than the source.

    @param cc: the compiler (default C{$CC} or C{cc}).
    @raise RuntimeError: if there is no compiler or it fails.
    """
    source = BENCH / "loadgen.c"
    binary = BUILD / "loadgen"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = cc or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        raise RuntimeError(
            f"no C compiler {compiler!r}: install one (apt-get install gcc) or set CC"
        )
    BUILD.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [compiler, "-O2", "-Wall", "-o", str(binary), str(source)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"compiling loadgen.c failed:\n{result.stderr}")
    return binary


def _stamp(*paths: Path) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.read_bytes())
    return digest.hexdigest()


def _venv(interpreter: str, where: Path, requirements: Path, log: Path) -> Path:
    """
    A virtual environment at C{where} made by C{interpreter}, with the
    requirements and the project (editable) installed; reused while the
    requirements and C{pyproject.toml} are unchanged.
    """
    python = where / "bin" / "python"
    stampFile = where / ".bench-stamp"
    stamp = _stamp(requirements, REPO / "pyproject.toml") + interpreter
    if python.exists() and stampFile.exists() and stampFile.read_text() == stamp:
        return python
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        steps = [
            [interpreter, "-m", "venv", "--clear", str(where)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "-r",
                str(requirements),
                "-e",
                str(REPO),
            ],
        ]
        for step in steps:
            out.write(f"\n$ {' '.join(step)}\n".encode())
            out.flush()
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise RuntimeError(f"{' '.join(step[:4])}... failed: see {log}")
    stampFile.write_text(stamp)
    return python


def benchPython(log: Path) -> Path:
    """
    The CPython that runs the CPython servers: C{bench/build/venv}, made from
    the interpreter running the harness, with C{bench/requirements.txt}.
    """
    return _venv(sys.executable, BUILD / "venv", BENCH / "requirements.txt", log)


def pypyPython(log: Path, pypy: str = "pypy3") -> Tuple[Optional[Path], str]:
    """
    The PyPy that runs the PyPy rows (C{bench/build/pypy-venv}), or C{None}
    and the reason why not.
    """
    found = shutil.which(pypy)
    if found is None:
        return (
            None,
            f"{pypy} not found (Debian: apt-get install pypy3 pypy3-venv): PyPy rows skipped",
        )
    try:
        return _venv(found, BUILD / "pypy-venv", BENCH / "requirements-pypy.txt", log), ""
    except RuntimeError as e:
        return None, f"PyPy environment not made ({e}): PyPy rows skipped"


def probe(python: Path, code: str) -> Optional[str]:
    """
    Run C{code} with C{python}; its output stripped, or C{None} if it fails.
    """
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=str(REPO)
    )
    return result.stdout.strip() if result.returncode == 0 else None


_VERSIONS = (
    "import sys, platform, twisted; "
    "v = [platform.python_implementation() + ' ' + platform.python_version()]; "
    "pypy = getattr(sys, 'pypy_version_info', None); "
    "pypy and v.append('PyPy %d.%d.%d' % pypy[:3]); "
    "v.append('Twisted ' + twisted.__version__)\n"
    "try:\n import uvloop; v.append('uvloop ' + uvloop.__version__)\n"
    "except ImportError: pass\n"
    "print(', '.join(v))"
)


def _cpuModel() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "? GiB"


def _distro() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def machineDescription(pythons: List[Path]) -> Dict[str, str]:
    """
    The machine and software versions for the report.
    """
    versions = [v for v in (probe(p, _VERSIONS) for p in pythons) if v]
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {
        "cpu": f"{_cpuModel()}, {os.cpu_count()} CPUs, {_memory()}",
        "os": f"{_distro()}, Linux {platform.release()}",
        "software": "; ".join(versions + ([cc[0]] if cc else [])),
        "load": "load average at start %.2f %.2f %.2f" % os.getloadavg(),
    }
