"""HR's extra days off: add, list, remove, import (CSV and XLSX, all or nothing), the CLI."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.rules.workdays import nth_working_day
from storage.importers import ImportFileError
from storage.models import AuditLog
from storage.repositories.days_off import DayOffEntry, DaysOffRepository

ROOT = Path(__file__).resolve().parents[2]
D = dt.date


def csv_bytes(text: str) -> bytes:
    return text.encode("utf-8")


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_add_list_remove_and_use_as_extra_days_off(sessionmaker):
    async with sessionmaker() as session, session.begin():
        repo = DaysOffRepository(session)
        assert await repo.add(D(2026, 3, 20), "Cuti bersama  Idul Fitri") == "created"
        assert await repo.add(D(2026, 3, 20), "Cuti bersama Idul Fitri") == "unchanged"
        assert await repo.add(D(2026, 3, 23), "Cuti bersama") == "created"
        assert await repo.add(D(2026, 3, 23), "Cuti bersama Idul Fitri") == "updated"
        assert await repo.add(D(2027, 1, 2), "") == "created"
    async with sessionmaker() as session, session.begin():
        repo = DaysOffRepository(session)
        assert await repo.list(D(2026, 1, 1), D(2026, 12, 31)) == [
            DayOffEntry(D(2026, 3, 20), "Cuti bersama Idul Fitri"),
            DayOffEntry(D(2026, 3, 23), "Cuti bersama Idul Fitri"),
        ]
        extra = await repo.days(D(2026, 3, 1), D(2026, 3, 31))
        # From Wednesday 18 March: Nyepi (19th), HR's 20th and 23rd, the weekend.
        assert nth_working_day(D(2026, 3, 18), 2, extra) == D(2026, 3, 24)
        assert await repo.remove(D(2027, 1, 2))
        assert not await repo.remove(D(2027, 1, 2))
        assert len(await repo.list()) == 2
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert actions.count("day_off_add") == 4 and actions.count("day_off_remove") == 1


async def test_import_csv_creates_updates_and_is_idempotent(sessionmaker):
    data = csv_bytes(
        "Tanggal;Keterangan\n20/03/2026;Cuti bersama Idul Fitri\n2026-03-23;Cuti bersama\n"
        "24.03.2026;\n"
    )
    async with sessionmaker() as session, session.begin():
        await DaysOffRepository(session).add(D(2026, 3, 23), "lama")
    async with sessionmaker() as session, session.begin():
        result = await DaysOffRepository(session).import_file(data, "libur.csv")
    assert result.ok
    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 2, 1, 0)
    async with sessionmaker() as session, session.begin():
        again = await DaysOffRepository(session).import_file(data, "libur.csv")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        assert [e.name for e in await DaysOffRepository(session).list()] == [
            "Cuti bersama Idul Fitri",
            "Cuti bersama",
            "",
        ]


async def test_import_xlsx_with_date_cells(sessionmaker):
    data = xlsx_bytes(
        [["TANGGAL", "keterangan"], [dt.datetime(2026, 12, 24), "Cuti bersama Natal"]]
    )
    async with sessionmaker() as session, session.begin():
        result = await DaysOffRepository(session).import_file(data, "libur.xlsx")
        assert result.ok and result.created == 1
        assert await DaysOffRepository(session).list() == [
            DayOffEntry(D(2026, 12, 24), "Cuti bersama Natal")
        ]


async def test_a_bad_file_imports_nothing_and_reports_every_row(sessionmaker):
    data = csv_bytes(
        "Tanggal,Keterangan\n20/03/2026,ok\n31/02/2026,bad\n,empty\n"
        f"23/03/2026,{'x' * 201}\n20-03-2026,twice\n"
    )
    async with sessionmaker() as session, session.begin():
        result = await DaysOffRepository(session).import_file(data, "libur.csv")
    assert not result.ok
    lines = [issue.render_line() for issue in result.issues]
    assert lines == [
        'Row 3, column Tanggal: "31/02/2026" is not a valid date. Use DD/MM/YYYY (day first), '
        "DD-MM-YYYY, DD.MM.YYYY or YYYY-MM-DD.",
        "Row 4, column Tanggal: This cell is empty; a value is required.",
        "Row 5, column Keterangan: Too long: at most 200 characters.",
        "Row 6, column Tanggal: The date 2026-03-20 appears more than once in the file "
        "(rows 2, 6).",
    ]
    async with sessionmaker() as session:
        assert await DaysOffRepository(session).list() == []


async def test_file_level_problems(sessionmaker):
    async with sessionmaker() as session:
        repo = DaysOffRepository(session)
        with pytest.raises(ImportFileError) as missing:
            await repo.import_file(csv_bytes("Hari,Nama\n20/03/2026,x\n"))
        assert "Tanggal" in missing.value.issue.render()
        with pytest.raises(ImportFileError):
            await repo.import_file(csv_bytes("Tanggal,Tanggal\n20/03/2026,x\n"))
        with pytest.raises(ImportFileError):
            await repo.import_file(b"")


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    environment.update(DATABASE_URL=database_url, DEFAULT_LANGUAGE="en")
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), "days-off", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli(database_url, tmp_path):
    good = tmp_path / "libur.csv"
    good.write_text("Tanggal,Keterangan\n20/03/2026,Cuti bersama\n", encoding="utf-8")
    bad = tmp_path / "salah.csv"
    bad.write_text("Tanggal,Keterangan\n32/03/2026,x\n", encoding="utf-8")

    result = run_cli(database_url, "import", str(good))
    assert result.returncode == 0, result.stderr
    assert "1 rows (1 new, 0 updated, 0 unchanged)" in result.stdout

    result = run_cli(database_url, "import", str(bad))
    assert result.returncode == 1
    assert "Row 2, column Tanggal" in result.stderr and "Traceback" not in result.stderr

    result = run_cli(database_url, "import", str(tmp_path / "none.csv"))
    assert result.returncode == 1 and "File not found" in result.stderr

    result = run_cli(database_url, "add", "2026-12-24", "Cuti bersama Natal")
    assert result.returncode == 0, result.stderr
    assert "Thursday, December 24, 2026" in result.stdout

    result = run_cli(database_url, "add", "2026-13-01")
    assert result.returncode == 2 and "not a valid date" in result.stderr

    result = run_cli(database_url, "list", "--year", "2026")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "2026-03-20  Friday, March 20, 2026  Cuti bersama",
        "2026-12-24  Thursday, December 24, 2026  Cuti bersama Natal",
    ]

    assert run_cli(database_url, "remove", "2026-03-20").returncode == 0
    result = run_cli(database_url, "remove", "2026-03-20")
    assert result.returncode == 1
    assert run_cli(database_url, "list", "--year", "2025").stdout.strip() != ""
