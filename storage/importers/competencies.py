"""Competencies (kompetensi): one row per competency of an employee, keyed by (NIP, Kompetensi).

Columns: ``NIP, Kompetensi, Tingkat``. The employee must be in the database. Tingkat is the
level as HR writes it (e.g. ``3`` or ``Mahir``, at most 50 characters). A competency is
matched to a stored one ignoring case and repeated spaces; the file's spelling is kept.

The file lists the competencies it holds: each is added or its level updated. Competencies
of the same employees that the file does not list are kept (as a training's participants
are: an import never removes anything), so a file may hold one assessment's competencies
only. Counts are per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.importers import messages as m
from storage.importers.base import Issues, rows_text
from storage.importers.bulk import insert_rows, update_rows
from storage.importers.columns import Layout
from storage.importers.common import (
    Context,
    Counts,
    check_known_employee,
    getter,
    read_nip,
    required_text,
    select_in,
)
from storage.importers.table import Table
from storage.models import Competency, Employee

EMPLOYEES = Employee.__table__
COMPETENCIES = Competency.__table__


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(slots=True)
class _Row:
    row: int
    employee_id: int
    name: str
    level: str


@dataclass
class CompetencyPlan:
    rows: list[_Row]
    existing: dict[tuple[int, str], tuple[int, str, str]]  # (employee, key) -> (id, name, level)
    context: Context

    async def write(self, connection: AsyncConnection) -> Counts:
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for row in self.rows:
            current = self.existing.get((row.employee_id, name_key(row.name)))
            if current is None:
                new.append({"employee_id": row.employee_id, "name": row.name, "level": row.level})
            elif (row.name, row.level) != current[1:]:
                changed.append({"id": current[0], "name": row.name, "level": row.level})
        await insert_rows(connection, COMPETENCIES, new)
        await update_rows(connection, COMPETENCIES, changed)
        return Counts(
            created=len(new),
            updated=len(changed),
            unchanged=len(self.rows) - len(new) - len(changed),
        )


async def prepare(
    connection: AsyncConnection, table: Table, layout: Layout, ctx: Context, issues: Issues
) -> CompetencyPlan:
    get_nip, get_name, get_level = (getter(layout, f) for f in ("nip", "competency", "level"))
    h_nip, h_name, h_level = (layout.header(f) for f in ("nip", "competency", "level"))

    parsed: list[tuple[int, str | None, str | None, str | None]] = []
    for number, row in table.rows:
        before = len(issues.items)
        nip = read_nip(issues, number, h_nip, get_nip(row))
        if nip is None and len(issues.items) == before:
            issues.add(number, h_nip, m.REQUIRED)
        name = required_text(issues, number, h_name, get_name(row), 200)
        level = required_text(issues, number, h_level, get_level(row), 50)
        parsed.append((number, nip, name, level))

    e = EMPLOYEES.c
    employees = {
        nip: (id_, employee_type)
        for id_, nip, employee_type in await select_in(
            connection,
            lambda chunk: select(e.id, e.nip, e.employee_type).where(e.nip.in_(chunk)),
            (nip for _n, nip, _name, _level in parsed if nip is not None),
        )
    }
    c = COMPETENCIES.c
    existing = {
        (employee_id, name_key(name)): (id_, name, level)
        for id_, employee_id, name, level in await select_in(
            connection,
            lambda chunk: select(c.id, c.employee_id, c.name, c.level).where(
                c.employee_id.in_(chunk)
            ),
            (id_ for id_, _type in employees.values()),
        )
    }

    rows: list[_Row] = []
    seen: dict[tuple[str, str], tuple[str, list[int]]] = {}  # -> (name as first written, rows)
    for number, nip, name, level in parsed:
        employee_id = None
        if nip is not None:
            employee_id, employee_type = employees.get(nip, (None, None))
            if not check_known_employee(issues, number, h_nip, nip, employee_type, ctx.today):
                employee_id = None
        if nip is not None and name is not None:
            seen.setdefault((nip, name_key(name)), (name, []))[1].append(number)
        if employee_id is not None and name is not None and level is not None:
            rows.append(_Row(number, employee_id, name, level))
    for (nip, _key), (name, numbers) in seen.items():
        if len(numbers) > 1:
            for number in numbers:
                issues.add(
                    number,
                    h_name,
                    m.DUPLICATE_COMPETENCY,
                    competency=name,
                    nip=nip,
                    rows=rows_text(numbers),
                )
    return CompetencyPlan(rows, existing, ctx)
