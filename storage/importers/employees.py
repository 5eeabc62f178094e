"""Employees (pegawai): one row per employee, keyed by NIP.

Columns: ``NIP, Nama, Jenis (PNS/PPPK), Jabatan, Golongan, Unit Kerja, NIP Atasan, No HP,
TMT Jabatan, Potensi``; Golongan, NIP Atasan, No HP, TMT Jabatan and Potensi may be left
out, and then the stored values are kept. An empty cell in a column that is present clears
the value. TMT Jabatan is the date since when the employee holds the current post (not in
the future); Potensi is the level from a competency assessment: Rendah, Menengah or Tinggi
(``bot.rules.talent.parse_potential``; stored as ``rendah`` / ``menengah`` / ``tinggi``).
Units are created by name when new (matched ignoring case and repeated spaces). An update
never touches the role, the Telegram link, the language or reachability.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.rules.nip import EmployeeType
from bot.rules.phone import normalize_phone
from bot.rules.talent import parse_potential
from storage.importers import messages as m
from storage.importers.base import Issues, rows_text
from storage.importers.bulk import insert_rows, update_rows
from storage.importers.cells import number_text, parse_date, text
from storage.importers.columns import Layout
from storage.importers.common import (
    Context,
    Counts,
    getter,
    nip_problem,
    optional_text,
    read_nip,
    required_text,
)
from storage.importers.table import Table
from storage.models import Employee, Unit

EMPLOYEES = Employee.__table__
UNITS = Unit.__table__
_TYPES = {"PNS": EmployeeType.PNS.value, "PPPK": EmployeeType.PPPK.value}
# Fields an import owns; everything else on an employee (role, Telegram link...) is left alone.
_FIELDS = (
    "name",
    "employee_type",
    "position",
    "rank",
    "unit_id",
    "phone",
    "post_since",
    "potential",
)
# Optional columns (named as the fields): absent from the file, the stored value is kept.
_OPTIONAL = ("rank", "phone", "post_since", "potential")
POTENTIAL_CHOICES = "Rendah, Menengah, Tinggi"
_CHAIN_SHOWN = 6
MAX_LEVELS = 32


def unit_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(slots=True)
class _Record:
    row: int
    nip: str | None
    name: str | None
    employee_type: str | None
    position: str | None
    rank: str | None
    unit: str | None
    supervisor: str | None
    phone: str | None
    post_since: dt.date | None = None
    potential: str | None = None


@dataclass(slots=True)
class _Existing:
    id: int
    values: dict[str, Any]
    supervisor_id: int | None


@dataclass
class EmployeePlan:
    """The validated rows and what the database holds, ready to be written."""

    records: list[_Record]
    layout: Layout
    existing: dict[str, _Existing]  # by NIP
    units: dict[str, int]  # unit_key -> id
    context: Context
    new_units: dict[str, str] = field(default_factory=dict)  # unit_key -> name as written

    async def write(self, connection: AsyncConnection) -> Counts:
        now = self.context.now
        units = dict(self.units)
        if self.new_units:
            rows = [
                {"name": n, "created_at": now, "updated_at": now} for n in self.new_units.values()
            ]
            created = await insert_rows(connection, UNITS, rows, returning=("name", "id"))
            units.update({unit_key(name): id_ for name, id_ in created})

        ids = {nip: current.id for nip, current in self.existing.items()}
        new: dict[str, dict[str, Any]] = {}
        supervisor_of: dict[str, str | None] = {}
        for record in self.records:
            assert record.nip is not None and record.unit is not None
            if record.nip not in self.existing:
                new[record.nip] = {
                    "nip": record.nip,
                    "name": record.name,
                    "employee_type": record.employee_type,
                    "position": record.position,
                    "rank": record.rank,
                    "unit_id": units[unit_key(record.unit)],
                    "phone": record.phone,
                    "post_since": record.post_since,
                    "potential": record.potential,
                    "supervisor_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
                supervisor_of[record.nip] = record.supervisor

        # New employees go in by level of the hierarchy (their supervisors first), so each
        # row is inserted with its supervisor's id: one statement per level, no second pass.
        # Beyond MAX_LEVELS (an odd, very deep chain) the link is set in a second pass.
        late: list[dict[str, Any]] = []
        for level in _levels(supervisor_of):
            rows = []
            for nip in level:
                row = new[nip]
                supervisor = supervisor_of[nip]
                if supervisor is not None:
                    if supervisor in ids:
                        row["supervisor_id"] = ids[supervisor]
                    else:
                        late.append({"nip": nip, "supervisor": supervisor})
                rows.append(row)
            ids.update(await insert_rows(connection, EMPLOYEES, rows, returning=("nip", "id")))

        kept = [name for name in _OPTIONAL if not self.layout.has(name)]
        has_supervisor = self.layout.has("supervisor")
        updates: list[dict[str, Any]] = []
        for record in self.records:
            assert record.nip is not None and record.unit is not None
            current = self.existing.get(record.nip)
            if current is None:
                continue
            values = {
                "name": record.name,
                "employee_type": record.employee_type,
                "position": record.position,
                "rank": record.rank,
                "unit_id": units[unit_key(record.unit)],
                "phone": record.phone,
                "post_since": record.post_since,
                "potential": record.potential,
            }
            for name in kept:
                values[name] = current.values[name]
            supervisor_id = current.supervisor_id
            if has_supervisor:
                supervisor_id = ids[record.supervisor] if record.supervisor else None
            if values != current.values or supervisor_id != current.supervisor_id:
                values.update(id=current.id, supervisor_id=supervisor_id, updated_at=now)
                updates.append(values)
        await update_rows(connection, EMPLOYEES, updates)
        await update_rows(
            connection,
            EMPLOYEES,
            [{"id": ids[link["nip"]], "supervisor_id": ids[link["supervisor"]]} for link in late],
        )
        return Counts(
            created=len(new),
            updated=len(updates),
            unchanged=len(self.records) - len(new) - len(updates),
            details={"units_created": len(self.new_units)},
        )


def _levels(supervisor_of: dict[str, str | None]) -> list[list[str]]:
    """New employees grouped by depth below the nearest non-new supervisor (or none).

    Level 0 has no supervisor among the new ones; level n reports to someone on level n-1.
    Depths from MAX_LEVELS on share the last group (their links are set afterwards).
    """
    depth: dict[str, int] = {}
    for start in supervisor_of:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node in supervisor_of and node not in depth:
            if node in on_path:  # a loop: validation reports these before anything is written
                node = None
                break
            path.append(node)
            on_path.add(node)
            node = supervisor_of[node]
        base = depth[node] + 1 if node is not None and node in depth else 0
        for offset, nip in enumerate(reversed(path)):
            depth[nip] = base + offset
    levels: list[list[str]] = []
    for nip, level in depth.items():
        level = min(level, MAX_LEVELS)
        while len(levels) <= level:
            levels.append([])
        levels[level].append(nip)
    return [level for level in levels if level]


def _read_rows(table: Table, layout: Layout, ctx: Context, issues: Issues) -> list[_Record]:
    get_nip, get_name, get_type = (getter(layout, f) for f in ("nip", "name", "type"))
    get_position, get_rank, get_unit = (getter(layout, f) for f in ("position", "rank", "unit"))
    get_supervisor, get_phone = getter(layout, "supervisor"), getter(layout, "phone")
    get_post_since, get_potential = getter(layout, "post_since"), getter(layout, "potential")
    h_nip, h_name, h_type, h_position, h_rank, h_unit, h_supervisor, h_phone = (
        layout.header(f)
        for f in ("nip", "name", "type", "position", "rank", "unit", "supervisor", "phone")
    )
    h_post_since, h_potential = layout.header("post_since"), layout.header("potential")
    today = ctx.today
    records: list[_Record] = []
    dates: dict[object, dt.date] = {}
    levels: dict[object, str] = {}
    for number, row in table.rows:
        before = len(issues.items)
        raw_type = get_type(row)
        type_text = raw_type.strip().upper() if isinstance(raw_type, str) else raw_type
        employee_type = _TYPES.get(type_text)  # type: ignore[arg-type]
        if employee_type is None:
            if type_text in (None, ""):
                issues.add(number, h_type, m.REQUIRED)
            else:
                issues.add(number, h_type, m.BAD_EMPLOYEE_TYPE, value=str(raw_type).strip())

        nip = read_nip(issues, number, h_nip, get_nip(row))
        if nip is None:
            if len(issues.items) == before:
                issues.add(number, h_nip, m.REQUIRED)
        else:
            # With an unknown type, still report what is wrong by the lenient PPPK rules.
            nip_problem(issues, number, h_nip, nip, employee_type or EmployeeType.PPPK, today)

        name = required_text(issues, number, h_name, get_name(row), 200)
        position = required_text(issues, number, h_position, get_position(row), 200)
        unit = required_text(issues, number, h_unit, get_unit(row), 200)
        rank = optional_text(issues, number, h_rank, get_rank(row), 40)

        supervisor = None
        raw_supervisor = get_supervisor(row)
        if raw_supervisor is not None:
            supervisor = read_nip(issues, number, h_supervisor, raw_supervisor)

        phone = None
        raw_phone = get_phone(row)
        if raw_phone is not None:
            phone_text, lost_digits = number_text(raw_phone)
            if phone_text:
                phone = None if lost_digits else normalize_phone(phone_text)
                if phone is None:
                    issues.add(number, h_phone, m.BAD_PHONE, value=phone_text)

        # Dates and levels repeat across rows: each distinct valid cell is parsed once.
        post_since = None
        raw_post_since = get_post_since(row)
        if raw_post_since is not None and raw_post_since != "":
            post_since = dates.get(raw_post_since)
            if post_since is None:
                post_since = _post_since(issues, number, h_post_since, raw_post_since, today)
                if post_since is not None:
                    dates[raw_post_since] = post_since

        potential = None
        raw_potential = get_potential(row)
        if raw_potential is not None and raw_potential != "":
            potential = levels.get(raw_potential)
            if potential is None:
                potential = _potential(issues, number, h_potential, raw_potential)
                if potential is not None:
                    levels[raw_potential] = potential

        records.append(
            _Record(
                number,
                nip,
                name,
                employee_type,
                position,
                rank,
                unit,
                supervisor,
                phone,
                post_since,
                potential,
            )
        )
    return records


def _post_since(
    issues: Issues, row: int, column: str, value: object, today: dt.date
) -> dt.date | None:
    """TMT Jabatan: a real date, not after ``today`` (``None`` when blank or reported)."""
    if isinstance(value, str) and not value.strip():
        return None
    day = parse_date(value)
    if day is None:
        issues.add(row, column, m.BAD_DATE, value=text(value))
    elif day > today:
        issues.add(
            row,
            column,
            m.POST_SINCE_IN_FUTURE,
            date=day.strftime("%d/%m/%Y"),
            today=today.strftime("%d/%m/%Y"),
        )
        return None
    return day


def _potential(issues: Issues, row: int, column: str, value: object) -> str | None:
    """Potensi as stored (``rendah`` / ``menengah`` / ``tinggi``); ``None`` when blank."""
    raw = text(value)
    if not raw:
        return None
    level = parse_potential(raw)
    if level is None:
        issues.add(row, column, m.BAD_POTENTIAL, value=raw, choices=POTENTIAL_CHOICES)
        return None
    return level.name.lower()


def _find_cycles(parent: dict[str, str | None], starts: list[str]) -> list[list[str]]:
    """Loops in the supervisor graph reachable from ``starts`` (each loop once)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    for start in starts:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent.get(node)
        if node is not None and state[node] == 1:
            cycles.append(path[path.index(node) :])
        for visited in path:
            state[visited] = 2
    return cycles


def _chain(cycle: list[str], start: str) -> str:
    index = cycle.index(start)
    ordered = cycle[index:] + cycle[:index]
    shown = ordered[:_CHAIN_SHOWN]
    tail = [start] if len(ordered) <= _CHAIN_SHOWN else ["\u2026", start]
    return " \u2192 ".join(shown + tail)


async def prepare(
    connection: AsyncConnection, table: Table, layout: Layout, ctx: Context, issues: Issues
) -> EmployeePlan:
    records = _read_rows(table, layout, ctx, issues)
    h_nip, h_supervisor, h_phone = (layout.header(f) for f in ("nip", "supervisor", "phone"))

    unit_rows = (await connection.execute(select(UNITS.c.id, UNITS.c.name))).all()
    units = {unit_key(name): id_ for id_, name in unit_rows}
    e = EMPLOYEES.c
    employee_rows = (
        await connection.execute(
            select(
                e.id,
                e.nip,
                e.name,
                e.employee_type,
                e.position,
                e.rank,
                e.unit_id,
                e.phone,
                e.post_since,
                e.potential,
                e.supervisor_id,
            )
        )
    ).all()
    existing: dict[str, _Existing] = {}
    nip_by_id: dict[int, str] = {}
    for id_, nip, *values, supervisor_id in employee_rows:
        existing[nip] = _Existing(id_, dict(zip(_FIELDS, values, strict=True)), supervisor_id)
        nip_by_id[id_] = nip

    # Duplicate NIPs within the file.
    rows_by_nip: dict[str, list[int]] = {}
    for record in records:
        if record.nip is not None:
            rows_by_nip.setdefault(record.nip, []).append(record.row)
    for nip, rows in rows_by_nip.items():
        if len(rows) > 1:
            for row in rows:
                issues.add(row, h_nip, m.DUPLICATE_NIP, nip=nip, rows=rows_text(rows))

    if layout.has("supervisor"):
        _check_supervisors(records, existing, nip_by_id, rows_by_nip, ctx, issues, h_supervisor)
    if layout.has("phone"):
        _check_phones(records, existing, rows_by_nip, issues, h_phone)

    plan = EmployeePlan(records, layout, existing, units, ctx)
    for record in records:
        if record.unit is not None:
            key = unit_key(record.unit)
            if key not in units and key not in plan.new_units:
                plan.new_units[key] = record.unit
    return plan


def _check_supervisors(
    records: list[_Record],
    existing: dict[str, _Existing],
    nip_by_id: dict[int, str],
    in_file: dict[str, list[int]],
    ctx: Context,
    issues: Issues,
    column: str,
) -> None:
    parent: dict[str, str | None] = {
        nip: nip_by_id.get(current.supervisor_id) if current.supervisor_id else None
        for nip, current in existing.items()
    }
    starts: list[str] = []
    row_of: dict[str, int] = {}
    for record in records:
        supervisor = record.supervisor
        if record.nip is None:
            continue
        row_of.setdefault(record.nip, record.row)
        parent[record.nip] = None
        if supervisor is None:
            continue
        if supervisor == record.nip:
            issues.add(record.row, column, m.SELF_SUPERVISOR)
            record.supervisor = None
        elif supervisor in in_file or supervisor in existing:
            parent[record.nip] = supervisor
            starts.append(record.nip)
        else:
            if not nip_problem(
                issues, record.row, column, supervisor, EmployeeType.PPPK, ctx.today
            ):
                issues.add(record.row, column, m.SUPERVISOR_NOT_FOUND, nip=supervisor)
            record.supervisor = None
    for cycle in _find_cycles(parent, starts):
        for nip in cycle:
            if nip in row_of:
                issues.add(row_of[nip], column, m.SUPERVISOR_CYCLE, chain=_chain(cycle, nip))


def _check_phones(
    records: list[_Record],
    existing: dict[str, _Existing],
    in_file: dict[str, list[int]],
    issues: Issues,
    column: str,
) -> None:
    by_phone: dict[str, list[_Record]] = {}
    for record in records:
        if record.phone is not None:
            by_phone.setdefault(record.phone, []).append(record)
    # Phones that stay where they are: employees this file does not mention.
    kept: dict[str, str] = {}
    for nip, current in existing.items():
        phone = current.values["phone"]
        if phone and nip not in in_file:
            kept.setdefault(phone, nip)
    for phone, holders in by_phone.items():
        if len({holder.nip for holder in holders}) > 1:
            rows = rows_text([holder.row for holder in holders])
            for holder in holders:
                issues.add(holder.row, column, m.DUPLICATE_PHONE, phone=phone, rows=rows)
            continue
        owner = kept.get(phone)
        if owner is not None:
            for holder in holders:
                if holder.nip != owner:
                    issues.add(holder.row, column, m.PHONE_TAKEN, phone=phone, nip=owner)
