# -*- test-case-name: bench.tests.test_report -*-
"""
The benchmark's Markdown report: the context (machine, date, command), the
results table with medians and ranges, latency and errors, the ratios of
sockservice to each peer, the issue's targets and the generator check.

Pure and standard-library only, like L{bench.results}.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

from bench.checks import evaluateTargets, generatorCheck
from bench.results import MEASUREMENTS, Stat, median, ratio

__all__ = [
    "formatNumber",
    "formatStat",
    "markdownTable",
    "contextLines",
    "renderMarkdown",
    "splice",
]


def formatNumber(x: float, unit: str = "") -> str:
    """
    A compact figure: C{61234 -> "61.2k"}, C{713.7 -> "714"}, C{3.456 -> "3.46"};
    bytes per connection in KiB (C{"B/conn"}).
    """
    if unit == "B/conn":
        return f"{x / 1024:.1f} KiB"
    if abs(x) >= 10_000:
        return f"{x / 1000:.1f}k"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def formatStat(stat: Optional[Stat], unit: str = "") -> str:
    """
    C{"median (min–max)"}, or just the median for a single run, or C{"–"}.
    """
    if stat is None:
        return "–"
    if stat.n == 1:
        return formatNumber(stat.median, unit)
    return (
        f"{formatNumber(stat.median, unit)} "
        f"({formatNumber(stat.low, unit)}–{formatNumber(stat.high, unit)})"
    )


def splice(text: str, start: str, end: str, insert: str) -> str:
    """
    C{text} with what lies between the markers C{start} and C{end} replaced
    by C{insert} (on a line of its own after C{start}).

    @raise ValueError: if a marker is missing.
    """
    begin = text.index(start) + len(start)
    return text[:begin] + "\n" + insert + text[text.index(end, begin) :]


def markdownTable(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    """
    The lines of a Markdown table.
    """
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def contextLines(report: Mapping[str, Any]) -> List[str]:
    """
    A report's opening list: its C{machine}, C{date}, C{command} and
    C{settings}.
    """
    return [
        f"- Machine: {report['machine']}",
        f"- Date: {report['date']}",
        f"- Command: `{report['command']}`",
        f"- Settings: {report['settings']}",
        "",
    ]


def renderMarkdown(report: Mapping[str, Any]) -> str:
    """
    The report as Markdown: context, results, latency and quality, server
    CPU per operation, ratios of sockservice to each peer, targets, the
    generator check and notes.

    @param report: a dict with C{machine}, C{date}, C{command}, C{settings}
        (strings), C{servers} (list of C{{"name", "label"}}), C{summary} (as
        from L{aggregate}), C{ours} (sockservice's server names), C{notes}
        (list of strings) and optionally C{noise_limit} (percent of a core
        of other load above which a run counts as noisy).
    """
    summary = report["summary"]
    ms = [
        m
        for m in MEASUREMENTS
        if any(m.key in summary.get(s["name"], {}) for s in report["servers"])
    ]
    servers = [s for s in report["servers"] if s["name"] in summary]
    ours = [s for s in report.get("ours", ()) if s in summary]
    peers = [s for s in servers if s["name"] not in ours]
    label = {s["name"]: s["label"] for s in report["servers"]}
    limit = report.get("noise_limit")
    out = contextLines(report) + [
        "Median (min–max) over the rounds; higher is better except idle memory."
        + (
            f" Runs with other load above {limit:g}% of a core are left out where a"
            " quieter run of the same cell exists: [2/3] means 2 of 3 runs were used;"
            " a * marks a cell where every run was that noisy: read it with care."
            if limit is not None
            else ""
        ),
        "",
    ]

    def cell(server: str, m: Any) -> str:
        stats = summary[server].get(m.key, {})
        text = formatStat(stats.get("value"), m.unit)
        used, total = stats.get("runs_used"), stats.get("runs_total")
        if used is not None and total is not None and used[0] < total[0]:
            text += f" [{used[0]:.0f}/{total[0]:.0f}]"
        other = stats.get("other_cpu_pct")
        if limit is not None and other is not None and other[1] > limit:
            text += " *"
        return text

    out += markdownTable(
        ["server"] + [f"{m.title} ({'KiB/conn' if m.unit == 'B/conn' else m.unit})" for m in ms],
        [[s["label"]] + [cell(s["name"], m) for m in ms] for s in servers],
    )
    lat = [m for m in ms if m.latency]
    if lat:
        out += [
            "",
            "Latency p50 / p99 in µs (medians over the rounds), UDP loss, and errors (totals over all runs):",
            "",
        ]
        rows = []
        for s in servers:
            per = summary[s["name"]]
            row = [s["label"]]
            for m in lat:
                p50, p99 = (per.get(m.key, {}).get(n) for n in ("p50_us", "p99_us"))
                row.append(
                    "–" if p50 is None or p99 is None else f"{p50.median:.0f} / {p99.median:.0f}"
                )
            loss = [per[m.key]["loss_pct"].median for m in ms if "loss_pct" in per.get(m.key, {})]
            row.append(f"{max(loss):.2f}" if loss else "–")
            errors = sum(v["errors_total"].median for v in per.values() if "errors_total" in v)
            connErrors = sum(
                v["conn_errors_total"].median for v in per.values() if "conn_errors_total" in v
            )
            row.append(f"{errors:.0f} / {connErrors:.0f}")
            rows.append(row)
        out += markdownTable(
            ["server"]
            + [m.title for m in lat]
            + ["UDP loss % (max)", "verification / connection errors"],
            rows,
        )
    perOp = [
        m
        for m in ms
        if any("server_us_per_op" in summary[s["name"]].get(m.key, {}) for s in servers)
    ]
    if perOp:
        out += [
            "",
            "Server CPU per operation in µs (medians; lower is better): what each"
            " request, connection or datagram cost the server, whatever capped the rate:",
            "",
        ]
        out += markdownTable(
            ["server"] + [m.title for m in perOp],
            [
                [s["label"]]
                + [
                    formatStat(summary[s["name"]].get(m.key, {}).get("server_us_per_op"))
                    for m in perOp
                ]
                for s in servers
            ],
        )
    for mine in ours:
        out += [
            "",
            f"Ratio {label[mine]} ÷ peer (medians; above 1.0 means {label[mine]} is faster"
            " or, for idle memory, uses more):",
            "",
        ]
        rows = []
        for m in ms:
            row = [m.title]
            for p in peers:
                r = ratio(median(summary, mine, m.key), median(summary, p["name"], m.key))
                row.append("–" if r is None else f"{r:.2f}×")
            rows.append(row)
        out += markdownTable(["measurement"] + [p["label"] for p in peers], rows)
    targets = evaluateTargets(summary, ours) if ours else []
    if targets:
        out += [
            "",
            "Targets of issue 6 (the best sockservice row, one worker; against bare Twisted, sockservice on CPython):",
            "",
        ]
        out += markdownTable(
            ["target", "measured", "met"],
            [[t["target"], f"{t['ratio']:.2f}×", "yes" if t["met"] else "**no**"] for t in targets],
        )
    check = generatorCheck(summary, ms)
    if check:
        out += [
            "",
            "Generator check: the generator's CPU use (one core = 100%) in the runs against the"
            " fastest server of each measurement; the server's CPU use beside it:",
            "",
        ]
        rows = []
        for c in check:
            m = next(x for x in ms if x.key == c["measurement"])
            verdict = {
                "headroom": "generator has headroom",
                "both busy": "both busy: close to the generator's limit",
                "generator-bound": "**generator-bound: this figure is capped**",
            }[c["verdict"]]
            srv = "–" if c["server_cpu_pct"] is None else f"{c['server_cpu_pct']:.0f}%"
            rows.append(
                [
                    m.title,
                    label.get(c["server"], c["server"]),
                    f"{formatNumber(c['value'])} {m.unit}",
                    f"{c['gen_cpu_pct']:.0f}% (max {c['gen_cpu_pct_max']:.0f}%)",
                    srv,
                    verdict,
                ]
            )
        out += markdownTable(
            [
                "measurement",
                "fastest server",
                "its median",
                "generator CPU",
                "server CPU",
                "verdict",
            ],
            rows,
        )
    notes = list(report.get("notes", ()))
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
