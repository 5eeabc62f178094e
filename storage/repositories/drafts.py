"""Drafts: the durable state of guided conversations, one per (Telegram user, flow).

A step is saved as soon as the person answers it, so a restart, a second process or a new
phone continues where they left off. A draft not touched for :data:`DRAFT_TTL` is treated as
absent (and removed when next seen): nobody is dragged back into a conversation of last week.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Draft, utcnow

DRAFT_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DraftState:
    """A read-only copy of a draft (handlers never get ORM objects)."""

    telegram_user_id: int
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: dt.datetime | None = None


def _state(draft: Draft) -> DraftState:
    return DraftState(
        telegram_user_id=draft.telegram_user_id,
        flow=draft.flow,
        step=draft.step,
        data=dict(draft.data or {}),
        updated_at=draft.updated_at,
    )


class DraftRepository:
    """Every draft query. Methods run in the caller's transaction and never commit."""

    def __init__(self, session: AsyncSession, *, ttl: dt.timedelta = DRAFT_TTL) -> None:
        self.session = session
        self.ttl = ttl

    @property
    def _dialect(self) -> str:
        bind = self.session.bind
        return bind.dialect.name if bind is not None else "sqlite"

    def _fresh_since(self, now: dt.datetime | None) -> dt.datetime:
        return (now or utcnow()) - self.ttl

    async def get(
        self, telegram_user_id: int, flow: str, *, now: dt.datetime | None = None
    ) -> DraftState | None:
        """The draft, or ``None`` if there is none or it expired."""
        return await self.latest(telegram_user_id, [flow], now=now)

    async def latest(
        self, telegram_user_id: int, flows: Iterable[str], *, now: dt.datetime | None = None
    ) -> DraftState | None:
        """The most recently touched live draft of ``telegram_user_id`` among ``flows``."""
        flows = list(flows)
        if not flows:
            return None
        rows = (
            await self.session.scalars(
                select(Draft)
                .where(Draft.telegram_user_id == telegram_user_id, Draft.flow.in_(flows))
                .order_by(Draft.updated_at.desc(), Draft.id.desc())
            )
        ).all()
        since = self._fresh_since(now)
        expired = [row.id for row in rows if row.updated_at < since]
        if expired:
            await self.session.execute(
                delete(Draft)
                .where(Draft.id.in_(expired))
                .execution_options(synchronize_session=False)
            )
        live = [row for row in rows if row.updated_at >= since]
        return _state(live[0]) if live else None

    async def put(
        self,
        telegram_user_id: int,
        flow: str,
        step: str,
        data: dict[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        """Create or replace the draft of (user, flow) (an upsert on both databases)."""
        now = now or utcnow()
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        values = {
            "telegram_user_id": telegram_user_id,
            "flow": flow,
            "step": step,
            "data": dict(data or {}),
            "created_at": now,
            "updated_at": now,
        }
        statement = insert(Draft).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[Draft.telegram_user_id, Draft.flow],
            set_={
                "step": statement.excluded.step,
                "data": statement.excluded.data,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self.session.execute(statement)

    async def take(
        self, telegram_user_id: int, flow: str, *, now: dt.datetime | None = None
    ) -> DraftState | None:
        """Remove the draft and return what it held (``None`` if absent or expired).

        Whoever takes it first wins: a second, concurrent ``take`` waits for the first
        transaction (PostgreSQL row lock; SQLite has one writer) and then finds nothing, so a
        double-pressed "Save" button acts once.
        """
        statement = (
            delete(Draft)
            .where(Draft.telegram_user_id == telegram_user_id, Draft.flow == flow)
            .returning(Draft.step, Draft.data, Draft.updated_at)
        )
        row = (await self.session.execute(statement)).first()
        if row is None or row.updated_at < self._fresh_since(now):
            return None
        return DraftState(telegram_user_id, flow, row.step, dict(row.data or {}), row.updated_at)

    async def clear(self, telegram_user_id: int, *flows: str) -> int:
        """Remove the drafts of ``flows`` (how many existed)."""
        if not flows:
            return 0
        result = await self.session.execute(
            delete(Draft)
            .where(Draft.telegram_user_id == telegram_user_id, Draft.flow.in_(flows))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
