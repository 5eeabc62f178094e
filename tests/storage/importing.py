"""Helpers for the importer tests: files built in memory, database counts, valid NIPs."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.importers import ImportIssue, ImportKind, ImportResult, import_file
from storage.models import Employee, Unit

TODAY = dt.date(2026, 3, 2)
EMPLOYEE_HEADERS = [
    "NIP",
    "Nama",
    "Jenis (PNS/PPPK)",
    "Jabatan",
    "Golongan",
    "Unit Kerja",
    "NIP Atasan",
    "No HP",
]
MUTATION_HEADERS = [
    "NIP",
    "Jenis Mutasi",
    "Unit Asal",
    "Jabatan Asal",
    "Unit Tujuan",
    "Jabatan Tujuan",
    "Tahap",
    "No SK",
    "Tanggal SK",
    "TMT",
    "Catatan",
]
TRAINING_HEADERS = ["Kode", "Judul", "Mulai", "Selesai", "Tempat", "NIP"]

# Real-shaped numbers: PNS = birth date + appointment YYYYMM + gender + sequence.
HEAD = "197501012000031001"
BOSS = "198003152005011002"
STAFF = "198609262015051001"
STAFF2 = "199002142019032003"
# NI PPPK: digits 9-14 are the year + a code (13 is no month: the PNS rule would reject it).
PPPK = "199105052021131001"


def pns_nip(sequence: int) -> str:
    """Distinct valid PNS NIPs."""
    return f"19880101201201{1 + sequence % 2}{sequence + 1:03d}"


def csv_bytes(
    rows: Sequence[Sequence[object]], *, delimiter: str = ",", bom: bool = False
) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(rows: Sequence[Sequence[object]], *, text_columns: Sequence[int] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    for column in text_columns:  # what HR does: format the NIP column as Text
        for (cell,) in sheet.iter_rows(min_col=column, max_col=column):
            cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def employee(
    nip: str = STAFF,
    name: str = "Rina Marlina",
    kind: str = "PNS",
    position: str = "Analis Transportasi",
    rank: str = "III/b",
    unit: str = "Dinas Perhubungan",
    supervisor: str = "",
    phone: str = "",
) -> list[str]:
    return [nip, name, kind, position, rank, unit, supervisor, phone]


def employees_file(*rows: Sequence[object], headers: Sequence[str] = EMPLOYEE_HEADERS) -> bytes:
    return csv_bytes([list(headers), *rows])


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
    kind: ImportKind | None = None,
    filename: str = "data.csv",
    **kwargs: Any,
) -> ImportResult:
    kwargs.setdefault("today", TODAY)
    return await import_file(sessionmaker, data, filename, kind, **kwargs)


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def employees_by_nip(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, Employee]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Employee))).all()
        return {row.nip: row for row in rows}


async def unit_names(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return sorted((await session.scalars(select(Unit.name))).all())


def only(result: ImportResult) -> ImportIssue:
    assert len(result.issues) == 1, [issue.render_line() for issue in result.issues]
    return result.issues[0]


def lines(result: ImportResult) -> list[str]:
    return [issue.render_line() for issue in result.issues]


async def seed_employees(
    sessionmaker: async_sessionmaker[AsyncSession], *rows: Sequence[object]
) -> None:
    """Employees through the importer itself (mutation and training tests start from them)."""
    result = await run(sessionmaker, employees_file(*rows))
    assert result.ok, lines(result)
