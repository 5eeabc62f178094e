"""The audit log: who did what, when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import AuditLog, Employee


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: dt.datetime
    actor_name: str | None
    actor_label: str
    action: str
    entity_type: str | None
    entity_id: str | None
    details: dict[str, Any]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        actor_label: str = "",
        entity_type: str | None = None,
        entity_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Add an entry to the caller's transaction."""
        self.session.add(
            AuditLog(
                actor_id=actor_id,
                actor_label=actor_label,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                details=details or {},
            )
        )

    async def recent(self, limit: int = 15) -> list[AuditEntry]:
        actor = aliased(Employee)
        rows = await self.session.execute(
            select(AuditLog, actor.name)
            .outerjoin(actor, actor.id == AuditLog.actor_id)
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
        return [
            AuditEntry(
                at=log.at,
                actor_name=name,
                actor_label=log.actor_label,
                action=log.action,
                entity_type=log.entity_type,
                entity_id=log.entity_id,
                details=log.details or {},
            )
            for log, name in rows
        ]
