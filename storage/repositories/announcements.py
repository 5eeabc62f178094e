"""Announcements (HR broadcasts): audiences, recipients, delivery figures.

An audience is a dict (``Announcement.audience``): ``{"kind": "all"}`` (every active
employee), ``{"kind": "units", "unit_ids": [...]}``, ``{"kind": "supervisors"}`` (active
employees with at least one active direct report) or ``{"kind": "nips", "employee_ids":
[...]}``. Of those, the linked and reachable ones get an outbox row; the others are kept
as recipients with the reason (``not_linked``, ``unreachable``), so HR's figures and file
show everyone the announcement was meant for.

A recipient's delivery state is its outbox row's status (``pending`` … ``sent``,
``failed``, ``blocked``, ``uncertain``, ``cancelled``), or the reason it was skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Announcement,
    AnnouncementRecipient,
    Employee,
    OutboxMessage,
    Unit,
    utcnow,
)
from storage.repositories.outbox import FAILED, PENDING, SENDING, OutboxRepository

SCHEDULED = "scheduled"
SENDING_NOW = "sending"
DONE = "done"
CANCELLED = "cancelled"
NOT_LINKED = "not_linked"
UNREACHABLE = "unreachable"
AUDIENCE_KINDS = ("all", "units", "supervisors", "nips")
OUTBOX_KIND = "announcement"
PROGRESS_SENDING = 0  # progress_message_id while a process is sending the first one
PROGRESS_CLAIM = dt.timedelta(seconds=60)  # after which such a claim is taken again


def outbox_key(announcement_id: int, employee_id: int, *, resend: bool = False) -> str:
    """The idempotency key of one recipient's message (``…:ulang`` for the resend)."""
    key = f"announcement:{announcement_id}:{employee_id}"
    return f"{key}:ulang" if resend else key


@dataclass(frozen=True, slots=True)
class AudienceCount:
    total: int
    not_linked: int
    unreachable: int

    @property
    def deliverable(self) -> int:
        return self.total - self.not_linked - self.unreachable


@dataclass(frozen=True, slots=True)
class UnitChoice:
    id: int
    name: str
    employees: int


@dataclass(slots=True)
class Figures:
    """Recipients of one announcement by delivery state."""

    by_state: dict[str, int] = field(default_factory=dict)

    def get(self, state: str) -> int:
        return self.by_state.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def queued(self) -> int:
        """Handed to the outbox (everyone but the skipped)."""
        return self.total - self.get(NOT_LINKED) - self.get(UNREACHABLE)

    @property
    def waiting(self) -> int:
        """Not sent yet: pending or being sent."""
        return self.get(PENDING) + self.get(SENDING)


@dataclass(frozen=True, slots=True)
class AnnouncementInfo:
    id: int
    created_by_id: int | None
    created_by_name: str | None
    created_by_language: str | None
    chat_id: int
    content: dict[str, Any]
    audience: dict[str, Any]
    status: str
    send_at: dt.datetime
    created_at: dt.datetime
    finished_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    resent_at: dt.datetime | None
    progress_message_id: int | None
    progress_edited_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RecipientRow:
    """One line of HR's file: who, and what happened to their message."""

    nip: str
    name: str
    unit: str
    state: str
    sent_at: dt.datetime | None
    error: str | None
    resent: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    employee_id: int
    chat_id: int | None
    reachable: bool


def _info_columns() -> tuple[Any, ...]:
    a = Announcement
    return (
        a.id,
        a.created_by_id,
        Employee.name,
        Employee.language,
        a.chat_id,
        a.content,
        a.audience,
        a.status,
        a.send_at,
        a.created_at,
        a.finished_at,
        a.cancelled_at,
        a.resent_at,
        a.progress_message_id,
        a.progress_edited_at,
    )


def _audience_filter(audience: dict[str, Any]) -> ColumnElement[bool]:
    """Which active employees an audience means (``ValueError`` for an unknown kind)."""
    kind = audience.get("kind")
    active = Employee.active.is_(True)
    if kind == "all":
        return active
    if kind == "units":
        return and_(active, Employee.unit_id.in_([int(i) for i in audience.get("unit_ids", [])]))
    if kind == "supervisors":
        report = aliased(Employee)
        return and_(
            active,
            exists().where(report.supervisor_id == Employee.id, report.active.is_(True)),
        )
    if kind == "nips":
        ids = [int(i) for i in audience.get("employee_ids", [])]
        return and_(active, Employee.id.in_(ids))
    raise ValueError(f"unknown audience kind {kind!r}")


class AnnouncementRepository:
    """Every announcement query. Methods run in the caller's transaction and never commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ composing
    async def units(self) -> list[UnitChoice]:
        """Units with their number of active employees, by name (for the unit buttons)."""
        rows = await self.session.execute(
            select(Unit.id, Unit.name, func.count(Employee.id))
            .join(Employee, and_(Employee.unit_id == Unit.id, Employee.active.is_(True)))
            .group_by(Unit.id, Unit.name)
            .order_by(Unit.name)
        )
        return [UnitChoice(r[0], r[1], r[2]) for r in rows]

    async def unit_names(self, unit_ids: Iterable[int]) -> list[str]:
        ids = list(unit_ids)
        if not ids:
            return []
        rows = await self.session.scalars(
            select(Unit.name).where(Unit.id.in_(ids)).order_by(Unit.name)
        )
        return list(rows)

    async def employee_ids_by_nip(self, nips: Sequence[str]) -> dict[str, int]:
        """``{nip: employee id}`` of the active employees among ``nips``."""
        found: dict[str, int] = {}
        for start in range(0, len(nips), 1000):
            rows = await self.session.execute(
                select(Employee.nip, Employee.id).where(
                    Employee.nip.in_(nips[start : start + 1000]), Employee.active.is_(True)
                )
            )
            found.update((nip, employee_id) for nip, employee_id in rows)
        return found

    async def count(self, audience: dict[str, Any]) -> AudienceCount:
        """How many the audience means, and how many of them cannot get a message."""
        not_linked = Employee.telegram_user_id.is_(None)
        unreachable = and_(Employee.telegram_user_id.is_not(None), Employee.reachable.is_(False))
        row = (
            await self.session.execute(
                select(
                    func.count(Employee.id),
                    func.coalesce(func.sum(case((not_linked, 1), else_=0)), 0),
                    func.coalesce(func.sum(case((unreachable, 1), else_=0)), 0),
                ).where(_audience_filter(audience))
            )
        ).one()
        return AudienceCount(int(row[0]), int(row[1]), int(row[2]))

    async def candidates(self, audience: dict[str, Any]) -> list[Candidate]:
        rows = await self.session.execute(
            select(Employee.id, Employee.telegram_user_id, Employee.reachable)
            .where(_audience_filter(audience))
            .order_by(Employee.id)
        )
        return [Candidate(r[0], r[1], bool(r[2])) for r in rows]

    # ------------------------------------------------------------------ confirming
    async def create(
        self,
        *,
        created_by_id: int | None,
        chat_id: int,
        content: dict[str, Any],
        audience: dict[str, Any],
        send_at: dt.datetime,
        scheduled: bool,
        now: dt.datetime | None = None,
    ) -> tuple[int, AudienceCount]:
        """Store the announcement, its recipients and their outbox rows (due at ``send_at``);
        returns its id and the figures of its audience at this moment."""
        now = now or utcnow()
        announcement = Announcement(
            created_by_id=created_by_id,
            chat_id=chat_id,
            content=content,
            audience=audience,
            status=SCHEDULED if scheduled else SENDING_NOW,
            send_at=send_at,
            created_at=now,
        )
        self.session.add(announcement)
        await self.session.flush()
        people = await self.candidates(audience)
        deliver = [p for p in people if p.chat_id is not None and p.reachable]
        keys = await OutboxRepository(self.session).enqueue_many(
            [
                (outbox_key(announcement.id, p.employee_id), p.chat_id or 0, p.employee_id)
                for p in deliver
            ],
            content,
            kind=OUTBOX_KIND,
            not_before=send_at,
        )
        rows = [
            {
                "announcement_id": announcement.id,
                "employee_id": p.employee_id,
                "outbox_id": keys.get(outbox_key(announcement.id, p.employee_id)),
                "skipped": (
                    NOT_LINKED if p.chat_id is None else None if p.reachable else UNREACHABLE
                ),
            }
            for p in people
        ]
        if rows:
            await self.session.execute(AnnouncementRecipient.__table__.insert(), rows)
        not_linked = sum(1 for p in people if p.chat_id is None)
        unreachable = sum(1 for p in people if p.chat_id is not None and not p.reachable)
        return announcement.id, AudienceCount(len(people), not_linked, unreachable)

    # ------------------------------------------------------------------ reading
    async def get(self, announcement_id: int) -> AnnouncementInfo | None:
        row = (
            await self.session.execute(
                select(*_info_columns())
                .outerjoin(Employee, Employee.id == Announcement.created_by_id)
                .where(Announcement.id == announcement_id)
            )
        ).first()
        return None if row is None else AnnouncementInfo(*row)

    async def recent(self, limit: int = 10) -> list[AnnouncementInfo]:
        rows = await self.session.execute(
            select(*_info_columns())
            .outerjoin(Employee, Employee.id == Announcement.created_by_id)
            .order_by(Announcement.id.desc())
            .limit(limit)
        )
        return [AnnouncementInfo(*row) for row in rows]

    async def to_watch(self, now: dt.datetime) -> list[AnnouncementInfo]:
        """Announcements whose progress message needs work: started (due) and not finished,
        or cancelled and not yet finished off."""
        a = Announcement
        rows = await self.session.execute(
            select(*_info_columns())
            .outerjoin(Employee, Employee.id == a.created_by_id)
            .where(
                a.finished_at.is_(None),
                or_(
                    and_(a.status.in_((SCHEDULED, SENDING_NOW)), a.send_at <= now),
                    a.status == CANCELLED,
                ),
            )
            .order_by(a.id)
        )
        return [AnnouncementInfo(*row) for row in rows]

    async def figures(self, announcement_ids: Sequence[int]) -> dict[int, Figures]:
        """Recipients per delivery state, per announcement."""
        result: dict[int, Figures] = {i: Figures() for i in announcement_ids}
        if not announcement_ids:
            return result
        r = AnnouncementRecipient
        state = func.coalesce(r.skipped, OutboxMessage.status)
        rows = await self.session.execute(
            select(r.announcement_id, state, func.count())
            .outerjoin(OutboxMessage, OutboxMessage.id == r.outbox_id)
            .where(r.announcement_id.in_(list(announcement_ids)))
            .group_by(r.announcement_id, state)
        )
        for announcement_id, name, count in rows:
            result[announcement_id].by_state[name or PENDING] = count
        return result

    async def sent_since(
        self, announcement_id: int, since: dt.datetime
    ) -> tuple[dt.datetime | None, int]:
        """The first time a message of it was sent at or after ``since``, and how many were
        (the rate of the current round: the first sending, or the resend)."""
        r = AnnouncementRecipient
        row = (
            await self.session.execute(
                select(func.min(OutboxMessage.sent_at), func.count(OutboxMessage.id))
                .join(r, r.outbox_id == OutboxMessage.id)
                .where(r.announcement_id == announcement_id, OutboxMessage.sent_at >= since)
            )
        ).one()
        return row[0], int(row[1])

    async def recipients(self, announcement_id: int) -> list[RecipientRow]:
        """Every recipient with their delivery state, by unit then name (HR's file)."""
        r = AnnouncementRecipient
        rows = await self.session.execute(
            select(
                Employee.nip,
                Employee.name,
                Unit.name,
                func.coalesce(r.skipped, OutboxMessage.status),
                OutboxMessage.sent_at,
                OutboxMessage.last_error,
                r.first_outbox_id.is_not(None),
            )
            .join(Employee, Employee.id == r.employee_id)
            .join(Unit, Unit.id == Employee.unit_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == r.outbox_id)
            .where(r.announcement_id == announcement_id)
            .order_by(Unit.name, Employee.name, Employee.nip)
        )
        return [RecipientRow(*row) for row in rows]

    # ------------------------------------------------------------------ changing
    async def cancel(
        self, announcement_id: int, by_id: int | None, now: dt.datetime | None = None
    ) -> int | None:
        """Stop what has not left yet; ``None`` if it is no longer scheduled or sending, else
        how many messages were stopped."""
        now = now or utcnow()
        a = Announcement
        changed = await self.session.execute(
            update(a)
            .where(a.id == announcement_id, a.status.in_((SCHEDULED, SENDING_NOW)))
            .values(status=CANCELLED, cancelled_at=now, cancelled_by_id=by_id)
            .execution_options(synchronize_session=False)
        )
        if not getattr(changed, "rowcount", 0):
            return None
        ids = list(
            await self.session.scalars(
                select(AnnouncementRecipient.outbox_id).where(
                    AnnouncementRecipient.announcement_id == announcement_id,
                    AnnouncementRecipient.outbox_id.is_not(None),
                )
            )
        )
        return await OutboxRepository(self.session).cancel_unsent(
            [i for i in ids if i is not None], f"announcement #{announcement_id} cancelled"
        )

    async def resend_failed(
        self, announcement_id: int, by_id: int | None, now: dt.datetime | None = None
    ) -> tuple[int, int] | None:
        """Queue the failed messages once more (once per announcement): ``(queued, no longer
        reachable)``; ``None`` if the announcement is not finished or was resent before."""
        now = now or utcnow()
        a = Announcement
        changed = await self.session.execute(
            update(a)
            .where(a.id == announcement_id, a.status == DONE, a.resent_at.is_(None))
            .values(
                resent_at=now,
                resent_by_id=by_id,
                status=SENDING_NOW,
                finished_at=None,
                progress_message_id=None,
                progress_edited_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if not getattr(changed, "rowcount", 0):
            return None
        content = await self.session.scalar(select(a.content).where(a.id == announcement_id))
        r = AnnouncementRecipient
        failed = (
            await self.session.execute(
                select(
                    r.id, r.employee_id, r.outbox_id, Employee.telegram_user_id, Employee.reachable
                )
                .join(OutboxMessage, OutboxMessage.id == r.outbox_id)
                .join(Employee, Employee.id == r.employee_id)
                .where(r.announcement_id == announcement_id, OutboxMessage.status == FAILED)
            )
        ).all()
        usable = [row for row in failed if row.telegram_user_id is not None and row.reachable]
        keys = await OutboxRepository(self.session).enqueue_many(
            [
                (
                    outbox_key(announcement_id, row.employee_id, resend=True),
                    row.telegram_user_id,
                    row.employee_id,
                )
                for row in usable
            ],
            content or {},
            kind=OUTBOX_KIND,
            not_before=now,
        )
        for row in usable:
            new_id = keys.get(outbox_key(announcement_id, row.employee_id, resend=True))
            if new_id is not None:
                await self.session.execute(
                    update(r)
                    .where(r.id == row.id)
                    .values(outbox_id=new_id, first_outbox_id=row.outbox_id)
                    .execution_options(synchronize_session=False)
                )
        return len(keys), len(failed) - len(usable)

    async def finish(self, announcement_id: int, now: dt.datetime) -> bool:
        """Mark it finished (done, or a cancelled one finished off) once; ``True`` the first
        time (the caller then sends the final report)."""
        a = Announcement
        result = await self.session.execute(
            update(a)
            .where(a.id == announcement_id, a.finished_at.is_(None))
            .values(
                finished_at=now,
                status=case((a.status == CANCELLED, CANCELLED), else_=DONE),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def mark_started(self, announcement_id: int) -> None:
        """A scheduled announcement whose time came is now sending."""
        a = Announcement
        await self.session.execute(
            update(a)
            .where(a.id == announcement_id, a.status == SCHEDULED)
            .values(status=SENDING_NOW)
            .execution_options(synchronize_session=False)
        )

    async def claim_progress_message(
        self, announcement_id: int, now: dt.datetime, *, stale_after: dt.timedelta = PROGRESS_CLAIM
    ) -> bool:
        """Take the right to send the first progress message (one process does). A claim
        older than ``stale_after`` whose message never came (the process stopped while
        sending it) may be taken again."""
        a = Announcement
        result = await self.session.execute(
            update(a)
            .where(
                a.id == announcement_id,
                or_(
                    a.progress_message_id.is_(None),
                    and_(
                        a.progress_message_id == PROGRESS_SENDING,
                        a.progress_edited_at < now - stale_after,
                    ),
                ),
            )
            .values(progress_message_id=PROGRESS_SENDING, progress_edited_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def release_progress_message(self, announcement_id: int) -> None:
        """The first progress message could not be sent: the next pass tries again."""
        a = Announcement
        await self.session.execute(
            update(a)
            .where(a.id == announcement_id, a.progress_message_id == PROGRESS_SENDING)
            .values(progress_message_id=None)
            .execution_options(synchronize_session=False)
        )

    async def set_progress(
        self, announcement_id: int, message_id: int | None, edited_at: dt.datetime
    ) -> None:
        values: dict[str, Any] = {"progress_edited_at": edited_at}
        if message_id is not None:
            values["progress_message_id"] = message_id
        await self.session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
