"""Run every benchmark in bench/ on SQLite and PostgreSQL and gather their headline figures.

Each benchmark (``BENCHES``: import, delivery, status, evaluation, broadcast, load, scale)
runs as a child process, once per database (``--database-url`` of its own: a temporary SQLite
file, and the PostgreSQL at ``--postgres``, default
``postgresql://postgres@127.0.0.1:5432/test``, in a scratch database the benchmark creates and
drops). ``scale`` (several bot processes on one database) runs on PostgreSQL only: its figures
read ``n/a`` under SQLite. The printed tables are parsed (the benchmarks print, they do not
export) into figures: name, SQLite value, PostgreSQL value, goal, met. One table is printed,
and written with the date (WIB), the machine (CPU model and count, RAM, Python, PostgreSQL
server and SQLite versions) and each run's raw output (in a collapsed section) to
``bench/RESULTS.md`` (``--output``).

    .venv/bin/python bench/run_all.py [--only NAME ...] [--quick] [--output PATH]
        [--postgres URL | --no-postgres] [--timeout SECONDS]

Without ``--only`` the file is written anew. With ``--only NAME`` (repeatable) and an existing
file, only those benchmarks' rows of the table and their raw output sections are replaced
(added if missing, in ``BENCHES`` order); every other benchmark's rows and output, the
machine table and the first "Run by" line stay as they were, and a line under it says which
benchmark was rerun when (and whether as ``--quick``).

``--quick`` runs every benchmark at small sizes (a smoke run: the figures mean little, and
the file says so). A benchmark's exit status is shown but does not stop the others (some
exit 1 on a missed goal). With ``--timeout`` a benchmark still running is sent SIGTERM (it
then removes its child processes and scratch database) and killed a minute later. Nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import platform
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ("SQLite", "PostgreSQL")
LABEL = r"(SQLite|PostgreSQL)"

# name -> (script, full-size options, --quick options)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "import": ("import_bench.py", [], ["--rows", "1000"]),
    "delivery": ("delivery_bench.py", [], ["--messages", "300"]),
    "status": (
        "status_bench.py",
        [],
        ["--users", "100", "--employees", "1000", "--warmup", "5", "--timeout", "60"],
    ),
    "evaluation": (
        "evaluation_bench.py",
        [],
        ["--supervisors", "20", "--employees", "1000", "--evaluations", "1000", "--warmup", "2"],
    ),
    "broadcast": ("broadcast_bench.py", [], ["--recipients", "100"]),
    "load": (
        "load_bench.py",
        [],
        ["--users", "100", "--seconds", "10", "--employees", "1000", "--timeout", "60"],
    ),
    "scale": ("scale_bench.py", [], ["--quick"]),
}
# Benchmarks of several processes on one database: not run on SQLite (their figures: n/a).
POSTGRES_ONLY = {"scale"}
NOT_APPLICABLE = "n/a"


@dataclass
class Figure:
    name: str
    goal: str = "-"
    check: Callable[[float], bool] | None = None  # met, from the number in a value
    values: dict[str, str] = field(default_factory=dict)  # database -> shown value

    def met(self) -> str:
        if self.check is None:
            return "-"
        numbers = []
        for database in DATABASES:
            value = self.values.get(database)
            if value is None or value == NOT_APPLICABLE:
                continue
            found = re.search(r"-?\d+(?:\.\d+)?", value)
            if found is None:
                return "no"
            numbers.append(float(found[0]))
        if not numbers:
            return "-"
        return "yes" if all(self.check(n) for n in numbers) else "no"


class Figures:
    """The figures of one benchmark, in the order first seen."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.items: dict[str, Figure] = {}

    def put(
        self,
        name: str,
        database: str,
        value: str,
        goal: str = "-",
        check: Callable[[float], bool] | None = None,
    ) -> None:
        figure = self.items.setdefault(name, Figure(f"{self.bench}: {name}", goal, check))
        figure.values[database] = value


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


ZERO = at_most(0)


# --- the parsers: one per benchmark, each reading its printed tables -------------------------
def parse_import(output: str, figures: Figures) -> None:
    # database rows read import ratio ok re-import RSSread RSSimport RSSre ratio*
    pattern = rf"^{LABEL}\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(?:ok|MISS)\s+([\d.]+)\s+" + (
        r"(\d+)MB\s+(\d+)MB\s+(\d+)MB\s+([\d.]+)\s*$"
    )
    for m in re.finditer(pattern, output, re.M):
        db = m[1]
        figures.put("rows", db, m[2])
        figures.put("read XLSX", db, f"{float(m[3]):.2f} s")
        figures.put("import", db, f"{float(m[4]):.2f} s")
        figures.put("import / read", db, m[5], "<= 2.0", at_most(2.0))
        figures.put("re-import (unchanged)", db, f"{float(m[6]):.2f} s")
        figures.put("peak RSS (import)", db, f"{m[8]} MB")


def parse_delivery(output: str, figures: Figures) -> None:
    pattern = (
        rf"^{LABEL}\s+(cap [\d.]+/s, sender [\d.]+/s|no cap \(sender ceiling\))\s+(\d+)\s+"
        r"([\d.]+)\s+([\d.]+)\s+(\S+)(?: of cap)?\s+>= \S+\s+(?:ok|MISS)\s+(\d+)\s+0\s+"
        r"(?:ok|MISS)\s+(\d+)MB\s*$"
    )
    rss: dict[str, int] = {}
    too_many: dict[str, int] = {}
    for m in re.finditer(pattern, output, re.M):
        db, run = m[1], m[2]
        if run.startswith("cap"):
            sender = re.search(r"sender ([\d.]+)/s", run)
            figures.put(
                f"capped rate / cap (sender {sender[1] if sender else '?'}/s)",
                db,
                m[6],
                ">= 0.95",
                at_least(0.95),
            )
        else:
            figures.put(
                "sender ceiling (no cap)", db, f"{float(m[5]):.0f}/s", ">= 300/s", at_least(300)
            )
        too_many[db] = too_many.get(db, 0) + int(m[7])
        rss[db] = max(rss.get(db, 0), int(m[8]))
    for db, count in too_many.items():
        figures.put("429s (capped runs)", db, str(count), "0", ZERO)
    for db, value in rss.items():
        figures.put("peak RSS (sender)", db, f"{value} MB")


def parse_status(output: str, figures: Figures) -> None:
    current = None
    row = re.compile(
        r"^\s+(bot, as built|bot, limiter lifted|echo \(bare PTB\))\s+(\d+)\s+([\d.]+)\s+"
        r"(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s*$"
    )
    ratio = re.compile(r"^\s+ratio (bot, [^/]+?) / echo = ([\d.]+|nan)")
    for line in output.splitlines():
        if line.strip() in DATABASES:
            current = line.strip()
            continue
        if current is None:
            continue
        if m := row.match(line):
            kind = m[1]
            figures.put(f"{kind}: replies/s", current, f"{float(m[3]):.1f}/s")
            figures.put(
                f"{kind}: p50 / p95",
                current,
                f"{int(m[4]) / 1000:.1f} s / {int(m[5]) / 1000:.1f} s",
            )
            figures.put(f"{kind}: no reply", current, m[9], "0", ZERO)
            if kind == "bot, as built":
                figures.put("peak RSS (bot, as built)", current, m[8].replace("MB", " MB"))
        elif m := ratio.match(line):
            figures.put(f"{m[1]} / echo (replies/s)", current, m[2], ">= 0.8", at_least(0.8))


def parse_evaluation(output: str, figures: Figures) -> None:
    kinds = r"(bot, as built|bot, limiter lifted|echo \(bare PTB\))"
    steps = re.compile(
        rf"^{LABEL}\s+{kinds}\s+all steps\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s*(\S*)\s*$",
        re.M,
    )
    for m in steps.finditer(output):
        db, kind = m[1], m[2]
        figures.put(
            f"{kind}: all steps p50 / p95",
            db,
            f"{float(m[4]) / 1000:.2f} s / {float(m[5]) / 1000:.2f} s",
        )
        if m[7]:
            figures.put(f"{kind}: p95 / echo p95", db, m[7])
    runs = re.compile(rf"^{LABEL}\s+{kinds}\s+(\d[\d. ]+\S+MB\s+\d+)\s*$", re.M)
    for m in runs.finditer(output):
        db, kind, rest = m[1], m[2], m[3].split()
        # updates, span, rate, [ratio to echo], CPU ms, RSS, no answer
        figures.put(f"{kind}: updates/s", db, f"{float(rest[2]):.0f}/s")
        figures.put(f"{kind}: no answer", db, rest[-1], "0", ZERO)
        if kind != "echo (bare PTB)":
            figures.put(f"{kind}: peak RSS", db, rest[-2].replace("MB", " MB"))
    submitted = re.compile(
        rf"^{LABEL}, (bot[^:]*): evaluations submitted (\d+) of (\d+) \(lost (\d+), "
        r"doubled (\d+)",
        re.M,
    )
    for m in submitted.finditer(output):
        db = m[1]
        figures.put(f"{m[2]}: submitted", db, f"{m[3]} of {m[4]}")
        figures.put(f"{m[2]}: lost + doubled", db, str(int(m[5]) + int(m[6])), "0", ZERO)
    files = re.compile(
        rf"^{LABEL}\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)MB\s+([\d.]+)\s+"
        r"([\d.]+)\s+(\d+)KB\s+(\d+)\s+(\d+)MB\s*$",
        re.M,
    )
    for m in files.finditer(output):
        db = m[1]
        figures.put(f"HR files: XLSX of {m[2]} evaluations", db, f"{float(m[5]):.2f} s")
        figures.put("HR files: chart", db, f"{float(m[7]):.2f} s")


def parse_broadcast(output: str, figures: Figures) -> None:
    # database sent msg/s /cap ok 429s ok lost ok dupl ok to-last edits max-gap RSS
    pattern = (
        rf"^{LABEL}\s+(\d+)\s+([\d.]+|nan)\s+([\d.]+|nan)\s+(?:ok|MISS)\s+(\d+)\s+(?:ok|MISS)"
        r"\s+(\d+)\s+(?:ok|MISS)\s+(\d+)\s+(?:ok|MISS)\s+([\d.]+|nan)\s+(\d+)\s+([\d.]+|nan)"
        r"\s+(\S+)\s*$"
    )
    for m in re.finditer(pattern, output, re.M):
        db = m[1]
        figures.put("recipients reached", db, m[2])
        figures.put("rate / cap", db, f"{m[4]} ({m[3]}/s)", ">= 0.95", at_least(0.95))
        figures.put("429s", db, m[5], "0", ZERO)
        figures.put("lost", db, m[6], "0", ZERO)
        figures.put("duplicates", db, m[7], "0", ZERO)
        figures.put("press -> last recipient", db, f"{m[8]} s")
        figures.put("peak RSS (bot)", db, m[11].replace("MB", " MB"))


def parse_load(output: str, figures: Figures) -> None:
    kinds = re.compile(
        rf"^{LABEL}\s+(.+?)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s*$", re.M
    )
    for m in kinds.finditer(output):
        db, kind = m[1], m[2]
        figures.put(f"{kind}: p50 / p95 / max", db, f"{m[5]} / {m[6]} / {m[7]} s ({m[3]} sent)")
    summary = re.compile(
        rf"^{LABEL}\s+(\d+)\s+(?:ok|MISS)\s+(\d+)\s+(?:ok|MISS)\s+(\d+)\s+(\d+)/(\d+)\s+(\d+)\s+"
        r"(\d+)\s+(?:ok|MISS)\s+(\S+)\s+(\S+)\s+(?:ok|MISS)\s+(.+?)\s*$",
        re.M,
    )
    for m in summary.finditer(output):
        db = m[1]
        figures.put("errors", db, m[2], "0", ZERO)
        figures.put("lost updates", db, m[3], "0", ZERO)
        figures.put("errors in the bot's log", db, m[4], "0", ZERO)
        figures.put("announcement reached", db, f"{m[5]} of {m[6]}")
        figures.put("announcement duplicates + missing", db, str(int(m[7]) + int(m[8])), "0", ZERO)
        figures.put("announcement rate", db, f"{m[9]}/s")
        figures.put("peak RSS (bot)", db, m[10].replace("MB", " MB"), "<= 200 MB", at_most(200))
        figures.put("database connections (max)", db, m[11])


def parse_scale(output: str, figures: Figures) -> None:
    header = re.search(
        r"^throughput runs \(SEND_RATE_GLOBAL=([\d.]+)\)\s+(N=\d+(?:\s+N=\d+)*)\s*$", output, re.M
    )
    if header is None:
        return
    db, rate, counts = "PostgreSQL", float(header[1]), header[2].split()
    rows: dict[tuple[str, str], list[str]] = {}
    section = "runs"
    for line in output[header.end() :].splitlines():
        if line.startswith("cap run"):
            section = "cap"
        elif line.startswith(("ratio ", "why:", "updates/s = ")):
            continue
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 2:
            rows[(section, parts[0])] = parts[1:]

    def per_run(label: str) -> list[str]:
        values = rows.get(("runs", label), [])
        return values if len(values) == len(counts) else ["?"] * len(counts)

    for n, value in zip(counts, per_run("updates/s handled"), strict=True):
        figures.put(f"updates/s handled, {n}", db, f"{value}/s")
    for m in re.finditer(r"^ratio (N=\d+) / N=1 \(updates/s\) = (\S+)", output, re.M):
        if m[1] == "N=2":
            figures.put("updates/s N=2 / N=1", db, m[2], ">= 1.5", at_least(1.5))
        else:
            figures.put(f"updates/s {m[1]} / N=1", db, m[2])
    for n, p50, p95 in zip(counts, per_run("p50 latency s"), per_run("p95 latency s"), strict=True):
        figures.put(f"p50 / p95 latency, {n}", db, f"{p50} s / {p95} s")
    shares = [
        per_run(f"CPU cores: {what}")
        for what in ("bot processes (sum)", "emulator", "PostgreSQL", "driver (this script)")
    ] + [per_run("CPU cores: other processes (machine - ours)")]
    for i, n in enumerate(counts):
        figures.put(
            f"CPU cores bots / emulator / PostgreSQL / driver / other processes, {n}",
            db,
            " / ".join(values[i] for values in shares),
        )
    sends = [int(v) for v in per_run("most sends in one second") if v.isdigit()]
    if sends:
        figures.put(
            "most sends in one second (throughput runs)",
            db,
            f"{max(sends)} (of {rate:g})",
            f"<= {rate:g}",
            at_most(rate),
        )
    failures = 0
    for label in ("errors", "unanswered"):
        failures += sum(int(v) for v in per_run(label) if v.isdigit())
    cap_errors = rows.get(("cap", "errors / unanswered"), [""])[0]
    failures += sum(int(v) for v in re.findall(r"\d+", cap_errors))
    figures.put("errors + unanswered (all runs)", db, str(failures), "0", ZERO)
    cap = re.search(r"^cap run \(N=(\d+), SEND_RATE_GLOBAL=([\d.]+)", output, re.M)
    if cap:
        limit = float(cap[2])
        name = f"cap run (N={cap[1]}, {cap[2]}/s)"
        sent = rows.get(("cap", "messages/s sent"), ["?"])[0]
        figures.put(f"{name}: messages/s sent", db, f"{sent}/s")
        for label, values in rows.items():
            if label[0] == "cap" and label[1].startswith("most sends in one second"):
                figures.put(
                    f"{name}: most sends in one second",
                    db,
                    values[0],
                    f"<= {limit:g}",
                    at_most(limit),
                )
        too_many = rows.get(("cap", "429s (0)"), ["?"])[0]
        figures.put(f"{name}: 429s", db, too_many, "0", ZERO)


PARSERS: dict[str, Callable[[str, Figures], None]] = {
    "import": parse_import,
    "delivery": parse_delivery,
    "status": parse_status,
    "evaluation": parse_evaluation,
    "broadcast": parse_broadcast,
    "load": parse_load,
    "scale": parse_scale,
}


# --- the machine ------------------------------------------------------------------------------
def machine(postgres: str | None) -> list[tuple[str, str]]:
    cpu, count = "?", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "?":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                count += 1
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return [
        ("CPU", f"{cpu} × {count}"),
        ("RAM", ram),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("PostgreSQL server", postgres_version(postgres) if postgres else "not used"),
        ("SQLite", sqlite3.sqlite_version),
    ]


def postgres_version(url: str) -> str:
    from sqlalchemy import text

    from bot.config import normalize_database_url
    from storage.db import create_engine

    async def ask() -> str:
        engine = create_engine(normalize_database_url(url))
        try:
            async with engine.connect() as connection:
                return str((await connection.execute(text("SHOW server_version"))).scalar_one())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(asyncio.wait_for(ask(), 10))
    except Exception as exc:  # shown, not raised
        return f"unreachable ({type(exc).__name__})"


# --- running -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    bench: str
    database: str
    command: list[str]
    status: int | None
    seconds: float
    output: str


def run_bench(name: str, database: str, url: str, quick: bool, timeout: float | None) -> Outcome:
    script, full, small = BENCHES[name]
    command = [
        sys.executable,
        f"bench/{script}",
        "--database-url",
        url,
        *(small if quick else full),
    ]
    print(f"== {name} on {database}: {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            status: int | None = process.returncode
            note = ""
        except subprocess.TimeoutExpired:
            # SIGTERM first: the benchmark removes its child processes and scratch database.
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            status = None
            note = f"\n(stopped after {timeout:g} s)"
        except BaseException:  # Ctrl+C: let the benchmark clean up before we go
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(60)
            raise
    output = stdout + (f"\n--- stderr ---\n{stderr}" if stderr.strip() else "") + note
    seconds = time.monotonic() - began
    print(f"   exit {status}, {seconds:.0f} s", flush=True)
    return Outcome(name, database, command, status, seconds, output)


def table(figures: list[Figure]) -> list[list[str]]:
    rows = [["figure", "SQLite", "PostgreSQL", "goal", "met"]]
    for figure in figures:
        rows.append(
            [
                figure.name,
                figure.values.get("SQLite", "-"),
                figure.values.get("PostgreSQL", "-"),
                figure.goal,
                figure.met(),
            ]
        )
    return rows


def plain(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def markdown(rows: list[list[str]]) -> str:
    def line(row: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"

    return "\n".join([line(rows[0]), "|" + "---|" * len(rows[0]), *map(line, rows[1:])])


def results_file(
    rows: list[list[str]],
    outcomes: list[Outcome],
    about: list[tuple[str, str]],
    args: argparse.Namespace,
    when: dt.datetime,
) -> str:
    parts = [
        "# Benchmark results",
        "",
        f"Run by `bench/run_all.py{' --quick' if args.quick else ''}"
        + "".join(f" --only {n}" for n in args.only or [])
        + f"` on {when:%Y-%m-%d %H:%M} WIB.",
    ]
    if args.quick:
        parts += [
            "",
            "**Quick run: small sizes to check that every benchmark runs; these are not the "
            "figures.**",
        ]
    parts += ["", "| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in about), ""]
    parts += [markdown(rows), ""]
    parts += [
        "Goals as in each benchmark's own docstring; *met* is over every database measured "
        "(`-`: a figure without a goal). Each benchmark ran as a child process, once per "
        "database; its raw output follows.",
        "",
    ]
    for outcome in outcomes:
        parts += details(outcome)
    return "\n".join(parts)


def details(outcome: Outcome) -> list[str]:
    """One run's raw output, as a collapsed section (lines)."""
    command = " ".join(["python", *outcome.command[1:]]).replace(str(ROOT) + "/", "")
    return [
        "<details>",
        f"<summary>{outcome.bench} on {outcome.database}: exit {outcome.status}, "
        f"{outcome.seconds:.0f} s</summary>",
        "",
        f"`{command}`",
        "",
        "```text",
        outcome.output.rstrip().replace("```", "'''"),
        "```",
        "",
        "</details>",
        "",
    ]


TABLE_HEADER = "| figure | SQLite | PostgreSQL | goal | met |"
DETAILS = re.compile(r"<details>\n<summary>(\S+) on \S+: .*?\n</details>\n(?:\n|$)", re.S)
RERUN = re.compile(r"^- `(\S+)` rerun alone ")


def _bench_of(row: str) -> str:
    """The benchmark of a markdown table row (``| name: figure | ...``)."""
    return row[2:].split(": ", 1)[0]


def merge_results(
    existing: str,
    rows: list[list[str]],
    outcomes: list[Outcome],
    names: list[str],
    quick: bool,
    when: dt.datetime,
) -> str | None:
    """``existing`` (a results file) with the rows and raw output of ``names`` replaced by
    these; ``None`` when it has no figures table to update."""
    lines = existing.split("\n")
    if TABLE_HEADER not in lines:
        return None
    start = lines.index(TABLE_HEADER)
    end = start + 2
    while end < len(lines) and lines[end].startswith("| "):
        end += 1
    rows_of: dict[str, list[str]] = {}
    for line in lines[start + 2 : end]:
        rows_of.setdefault(_bench_of(line), []).append(line)
    for name in names:
        rows_of[name] = []
    for line in markdown(rows).split("\n")[2:]:
        rows_of.setdefault(_bench_of(line), []).append(line)
    order = [*BENCHES, *(bench for bench in rows_of if bench not in BENCHES)]
    table_lines = [*lines[start : start + 2], *(r for b in order for r in rows_of.get(b, []))]

    # The head: the first "Run by" line stays; a line per benchmark rerun alone follows it.
    head = lines[:start]
    reruns: list[str] = []
    run_by = next((i for i, line in enumerate(head) if line.startswith("Run by ")), None)
    if run_by is not None:
        after = run_by + 1
        while after < len(head) and (head[after] == "" or RERUN.match(head[after])):
            found = RERUN.match(head[after])
            if found and found[1] not in names:
                reruns.append(head[after])
            after += 1
        option = " --quick" if quick else ""
        for name in names:
            reruns.append(
                f"- `{name}` rerun alone by `bench/run_all.py --only {name}{option}` on "
                f"{when:%Y-%m-%d %H:%M} WIB"
                + (" (quick: small sizes, not the figures)." if quick else ".")
            )
        head = [*head[: run_by + 1], "", *reruns, "", *head[after:]]

    # The raw output: each benchmark's sections, the rerun ones replaced.
    tail = "\n".join(lines[end:])
    blocks = list(DETAILS.finditer(tail))
    if blocks:
        preface, trailer = tail[: blocks[0].start()], tail[blocks[-1].end() :]
    else:
        preface, trailer = tail, ""
    sections: dict[str, list[str]] = {}
    for block in blocks:
        sections.setdefault(block[1], []).append(block[0].rstrip("\n") + "\n")
    for name in names:
        sections[name] = []
    for outcome in outcomes:
        sections.setdefault(outcome.bench, []).append("\n".join(details(outcome)))
    order = [*BENCHES, *(bench for bench in sections if bench not in BENCHES)]
    body = "\n".join(section for bench in order for section in sections.get(bench, []))
    if not preface.endswith("\n\n"):
        preface = preface.rstrip("\n") + "\n\n"
    return "\n".join([*head, *table_lines]) + "\n" + preface + body + trailer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", choices=list(BENCHES), help="this benchmark (repeatable)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--timeout", type=float, help="seconds one benchmark run may take (default: no limit)"
    )
    args = parser.parse_args(argv)

    from bench.import_bench import postgres_reachable

    postgres: str | None = None if args.no_postgres else args.postgres
    if postgres and not postgres_reachable(
        postgres.replace("postgresql://", "postgresql+asyncpg://", 1)
    ):
        print(f"(PostgreSQL at {postgres} not reachable: SQLite only)")
        postgres = None
    databases = [("SQLite", "sqlite://")] + ([("PostgreSQL", postgres)] if postgres else [])
    when = dt.datetime.now(ZoneInfo("Asia/Jakarta"))
    about = machine(postgres)
    names = args.only or list(BENCHES)

    outcomes: list[Outcome] = []
    figures: list[Figure] = []
    for name in names:
        found = Figures(name)
        for database, url in databases:
            if name in POSTGRES_ONLY and database != "PostgreSQL":
                print(f"== {name} on {database}: n/a (PostgreSQL only)", flush=True)
                continue
            outcome = run_bench(name, database, url, args.quick, args.timeout)
            outcomes.append(outcome)
            PARSERS[name](outcome.output, found)
            if not any(database in f.values for f in found.items.values()):
                found.put("(no figures parsed: see the raw output)", database, "?")
        if name in POSTGRES_ONLY:
            if not found.items:
                found.put("(PostgreSQL only: not reachable)", "PostgreSQL", "-")
            for figure in found.items.values():
                figure.values["SQLite"] = NOT_APPLICABLE
        figures += found.items.values()

    rows = table(figures)
    print()
    print(plain(rows))
    merged = None
    if args.only and args.output.exists():
        merged = merge_results(args.output.read_text(), rows, outcomes, names, args.quick, when)
    args.output.write_text(merged or results_file(rows, outcomes, about, args, when))
    print(f"\n{'updated' if merged else 'written to'} {args.output}")
    failed = [o for o in outcomes if o.status is None or o.status not in (0, 1)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
