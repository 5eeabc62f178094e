"""Import one file: read, validate every row against the file and the database, then write
everything in one transaction, or nothing at all when any row has a problem."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from storage.importers import competencies, employees, formations, mutations, trainings
from storage.importers import messages as m
from storage.importers.base import ImportFileError, ImportKind, ImportResult, Issues
from storage.importers.columns import Layout, choose_kind, layout
from storage.importers.common import Context, Plan
from storage.importers.table import Table, read_table
from storage.models import AuditLog

Prepare = Callable[[AsyncConnection, Table, Layout, Context, Issues], Awaitable[Plan]]

PREPARE: dict[ImportKind, Prepare] = {
    ImportKind.EMPLOYEES: employees.prepare,
    ImportKind.MUTATIONS: mutations.prepare,
    ImportKind.TRAININGS: trainings.prepare,
    ImportKind.COMPETENCIES: competencies.prepare,
    ImportKind.FORMATIONS: formations.prepare,
}
# Below this size parsing is quicker than handing the work to a thread.
_THREAD_THRESHOLD = 256 * 1024


class _GcPause:
    """How many imports run now, and whether the first one switched the collector off."""

    running = 0
    switched_off = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import runs.

    An import holds tens of thousands of live objects (cells, rows, records), and the
    collector would rescan them again and again while more are allocated: a third of the
    import's time. Reference counting still frees memory meanwhile; the collector resumes
    when the last concurrent import ends.
    """
    if _GcPause.running == 0 and gc.isenabled():
        gc.disable()
        _GcPause.switched_off = True
    _GcPause.running += 1
    try:
        yield
    finally:
        _GcPause.running -= 1
        if _GcPause.running == 0 and _GcPause.switched_off:
            _GcPause.switched_off = False
            gc.enable()


def _read(data: bytes, filename: str, kind: ImportKind | None) -> tuple[Table, ImportKind, Layout]:
    table = read_table(data, filename)
    chosen = choose_kind(table.headers, kind)
    return table, chosen, layout(table.headers, chosen)


async def import_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
    filename: str,
    kind: ImportKind | None = None,
    *,
    actor_id: int | None = None,
    actor_label: str = "import",
    timezone: str = "Asia/Jakarta",
    today: dt.date | None = None,
) -> ImportResult:
    """Import HR data from a CSV or XLSX file (``kind`` detected from the headers if ``None``).

    Raises :class:`ImportFileError` when the file as a whole is unusable. Otherwise returns
    an :class:`ImportResult`; if it has issues, nothing was written.
    """
    with _cyclic_gc_paused():
        return await _import(
            sessionmaker, data, filename, kind, actor_id, actor_label, timezone, today
        )


async def _import(
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
    filename: str,
    kind: ImportKind | None,
    actor_id: int | None,
    actor_label: str,
    timezone: str,
    today: dt.date | None,
) -> ImportResult:
    if len(data) > _THREAD_THRESHOLD:
        # Parsing a big workbook takes a while: keep the bot's event loop responsive.
        table, kind, columns = await asyncio.to_thread(_read, data, filename, kind)
    else:
        table, kind, columns = _read(data, filename, kind)
    zone = ZoneInfo(timezone)
    now = dt.datetime.now(dt.UTC)
    context = Context(
        filename=filename,
        actor_id=actor_id,
        actor_label=actor_label,
        zone=zone,
        today=today or now.astimezone(zone).date(),
        now=now,
    )
    result = ImportResult(kind, rows=len(table.rows))
    issues = Issues()
    async with sessionmaker() as session:
        connection = await session.connection()
        plan = await PREPARE[kind](connection, table, columns, context, issues)
        if issues:
            await session.rollback()
            result.issues = issues.sorted()
            return result
        try:
            counts = await plan.write(connection)
            await connection.execute(
                insert(AuditLog.__table__).values(
                    at=now,
                    actor_id=actor_id,
                    actor_label=actor_label,
                    action="import",
                    entity_type=kind.value,
                    details={
                        "filename": filename,
                        "rows": result.rows,
                        "created": counts.created,
                        "updated": counts.updated,
                        "unchanged": counts.unchanged,
                        **(counts.details or {}),
                    },
                )
            )
            await session.commit()
        except IntegrityError as exc:
            # Someone else changed the same data between our checks and our writes.
            await session.rollback()
            raise ImportFileError(m.FILE_CHANGED_MEANWHILE) from exc
    result.created, result.updated, result.unchanged = (
        counts.created,
        counts.updated,
        counts.unchanged,
    )
    return result
