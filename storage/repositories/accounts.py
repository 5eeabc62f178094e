"""Who is talking to the bot: the Telegram user, their employee record if linked, their roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Employee, TelegramUser, Unit, utcnow

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


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, telegram_user_id: int, first_name: str, username: str | None) -> None:
        """Record a Telegram user the first time they write; later calls cost one statement."""
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(TelegramUser)
            .values(id=telegram_user_id, first_name=first_name[:200], username=username)
            .on_conflict_do_nothing(index_elements=[TelegramUser.id])
        )
        await self.session.execute(statement)

    async def load(self, telegram_user_id: int) -> Account:
        reports = aliased(Employee)
        row = (
            await self.session.execute(
                select(
                    TelegramUser.language,
                    Employee.id,
                    Employee.nip,
                    Employee.name,
                    Employee.position,
                    Employee.role,
                    Employee.language,
                    Unit.name,
                    exists().where(reports.supervisor_id == Employee.id, reports.active),
                )
                .select_from(TelegramUser)
                .outerjoin(
                    Employee,
                    (Employee.telegram_user_id == TelegramUser.id) & Employee.active,
                )
                .outerjoin(Unit, Unit.id == Employee.unit_id)
                .where(TelegramUser.id == telegram_user_id)
            )
        ).first()
        if row is None:
            return Account(telegram_user_id=telegram_user_id, language=None)
        (
            user_language,
            employee_id,
            nip,
            name,
            position,
            role,
            employee_language,
            unit,
            has_reports,
        ) = row
        if employee_id is None:
            return Account(telegram_user_id=telegram_user_id, language=user_language)
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
