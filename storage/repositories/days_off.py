"""Extra days off HR declares (cuti bersama, local holidays), besides the national holidays.

``bot.rules.workdays`` treats them as non-working days. HR lists, adds and removes them
(``python run_bot.py days-off …``) or imports a CSV/XLSX file with the columns
``Tanggal, Keterangan`` (Keterangan optional): dates day first as in the other imports
(``DD/MM/YYYY``, ``DD-MM-YYYY``, ``DD.MM.YYYY`` or ``YYYY-MM-DD``; date cells as they are).
The import is all or nothing: every row is checked and every problem reported (row, column as
headed in the file, a gettext message) before anything is written. A date already in the
database gets the file's Keterangan; nothing is removed by an import. Adding, removing and
importing are written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from storage.importers import messages as m
from storage.importers.base import ImportFileError, ImportIssue, Issues, rows_text
from storage.importers.cells import parse_date, text
from storage.importers.columns import header_key
from storage.importers.table import read_table
from storage.models import DayOff
from storage.repositories.audit import AuditRepository

NAME_MAX = 200
DATE_HEADER = "Tanggal"
NAME_HEADER = "Keterangan"
EXPECTED_HEADERS = f"{DATE_HEADER}, {NAME_HEADER}"
DUPLICATE_DAY = N_("The date {date} appears more than once in the file (rows {rows}).")


@dataclass(frozen=True, slots=True)
class DayOffEntry:
    day: dt.date
    name: str


@dataclass(slots=True)
class DaysOffImportResult:
    """What an import did; when ``issues`` is not empty nothing was written."""

    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def _columns(headers: list[str]) -> tuple[int, int | None, dict[str, str]]:
    """Indexes of Tanggal and Keterangan (optional), and the headers as written in the file."""
    wanted = {header_key(DATE_HEADER): "date", header_key(NAME_HEADER): "name"}
    positions: dict[str, int] = {}
    written: dict[str, str] = {"date": DATE_HEADER, "name": NAME_HEADER}
    for index, raw in enumerate(headers):
        which = wanted.get(header_key(raw))
        if which is None:
            continue
        if which in positions:
            raise ImportFileError(m.FILE_DUPLICATE_COLUMN, column=str(raw).strip())
        positions[which] = index
        written[which] = str(raw).strip()
    if "date" not in positions:
        raise ImportFileError(
            m.FILE_MISSING_COLUMNS, missing=DATE_HEADER, expected=EXPECTED_HEADERS
        )
    return positions["date"], positions.get("name"), written


def _cell(row: tuple[object, ...], index: int | None) -> object:
    return row[index] if index is not None and index < len(row) else None


def parse_days_off(
    data: bytes, filename: str = ""
) -> tuple[dict[dt.date, str], int, list[ImportIssue]]:
    """The file's days off (``{day: name}``), its number of data rows and its problems
    (raises ``ImportFileError`` for a file that is unusable as a whole)."""
    table = read_table(data, filename)
    date_index, name_index, header = _columns(table.headers)
    issues = Issues()
    days: dict[dt.date, str] = {}
    first_row: dict[dt.date, list[int]] = {}
    for number, row in table.rows:
        raw_day = _cell(row, date_index)
        name = " ".join(text(_cell(row, name_index)).split())
        day = None
        if not text(raw_day):
            issues.add(number, header["date"], m.REQUIRED)
        else:
            day = parse_date(raw_day)
            if day is None:
                issues.add(number, header["date"], m.BAD_DATE, value=text(raw_day))
        if len(name) > NAME_MAX:
            issues.add(number, header["name"], m.TOO_LONG, max=NAME_MAX)
        if day is None:
            continue
        first_row.setdefault(day, []).append(number)
        days.setdefault(day, name)
    for day, rows in first_row.items():
        if len(rows) > 1:
            for number in rows[1:]:
                issues.add(
                    number,
                    header["date"],
                    DUPLICATE_DAY,
                    date=day.isoformat(),
                    rows=rows_text(rows),
                )
    return days, len(table.rows), issues.sorted()


class DaysOffRepository:
    """Days off; methods run in the caller's transaction and never commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[DayOffEntry]:
        """Days off between ``start`` and ``end`` (both included, either open), by date."""
        query = select(DayOff.day, DayOff.name).order_by(DayOff.day)
        if start is not None:
            query = query.where(DayOff.day >= start)
        if end is not None:
            query = query.where(DayOff.day <= end)
        return [DayOffEntry(row.day, row.name) for row in await self.session.execute(query)]

    async def days(self, start: dt.date, end: dt.date) -> set[dt.date]:
        """The set ``bot.rules.workdays`` takes as ``extra_days_off``."""
        return {entry.day for entry in await self.list(start, end)}

    async def add(self, day: dt.date, name: str = "", *, actor_label: str = "") -> str:
        """Add or rename a day off: ``"created"``, ``"updated"`` or ``"unchanged"``."""
        name = " ".join(name.split())[:NAME_MAX]
        existing = await self.session.scalar(select(DayOff).where(DayOff.day == day))
        if existing is not None and existing.name == name:
            return "unchanged"
        if existing is None:
            self.session.add(DayOff(day=day, name=name))
            outcome = "created"
        else:
            existing.name = name
            outcome = "updated"
        AuditRepository(self.session).record(
            "day_off_add",
            actor_id=None,
            actor_label=actor_label,
            entity_type="day_off",
            entity_id=day.isoformat(),
            details={"name": name, "outcome": outcome},
        )
        await self.session.flush()
        return outcome

    async def remove(self, day: dt.date, *, actor_label: str = "") -> bool:
        """Remove a day off; ``False`` if there was none on ``day``."""
        result = await self.session.execute(delete(DayOff).where(DayOff.day == day))
        removed = bool(getattr(result, "rowcount", 0))
        if removed:
            AuditRepository(self.session).record(
                "day_off_remove",
                actor_id=None,
                actor_label=actor_label,
                entity_type="day_off",
                entity_id=day.isoformat(),
            )
        return removed

    async def import_file(
        self, data: bytes, filename: str = "", *, actor_label: str = "import"
    ) -> DaysOffImportResult:
        """Import ``Tanggal, Keterangan`` rows, all or nothing (see the module doc)."""
        days, rows, issues = parse_days_off(data, filename)
        if issues:
            return DaysOffImportResult(rows=rows, issues=issues)
        in_range = DayOff.day.between(min(days), max(days))
        existing = {
            row.day: row
            for row in (await self.session.scalars(select(DayOff).where(in_range))).all()
        }
        result = DaysOffImportResult(rows=rows)
        for day, name in sorted(days.items()):
            current = existing.get(day)
            if current is None:
                self.session.add(DayOff(day=day, name=name))
                result.created += 1
            elif current.name != name:
                current.name = name
                result.updated += 1
            else:
                result.unchanged += 1
        AuditRepository(self.session).record(
            "import",
            actor_id=None,
            actor_label=actor_label,
            entity_type="days_off",
            details={
                "filename": filename,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            },
        )
        await self.session.flush()
        return result
