"""Who is talking to the bot: the Telegram user, their employee record if linked, their roles."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Employee, LinkAttempt, TelegramUser, Unit, utcnow
from storage.repositories.audit import AuditRepository

HR_ADMIN = "hr_admin"


@dataclass(frozen=True, slots=True)
class Account:
    """A read-only snapshot for one update; handlers never get ORM objects."""

    telegram_user_id: int
    language: str | None
    employee_id: int | None = None
    nip: str | None = None
    name: str | None = None
    position: str | None = None
    unit: str | None = None
    is_hr_admin: bool = False
    is_supervisor: bool = False

    @property
    def linked(self) -> bool:
        return self.employee_id is not None


_REPORTS = aliased(Employee)
# Built once: this runs for every update, and a prebuilt statement skips SQLAlchemy's
# construction and cache-key work. A Telegram user with their linked, active employee.
_LOAD = (
    select(
        TelegramUser.language,
        Employee.id,
        Employee.nip,
        Employee.name,
        Employee.position,
        Employee.role,
        Employee.language,
        Unit.name,
        exists().where(_REPORTS.supervisor_id == Employee.id, _REPORTS.active),
    )
    .select_from(TelegramUser)
    .outerjoin(
        Employee, and_(Employee.telegram_user_id == TelegramUser.id, Employee.active.is_(True))
    )
    .outerjoin(Unit, Unit.id == Employee.unit_id)
    .where(TelegramUser.id == bindparam("telegram_user_id"))
)

_LOAD_EMPLOYEE = (
    select(*_LOAD.selected_columns[1:])
    .join(Unit, Unit.id == Employee.unit_id)
    .where(Employee.telegram_user_id == bindparam("telegram_user_id"), Employee.active.is_(True))
)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, telegram_user_id: int, first_name: str, username: str | None) -> None:
        """Record a Telegram user the first time they write (a no-op when already known)."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(TelegramUser)
            .values(id=telegram_user_id, first_name=first_name[:200], username=username)
            .on_conflict_do_nothing(index_elements=[TelegramUser.id])
        )
        await self.session.execute(statement)

    async def load(self, telegram_user_id: int) -> Account:
        """The account of a Telegram user, whether or not they ever wrote to the bot."""
        account = await self.find(telegram_user_id)
        if account is not None:
            return account
        row = (
            await self.session.execute(_LOAD_EMPLOYEE, {"telegram_user_id": telegram_user_id})
        ).first()
        return self._account(telegram_user_id, None, row)

    async def find(self, telegram_user_id: int) -> Account | None:
        """The account, or ``None`` if this Telegram user never wrote (see :meth:`remember`)."""
        row = (await self.session.execute(_LOAD, {"telegram_user_id": telegram_user_id})).first()
        if row is None:
            return None
        return self._account(telegram_user_id, row[0], row[1:] if row[1] is not None else None)

    @staticmethod
    def _account(telegram_user_id: int, user_language: str | None, row: Any) -> Account:
        if row is None:
            return Account(telegram_user_id=telegram_user_id, language=user_language)
        (
            employee_id,
            nip,
            name,
            position,
            role,
            employee_language,
            unit,
            has_reports,
        ) = row
        return Account(
            telegram_user_id=telegram_user_id,
            language=employee_language or user_language,
            employee_id=employee_id,
            nip=nip,
            name=name,
            position=position,
            unit=unit,
            is_hr_admin=role == HR_ADMIN,
            is_supervisor=bool(has_reports),
        )

    async def set_language(self, telegram_user_id: int, language: str) -> None:
        user = await self.session.get(TelegramUser, telegram_user_id)
        if user is not None:
            user.language = language
            user.updated_at = utcnow()
        employee = await self.session.scalar(
            select(Employee).where(Employee.telegram_user_id == telegram_user_id)
        )
        if employee is not None:
            employee.language = language


class LinkOutcome(StrEnum):
    LINKED = "linked"
    # The employee record already belongs to another Telegram account.
    EMPLOYEE_TAKEN = "employee_taken"


class LinkRepository:
    """Linking Telegram accounts to employees, and the attempts that limit guessing."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def failed_attempts_since(
        self, telegram_user_id: int, since: dt.datetime
    ) -> list[dt.datetime]:
        rows = await self.session.scalars(
            select(LinkAttempt.at)
            .where(
                LinkAttempt.telegram_user_id == telegram_user_id,
                LinkAttempt.at >= since,
                LinkAttempt.succeeded.is_(False),
            )
            .order_by(LinkAttempt.at)
        )
        return list(rows)

    def record_attempt(
        self, telegram_user_id: int, method: str, succeeded: bool, now: dt.datetime
    ) -> None:
        self.session.add(
            LinkAttempt(
                telegram_user_id=telegram_user_id, method=method, succeeded=succeeded, at=now
            )
        )

    async def employee_id_by_phone(self, phone: str) -> int | None:
        return await self.session.scalar(
            select(Employee.id).where(Employee.phone == phone, Employee.active).limit(1)
        )

    async def link(
        self, employee_id: int, telegram_user_id: int, method: str, now: dt.datetime
    ) -> LinkOutcome:
        """Link if the employee is still free; a conditional update, safe against races."""
        chosen_language = (
            select(TelegramUser.language)
            .where(TelegramUser.id == telegram_user_id)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(Employee)
            .where(Employee.id == employee_id, Employee.telegram_user_id.is_(None))
            .values(
                telegram_user_id=telegram_user_id,
                linked_at=now,
                reachable=True,
                blocked_at=None,
                language=func.coalesce(chosen_language, Employee.language),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return LinkOutcome.EMPLOYEE_TAKEN
        nip = await self.session.scalar(select(Employee.nip).where(Employee.id == employee_id))
        AuditRepository(self.session).record(
            "account_linked",
            actor_id=employee_id,
            actor_label="telegram",
            entity_type="employee",
            entity_id=nip,
            details={"method": method},
        )
        return LinkOutcome.LINKED

    async def unlink(
        self, employee_id: int, *, actor_id: int | None, actor_label: str
    ) -> int | None:
        """Remove the link; returns the Telegram user id that was linked (None if none)."""
        employee = await self.session.get(Employee, employee_id)
        if employee is None or employee.telegram_user_id is None:
            return None
        telegram_user_id = employee.telegram_user_id
        employee.telegram_user_id = None
        employee.linked_at = None
        AuditRepository(self.session).record(
            "account_unlinked",
            actor_id=actor_id,
            actor_label=actor_label,
            entity_type="employee",
            entity_id=employee.nip,
            details={"name": employee.name},
        )
        return telegram_user_id

    async def set_reachable(self, telegram_user_id: int, reachable: bool, now: dt.datetime) -> bool:
        """Follow a block (or unblock) of the bot by a linked employee."""
        result = await self.session.execute(
            update(Employee)
            .where(Employee.telegram_user_id == telegram_user_id)
            .values(reachable=reachable, blocked_at=None if reachable else now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
