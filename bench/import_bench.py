"""Benchmark: importing employees from XLSX against openpyxl merely reading the file.

Goal: the import of N employees (default 10,000) into an empty database takes at most
2.0 x the time openpyxl needs to read the same file (read-only, values only).

    .venv/bin/python bench/import_bench.py [--rows 10000] [--database-url URL ...]

Without ``--database-url`` it runs on a temporary SQLite file and, if reachable, on the
PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (in a scratch database it
creates and drops). Every measurement runs in a fresh subprocess, so the peak RSS reported
(``ru_maxrss`` of that process) belongs to that measurement alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.demo import SAMPLE_UNITS  # noqa: E402
from storage.importers import ImportKind  # noqa: E402
from storage.importers.columns import COLUMNS  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
GOAL = 2.0
FIRST = ["Andi", "Budi", "Citra", "Dewi", "Eka", "Fajar", "Gita", "Hendra", "Indah", "Joko"]
LAST = ["Putra", "Sari", "Rahmat", "Yulianti", "Saputra", "Hidayat", "Wahyuni", "Syafril"]
POSITIONS = ["Analis Kebijakan", "Pranata Komputer", "Perawat", "Guru", "Pengelola Keuangan"]
RANKS = ["II/c", "III/a", "III/b", "III/c", "III/d", "IV/a", "IV/b"]


# --- data -----------------------------------------------------------------------------------
def make_rows(count: int, seed: int = 2026) -> list[list[object]]:
    """Valid employees: PNS and PPPK NIPs, every unit, a supervisor tree, unique phones, a
    TMT Jabatan and (mostly) a Potensi."""
    rng = random.Random(seed)
    rows: list[list[object]] = []
    used: set[str] = set()
    by_unit: dict[str, list[str]] = {unit: [] for unit in SAMPLE_UNITS}
    for index in range(count):
        pppk = index >= len(SAMPLE_UNITS) and rng.random() < 0.2
        while True:
            year = rng.randint(1965, 1999)
            birth = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            if pppk:  # NI PPPK: appointment year + a 2-digit code that is not a month
                middle = f"{rng.randint(2021, 2024)}{rng.randint(13, 99):02d}"
            else:
                middle = f"{rng.randint(year + 20, 2024)}{rng.randint(1, 12):02d}"
            nip = f"{birth}{middle}{rng.choice('12')}{rng.randint(1, 999):03d}"
            if nip not in used:
                used.add(nip)
                break
        unit = SAMPLE_UNITS[index % len(SAMPLE_UNITS)]
        colleagues = by_unit[unit]
        supervisor = rng.choice(colleagues[:50]) if colleagues else ""
        colleagues.append(nip)
        rows.append(
            [
                nip,
                f"{rng.choice(FIRST)} {rng.choice(LAST)} {index}",
                "PPPK" if pppk else "PNS",
                rng.choice(POSITIONS),
                "" if pppk else rng.choice(RANKS),
                unit,
                supervisor,
                f"0812{index:08d}",
                f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2015, 2025)}",
                rng.choice(("Rendah", "Menengah", "Tinggi", "")),
            ]
        )
    return rows


def write_xlsx(rows: list[list[object]], path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Pegawai")
    sheet.append([column.header for column in COLUMNS[ImportKind.EMPLOYEES]])
    for row in rows:
        sheet.append(row)
    workbook.save(path)


# --- measurements (each in a child process) -------------------------------------------------
def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def child_read(path: Path, repeat: int) -> dict[str, object]:
    """openpyxl merely reading every row (read-only, values only): best of ``repeat``.

    Measured twice: as is (the goal's baseline) and with the cyclic garbage collector
    paused, as the import runs, to show how much of the margin that pause is worth.
    """
    import gc

    from openpyxl import load_workbook

    data = path.read_bytes()

    def best_of() -> tuple[float, int]:
        best, rows = float("inf"), 0
        for _ in range(repeat):
            started = time.perf_counter()
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            rows = sum(1 for _row in workbook.worksheets[0].iter_rows(values_only=True))
            workbook.close()
            best = min(best, time.perf_counter() - started)
        return best, rows

    seconds, rows = best_of()
    gc.disable()
    try:
        seconds_gc_off, _rows = best_of()
    finally:
        gc.enable()
    return {
        "seconds": seconds,
        "seconds_gc_off": seconds_gc_off,
        "rows": rows - 1,
        "rss_mb": peak_rss_mb(),
    }


def child_import(path: Path, database_url: str, profile: bool) -> dict[str, object]:
    import openpyxl  # noqa: F401  (imported before the clock, as in the read baseline)
    from sqlalchemy import text

    from storage.db import create_engine, create_sessionmaker
    from storage.importers import import_file

    data = path.read_bytes()

    async def run() -> dict[str, object]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:  # connect before the clock starts
                await connection.execute(text("SELECT 1"))
            sessionmaker = create_sessionmaker(engine)
            started = time.perf_counter()
            result = await import_file(sessionmaker, data, path.name, actor_label="bench")
            seconds = time.perf_counter() - started
        finally:
            await engine.dispose()
        assert result.ok, [issue.render_line() for issue in result.issues[:5]]
        return {
            "seconds": seconds,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        outcome = profiler.runcall(asyncio.run, run())
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    else:
        outcome = asyncio.run(run())
    outcome["rss_mb"] = peak_rss_mb()
    return outcome


def default_database_urls() -> list[str]:
    """SQLite, and the local PostgreSQL when it answers."""
    urls = ["sqlite://"]
    if postgres_reachable(DEFAULT_POSTGRES.replace("postgresql://", "postgresql+asyncpg://")):
        urls.append(DEFAULT_POSTGRES)
    else:
        print(f"(PostgreSQL at {DEFAULT_POSTGRES} not reachable: skipped)")
    return urls


def run_child(*args: str, script: str = __file__) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a fresh process; its last stdout line is JSON figures."""
    completed = subprocess.run(
        [sys.executable, script, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{completed.stderr}")
    if completed.stderr.strip():
        print(completed.stderr, file=sys.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- databases ------------------------------------------------------------------------------
async def _admin(server_url: str, statement: str) -> None:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def postgres_reachable(url: str) -> bool:
    try:
        asyncio.run(asyncio.wait_for(_admin(url, "SELECT 1"), timeout=5))
    except Exception:
        return False
    return True


class ScratchDatabase:
    """A migrated, empty database for one benchmark run, removed afterwards."""

    def __init__(self, url: str, folder: Path) -> None:
        from sqlalchemy.engine import make_url

        from bot.config import normalize_database_url
        from storage.db import is_sqlite

        self.server = normalize_database_url(url)
        self.sqlite = is_sqlite(self.server)
        if self.sqlite:
            self.url = f"sqlite+aiosqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
            self.name = None
            self.label = "SQLite"
        else:
            self.name = f"bench_import_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self.url = make_url(self.server).set(database=self.name).render_as_string(False)
            self.label = "PostgreSQL"

    def __enter__(self) -> ScratchDatabase:
        from storage.migrate import upgrade

        if self.name:
            asyncio.run(_admin(self.server, f'CREATE DATABASE "{self.name}"'))
        upgrade(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.name:
            asyncio.run(_admin(self.server, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


# --- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", action="append", dest="urls")
    parser.add_argument("--profile", action="store_true", help="cProfile the first import")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        mode, *rest = args.child
        if mode == "read":
            outcome = child_read(Path(rest[0]), int(rest[1]))
        else:
            outcome = child_import(Path(rest[0]), rest[1], rest[2] == "1")
        print(json.dumps(outcome))
        return 0

    urls = args.urls or default_database_urls()

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        path = folder / f"employees-{args.rows}.xlsx"
        write_xlsx(make_rows(args.rows), path)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"{args.rows} employees, {size_mb:.2f} MB XLSX; every figure from a fresh process")

        header = (
            f"{'database':<11} {'rows':>6} {'read s':>7} {'import s':>9} {'ratio':>6} "
            f"{'goal':>5} {'re-import s':>11} {'RSS read':>9} {'RSS import':>10} "
            f"{'RSS re-imp':>10} {'ratio*':>7}"
        )
        lines = []
        failed = False
        for url in urls:
            with ScratchDatabase(url, folder) as database:
                read = run_child("read", str(path), "3")
                first = run_child("import", str(path), database.url, "1" if args.profile else "0")
                again = run_child("import", str(path), database.url, "0")
            if first["created"] != args.rows or again["unchanged"] != args.rows:
                raise RuntimeError(f"unexpected counts: {first} / {again}")
            ratio = float(first["seconds"]) / float(read["seconds"])
            strict = float(first["seconds"]) / float(read["seconds_gc_off"])
            failed |= ratio > GOAL
            lines.append(
                f"{database.label:<11} {args.rows:>6} {read['seconds']:>7.3f} "
                f"{first['seconds']:>9.3f} {ratio:>6.2f} {'ok' if ratio <= GOAL else 'MISS':>5} "
                f"{again['seconds']:>11.3f} {read['rss_mb']:>7.0f}MB {first['rss_mb']:>8.0f}MB "
                f"{again['rss_mb']:>8.0f}MB {strict:>7.2f}"
            )
        print(header)
        print("\n".join(lines))
        print(
            f"ratio = import / read (goal <= {GOAL}); read = best of 3, import into an empty "
            "database, re-import = same file again (all unchanged).\n"
            "ratio* = import / read with the garbage collector paused, as the import pauses it "
            "(the stricter comparison)."
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
