"""The outbox: every message the bot sends on its own initiative, stored before it is sent.

A service enqueues in the same transaction as the change that causes the message, with an
idempotency key (``stage:{mutation}:{stage}``, ``reminder:{training}:{nip}:{offset}`` …):
enqueuing a key that exists is a silent no-op on both databases (``INSERT … ON CONFLICT DO
NOTHING``), so it never breaks the caller's transaction. The sender (``bot.delivery``) claims
due rows under a lease, sends them and records the outcome here.

Row life cycle (``status``)::

    pending ──claim──▶ sending ──▶ sent | failed | blocked | uncertain
       ▲                  │
       └── retry_later ───┘  (transient error; after ``max_attempts`` → failed)
       └── release ───────┘  (429 pause, shutdown, chat busy, lease ending: not an attempt)

In flight: just before a row's request may leave, the sender commits ``attempt_started_at``
(:meth:`OutboxRepository.mark_started`, for a whole "wave" of rows in one statement); every
recorded outcome clears it again. A ``sending`` row whose lease expired (a crashed sender) is
claimed again if it was never marked; if it was, Telegram may already have it, so
:meth:`OutboxRepository.claim` makes it ``uncertain`` ("sender stopped during delivery")
instead of sending it twice. Every ``mark_*`` only
applies while the row is still ``sending`` under the caller's lease owner, so a sender whose
lease was taken over cannot overwrite the new owner's result. ``uncertain`` rows (a timeout
after the request left: Telegram may or may not have delivered it) are never resent
automatically; HR lists them with :meth:`OutboxRepository.uncertain` and decides with
:meth:`OutboxRepository.resolve_uncertain`.

Payload (JSON, exactly one of ``text`` / ``photo`` / ``document``)::

    {"text": "<b>…</b>",                       # ≤ 4096 characters once parsed
     "parse_mode": "HTML" | null,               # also applies to a caption
     "entities": [{"type": "bold", "offset": 0, "length": 4}, …],   # instead of parse_mode
     "reply_markup": {"inline_keyboard": [[{"text": "Hadir", "callback_data": "…"}]]} | null,
     "disable_web_page_preview": true,          # optional, text only
     "disable_notification": true}              # optional

    {"photo": {"file_id": "…"} | {"path": "…"} | {"bytes_b64": "…"},
     "caption": "…", "parse_mode": …, "caption_entities": [...], "reply_markup": …}

    {"document": {"file_id": "…"} | {"path": "…", "filename"?: "…"}
                 | {"bytes_b64": "…", "filename": "laporan.xlsx"},
     "caption": "…", "parse_mode": …, "reply_markup": …}

A ``path`` is read by the sending process when it sends, so it must be visible to every
sender; ``bytes_b64`` keeps the file in the row itself (fine for reports of a few hundred kB).
This module never imports ``telegram``: the sender turns the payload into a Bot API call.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Employee, OutboxMessage, utcnow

log = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
BLOCKED = "blocked"
UNCERTAIN = "uncertain"
CANCELLED = "cancelled"
STATUSES = (PENDING, SENDING, SENT, FAILED, BLOCKED, UNCERTAIN, CANCELLED)
STOPPED_DURING_DELIVERY = "sender stopped during delivery"

DEFAULT_MAX_ATTEMPTS = 8
_CONTENT_KEYS = ("text", "photo", "document")
_MEDIA_SOURCES = {
    "photo": ("file_id", "path", "bytes_b64"),
    "document": ("file_id", "path", "bytes_b64"),
}
_PARSE_MODES = (None, "HTML", "MarkdownV2")


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this sender now holds (``status = sending``) until ``lease_until``."""

    id: int
    idempotency_key: str
    chat_id: int
    employee_id: int | None
    kind: str
    payload: dict[str, Any]
    urgent: bool
    attempts: int
    lease_until: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A read-only view of a row (for HR: uncertain deliveries)."""

    id: int
    idempotency_key: str
    chat_id: int
    employee_id: int | None
    kind: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    not_before: dt.datetime


def validate_payload(payload: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``payload`` has the documented shape (see the module doc)."""
    if not isinstance(payload, dict):
        raise ValueError("payload must be a dict")
    content = [key for key in _CONTENT_KEYS if key in payload]
    if len(content) != 1:
        raise ValueError("payload needs exactly one of 'text', 'photo', 'document'")
    key = content[0]
    if key == "text":
        if not isinstance(payload["text"], str) or not payload["text"]:
            raise ValueError("'text' must be a non-empty string")
    else:
        source = payload[key]
        if not isinstance(source, dict):
            raise ValueError(f"'{key}' must be an object")
        given = [name for name in _MEDIA_SOURCES[key] if source.get(name)]
        if len(given) != 1:
            raise ValueError(f"'{key}' needs exactly one of {', '.join(_MEDIA_SOURCES[key])}")
        if key == "document" and given[0] == "bytes_b64" and not source.get("filename"):
            raise ValueError("a document given as bytes_b64 needs a 'filename'")
        caption = payload.get("caption")
        if caption is not None and not isinstance(caption, str):
            raise ValueError("'caption' must be a string")
    if payload.get("parse_mode") not in _PARSE_MODES:
        raise ValueError(f"'parse_mode' must be one of {_PARSE_MODES}")
    entities_key = "entities" if key == "text" else "caption_entities"
    for name in ("entities", "caption_entities"):
        entities = payload.get(name)
        if entities is None:
            continue
        if name != entities_key:
            raise ValueError(f"'{name}' does not go with '{key}'")
        if payload.get("parse_mode") is not None:
            raise ValueError(f"'{name}' and 'parse_mode' exclude each other")
        if not isinstance(entities, list) or not all(
            isinstance(entity, dict) and {"type", "offset", "length"} <= entity.keys()
            for entity in entities
        ):
            raise ValueError(f"'{name}' must be a list of {{type, offset, length, …}}")
    markup = payload.get("reply_markup")
    if markup is not None:
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ValueError("'reply_markup' must be {'inline_keyboard': [[button, …], …]}")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON-serialisable: {exc}") from None


def _seconds(value: float | dt.timedelta) -> dt.timedelta:
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=value)


def _entry_columns() -> tuple[Any, ...]:
    m = OutboxMessage
    return (
        m.id,
        m.idempotency_key,
        m.chat_id,
        m.employee_id,
        m.kind,
        m.status,
        m.attempts,
        m.last_error,
        m.created_at,
        m.not_before,
    )


class OutboxRepository:
    """Every outbox query. Methods run in the caller's transaction and never commit."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        bind = self.session.bind
        return bind.dialect.name if bind is not None else "sqlite"

    # ------------------------------------------------------------------ enqueue
    async def enqueue(
        self,
        key: str,
        chat_id: int,
        payload: dict[str, Any],
        *,
        kind: str,
        employee_id: int | None = None,
        urgent: bool = False,
        not_before: dt.datetime | None = None,
    ) -> bool:
        """Add a message; ``True`` if new, ``False`` if ``key`` was enqueued before (no-op)."""
        validate_payload(payload)
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        statement = (
            insert(OutboxMessage)
            .values(
                idempotency_key=key,
                chat_id=chat_id,
                employee_id=employee_id,
                kind=kind,
                payload=payload,
                urgent=urgent,
                status=PENDING,
                attempts=0,
                not_before=not_before or utcnow(),
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
            .returning(OutboxMessage.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def enqueue_many(
        self,
        recipients: list[tuple[str, int, int | None]],
        payload: dict[str, Any],
        *,
        kind: str,
        urgent: bool = False,
        not_before: dt.datetime | None = None,
        chunk: int = 1000,
    ) -> dict[str, int]:
        """The same ``payload`` to many chats, ``(key, chat_id, employee_id)`` each, in a few
        multi-row statements; returns ``{key: outbox id}`` of the new rows (existing keys are
        skipped, as with :meth:`enqueue`)."""
        validate_payload(payload)
        if not recipients:
            return {}
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        now = utcnow()
        due = not_before or now
        ids: dict[str, int] = {}
        m = OutboxMessage
        for start in range(0, len(recipients), chunk):
            rows = [
                {
                    "idempotency_key": key,
                    "chat_id": chat_id,
                    "employee_id": employee_id,
                    "kind": kind,
                    "payload": payload,
                    "urgent": urgent,
                    "status": PENDING,
                    "attempts": 0,
                    "not_before": due,
                    "created_at": now,
                }
                for key, chat_id, employee_id in recipients[start : start + chunk]
            ]
            statement = (
                insert(m)
                .on_conflict_do_nothing(index_elements=[m.idempotency_key])
                .returning(m.id, m.idempotency_key)
            )
            result = await self.session.execute(statement, rows)
            ids.update((row.idempotency_key, row.id) for row in result)
        return ids

    async def cancel_unsent(self, outbox_ids: list[int], reason: str) -> int:
        """Cancel those of ``outbox_ids`` that have not left: ``pending``, or claimed by a
        sender that has not marked them in flight yet (it then finds them no longer its own
        and skips them). Rows in flight, sent or finished are left alone; how many changed."""
        m = OutboxMessage
        unsent = or_(m.status == PENDING, and_(m.status == SENDING, m.attempt_started_at.is_(None)))
        changed = 0
        for start in range(0, len(outbox_ids), 1000):
            result = await self.session.execute(
                update(m)
                .where(m.id.in_(outbox_ids[start : start + 1000]), unsent)
                .values(status=CANCELLED, last_error=reason, lease_until=None, lease_owner=None)
                .execution_options(synchronize_session=False)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    # ------------------------------------------------------------------ the sender
    async def claim(
        self,
        owner: str,
        limit: int,
        lease: float | dt.timedelta,
        now: dt.datetime | None = None,
        *,
        urgent_only: bool = False,
    ) -> list[Claimed]:
        """Take up to ``limit`` due rows (urgent first, then oldest) for ``lease``.

        Due: ``pending`` with ``not_before <= now``, or ``sending`` with an expired lease (a
        crashed sender's rows) that was never marked started; an expired one that was marked
        becomes ``uncertain`` first (:meth:`expire_in_flight`). PostgreSQL locks the chosen
        rows with ``FOR UPDATE SKIP LOCKED`` so concurrent senders never take the same row;
        SQLite (one writer) does it in one ``UPDATE … WHERE id IN (SELECT …) RETURNING``.
        Commit soon after. ``urgent_only`` (quiet hours) leaves non-urgent rows where they
        are, to be claimed afterwards.
        """
        now = now or utcnow()
        lease_until = now + _seconds(lease)
        m = OutboxMessage
        await self.expire_in_flight(now)
        due = or_(
            and_(m.status == PENDING, m.not_before <= now),
            and_(m.status == SENDING, m.lease_until < now, m.attempt_started_at.is_(None)),
        )
        if urgent_only:
            due = and_(due, m.urgent.is_(True))
        if self._dialect == "postgresql":
            # Several senders: a chat another one is sending to stays with it, so its pace
            # (one message a second) is kept by one process. (Two claims at the same instant
            # may still split a chat: rare, and a short burst Telegram tolerates.)
            busy = aliased(m)
            due = and_(
                due,
                ~exists().where(
                    busy.chat_id == m.chat_id,
                    busy.status == SENDING,
                    busy.lease_until >= now,
                    busy.lease_owner != owner,
                ),
            )
        chosen = select(m.id).where(due).order_by(m.urgent.desc(), m.not_before, m.id).limit(limit)
        if self._dialect == "postgresql":
            ids = list(
                (await self.session.execute(chosen.with_for_update(skip_locked=True))).scalars()
            )
            if not ids:
                return []
            target = m.id.in_(ids)
        else:
            target = m.id.in_(chosen.scalar_subquery())
        statement = (
            update(m)
            .where(target)
            .values(
                status=SENDING, lease_owner=owner, lease_until=lease_until, attempt_started_at=None
            )
            .returning(
                m.id,
                m.idempotency_key,
                m.chat_id,
                m.employee_id,
                m.kind,
                m.payload,
                m.urgent,
                m.attempts,
                m.not_before,
            )
            .execution_options(synchronize_session=False)
        )
        rows = (await self.session.execute(statement)).all()
        rows.sort(key=lambda r: (not r.urgent, r.not_before, r.id))
        return [
            Claimed(
                id=r.id,
                idempotency_key=r.idempotency_key,
                chat_id=r.chat_id,
                employee_id=r.employee_id,
                kind=r.kind,
                payload=r.payload,
                urgent=r.urgent,
                attempts=r.attempts,
                lease_until=lease_until,
            )
            for r in rows
        ]

    async def expire_in_flight(self, now: dt.datetime | None = None) -> list[int]:
        """Rows a sender marked started and then never finished (its lease ran out): they
        become ``uncertain``, never sent again automatically. Their ids, ascending."""
        now = now or utcnow()
        m = OutboxMessage
        stale = and_(m.status == SENDING, m.lease_until < now, m.attempt_started_at.is_not(None))
        if self._dialect == "postgresql":
            chosen = select(m.id).where(stale).with_for_update(skip_locked=True)
            ids = list((await self.session.execute(chosen)).scalars())
            if not ids:
                return []
            target = and_(m.id.in_(ids), stale)
        else:
            target = stale
        result = await self.session.execute(
            update(m)
            .where(target)
            .values(status=UNCERTAIN, lease_until=None, last_error=STOPPED_DURING_DELIVERY)
            .returning(m.id)
            .execution_options(synchronize_session=False)
        )
        expired = sorted(result.scalars())
        if expired:
            log.warning(
                "outbox: %d rows were in flight when their sender stopped, now uncertain: %s",
                len(expired),
                ", ".join(f"#{i}" for i in expired[:50]) + (" …" if len(expired) > 50 else ""),
            )
        return expired

    async def mark_started(
        self, outbox_ids: list[int], owner: str, now: dt.datetime | None = None
    ) -> set[int]:
        """Record that these rows' requests are about to leave (commit before sending):
        should the sender die now, they end ``uncertain`` rather than being sent again. Only
        rows still leased by ``owner`` are marked; returns their ids (the others: do not send).
        """
        if not outbox_ids:
            return set()
        m = OutboxMessage
        result = await self.session.execute(
            update(m)
            .where(m.id.in_(outbox_ids), m.status == SENDING, m.lease_owner == owner)
            .values(attempt_started_at=now or utcnow())
            .returning(m.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())

    async def mark_sent_many(
        self, sent: list[tuple[int, int | None, dt.datetime]], owner: str
    ) -> set[int]:
        """Several ``mark_sent`` in one statement: ``(id, message_id, sent_at)`` each. Returns
        the ids recorded (the others are no longer leased by ``owner``)."""
        if not sent:
            return set()
        if len(sent) == 1:
            [(outbox_id, message_id, at)] = sent
            done = await self.mark_sent(outbox_id, owner, message_id, now=at)
            return {outbox_id} if done else set()
        m = OutboxMessage
        ids = [outbox_id for outbox_id, _, _ in sent]
        message_ids = case(
            *((m.id == i, literal(mid, m.telegram_message_id.type)) for i, mid, _ in sent),
            else_=m.telegram_message_id,
        )
        sent_at = case(
            *((m.id == i, literal(at, m.sent_at.type)) for i, _, at in sent), else_=m.sent_at
        )
        result = await self.session.execute(
            update(m)
            .where(m.id.in_(ids), m.status == SENDING, m.lease_owner == owner)
            .values(
                status=SENT,
                telegram_message_id=message_ids,
                sent_at=sent_at,
                last_error=None,
                lease_until=None,
                attempt_started_at=None,
            )
            .returning(m.id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())

    async def _finish(self, outbox_id: int, owner: str, **values: Any) -> Any:
        """Update a row still leased by ``owner``; the updated row (chat, employee) or None."""
        m = OutboxMessage
        statement = (
            update(m)
            .where(m.id == outbox_id, m.status == SENDING, m.lease_owner == owner)
            .values(lease_until=None, attempt_started_at=None, **values)
            .returning(m.chat_id, m.employee_id, m.status)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first()

    async def mark_sent(
        self, outbox_id: int, owner: str, message_id: int | None, *, now: dt.datetime | None = None
    ) -> bool:
        row = await self._finish(
            outbox_id,
            owner,
            status=SENT,
            telegram_message_id=message_id,
            sent_at=now or utcnow(),
            last_error=None,
        )
        return row is not None

    async def mark_failed(self, outbox_id: int, owner: str, reason: str) -> bool:
        """Permanent failure (Telegram refused the request, or the payload is unusable)."""
        return await self._finish(outbox_id, owner, status=FAILED, last_error=reason) is not None

    async def mark_uncertain(self, outbox_id: int, owner: str, reason: str) -> bool:
        """The request may have reached Telegram: never resent automatically."""
        row = await self._finish(outbox_id, owner, status=UNCERTAIN, last_error=reason)
        return row is not None

    async def mark_blocked(
        self, outbox_id: int, owner: str, reason: str, *, now: dt.datetime | None = None
    ) -> bool:
        """403: the user blocked the bot. Their employee record becomes unreachable (first
        ``blocked_at`` kept) and the chat's other pending rows are blocked too, never retried."""
        now = now or utcnow()
        row = await self._finish(outbox_id, owner, status=BLOCKED, last_error=reason)
        if row is None:
            return False
        await self.block_chat(row.chat_id, f"chat blocked the bot (outbox #{outbox_id})")
        who = Employee.telegram_user_id == row.chat_id
        if row.employee_id is not None:
            who = or_(who, Employee.id == row.employee_id)
        await self.session.execute(
            update(Employee)
            .where(who, Employee.reachable.is_(True))
            .values(reachable=False, blocked_at=now)
            .execution_options(synchronize_session=False)
        )
        return True

    async def block_chat(self, chat_id: int, reason: str) -> int:
        """Mark every ``pending`` row of a chat ``blocked``; how many."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING)
            .values(status=BLOCKED, last_error=reason)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def retry_later(
        self,
        outbox_id: int,
        owner: str,
        reason: str,
        delay: float | dt.timedelta,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        now: dt.datetime | None = None,
    ) -> str | None:
        """A transient failure: count the attempt and make the row due again after ``delay``;
        once ``max_attempts`` attempts failed the row is ``failed``. Returns the new status,
        ``None`` if the row is not (or no longer) leased by ``owner``."""
        m = OutboxMessage
        given_up = m.attempts + 1 >= max_attempts
        row = await self._finish(
            outbox_id,
            owner,
            attempts=m.attempts + 1,
            status=case((given_up, FAILED), else_=PENDING),
            not_before=(now or utcnow()) + _seconds(delay),
            last_error=case(
                (given_up, f"{reason} (gave up after {max_attempts} attempts)"), else_=reason
            ),
        )
        return None if row is None else row.status

    async def release(
        self,
        outbox_ids: int | list[int],
        owner: str,
        *,
        not_before: dt.datetime | None = None,
        reason: str | None = None,
    ) -> int:
        """Give claimed rows back unsent (not an attempt): a 429 pause, a shutdown, a chat
        that must wait for its next slot. Due again at ``not_before`` (default: now). Only rows
        still leased by ``owner`` change; returns how many did."""
        ids = [outbox_ids] if isinstance(outbox_ids, int) else list(outbox_ids)
        if not ids:
            return 0
        values: dict[str, Any] = {
            "status": PENDING,
            "not_before": not_before or utcnow(),
            "lease_until": None,
            "attempt_started_at": None,
        }
        if reason is not None:
            values["last_error"] = reason
        m = OutboxMessage
        result = await self.session.execute(
            update(m)
            .where(m.id.in_(ids), m.status == SENDING, m.lease_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def cancel_pending(self, key_prefix: str) -> int:
        """Mark ``pending`` rows (not yet claimed by a sender) whose idempotency key starts
        with ``key_prefix`` ``cancelled``; how many. E.g. ``reminder:{training_id}:`` when HR
        moves or cancels a training: the reminders of the old time never go out (the new
        time's reminders have other keys). Rows already being sent or sent are left alone."""
        if not key_prefix:
            raise ValueError("an empty prefix would cancel every pending message")
        # substr, not LIKE: exact and case-sensitive on both databases; pending rows are few.
        key = OutboxMessage.idempotency_key
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == PENDING,
                func.substr(key, 1, len(key_prefix)) == key_prefix,
            )
            .values(status=CANCELLED, last_error=f"cancelled ({key_prefix}*)")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ reading, HR
    async def counts_by_status(self) -> dict[str, int]:
        """``{status: rows}`` for every status (zeros included)."""
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: int(n) for status, n in rows})
        return counts

    async def uncertain(self, limit: int = 100) -> list[OutboxEntry]:
        """Rows whose delivery is unknown, oldest first (for HR to check and decide)."""
        return await self.entries(UNCERTAIN, limit=limit)

    async def entries(self, status: str, *, limit: int = 100) -> list[OutboxEntry]:
        m = OutboxMessage
        rows = await self.session.execute(
            select(*_entry_columns())
            .where(m.status == status)
            .order_by(m.created_at, m.id)
            .limit(limit)
        )
        return [OutboxEntry(**row._asdict()) for row in rows]

    async def get(self, outbox_id: int) -> OutboxEntry | None:
        m = OutboxMessage
        row = (
            await self.session.execute(select(*_entry_columns()).where(m.id == outbox_id))
        ).first()
        return None if row is None else OutboxEntry(**row._asdict())

    async def resolve_uncertain(
        self, outbox_id: int, *, resend: bool, now: dt.datetime | None = None
    ) -> bool:
        """HR's decision on an uncertain row: send it again (``pending``) or drop it
        (``cancelled``). ``False`` if the row is not uncertain."""
        values: dict[str, Any] = (
            {"status": PENDING, "not_before": now or utcnow(), "attempt_started_at": None}
            if resend
            else {"status": CANCELLED}
        )
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == UNCERTAIN)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------ HR's view (/hr_kirim)
    async def sent_count(self, since: dt.datetime, until: dt.datetime | None = None) -> int:
        """Rows sent in ``[since, until)`` (e.g. today, in the local time zone)."""
        m = OutboxMessage
        query = select(func.count()).select_from(m).where(m.status == SENT, m.sent_at >= since)
        if until is not None:
            query = query.where(m.sent_at < until)
        return int(await self.session.scalar(query) or 0)

    async def uncertain_deliveries(self, limit: int = 10) -> list[UncertainDelivery]:
        """Uncertain rows, oldest first, with the recipient's name when an employee is known
        (by the row's employee, else by the chat's linked account)."""
        m = OutboxMessage
        by_employee = select(Employee.name).where(Employee.id == m.employee_id)
        by_chat = select(Employee.name).where(Employee.telegram_user_id == m.chat_id)
        rows = await self.session.execute(
            select(
                m.id,
                m.kind,
                m.chat_id,
                func.coalesce(
                    by_employee.scalar_subquery(), by_chat.limit(1).scalar_subquery()
                ).label("recipient"),
                m.not_before,
                m.created_at,
            )
            .where(m.status == UNCERTAIN)
            .order_by(m.created_at, m.id)
            .limit(limit)
        )
        return [UncertainDelivery(**row._asdict()) for row in rows]

    async def uncertain_ids(self, up_to_id: int | None = None) -> list[int]:
        """Ids of the uncertain rows (only those ``<= up_to_id`` if given), ascending."""
        m = OutboxMessage
        query = select(m.id).where(m.status == UNCERTAIN).order_by(m.id)
        if up_to_id is not None:
            query = query.where(m.id <= up_to_id)
        return list((await self.session.scalars(query)).all())

    async def unreachable_employees(self) -> list[UnreachableEmployee]:
        """Active employees the bot cannot reach (they blocked it), by unit then name."""
        from storage.models import Unit

        e = Employee
        rows = await self.session.execute(
            select(e.name, e.nip, Unit.name.label("unit"), e.blocked_at)
            .join(Unit, Unit.id == e.unit_id)
            .where(e.reachable.is_(False), e.active.is_(True))
            .order_by(Unit.name, e.name, e.nip)
        )
        return [UnreachableEmployee(**row._asdict()) for row in rows]

    async def count_unreachable(self) -> int:
        """How many active employees the bot cannot reach."""
        e = Employee
        query = (
            select(func.count()).select_from(e).where(e.reachable.is_(False), e.active.is_(True))
        )
        return int(await self.session.scalar(query) or 0)

    # ------------------------------------------------------------------ retention (UU 27/2022)
    async def purge_contents(
        self, before: dt.datetime, limit: int, *, now: dt.datetime | None = None
    ) -> int:
        """Forget the content of up to ``limit`` finished rows (``FINAL_STATUSES``) that
        finished before ``before`` (``sent_at``, else ``created_at``): ``payload`` becomes
        :data:`PURGED_PAYLOAD` and ``content_purged_at`` is set; how many. Everything else
        stays (status, times, error, ids: HR's figures and the announcement reports). Oldest
        first, ``limit`` rows per call, so one call never holds the table long; call again
        while it returns ``limit``. A purged ``uncertain`` row sent again ends ``failed``
        (its content is gone)."""
        if limit < 1:
            return 0
        m = OutboxMessage
        due = (
            select(m.id)
            .where(
                m.status.in_(FINAL_STATUSES),
                m.content_purged_at.is_(None),
                func.coalesce(m.sent_at, m.created_at) < before,
            )
            .order_by(m.id)
            .limit(limit)
        )
        ids = list(await self.session.scalars(due))
        if not ids:
            return 0
        result = await self.session.execute(
            update(m)
            .where(m.id.in_(ids), m.content_purged_at.is_(None), m.status.in_(FINAL_STATUSES))
            .values(payload=PURGED_PAYLOAD, content_purged_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class UncertainDelivery:
    """An uncertain row as HR sees it: what, to whom, when it was due."""

    id: int
    kind: str
    chat_id: int
    recipient: str | None
    not_before: dt.datetime
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UnreachableEmployee:
    """An employee who blocked the bot (``blocked_at`` may be unknown)."""

    name: str
    nip: str
    unit: str
    blocked_at: dt.datetime | None


# Retention (``OutboxRepository.purge_contents``): the states a row never leaves on its own,
# and what a purged row's payload becomes (no text, no file: ``validate_payload`` refuses it).
FINAL_STATUSES = (SENT, FAILED, BLOCKED, UNCERTAIN, CANCELLED)
PURGED_PAYLOAD: dict[str, Any] = {"purged": True}
