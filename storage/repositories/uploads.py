"""Data files HR sent in chat: recorded when they arrive, claimed once, then finished.

An upload is ``pending`` until it is imported, rejected or cancelled. While pending, a set
``kind`` means an import is under way: the claim (``kind`` from ``NULL`` to a kind) is one
conditional ``UPDATE``, so a button pressed twice, or by two processes, imports only once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Upload, utcnow

PENDING = "pending"
IMPORTED = "imported"
REJECTED = "rejected"
CANCELLED = "cancelled"
FINAL_STATUSES = frozenset({IMPORTED, REJECTED, CANCELLED})


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A read-only snapshot; handlers never get ORM objects."""

    id: int
    telegram_user_id: int
    employee_id: int
    file_id: str
    file_name: str
    file_size: int | None
    status: str
    kind: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    result: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.status == PENDING


def _record(upload: Upload) -> UploadRecord:
    return UploadRecord(
        id=upload.id,
        telegram_user_id=upload.telegram_user_id,
        employee_id=upload.employee_id,
        file_id=upload.file_id,
        file_name=upload.file_name,
        file_size=upload.file_size,
        status=upload.status,
        kind=upload.kind,
        created_at=upload.created_at,
        finished_at=upload.finished_at,
        result=upload.result,
    )


class UploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        telegram_user_id: int,
        employee_id: int,
        file_id: str,
        file_name: str,
        file_size: int | None,
        kind: str | None = None,
    ) -> UploadRecord:
        """Record a pending upload; with ``kind`` it is already claimed for that import."""
        upload = Upload(
            telegram_user_id=telegram_user_id,
            employee_id=employee_id,
            file_id=file_id[:300],
            file_name=file_name[:300],
            file_size=file_size,
            status=PENDING,
            kind=kind,
            created_at=utcnow(),
        )
        self.session.add(upload)
        await self.session.flush()
        return _record(upload)

    async def get_for_user(self, upload_id: int, telegram_user_id: int) -> UploadRecord | None:
        """The upload if it exists and was sent by this Telegram user (whatever its status)."""
        upload = await self.session.scalar(
            select(Upload).where(
                Upload.id == upload_id, Upload.telegram_user_id == telegram_user_id
            )
        )
        return _record(upload) if upload is not None else None

    async def claim(self, upload_id: int, telegram_user_id: int, kind: str) -> UploadRecord | None:
        """Take this user's pending, unclaimed upload for an import of ``kind``.

        ``None`` when it is not theirs, no longer pending, or already being imported.
        """
        claimed = await self.session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.telegram_user_id == telegram_user_id,
                Upload.status == PENDING,
                Upload.kind.is_(None),
            )
            .values(kind=kind)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self.get_for_user(upload_id, telegram_user_id)

    async def release(self, upload_id: int) -> None:
        """Undo a claim (the import could not run): the kind may be chosen again."""
        await self.session.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status == PENDING)
            .values(kind=None)
            .execution_options(synchronize_session=False)
        )

    async def cancel(self, upload_id: int, telegram_user_id: int) -> bool:
        """Drop this user's pending, unclaimed upload; ``False`` if that is not possible."""
        cancelled = await self.session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                Upload.telegram_user_id == telegram_user_id,
                Upload.status == PENDING,
                Upload.kind.is_(None),
            )
            .values(status=CANCELLED, finished_at=utcnow(), result={})
            .execution_options(synchronize_session=False)
        )
        return cancelled.rowcount == 1  # type: ignore[attr-defined]

    async def finish(
        self,
        upload_id: int,
        status: str,
        *,
        kind: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Close a pending upload as ``imported`` or ``rejected`` (``cancelled``: see cancel).

        ``False`` when it was no longer pending (someone finished it already).
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final upload status: {status!r}")
        values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "result": result}
        if kind is not None:
            values["kind"] = kind
        finished = await self.session.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status == PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return finished.rowcount == 1  # type: ignore[attr-defined]
