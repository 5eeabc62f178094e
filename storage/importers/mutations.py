"""Mutations (mutasi): one row per transfer of an employee already in the database.

Columns: ``NIP, Jenis Mutasi, Unit Asal, Jabatan Asal, Unit Tujuan, Jabatan Tujuan, Tahap,
No SK, Tanggal SK, TMT, Catatan, Dokumen Kurang, Jadwal Pelantikan, NIP Atasan Baru``.
A row updates the most recent mutation of the same employee, type, target unit and target
position, or creates one. Optional columns left out keep their stored values; an empty cell
in a column that is present clears it.

Stages (``bot.rules.stages``). A file records where each process already is, so:

* a row that changes an existing mutation's stage is checked by the stage machine with
  ``catch_up``: it may jump forward along the main path, skipping steps (``diusulkan`` →
  ``sk_terbit``), return a file from ``verifikasi`` (``dikembalikan``) and back, or cancel a
  mutation before ``pelantikan``; it may not move backwards or leave ``selesai`` /
  ``dibatalkan``. A refused row is an issue on Tahap (current stage → requested stage);
* a new mutation may start at any stage (existing data): ``pertek_bkn`` only for
  ``antar_instansi``;
* every row carries what its stage needs: ``dikembalikan`` Catatan (the reason) and Dokumen
  Kurang (the missing documents: one per line, or separated by ``;`` or ``,``);
  ``dibatalkan`` Catatan; ``sk_terbit`` and later No SK, Tanggal SK (not in the future) and
  TMT (not before the SK date).

Jadwal Pelantikan is a date and time in the import's time zone (WIB), stored in UTC. NIP
Atasan Baru names the supervisor in the new post and must be an employee in the database.
Dokumen Kurang is kept only while the mutation is ``dikembalikan``.

A changed stage (and a new mutation) is recorded as a :class:`~storage.models.MutationEvent`
(Catatan is its note) with ``notified_at`` unset: the import's caller, or the scheduler's
next tick, tells the people concerned (``bot.mutations.process_events``). An unchanged row
writes nothing, so importing the same file again tells nobody anything new.

Speed: the employees (and new supervisors) and the stored mutations are read with one
batched ``IN`` query each; rows are checked in memory; writes are batched statements.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.rules.stages import (
    DOCUMENT_MAX,
    DOCUMENTS_MAX,
    MutationType,
    Stage,
    StageChange,
    TransitionProblem,
    check_transition,
    field_problems,
    parse_mutation_type,
    parse_stage,
    split_documents,
)
from storage.importers import messages as m
from storage.importers.base import Issues, rows_text
from storage.importers.cells import parse_date, parse_datetime, text
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
# Stages that need fields -> the stage whose rules apply (from sk_terbit on: the decree's).
_RULES = {
    Stage.DIKEMBALIKAN: Stage.DIKEMBALIKAN,
    Stage.DIBATALKAN: Stage.DIBATALKAN,
    **{stage: Stage.SK_TERBIT for stage in NEEDS_DECREE},
}
_PERTEK = Stage.PERTEK_BKN
_RETURNED = Stage.DIKEMBALIKAN
_EXTERNAL = MutationType.ANTAR_INSTANSI
STAGE_CHOICES = ", ".join(stage.value for stage in Stage)
TYPE_CHOICES = ", ".join(kind.value for kind in MutationType)
NOTE_MAX = 10_000
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
    "missing_documents",
    "inauguration_at",
    "to_supervisor_id",
)
# Field -> the column that sets it, for the optional columns.
_OPTIONAL = {
    "from_position": "from_position",
    "sk_number": "sk_number",
    "sk_date": "sk_date",
    "tmt_date": "tmt",
    "note": "note",
    "inauguration_at": "inauguration",
    "to_supervisor_id": "new_supervisor",
}
# A field a stage needs, as the stage machine names its absence -> the column that holds it.
_REQUIRED_COLUMN = {
    TransitionProblem.REASON_REQUIRED: "note",
    TransitionProblem.DOCUMENTS_REQUIRED: "documents",
    TransitionProblem.SK_NUMBER_REQUIRED: "sk_number",
    TransitionProblem.SK_DATE_REQUIRED: "sk_date",
    TransitionProblem.TMT_REQUIRED: "tmt",
}

Key = tuple[int, str, str, str]


def _key(employee_id: int, mutation_type: str, to_unit: str, to_position: str) -> Key:
    return (employee_id, mutation_type, to_unit.casefold(), to_position.casefold())


def _day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


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
        present = {name for name, column in _OPTIONAL.items() if self.layout.has(column)}
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
                if name not in _OPTIONAL or name in present
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


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _date(issues: Issues, row: int, column: str, value: object) -> tuple[dt.date | None, bool]:
    """The date in a cell and whether the cell was filled."""
    if not _filled(value):
        return None, False
    parsed = parse_date(value)
    if parsed is None:
        issues.add(row, column, m.BAD_DATE, value=text(value))
    return parsed, True


def _documents(issues: Issues, row: int, column: str, value: object) -> tuple[str, ...]:
    """The missing documents listed in a cell (checked against the chat's limits)."""
    raw = text(value)
    if not raw:
        return ()
    documents = split_documents(raw)
    if len(documents) > DOCUMENTS_MAX:
        issues.add(row, column, m.TOO_MANY_DOCUMENTS, count=len(documents), max=DOCUMENTS_MAX)
    elif any(len(document) > DOCUMENT_MAX for document in documents):
        issues.add(row, column, m.DOCUMENT_TOO_LONG, max=DOCUMENT_MAX)
    return documents


def _change(
    note: str | None,
    documents: tuple[str, ...],
    sk_number: str | None,
    sk_date: dt.date | None,
    tmt_date: dt.date | None,
) -> StageChange:
    return StageChange(
        reason=note,
        missing_documents=documents,
        sk_number=sk_number,
        sk_date=sk_date,
        tmt_date=tmt_date,
    )


def _stage_needs(
    issues: Issues,
    row: int,
    head: dict[str, str],
    stage: Stage,
    change: StageChange,
    cells: dict[str, object],
    today: dt.date,
) -> None:
    """Report what the row lacks for its stage (a filled cell already reported as bad is
    not reported again as missing). From ``sk_terbit`` on, the decree's rules apply."""
    for problem in field_problems(_RULES[stage], change, today):
        column = _REQUIRED_COLUMN.get(problem)
        if column is not None:
            if not _filled(cells[column]):
                issues.add(row, head[column], m.REQUIRED_AT_STAGE, stage=stage.value)
        elif problem is TransitionProblem.SK_DATE_IN_FUTURE:
            assert change.sk_date is not None
            issues.add(
                row,
                head["sk_date"],
                m.SK_DATE_IN_FUTURE,
                date=_day(change.sk_date),
                today=_day(today),
            )
        elif problem is TransitionProblem.TMT_BEFORE_SK_DATE:
            assert change.sk_date is not None and change.tmt_date is not None
            issues.add(
                row,
                head["tmt"],
                m.TMT_BEFORE_SK_DATE,
                tmt=_day(change.tmt_date),
                sk_date=_day(change.sk_date),
            )


def _transition(
    issues: Issues,
    row: int,
    column: str,
    current: str,
    target: Stage,
    external: bool,
    change: StageChange,
    today: dt.date,
) -> None:
    """Report a stage change the stage machine refuses (``catch_up``: a file may skip
    steps forward). The fields the target needs are checked for every row already."""
    try:
        stored = Stage(current)
    except ValueError:  # not a stage we know: let the file set it
        return
    problems = check_transition(
        stored, target, external=external, change=change, today=today, catch_up=True
    )
    if TransitionProblem.FINAL in problems:
        issues.add(row, column, m.STAGE_FINAL, current=stored.value, target=target.value)
    elif TransitionProblem.NOT_ALLOWED in problems:
        issues.add(row, column, m.STAGE_NOT_ALLOWED, current=stored.value, target=target.value)


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
        "documents",
        "inauguration",
        "new_supervisor",
    )
    get = {f: getter(layout, f) for f in fields}
    head = {f: layout.header(f) for f in fields}

    nips: dict[int, str] = {}
    supervisor_nips: dict[int, str] = {}
    has_supervisor = layout.has("new_supervisor")
    for number, row in table.rows:
        nip = read_nip(issues, number, head["nip"], get["nip"](row))
        if nip is not None:
            nips[number] = nip
        if has_supervisor:
            supervisor = read_nip(
                issues, number, head["new_supervisor"], get["new_supervisor"](row)
            )
            if supervisor is not None:
                supervisor_nips[number] = supervisor
    e = EMPLOYEES.c
    employees = {
        nip: (id_, employee_type)
        for id_, nip, employee_type in await select_in(
            connection,
            lambda chunk: select(e.id, e.nip, e.employee_type).where(e.nip.in_(chunk)),
            [*nips.values(), *supervisor_nips.values()],
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
        [employees[nip][0] for nip in nips.values() if nip in employees],
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
        elif stage is _PERTEK and mutation_type is not None and mutation_type is not _EXTERNAL:
            issues.add(number, head["stage"], m.STAGE_NOT_FOR_TYPE, stage=stage.value)
            stage = None
        raw_sk_number = get["sk_number"](row)
        sk_number = optional_text(issues, number, head["sk_number"], raw_sk_number, 100)
        sk_date, has_sk_date = _date(issues, number, head["sk_date"], get["sk_date"](row))
        tmt_date, has_tmt = _date(issues, number, head["tmt"], get["tmt"](row))
        raw_note = get["note"](row)
        note = optional_text(issues, number, head["note"], raw_note, NOTE_MAX)
        documents = _documents(issues, number, head["documents"], get["documents"](row))
        raw_inauguration = get["inauguration"](row)
        inauguration_at = None
        if _filled(raw_inauguration):
            inauguration_at = parse_datetime(raw_inauguration, ctx.zone)
            if inauguration_at is None:
                issues.add(
                    number,
                    head["inauguration"],
                    m.BAD_DATETIME,
                    value=text(raw_inauguration),
                    zone=ctx.zone_label,
                )
        supervisor_id = None
        supervisor_nip = supervisor_nips.get(number)
        if supervisor_nip is not None:
            supervisor_id, supervisor_type = employees.get(supervisor_nip, (None, None))
            if not check_known_employee(
                issues, number, head["new_supervisor"], supervisor_nip, supervisor_type, ctx.today
            ):
                supervisor_id = None
            elif supervisor_nip == nip:
                issues.add(number, head["new_supervisor"], m.NEW_SUPERVISOR_IS_EMPLOYEE)

        change = None
        if stage in _RULES:
            change = _change(note, documents, sk_number, sk_date, tmt_date)
            cells = {
                "note": raw_note,
                "documents": documents or None,  # ";" alone lists nothing: missing
                "sk_number": raw_sk_number,
                "sk_date": has_sk_date or None,
                "tmt": has_tmt or None,
            }
            _stage_needs(issues, number, head, stage, change, cells, ctx.today)

        if employee_id is None or mutation_type is None or stage is None or to_unit is None:
            continue
        type_value, stage_value = str(mutation_type), str(stage)
        key = _key(employee_id, type_value, to_unit, to_position or "")
        current = existing.get(key)
        if current is not None and current.values["stage"] != stage_value:
            if change is None:
                change = _change(note, documents, sk_number, sk_date, tmt_date)
            _transition(
                issues,
                number,
                head["stage"],
                current.values["stage"],
                stage,
                mutation_type is _EXTERNAL,
                change,
                ctx.today,
            )
        if len(issues.items) != before:
            continue
        values = {
            "mutation_type": type_value,
            "from_unit": from_unit,
            "from_position": from_position or "",
            "to_unit": to_unit,
            "to_position": to_position or "",
            "external": mutation_type is _EXTERNAL,
            "stage": stage_value,
            "sk_number": sk_number,
            "sk_date": sk_date,
            "tmt_date": tmt_date,
            "note": note,
            "missing_documents": (
                "\n".join(documents) if stage is _RETURNED and documents else None
            ),
            "inauguration_at": inauguration_at,
            "to_supervisor_id": supervisor_id,
        }
        rows_by_key.setdefault(key, []).append(number)
        records.append(_Record(number, employee_id, values))

    for rows in rows_by_key.values():
        if len(rows) > 1:
            for row in rows:
                issues.add(row, head["nip"], m.DUPLICATE_MUTATION, rows=rows_text(rows))
    return MutationPlan(records, layout, existing, ctx)
