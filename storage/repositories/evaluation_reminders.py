"""Evaluation reminders: who rates whom for a period and how far they are (every query the
reminders of ``bot.evaluation_reminders`` need).

*To rate*: an active employee whose direct supervisor (``Employee.supervisor_id``) is active.
*Pending*: to rate, and their evaluation for the period is missing or still a draft.
A *reachable recipient* is an active employee linked to Telegram whose account is reachable
(not blocked); the language is the employee's, else the one kept for the Telegram user.

Cost: every method is one statement (grouped in the database), except the outbox-key and
name look-ups, which run in chunks of ``IN`` lists; nothing runs once per supervisor, so a
city of ~1,000 supervisors costs the same few queries as a unit of ten. Methods run in the
caller's transaction and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Employee, Evaluation, OutboxMessage, TelegramUser, Unit
from storage.repositories.accounts import HR_ADMIN
from storage.repositories.evaluations import SUBMITTED

_IN_CHUNK = 1000
_REPORT = aliased(Employee, name="report")
_SUPERVISOR = aliased(Employee, name="supervisor")

Item = TypeVar("Item")


def chunks(items: Sequence[Item], size: int = _IN_CHUNK) -> Iterable[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone a reminder can be sent to."""

    employee_id: int
    chat_id: int
    language: str | None


@dataclass(frozen=True, slots=True)
class SupervisorProgress:
    """A supervisor with reports to rate in a period, and how many are still pending."""

    supervisor_id: int
    name: str
    position: str
    unit: str
    boss_id: int | None  # the supervisor's own supervisor
    chat_id: int | None  # set only when linked
    language: str | None
    reachable: bool
    reports: int
    pending: int

    @property
    def recipient(self) -> Recipient | None:
        if self.chat_id is None or not self.reachable:
            return None
        return Recipient(self.supervisor_id, self.chat_id, self.language)


@dataclass(frozen=True, slots=True)
class UnitProgress:
    """One unit's evaluations for a period (the unit of the employee rated)."""

    unit: str
    reports: int
    pending: int
    supervisors_pending: int


def _is_pending() -> Any:
    """A report's evaluation (outer-joined) is missing or still a draft."""
    return or_(Evaluation.id.is_(None), Evaluation.status != SUBMITTED)


def _pending() -> Any:
    """1 for a pending report, else 0 (to sum)."""
    return case((_is_pending(), 1), else_=0)


def _rated_in(period_id: int) -> Any:
    """The evaluation of a report for the period (outer-joined: a report may have none)."""
    return and_(Evaluation.employee_id == _REPORT.id, Evaluation.period_id == period_id)


def _language(person: Any) -> Any:
    return func.coalesce(person.language, TelegramUser.language)


class EvaluationReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def supervisors(
        self, period_id: int, *, reachable_only: bool = True
    ) -> list[SupervisorProgress]:
        """The active supervisors with at least one pending report for the period, by id;
        ``reachable_only``: only those who can be written to."""
        report, boss = _REPORT, _SUPERVISOR
        pending = func.sum(_pending())
        statement = (
            select(
                boss.id,
                boss.name,
                boss.position,
                Unit.name,
                boss.supervisor_id,
                boss.telegram_user_id,
                _language(boss),
                boss.reachable,
                func.count(report.id),
                pending,
            )
            .select_from(report)
            .join(boss, boss.id == report.supervisor_id)
            .join(Unit, Unit.id == boss.unit_id)
            .outerjoin(TelegramUser, TelegramUser.id == boss.telegram_user_id)
            .outerjoin(Evaluation, _rated_in(period_id))
            .where(report.active.is_(True), boss.active.is_(True))
            .group_by(
                boss.id,
                boss.name,
                boss.position,
                Unit.name,
                boss.supervisor_id,
                boss.telegram_user_id,
                boss.language,
                TelegramUser.language,
                boss.reachable,
            )
            .having(pending > 0)
            .order_by(boss.id)
        )
        if reachable_only:
            statement = statement.where(
                boss.telegram_user_id.is_not(None), boss.reachable.is_(True)
            )
        rows = await self.session.execute(statement)
        return [
            SupervisorProgress(*row[:8], reports=int(row[8]), pending=int(row[9])) for row in rows
        ]

    async def pending_names(
        self, period_id: int, supervisor_ids: Iterable[int]
    ) -> dict[int, list[str]]:
        """``{supervisor id: names of their pending reports, by name}``."""
        report = _REPORT
        wanted = sorted(set(supervisor_ids))
        found: dict[int, list[str]] = defaultdict(list)
        for chunk in chunks(wanted):
            rows = await self.session.execute(
                select(report.supervisor_id, report.name)
                .outerjoin(Evaluation, _rated_in(period_id))
                .where(
                    report.supervisor_id.in_(chunk),
                    report.active.is_(True),
                    _is_pending(),
                )
                .order_by(report.supervisor_id, report.name, report.id)
            )
            for supervisor_id, name in rows:
                found[supervisor_id].append(name)
        return dict(found)

    async def recipients(self, employee_ids: Iterable[int]) -> dict[int, Recipient]:
        """The reachable recipients among ``employee_ids``."""
        wanted = sorted(set(employee_ids))
        found: dict[int, Recipient] = {}
        for chunk in chunks(wanted):
            rows = await self.session.execute(self._recipients().where(Employee.id.in_(chunk)))
            found.update({row[0]: Recipient(*row) for row in rows})
        return found

    async def hr_admins(self) -> list[Recipient]:
        """Every reachable HR admin, by id."""
        rows = await self.session.execute(
            self._recipients().where(Employee.role == HR_ADMIN).order_by(Employee.id)
        )
        return [Recipient(*row) for row in rows]

    @staticmethod
    def _recipients() -> Any:
        return (
            select(Employee.id, Employee.telegram_user_id, _language(Employee))
            .outerjoin(TelegramUser, TelegramUser.id == Employee.telegram_user_id)
            .where(
                Employee.active.is_(True),
                Employee.telegram_user_id.is_not(None),
                Employee.reachable.is_(True),
            )
        )

    async def unit_progress(self, period_id: int) -> list[UnitProgress]:
        """Per unit (of the employee rated): reports to rate, pending, and how many
        supervisors have pending ones; the units with the most pending first."""
        report, boss = _REPORT, _SUPERVISOR
        pending = func.sum(_pending())
        late_supervisors = func.count(distinct(case((_is_pending(), report.supervisor_id))))
        rows = await self.session.execute(
            select(Unit.name, func.count(report.id), pending, late_supervisors)
            .select_from(report)
            .join(boss, boss.id == report.supervisor_id)
            .join(Unit, Unit.id == report.unit_id)
            .outerjoin(Evaluation, _rated_in(period_id))
            .where(report.active.is_(True), boss.active.is_(True))
            .group_by(Unit.id, Unit.name)
            .order_by(pending.desc(), Unit.name)
        )
        return [UnitProgress(name, int(n), int(p or 0), int(s)) for name, n, p, s in rows]

    async def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """The idempotency keys among ``keys`` already in the outbox (whatever their status)."""
        wanted = list(dict.fromkeys(keys))
        key = OutboxMessage.idempotency_key
        found: set[str] = set()
        for chunk in chunks(wanted):
            found.update((await self.session.scalars(select(key).where(key.in_(chunk)))).all())
        return found
