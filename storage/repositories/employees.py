"""Employee look-ups and role changes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog, Employee
from storage.repositories.accounts import HR_ADMIN

ASN = "asn"


class EmployeeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        self.session.add(
            AuditLog(
                actor_id=actor_id,
                actor_label=actor_label,
                action="hr_admin_granted" if granted else "hr_admin_withdrawn",
                entity_type="employee",
                entity_id=employee.nip,
                details={"name": employee.name},
            )
        )
        return True
