"""
Sample load generator output and a small benchmark summary, shared by the
benchmark harness's tests.
"""

from bench import results
from bench.results import Stat

__all__ = [
    "IDLE_LINE",
    "RR_LINE",
    "STREAM_LINE",
    "UDP_LINE",
    "sampleMeasurement",
    "sampleSummary",
]

# A line as bench/loadgen.c prints it (tcp-rr, 50 connections).
RR_LINE = (
    '{"mode": "tcp-rr", "duration_s": 2.0001, "ok": 122000, "errors": 0, '
    '"conn_errors": 0, "rate": 60996.9, "p50_us": 737.4, "p99_us": 1077.5, '
    '"cpu_user_s": 0.0277, "cpu_sys_s": 0.9691, "cpu_pct": 49.8, "conns": 50, '
    '"size": 64}'
)

STREAM_LINE = (
    '{"mode": "tcp-stream", "duration_s": 1.5, "ok": 600000000, "errors": 3, '
    '"conn_errors": 0, "rate": 400000000.0, "p50_us": -1.0, "p99_us": -1.0, '
    '"cpu_user_s": 0.01, "cpu_sys_s": 0.3, "cpu_pct": 20.7, "bytes": 600000000, '
    '"mb_per_s": 400.0, "drained": true}'
)

UDP_LINE = (
    '{"mode": "udp-rr", "duration_s": 1.5, "ok": 180000, "errors": 0, '
    '"conn_errors": 0, "rate": 120000.0, "p50_us": 244.3, "p99_us": 315.1, '
    '"cpu_user_s": 0.06, "cpu_sys_s": 0.9, "cpu_pct": 64.0, "outstanding": 32, '
    '"size": 64, "sent": 180010, "lost": 9, "late": 1, "loss_pct": 0.005}'
)

IDLE_LINE = (
    '{"mode": "idle", "duration_s": 0.2, "ok": 4990, "errors": 0, '
    '"conn_errors": 2, "rate": 24950.0, "p50_us": -1.0, "p99_us": -1.0, '
    '"cpu_user_s": 0.0, "cpu_sys_s": 0.2, "cpu_pct": 98.5, "conns": 5000, '
    '"established": 4990}'
)


def sampleMeasurement(key):
    """
    The measurement of L{results.MEASUREMENTS} with this C{key}.
    """
    return next(m for m in results.MEASUREMENTS if m.key == key)


def sampleSummary():
    """
    A small summary: three peers and sockservice on CPython and PyPy.
    """

    def entry(value, gen=50.0, server=100.0):
        us = server * 1e4 / value
        return {
            "value": Stat(value, value * 0.9, value * 1.1, 3),
            "gen_cpu_pct": Stat(gen, gen - 1, gen + 1, 3),
            "server_cpu_pct": Stat(server, server, server, 3),
            "server_us_per_op": Stat(us, us * 0.9, us * 1.1, 3),
            "p50_us": Stat(700.0, 690.0, 710.0, 3),
            "p99_us": Stat(1100.0, 1000.0, 1200.0, 3),
            "errors_total": Stat(0.0, 0.0, 0.0, 3),
            "conn_errors_total": Stat(0.0, 0.0, 0.0, 3),
        }

    return {
        "asyncio": {
            "tcp-rr-50": entry(128000.0),
            "idle": {"value": Stat(2048.0, 2000.0, 2100.0, 3)},
        },
        "uvloop": {"tcp-rr-50": entry(115000.0, gen=95.0, server=70.0)},
        "twisted": {"tcp-rr-50": entry(61000.0)},
        "sockservice": {
            "tcp-rr-50": entry(60000.0),
            "idle": {"value": Stat(9216.0, 9000.0, 9300.0, 3)},
        },
        "sockservice-pypy": {"tcp-rr-50": entry(90000.0)},
    }
