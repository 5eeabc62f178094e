"""Training reminders: who is due a reminder now, and which queued ones became stale.

Who gets reminders
    Participants of a training that is not cancelled and has not begun, whose employee record
    is active and linked to Telegram (reachable or not: for an unreachable one the sender
    records the row ``blocked`` at once, which HR sees in the outbox figures). A participant
    who answered *tidak hadir* gets no further reminders (they said they will not come; if
    they change their mind in ``/pelatihan`` the reminders resume); *hadir* and unanswered
    participants do.

Which reminder (``bot.rules.reminders``)
    The latest passed one; its idempotency key is
    ``reminder:{training_id}:{employee_id}:{offset_seconds}:{starts_at_epoch}``, so the start
    time is part of it: when HR moves a training the new time's reminders are computed
    afresh, and a reminder of an old time never repeats.

Cost per tick
    :meth:`ReminderRepository.due`: one query for the participants of trainings starting
    within the largest offset, one (chunked ``IN`` on the unique key) for the keys already in
    the outbox; only the missing ones are returned. :meth:`ReminderRepository.withdraw_stale`:
    one query for the pending reminder rows (usually none), two more only if there are some.
    No per-row queries.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.rules.reminders import due_offset
from storage.models import Employee, OutboxMessage, Training, TrainingParticipant
from storage.repositories.outbox import CANCELLED, PENDING

KIND = "training_reminder"
KEY_PREFIX = "reminder"
DECLINED = "tidak_hadir"
_IN_CHUNK = 1000


def reminder_key(
    training_id: int, employee_id: int, offset: dt.timedelta, starts_at: dt.datetime
) -> str:
    seconds = int(offset.total_seconds())
    return f"{KEY_PREFIX}:{training_id}:{employee_id}:{seconds}:{int(starts_at.timestamp())}"


def training_key_prefix(training_id: int) -> str:
    """The prefix of every reminder key of one training (``OutboxRepository.cancel_pending``)."""
    return f"{KEY_PREFIX}:{training_id}:"


@dataclass(frozen=True, slots=True)
class ReminderKey:
    training_id: int
    employee_id: int
    offset_seconds: int
    starts_at_epoch: int


def parse_reminder_key(key: str) -> ReminderKey | None:
    parts = key.split(":")
    if len(parts) != 5 or parts[0] != KEY_PREFIX:
        return None
    try:
        return ReminderKey(*(int(part) for part in parts[1:]))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DueReminder:
    """One reminder to queue: the training, the participant and the offset."""

    key: str
    offset: dt.timedelta
    training_id: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    online_link: str | None
    employee_id: int
    chat_id: int
    language: str | None
    attendance: str


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _participants(start_after: dt.datetime, start_until: dt.datetime) -> Select:
    """Participants due reminders of trainings starting in (``start_after``, ``start_until``]."""
    t, p, e = Training, TrainingParticipant, Employee
    return (
        select(
            t.id.label("training_id"),
            t.title,
            t.starts_at,
            t.ends_at,
            t.place,
            t.online_link,
            e.id.label("employee_id"),
            e.telegram_user_id,
            e.language,
            p.attendance,
        )
        .select_from(p)
        .join(t, t.id == p.training_id)
        .join(e, e.id == p.employee_id)
        .where(
            t.cancelled_at.is_(None),
            t.starts_at > start_after,
            t.starts_at <= start_until,
            p.attendance != DECLINED,
            e.telegram_user_id.is_not(None),
            e.active.is_(True),
        )
        .order_by(t.starts_at, t.id, e.id)
    )


class ReminderRepository:
    """Reminder queries; they run in the caller's transaction and never commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        key = OutboxMessage.idempotency_key
        for chunk in _chunks(list(dict.fromkeys(keys))):
            found.update((await self.session.scalars(select(key).where(key.in_(chunk)))).all())
        return found

    async def due(self, now: dt.datetime, offsets: Sequence[dt.timedelta]) -> list[DueReminder]:
        """The reminders due at ``now`` and not yet in the outbox, soonest training first."""
        if not offsets:
            return []
        horizon = now + max(offsets)
        candidates: list[DueReminder] = []
        for row in await self.session.execute(_participants(now, horizon)):
            offset = due_offset(row.starts_at, offsets, now)
            if offset is None:
                continue
            candidates.append(
                DueReminder(
                    key=reminder_key(row.training_id, row.employee_id, offset, row.starts_at),
                    offset=offset,
                    training_id=row.training_id,
                    title=row.title,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    place=row.place or "",
                    online_link=row.online_link,
                    employee_id=row.employee_id,
                    chat_id=row.telegram_user_id,
                    language=row.language,
                    attendance=row.attendance,
                )
            )
        if not candidates:
            return []
        queued = await self._existing_keys([c.key for c in candidates])
        return [c for c in candidates if c.key not in queued]

    async def dropped(
        self, since: dt.datetime, now: dt.datetime, offsets: Sequence[dt.timedelta]
    ) -> dict[int, int]:
        """Trainings that began in (``since``, ``now``] whose last reminder (the smallest
        offset) was never queued for some participants: ``{training_id: participants}``."""
        if not offsets or since >= now:
            return {}
        last = min(offsets)
        keys: dict[str, int] = {}
        for row in await self.session.execute(_participants(since, now)):
            keys[reminder_key(row.training_id, row.employee_id, last, row.starts_at)] = (
                row.training_id
            )
        if not keys:
            return {}
        queued = await self._existing_keys(list(keys))
        return dict(Counter(tid for key, tid in keys.items() if key not in queued))

    async def withdraw_stale(self, now: dt.datetime) -> dict[str, int]:
        """Cancel queued, not yet claimed reminders that no longer hold: the training was
        cancelled, moved (the key's start differs) or has begun; the participant was removed
        or answered *tidak hadir*; a later reminder of the same training and participant is
        queued too (after a sender outage or quiet hours only the latest goes out). Returns
        ``{reason: rows}``."""
        o = OutboxMessage
        pending = (
            await self.session.execute(
                select(o.id, o.idempotency_key).where(o.status == PENDING, o.kind == KIND)
            )
        ).all()
        parsed = {row.id: parse_reminder_key(row.idempotency_key) for row in pending}
        keys = {oid: key for oid, key in parsed.items() if key is not None}
        if not keys:
            return {}
        training_ids = sorted({key.training_id for key in keys.values()})
        t, p = Training, TrainingParticipant
        trainings = {
            row.id: row
            for row in await self.session.execute(
                select(t.id, t.starts_at, t.cancelled_at).where(t.id.in_(training_ids))
            )
        }
        attendance = {
            (row.training_id, row.employee_id): row.attendance
            for row in await self.session.execute(
                select(p.training_id, p.employee_id, p.attendance).where(
                    p.training_id.in_(training_ids)
                )
            )
        }
        stale: dict[str, list[int]] = {}
        valid: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
        for oid, key in keys.items():
            training = trainings.get(key.training_id)
            answer = attendance.get((key.training_id, key.employee_id))
            if training is None or training.cancelled_at is not None:
                reason = "training cancelled"
            elif int(training.starts_at.timestamp()) != key.starts_at_epoch:
                reason = "training moved"
            elif training.starts_at <= now:
                reason = "training began"
            elif answer is None:
                reason = "no longer a participant"
            elif answer == DECLINED:
                reason = "participant declined"
            else:
                who = (key.training_id, key.employee_id, key.starts_at_epoch)
                valid.setdefault(who, []).append((key.offset_seconds, oid))
                continue
            stale.setdefault(reason, []).append(oid)
        for queued in valid.values():
            # Keep the latest reminder (smallest offset) of one training for one participant.
            for _offset, oid in sorted(queued)[1:]:
                stale.setdefault("superseded by a later reminder", []).append(oid)
        for reason, ids in stale.items():
            await self.session.execute(
                update(o)
                .where(o.id.in_(ids), o.status == PENDING)
                .values(status=CANCELLED, last_error=f"reminder withdrawn: {reason}")
                .execution_options(synchronize_session=False)
            )
        return {reason: len(ids) for reason, ids in stale.items()}
