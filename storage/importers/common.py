"""Pieces every kind of import uses: the run's context, cell access, NIP checks, bulk SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Row as SqlRow
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.rules.nip import EmployeeType, check_nip, normalize_nip, problem_params
from storage.importers import messages as m
from storage.importers.base import Issues, Msgid
from storage.importers.cells import number_text, text
from storage.importers.columns import Layout
from storage.importers.table import Row

# Bound parameters per statement stay well below SQLite's and PostgreSQL's limits (32766).
IN_CHUNK = 5_000
WRITE_CHUNK = 5_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Context:
    filename: str
    actor_id: int | None
    actor_label: str
    zone: ZoneInfo
    today: dt.date
    now: dt.datetime  # UTC, the same for every row written by one import

    @property
    def zone_label(self) -> str:
        return "WIB" if self.zone.key == "Asia/Jakarta" else self.zone.key


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    details: dict[str, object] | None = None


class Plan(Protocol):
    """A validated file, ready to be written in the caller's transaction."""

    async def write(self, connection: AsyncConnection) -> Counts: ...


def getter(layout: Layout, field: str) -> Callable[[Row], object]:
    """A fast accessor for one column of a row (``None`` when the column or cell is absent)."""
    if field not in layout.positions:
        return lambda row: None
    index = layout.positions[field][0]
    return lambda row: row[index] if index < len(row) else None


def chunks(items: Sequence[T], size: int = WRITE_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def select_in(
    connection: AsyncConnection,
    query: Callable[[Sequence[Any]], Select[Any]],
    values: Iterable[Any],
) -> list[SqlRow[Any]]:
    """Run ``query(chunk)`` over ``values`` in chunks (an ``IN`` list per chunk)."""
    distinct = list(dict.fromkeys(values))
    rows: list[SqlRow[Any]] = []
    for chunk in chunks(distinct, IN_CHUNK):
        rows.extend((await connection.execute(query(chunk))).all())
    return rows


async def executemany(connection: AsyncConnection, statement: Any, params: list[dict]) -> None:
    for chunk in chunks(params):
        await connection.execute(statement, list(chunk))


def check_length(
    issues: Issues, row: int, column: str, value: str | None, limit: int
) -> str | None:
    """``value`` if it fits the database column; otherwise report it and return ``None``."""
    if value is not None and len(value) > limit:
        issues.add(row, column, m.TOO_LONG, max=limit)
        return None
    return value


def required_text(issues: Issues, row: int, column: str, value: object, limit: int) -> str | None:
    raw = " ".join(text(value).split())
    if not raw:
        issues.add(row, column, m.REQUIRED)
        return None
    return check_length(issues, row, column, raw, limit)


def optional_text(issues: Issues, row: int, column: str, value: object, limit: int) -> str | None:
    raw = text(value)
    return check_length(issues, row, column, raw, limit) if raw else None


def read_nip(issues: Issues, row: int, column: str, value: object) -> str | None:
    """The NIP written in a cell, normalised but not yet checked (``None`` if unusable)."""
    raw, lost_digits = number_text(value)
    if lost_digits:
        issues.add(row, column, m.NIP_LOST_DIGITS, value=raw)
        return None
    if not raw:
        return None
    return normalize_nip(raw)


def nip_problem(
    issues: Issues,
    row: int,
    column: str,
    nip: str,
    employee_type: EmployeeType | str,
    today: dt.date,
) -> bool:
    """Report what is wrong with ``nip`` for ``employee_type``; ``True`` if something was."""
    normalized, problem = check_nip(nip, employee_type, today)
    if problem is None:
        return False
    issues.add(
        row,
        column,
        m.INVALID_NIP,
        value=nip,
        reason=Msgid(problem.message),
        **problem_params(normalized, problem),
    )
    return True


def check_known_employee(
    issues: Issues,
    row: int,
    column: str,
    nip: str,
    employee_type: str | None,
    today: dt.date,
) -> bool:
    """A NIP that must belong to an employee in the database (``employee_type`` if found)."""
    if employee_type is not None:
        return not nip_problem(issues, row, column, nip, employee_type, today)
    # Unknown person: report a malformed number as such (PPPK rules are the lenient ones).
    if not nip_problem(issues, row, column, nip, EmployeeType.PPPK, today):
        issues.add(row, column, m.EMPLOYEE_NOT_FOUND, nip=nip)
    return False
