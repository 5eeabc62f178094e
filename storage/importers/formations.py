"""Unit formations (formasi): how many posts of a kind a unit should have.

Columns: ``Unit, Jabatan, Formasi``; one row per (unit, position). The unit must already be
in the database (units come from the employee data), matched by name ignoring case and
repeated spaces, as the employee import matches them; the position is matched the same way
and the file's spelling is kept. Formasi is a whole number from 0 to :data:`MAX_FORMATION`.

Each row adds the formation or updates its number; formations the file does not list (other
units, other positions of the same unit) are kept. Counts are per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.importers import messages as m
from storage.importers.base import Issues, rows_text
from storage.importers.bulk import insert_rows, update_rows
from storage.importers.cells import text
from storage.importers.columns import Layout
from storage.importers.common import Context, Counts, getter, required_text
from storage.importers.employees import unit_key
from storage.importers.table import Table
from storage.models import Unit, UnitFormation

UNITS = Unit.__table__
FORMATIONS = UnitFormation.__table__
MAX_FORMATION = 100_000
_WHOLE = re.compile(r"\d{1,9}")


def position_key(position: str) -> str:
    return " ".join(position.split()).casefold()


@dataclass(slots=True)
class _Row:
    row: int
    unit_id: int
    position: str
    required: int


@dataclass
class FormationPlan:
    rows: list[_Row]
    existing: dict[tuple[int, str], tuple[int, str, int]]  # (unit, key) -> (id, position, n)
    context: Context

    async def write(self, connection: AsyncConnection) -> Counts:
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for row in self.rows:
            current = self.existing.get((row.unit_id, position_key(row.position)))
            if current is None:
                new.append(
                    {"unit_id": row.unit_id, "position": row.position, "required": row.required}
                )
            elif (row.position, row.required) != current[1:]:
                changed.append(
                    {"id": current[0], "position": row.position, "required": row.required}
                )
        await insert_rows(connection, FORMATIONS, new)
        await update_rows(connection, FORMATIONS, changed)
        return Counts(
            created=len(new),
            updated=len(changed),
            unchanged=len(self.rows) - len(new) - len(changed),
        )


def read_formation(issues: Issues, row: int, column: str, value: object) -> int | None:
    """Formasi: a whole number from 0 to MAX_FORMATION (``3``, or ``3.0`` from a workbook)."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = text(value)
    if not raw:
        issues.add(row, column, m.REQUIRED)
        return None
    if isinstance(value, int) and 0 <= value <= MAX_FORMATION:
        return value
    if _WHOLE.fullmatch(raw) and int(raw) <= MAX_FORMATION:
        return int(raw)
    issues.add(row, column, m.BAD_FORMATION, value=raw, max=MAX_FORMATION)
    return None


async def prepare(
    connection: AsyncConnection, table: Table, layout: Layout, ctx: Context, issues: Issues
) -> FormationPlan:
    get_unit, get_position, get_required = (
        getter(layout, f) for f in ("unit", "position", "required")
    )
    h_unit, h_position, h_required = (layout.header(f) for f in ("unit", "position", "required"))

    units = {
        unit_key(name): id_
        for id_, name in (await connection.execute(select(UNITS.c.id, UNITS.c.name))).all()
    }
    f = FORMATIONS.c
    existing = {
        (unit_id, position_key(position)): (id_, position, required)
        for id_, unit_id, position, required in (
            await connection.execute(select(f.id, f.unit_id, f.position, f.required))
        ).all()
    }

    rows: list[_Row] = []
    seen: dict[tuple[int, str], tuple[str, str, list[int]]] = {}  # -> (unit, position, rows)
    for number, row in table.rows:
        unit = required_text(issues, number, h_unit, get_unit(row), 200)
        position = required_text(issues, number, h_position, get_position(row), 200)
        required = read_formation(issues, number, h_required, get_required(row))
        unit_id = None
        if unit is not None:
            unit_id = units.get(unit_key(unit))
            if unit_id is None:
                issues.add(number, h_unit, m.UNIT_NOT_FOUND, unit=unit)
        if unit_id is None or position is None:
            continue
        seen.setdefault((unit_id, position_key(position)), (unit, position, []))[2].append(number)
        if required is not None:
            rows.append(_Row(number, unit_id, position, required))
    for unit, position, numbers in seen.values():
        if len(numbers) > 1:
            for number in numbers:
                issues.add(
                    number,
                    h_position,
                    m.DUPLICATE_FORMATION,
                    position=position,
                    unit=unit,
                    rows=rows_text(numbers),
                )
    return FormationPlan(rows, existing, ctx)
