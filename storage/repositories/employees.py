"""Employee look-ups and role changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.rules.nip import normalize_nip
from storage.models import Employee, Unit
from storage.repositories.accounts import HR_ADMIN
from storage.repositories.audit import AuditRepository

ASN = "asn"


class EmployeeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, employee_id: int) -> Employee | None:
        return await self.session.get(Employee, employee_id)

    async def by_nip(self, nip: str) -> Employee | None:
        return await self.session.scalar(select(Employee).where(Employee.nip == nip))

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(Employee)) or 0

    async def set_hr_admin(
        self, employee: Employee, granted: bool, *, actor_id: int | None, actor_label: str
    ) -> bool:
        """Grant or withdraw the HR role; returns False when nothing changed. Audited."""
        role = HR_ADMIN if granted else ASN
        if employee.role == role:
            return False
        employee.role = role
        AuditRepository(self.session).record(
            "hr_admin_granted" if granted else "hr_admin_withdrawn",
            actor_id=actor_id,
            actor_label=actor_label,
            entity_type="employee",
            entity_id=employee.nip,
            details={"name": employee.name},
        )
        return True


@dataclass(frozen=True, slots=True)
class EmployeeCard:
    """What a card shows about one employee."""

    id: int
    nip: str
    name: str
    employee_type: str
    position: str
    rank: str | None
    unit: str
    supervisor_name: str | None
    phone: str | None
    role: str
    telegram_user_id: int | None
    linked_at: dt.datetime | None
    language: str | None
    reachable: bool
    active: bool

    @property
    def is_hr_admin(self) -> bool:
        return self.role == HR_ADMIN


def _card_query() -> Select[Any]:
    supervisor = aliased(Employee)
    return (
        select(Employee, Unit.name, supervisor.name)
        .join(Unit, Unit.id == Employee.unit_id)
        .outerjoin(supervisor, supervisor.id == Employee.supervisor_id)
    )


def _card(row: Any) -> EmployeeCard:
    employee, unit, supervisor_name = row
    return EmployeeCard(
        id=employee.id,
        nip=employee.nip,
        name=employee.name,
        employee_type=employee.employee_type,
        position=employee.position,
        rank=employee.rank,
        unit=unit,
        supervisor_name=supervisor_name,
        phone=employee.phone,
        role=employee.role,
        telegram_user_id=employee.telegram_user_id,
        linked_at=employee.linked_at,
        language=employee.language,
        reachable=employee.reachable,
        active=employee.active,
    )


class EmployeeDirectory:
    """Read-only look-ups that produce cards (search, own card)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def card(self, employee_id: int) -> EmployeeCard | None:
        row = (await self.session.execute(_card_query().where(Employee.id == employee_id))).first()
        return _card(row) if row else None

    async def card_by_nip(self, nip: str) -> EmployeeCard | None:
        row = (await self.session.execute(_card_query().where(Employee.nip == nip))).first()
        return _card(row) if row else None

    async def search(self, text: str, limit: int = 10) -> list[EmployeeCard]:
        """By NIP (whole or its beginning, spaces and dots allowed) or by part of the name."""
        digits = normalize_nip(text)
        query = _card_query()
        if digits.isdigit() and len(digits) >= 4:
            query = query.where(Employee.nip.startswith(digits))
        else:
            words = [w for w in text.split() if w]
            if not words:
                return []
            for word in words:
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(Employee.name.ilike(f"%{escaped}%", escape="\\"))
        rows = await self.session.execute(query.order_by(Employee.name).limit(limit))
        return [_card(row) for row in rows]
