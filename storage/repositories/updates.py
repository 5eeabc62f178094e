"""Processed Telegram updates: each ``update_id`` is taken on once (``handlers.dedupe``).

Telegram delivers an update again when the bot did not confirm it (a ``getUpdates`` offset
never sent, a webhook answer lost). :func:`claim_update` records the id with one statement
(``INSERT … ON CONFLICT DO NOTHING``, no ORM object) and says whether it was new; the caller
runs it in a transaction of its own, so on SQLite the write lock is held for that single
statement only. :func:`prune_processed_updates` forgets ids older than ``KEEP`` (Telegram
itself starts again from a random id after a week without updates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import ProcessedUpdate, utcnow

KEEP = dt.timedelta(days=7)

_TABLE = ProcessedUpdate.__table__


def _claim_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=[_TABLE.c.update_id])
        .returning(_TABLE.c.update_id)
    )


_CLAIM = {"postgresql": _claim_statement("postgresql"), "sqlite": _claim_statement("sqlite")}


def _dialect(connection: AsyncConnection | AsyncSession) -> str:
    if isinstance(connection, AsyncConnection):
        return connection.dialect.name
    return connection.get_bind().dialect.name


async def claim_update(
    connection: AsyncConnection | AsyncSession, update_id: int, now: dt.datetime | None = None
) -> bool:
    """Record ``update_id``; ``True`` the first time, ``False`` when it was recorded before."""
    statement = _CLAIM[_dialect(connection)]
    result = await connection.execute(
        statement, {"update_id": update_id, "handled_at": now or utcnow()}
    )
    return result.first() is not None


NEW, DONE, BUSY = "new", "done", "busy"


async def take_on(
    connection: AsyncConnection | AsyncSession,
    update_id: int,
    now: dt.datetime,
    stale: dt.timedelta,
) -> str:
    """``new`` (handle it: first time, or taken over from a process that left it unfinished
    longer than ``stale`` ago), ``done`` (handled already) or ``busy`` (being handled)."""
    if await claim_update(connection, update_id, now):
        return NEW
    c = _TABLE.c
    taken_over = await connection.execute(
        update(_TABLE)
        .where(c.update_id == update_id, c.finished_at.is_(None), c.handled_at < now - stale)
        .values(handled_at=now)
        .returning(c.update_id)
    )
    if taken_over.first() is not None:
        return NEW
    finished = await connection.execute(select(c.finished_at).where(c.update_id == update_id))
    row = finished.first()
    return DONE if row is None or row.finished_at is not None else BUSY


async def finish_update(
    connection: AsyncConnection | AsyncSession, update_id: int, now: dt.datetime | None = None
) -> None:
    await connection.execute(
        update(_TABLE).where(_TABLE.c.update_id == update_id).values(finished_at=now or utcnow())
    )


async def prune_processed_updates(
    connection: AsyncConnection | AsyncSession, now: dt.datetime | None = None
) -> int:
    """Forget the updates handled more than ``KEEP`` ago; how many rows went."""
    cutoff = (now or utcnow()) - KEEP
    result = await connection.execute(delete(_TABLE).where(_TABLE.c.handled_at < cutoff))
    return result.rowcount or 0
