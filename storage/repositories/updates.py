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

from sqlalchemy import delete
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


async def prune_processed_updates(
    connection: AsyncConnection | AsyncSession, now: dt.datetime | None = None
) -> int:
    """Forget the updates handled more than ``KEEP`` ago; how many rows went."""
    cutoff = (now or utcnow()) - KEEP
    result = await connection.execute(delete(_TABLE).where(_TABLE.c.handled_at < cutoff))
    return result.rowcount or 0
