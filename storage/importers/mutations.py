"""Mutations (mutasi): one row per transfer of an employee already in the database.

Columns: ``NIP, Jenis Mutasi, Unit Asal, Jabatan Asal, Unit Tujuan, Jabatan Tujuan, Tahap,
No SK, Tanggal SK, TMT, Catatan``. A row updates the most recent mutation of the same
employee, type, target unit and target position, or creates one. A new stage is recorded as
a :class:`~storage.models.MutationEvent` (Catatan is its note). No SK, Tanggal SK and TMT
are required from stage ``sk_terbit`` on. Optional columns left out keep their stored values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.rules.stages import MutationType, Stage, parse_mutation_type, parse_stage
from storage.importers import messages as m
from storage.importers.base import Issues, rows_text
from storage.importers.cells import parse_date, text
from storage.importers.columns import Layout
from storage.importers.common import (
    Context,
    Counts,
    check_known_employee,
    chunks,
    executemany,
    getter,
    optional_text,
    read_nip,
    required_text,
    select_in,
)
from storage.importers.table import Table
from storage.models import Employee, Mutation, MutationEvent

EMPLOYEES = Employee.__table__
MUTATIONS = Mutation.__table__
EVENTS = MutationEvent.__table__

NEEDS_DECREE = frozenset({Stage.SK_TERBIT, Stage.PELANTIKAN, Stage.SELESAI})
STAGE_CHOICES = ", ".join(stage.value for stage in Stage)
TYPE_CHOICES = ", ".join(kind.value for kind in MutationType)
# Fields a row sets; optional columns absent from the file keep the stored value.
_FIELDS = (
    "from_unit",
    "from_position",
    "to_unit",
    "to_position",
    "external",
    "stage",
    "sk_number",
    "sk_date",
    "tmt_date",
    "note",
)
_OPTIONAL = {
    "from_position": "from_position",
    "sk_number": "sk_number",
    "sk_date": "sk_date",
    "tmt_date": "tmt",
    "note": "note",
}

Key = tuple[int, str, str, str]


def _key(employee_id: int, mutation_type: str, to_unit: str, to_position: str) -> Key:
    return (employee_id, mutation_type, to_unit.casefold(), to_position.casefold())


@dataclass(slots=True)
class _Record:
    row: int
    employee_id: int
    values: dict[str, Any]


@dataclass(slots=True)
class _Existing:
    id: int
    values: dict[str, Any]
    stage_changed_at: dt.datetime


@dataclass
class MutationPlan:
    records: list[_Record]
    layout: Layout
    existing: dict[Key, _Existing]
    context: Context

    async def write(self, connection: AsyncConnection) -> Counts:
        ctx = self.context
        inserts: list[tuple[_Record, dict[str, Any]]] = []
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        event_base = {
            "changed_at": ctx.now,
            "changed_by_id": ctx.actor_id,
            "changed_by_label": ctx.actor_label,
        }
        for record in self.records:
            values = record.values
            key = _key(
                record.employee_id,
                values["mutation_type"],
                values["to_unit"],
                values["to_position"],
            )
            current = self.existing.get(key)
            if current is None:
                inserts.append((record, values))
                continue
            merged = {
                name: values[name]
                if name not in _OPTIONAL or self.layout.has(_OPTIONAL[name])
                else current.values[name]
                for name in _FIELDS
            }
            if merged == current.values:
                continue
            old_stage = current.values["stage"]
            merged["stage_changed_at"] = (
                ctx.now if merged["stage"] != old_stage else current.stage_changed_at
            )
            merged["updated_at"] = ctx.now
            merged["_id"] = current.id
            updates.append(merged)
            if merged["stage"] != old_stage:
                events.append(
                    {
                        **event_base,
                        "mutation_id": current.id,
                        "from_stage": old_stage,
                        "to_stage": merged["stage"],
                        "note": values["note"],
                    }
                )

        if inserts:
            rows = [
                {
                    **values,
                    "employee_id": record.employee_id,
                    "stage_changed_at": ctx.now,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                }
                for record, values in inserts
            ]
            # RETURNING without sort_by_parameter_order stays one batched statement on SQLite.
            statement = insert(MUTATIONS).returning(
                MUTATIONS.c.id, MUTATIONS.c.stage, MUTATIONS.c.note
            )
            for chunk in chunks(rows):
                result = await connection.execute(statement, list(chunk))
                events.extend(
                    {
                        **event_base,
                        "mutation_id": mutation_id,
                        "from_stage": None,
                        "to_stage": stage,
                        "note": note,
                    }
                    for mutation_id, stage, note in result.all()
                )
        if updates:
            await executemany(
                connection,
                update(MUTATIONS)
                .where(MUTATIONS.c.id == bindparam("_id"))
                .values(
                    {name: bindparam(name) for name in (*_FIELDS, "stage_changed_at", "updated_at")}
                ),
                updates,
            )
        if events:
            await executemany(connection, insert(EVENTS), events)
        return Counts(
            created=len(inserts),
            updated=len(updates),
            unchanged=len(self.records) - len(inserts) - len(updates),
            details={"stage_changes": len(events)},
        )


def _date(issues: Issues, row: int, column: str, value: object) -> tuple[dt.date | None, bool]:
    """The date in a cell and whether the cell was filled."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False
    parsed = parse_date(value)
    if parsed is None:
        issues.add(row, column, m.BAD_DATE, value=text(value))
    return parsed, True


async def prepare(
    connection: AsyncConnection, table: Table, layout: Layout, ctx: Context, issues: Issues
) -> MutationPlan:
    fields = (
        "nip",
        "type",
        "from_unit",
        "from_position",
        "to_unit",
        "to_position",
        "stage",
        "sk_number",
        "sk_date",
        "tmt",
        "note",
    )
    get = {f: getter(layout, f) for f in fields}
    head = {f: layout.header(f) for f in fields}

    nips: dict[int, str] = {}
    for number, row in table.rows:
        nip = read_nip(issues, number, head["nip"], get["nip"](row))
        if nip is not None:
            nips[number] = nip
    e = EMPLOYEES.c
    employees = {
        nip: (id_, employee_type)
        for id_, nip, employee_type in await select_in(
            connection,
            lambda chunk: select(e.id, e.nip, e.employee_type).where(e.nip.in_(chunk)),
            nips.values(),
        )
    }
    c = MUTATIONS.c
    existing: dict[Key, _Existing] = {}
    for id_, employee_id, mutation_type, stage_changed_at, *values in await select_in(
        connection,
        lambda chunk: (
            select(
                c.id, c.employee_id, c.mutation_type, c.stage_changed_at, *(c[n] for n in _FIELDS)
            )
            .where(c.employee_id.in_(chunk))
            .order_by(c.id)
        ),
        [id_ for id_, _type in employees.values()],
    ):
        stored = dict(zip(_FIELDS, values, strict=True))
        key = _key(employee_id, mutation_type, stored["to_unit"], stored["to_position"])
        existing[key] = _Existing(id_, stored, stage_changed_at)  # by id: the latest wins

    records: list[_Record] = []
    rows_by_key: dict[Key, list[int]] = {}
    for number, row in table.rows:
        before = len(issues.items)
        nip = nips.get(number)
        employee_id = None
        if nip is None:
            if len(issues.items) == before:
                issues.add(number, head["nip"], m.REQUIRED)
        else:
            employee_id, employee_type = employees.get(nip, (None, None))
            if not check_known_employee(issues, number, head["nip"], nip, employee_type, ctx.today):
                employee_id = None

        raw_type = text(get["type"](row))
        mutation_type = parse_mutation_type(raw_type) if raw_type else None
        if not raw_type:
            issues.add(number, head["type"], m.REQUIRED)
        elif mutation_type is None:
            issues.add(
                number, head["type"], m.UNKNOWN_MUTATION_TYPE, value=raw_type, choices=TYPE_CHOICES
            )
        from_unit = required_text(issues, number, head["from_unit"], get["from_unit"](row), 200)
        to_unit = required_text(issues, number, head["to_unit"], get["to_unit"](row), 200)
        from_position = optional_text(
            issues, number, head["from_position"], get["from_position"](row), 200
        )
        to_position = optional_text(
            issues, number, head["to_position"], get["to_position"](row), 200
        )
        raw_stage = text(get["stage"](row))
        stage = parse_stage(raw_stage) if raw_stage else None
        if not raw_stage:
            issues.add(number, head["stage"], m.REQUIRED)
        elif stage is None:
            issues.add(
                number, head["stage"], m.UNKNOWN_STAGE, value=raw_stage, choices=STAGE_CHOICES
            )
        sk_number = optional_text(issues, number, head["sk_number"], get["sk_number"](row), 100)
        sk_date, has_sk_date = _date(issues, number, head["sk_date"], get["sk_date"](row))
        tmt_date, has_tmt = _date(issues, number, head["tmt"], get["tmt"](row))
        note = optional_text(issues, number, head["note"], get["note"](row), 10_000)
        if stage in NEEDS_DECREE:
            for present, name in (
                (sk_number, "sk_number"),
                (has_sk_date, "sk_date"),
                (has_tmt, "tmt"),
            ):
                if not present:
                    issues.add(number, head[name], m.REQUIRED_AT_STAGE, stage=stage.value)

        if len(issues.items) != before or employee_id is None:
            continue
        assert mutation_type is not None and stage is not None
        values = {
            "mutation_type": mutation_type.value,
            "from_unit": from_unit,
            "from_position": from_position or "",
            "to_unit": to_unit,
            "to_position": to_position or "",
            "external": mutation_type is MutationType.ANTAR_INSTANSI,
            "stage": stage.value,
            "sk_number": sk_number,
            "sk_date": sk_date,
            "tmt_date": tmt_date,
            "note": note,
        }
        assert to_unit is not None
        key = _key(employee_id, mutation_type.value, to_unit, values["to_position"])
        rows_by_key.setdefault(key, []).append(number)
        records.append(_Record(number, employee_id, values))

    for rows in rows_by_key.values():
        if len(rows) > 1:
            for row in rows:
                issues.add(row, head["nip"], m.DUPLICATE_MUTATION, rows=rows_text(rows))
    return MutationPlan(records, layout, existing, ctx)
