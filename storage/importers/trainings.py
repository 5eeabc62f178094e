"""Trainings (pelatihan / diklat): one row per participant, the session keyed by Kode.

Columns: ``Kode, Judul, Mulai, Selesai, Tempat, NIP``. Mulai and Selesai are wall-clock
times in the import's time zone (WIB), stored in UTC. All rows of one Kode must agree on
the session; a Tempat that is a web address is also the online link. Participants missing
from the session are added; nobody is removed. Counts are per row: ``created`` when the
participant was added, ``updated`` when only the session's details changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.importers import messages as m
from storage.importers.base import Issues
from storage.importers.cells import parse_datetime, text
from storage.importers.columns import Layout
from storage.importers.common import (
    Context,
    Counts,
    check_known_employee,
    executemany,
    getter,
    optional_text,
    read_nip,
    required_text,
    select_in,
)
from storage.importers.table import Table
from storage.models import Employee, Training, TrainingParticipant

EMPLOYEES = Employee.__table__
TRAININGS = Training.__table__
PARTICIPANTS = TrainingParticipant.__table__
_SESSION_FIELDS = ("title", "starts_at", "ends_at", "place", "online_link")
_COMPARED = (("title", "title"), ("starts_at", "start"), ("ends_at", "end"), ("place", "place"))


def is_link(place: str) -> bool:
    return place.lower().startswith(("http://", "https://"))


@dataclass(slots=True)
class _Session:
    row: int
    code: str
    values: dict[str, Any]


@dataclass
class TrainingPlan:
    sessions: dict[str, _Session]  # by code, first row of each
    participants: list[tuple[int, str, int]]  # (row, code, employee_id)
    existing: dict[str, tuple[int, dict[str, Any]]]  # code -> (id, values)
    enrolled: set[tuple[int, int]]  # (training_id, employee_id)
    context: Context

    async def write(self, connection: AsyncConnection) -> Counts:
        ctx = self.context
        ids: dict[str, int] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        changed_codes: set[str] = set()
        for code, session in self.sessions.items():
            current = self.existing.get(code)
            if current is None:
                new.append(
                    {**session.values, "code": code, "created_at": ctx.now, "updated_at": ctx.now}
                )
                continue
            ids[code] = current[0]
            if session.values != current[1]:
                changed.append({**session.values, "_id": current[0], "updated_at": ctx.now})
                changed_codes.add(code)
        if new:
            result = await connection.execute(
                insert(TRAININGS).returning(TRAININGS.c.code, TRAININGS.c.id), new
            )
            ids.update(result.all())
        if changed:
            await executemany(
                connection,
                update(TRAININGS)
                .where(TRAININGS.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in (*_SESSION_FIELDS, "updated_at")}),
                changed,
            )
        added: list[dict[str, Any]] = []
        created = updated = 0
        for _row, code, employee_id in self.participants:
            training_id = ids[code]
            if (training_id, employee_id) not in self.enrolled:
                added.append({"training_id": training_id, "employee_id": employee_id})
                created += 1
            elif code in changed_codes:
                updated += 1
        if added:
            await executemany(connection, insert(PARTICIPANTS), added)
        return Counts(
            created=created,
            updated=updated,
            unchanged=len(self.participants) - created - updated,
            details={"trainings_created": len(new), "trainings_updated": len(changed)},
        )


def _moment(
    issues: Issues, row: int, column: str, value: object, ctx: Context
) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        issues.add(row, column, m.REQUIRED)
        return None
    moment = parse_datetime(value, ctx.zone)
    if moment is None:
        issues.add(row, column, m.BAD_DATETIME, value=text(value), zone=ctx.zone_label)
    return moment


async def prepare(
    connection: AsyncConnection, table: Table, layout: Layout, ctx: Context, issues: Issues
) -> TrainingPlan:
    fields = ("code", "title", "start", "end", "place", "nip")
    get = {f: getter(layout, f) for f in fields}
    head = {f: layout.header(f) for f in fields}

    parsed: list[tuple[int, str | None, dict[str, Any] | None, str | None]] = []
    for number, row in table.rows:
        before = len(issues.items)
        code = required_text(issues, number, head["code"], get["code"](row), 50)
        title = required_text(issues, number, head["title"], get["title"](row), 300)
        starts_at = _moment(issues, number, head["start"], get["start"](row), ctx)
        ends_at = _moment(issues, number, head["end"], get["end"](row), ctx)
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            issues.add(number, head["end"], m.END_NOT_AFTER_START)
        place = optional_text(issues, number, head["place"], get["place"](row), 300) or ""
        nip = read_nip(issues, number, head["nip"], get["nip"](row))
        if nip is None and len(issues.items) == before:
            issues.add(number, head["nip"], m.REQUIRED)
        session = None
        if None not in (title, starts_at, ends_at):
            session = {
                "title": title,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "place": place,
                "online_link": place if is_link(place) else None,
            }
        parsed.append((number, code, session, nip))

    e = EMPLOYEES.c
    employees = {
        nip: (id_, employee_type)
        for id_, nip, employee_type in await select_in(
            connection,
            lambda chunk: select(e.id, e.nip, e.employee_type).where(e.nip.in_(chunk)),
            (nip for _n, _c, _s, nip in parsed if nip is not None),
        )
    }
    t = TRAININGS.c
    existing = {
        code: (id_, dict(zip(_SESSION_FIELDS, values, strict=True)))
        for id_, code, *values in await select_in(
            connection,
            lambda chunk: select(t.id, t.code, *(t[n] for n in _SESSION_FIELDS)).where(
                t.code.in_(chunk)
            ),
            (code for _n, code, _s, _nip in parsed if code is not None),
        )
    }
    p = PARTICIPANTS.c
    enrolled = {
        (training_id, employee_id)
        for training_id, employee_id in await select_in(
            connection,
            lambda chunk: select(p.training_id, p.employee_id).where(p.training_id.in_(chunk)),
            (id_ for id_, _values in existing.values()),
        )
    }

    sessions: dict[str, _Session] = {}
    participants: list[tuple[int, str, int]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, code, session, nip in parsed:
        employee_id = None
        if nip is not None:
            employee_id, employee_type = employees.get(nip, (None, None))
            if not check_known_employee(issues, number, head["nip"], nip, employee_type, ctx.today):
                employee_id = None
        if code is None:
            continue
        first = sessions.get(code)
        if first is None:
            if session is not None:
                sessions[code] = _Session(number, code, session)
        elif session is not None:
            for name, column in _COMPARED:
                if session[name] != first.values[name]:
                    issues.add(
                        number,
                        head[column],
                        m.TRAINING_MISMATCH,
                        first_row=first.row,
                        code=code,
                        columns=", ".join(head[c] for _n, c in _COMPARED),
                    )
        if nip is not None:
            first_row = seen.setdefault((code, nip), number)
            if first_row != number:
                issues.add(
                    number,
                    head["nip"],
                    m.DUPLICATE_PARTICIPANT,
                    nip=nip,
                    code=code,
                    first_row=first_row,
                )
        if employee_id is not None:
            participants.append((number, code, employee_id))
    return TrainingPlan(sessions, participants, existing, enrolled, ctx)
