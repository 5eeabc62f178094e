"""Everything stored about one employee (export) and the part that may be erased (UU 27/2022).

:data:`EXPORT_COVERAGE` names, for every table that can hold data about a person, the columns
by which :class:`PersonalDataRepository` finds that person's rows; :data:`NOT_PERSONAL` names
the tables that hold none, and why. A test walks the schema: a new table, or a new column
referring to an employee or holding a Telegram id, fails it until it is placed here (and
exported).

The person's **Telegram ids** are those of their current link, of the accounts that redeemed
their activation codes, that made their uploads, and that received the messages addressed to
them; an id now linked to another employee is not theirs any more and is left out.

What :meth:`PersonalDataRepository.erase` removes and keeps is decided in
``docs/personal-data.md`` (the bot's Telegram-side data goes; the records of state
administration stay). Every method runs in the caller's transaction and never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ActivationCode,
    Announcement,
    AnnouncementRecipient,
    AuditLog,
    Base,
    Competency,
    Draft,
    Employee,
    Evaluation,
    EvaluationPeriod,
    EvaluationReopening,
    LinkAttempt,
    Mutation,
    MutationEvent,
    OutboxMessage,
    TelegramUser,
    Training,
    TrainingParticipant,
    Unit,
    Upload,
)
from storage.repositories.drafts import DRAFT_TTL
from storage.repositories.evaluation_reminders import chunks
from storage.repositories.outbox import PENDING, PURGED_PAYLOAD, SENDING
from storage.repositories.uploads import FINAL_STATUSES as UPLOAD_FINAL_STATUSES

_IN_CHUNK = 500  # ids per IN list

# table -> the columns by which a person's rows are found (and exported).
EXPORT_COVERAGE: dict[str, tuple[str, ...]] = {
    "employees": ("id", "supervisor_id", "telegram_user_id"),
    "telegram_users": ("id",),
    "competencies": ("employee_id",),
    "mutations": ("employee_id", "to_supervisor_id"),
    "mutation_events": ("mutation_id", "changed_by_id"),
    "trainings": ("created_by_id",),
    "training_participants": ("employee_id",),
    "evaluation_reopenings": ("evaluator_id", "created_by_id"),
    "evaluations": ("employee_id", "evaluator_id", "coaching_assigned_by_id"),
    "outbox": ("employee_id", "chat_id"),
    "audit_log": ("actor_id", "entity_id", "details"),
    "activation_codes": ("employee_id", "used_by_telegram_id"),
    "link_attempts": ("telegram_user_id",),
    "uploads": ("employee_id", "telegram_user_id"),
    "drafts": ("telegram_user_id",),
    "announcements": ("created_by_id", "cancelled_by_id", "resent_by_id", "chat_id"),
    "announcement_recipients": ("employee_id",),
}
# table -> why it holds nothing about a person.
NOT_PERSONAL: dict[str, str] = {
    "units": "work units (the employee's own unit is named in the employee section)",
    "unit_formations": "how many posts of a kind a unit should have",
    "evaluation_periods": "the monthly SKP periods (named in each evaluation)",
    "days_off": "the extra days off HR declares",
    "processed_updates": "Telegram update ids only, no user or chat ids; pruned after days",
    "send_budget": "the shared send rate of the outbox senders",
}
# Columns left out of the export, and why.
OMITTED_COLUMNS: dict[str, str] = {
    "activation_codes.code_hash": "a one-way hash of a one-time code: useless to the person, "
    "and guessable offline while the code is still valid",
}

# Erased values: an erased chat, a quoted value (a purged payload: ``PURGED_PAYLOAD``).
NO_CHAT = 0
ERASED = "[erased]"
ERASED_REASON = "erased on request (UU 27/2022)"
_ID_KEYS = frozenset({"employee_id", "evaluator_id", "supervisor_id", "to_supervisor_id"})
_AUDIT_PAGE = 2000


def row_dict(obj: Base, *, without: Iterable[str] = ()) -> dict[str, Any]:
    """Every mapped column of an ORM object, by attribute name."""
    skip = set(without)
    return {
        column.key: getattr(obj, column.key)
        for column in inspect(obj).mapper.column_attrs
        if column.key not in skip
    }


@dataclass(frozen=True, slots=True)
class AuditMatch:
    """An audit entry concerning a person: written by them (``actor``), about them, or both."""

    entry: AuditLog
    actor: bool
    subject: bool


@dataclass(slots=True)
class ErasureTargets:
    """What erasing one person's Telegram-side data would change (row ids per table)."""

    employee_link: bool = False
    telegram_users: list[int] = field(default_factory=list)
    drafts: list[int] = field(default_factory=list)
    link_attempts: list[int] = field(default_factory=list)
    activation_codes: list[int] = field(default_factory=list)
    uploads: list[int] = field(default_factory=list)
    outbox_deleted: list[int] = field(default_factory=list)
    outbox_stubbed: list[int] = field(default_factory=list)
    announcements: list[int] = field(default_factory=list)
    audit_entries: dict[int, tuple[dict[str, Any], str | None]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "account_link": int(self.employee_link),
            "telegram_users": len(self.telegram_users),
            "drafts": len(self.drafts),
            "link_attempts": len(self.link_attempts),
            "activation_codes": len(self.activation_codes),
            "uploads": len(self.uploads),
            "outbox_deleted": len(self.outbox_deleted),
            "outbox_stubbed": len(self.outbox_stubbed),
            "announcements_chat": len(self.announcements),
            "audit_details": len(self.audit_entries),
        }

    @property
    def empty(self) -> bool:
        return not any(self.counts().values())


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ who
    async def employee_by_nip(self, nip: str) -> Employee | None:
        return await self.session.scalar(select(Employee).where(Employee.nip == nip))

    async def telegram_ids(self, employee: Employee) -> list[int]:
        """The Telegram ids that are (or were) this person's (see the module doc)."""
        e = employee.id
        found: set[int] = set()
        if employee.telegram_user_id is not None:
            found.add(employee.telegram_user_id)
        for query in (
            select(ActivationCode.used_by_telegram_id).where(
                ActivationCode.employee_id == e, ActivationCode.used_by_telegram_id.is_not(None)
            ),
            select(Upload.telegram_user_id).where(Upload.employee_id == e),
            select(OutboxMessage.chat_id).where(OutboxMessage.employee_id == e).distinct(),
        ):
            found.update(value for value in await self.session.scalars(query) if value)
        found.discard(NO_CHAT)
        if not found:
            return []
        others = await self.session.scalars(
            select(Employee.telegram_user_id).where(
                Employee.telegram_user_id.in_(found), Employee.id != e
            )
        )
        return sorted(found - set(others))

    # ------------------------------------------------------------------ reading
    async def unit(self, employee: Employee) -> dict[str, Any] | None:
        unit = await self.session.get(Unit, employee.unit_id)
        return None if unit is None else {"id": unit.id, "name": unit.name}

    async def supervisor(self, employee: Employee) -> dict[str, Any] | None:
        if employee.supervisor_id is None:
            return None
        boss = await self.session.get(Employee, employee.supervisor_id)
        return None if boss is None else {"id": boss.id, "nip": boss.nip, "name": boss.name}

    async def direct_reports(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(Employee.id, Employee.nip)
            .where(Employee.supervisor_id == employee.id)
            .order_by(Employee.id)
        )
        return [{"id": i, "nip": nip} for i, nip in rows]

    async def telegram_users(self, ids: Sequence[int]) -> list[TelegramUser]:
        if not ids:
            return []
        rows = await self.session.scalars(
            select(TelegramUser).where(TelegramUser.id.in_(ids)).order_by(TelegramUser.id)
        )
        return list(rows)

    async def competencies(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.scalars(
            select(Competency).where(Competency.employee_id == employee.id).order_by(Competency.id)
        )
        return [row_dict(row, without=("employee_id",)) for row in rows]

    async def mutations(self, employee: Employee) -> list[dict[str, Any]]:
        """Their mutations, each with its stage history."""
        mutations = list(
            await self.session.scalars(
                select(Mutation).where(Mutation.employee_id == employee.id).order_by(Mutation.id)
            )
        )
        events: dict[int, list[dict[str, Any]]] = {m.id: [] for m in mutations}
        if mutations:
            rows = await self.session.scalars(
                select(MutationEvent)
                .where(MutationEvent.mutation_id.in_(list(events)))
                .order_by(MutationEvent.id)
            )
            for event in rows:
                events[event.mutation_id].append(row_dict(event, without=("mutation_id",)))
        return [
            {**row_dict(m, without=("employee_id",)), "events": events[m.id]} for m in mutations
        ]

    async def mutations_as_new_supervisor(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(Mutation.id, Mutation.stage, Mutation.to_unit, Employee.id, Employee.nip)
            .join(Employee, Employee.id == Mutation.employee_id)
            .where(Mutation.to_supervisor_id == employee.id)
            .order_by(Mutation.id)
        )
        return [
            {"mutation_id": m, "stage": stage, "to_unit": unit, "employee": {"id": i, "nip": nip}}
            for m, stage, unit, i, nip in rows
        ]

    async def mutation_events_recorded(self, employee: Employee) -> list[dict[str, Any]]:
        """Stage changes they made (as HR) on mutations, theirs or anyone's."""
        rows = await self.session.execute(
            select(
                MutationEvent.id,
                MutationEvent.mutation_id,
                MutationEvent.from_stage,
                MutationEvent.to_stage,
                MutationEvent.changed_at,
                Employee.id,
                Employee.nip,
            )
            .join(Mutation, Mutation.id == MutationEvent.mutation_id)
            .join(Employee, Employee.id == Mutation.employee_id)
            .where(MutationEvent.changed_by_id == employee.id)
            .order_by(MutationEvent.id)
        )
        return [
            {
                "event_id": event_id,
                "mutation_id": mutation_id,
                "employee": {"id": i, "nip": nip},
                "from_stage": from_stage,
                "to_stage": to_stage,
                "changed_at": changed_at,
            }
            for event_id, mutation_id, from_stage, to_stage, changed_at, i, nip in rows
        ]

    async def trainings(self, employee: Employee) -> list[dict[str, Any]]:
        """Their trainings with their attendance."""
        rows = await self.session.execute(
            select(TrainingParticipant, Training)
            .join(Training, Training.id == TrainingParticipant.training_id)
            .where(TrainingParticipant.employee_id == employee.id)
            .order_by(Training.starts_at, Training.id)
        )
        return [
            {
                "training": row_dict(training, without=("created_by_id",)),
                "participation": row_dict(part, without=("employee_id", "training_id")),
            }
            for part, training in rows
        ]

    async def trainings_created(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(Training.id, Training.code, Training.title, Training.starts_at)
            .where(Training.created_by_id == employee.id)
            .order_by(Training.id)
        )
        return [dict(row._mapping) for row in rows]

    async def evaluations_about(self, employee: Employee) -> list[dict[str, Any]]:
        evaluator = Employee.__table__.alias("evaluator")
        rows = await self.session.execute(
            select(
                Evaluation,
                EvaluationPeriod.year,
                EvaluationPeriod.month,
                evaluator.c.id,
                evaluator.c.nip,
                evaluator.c.name,
            )
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .outerjoin(evaluator, evaluator.c.id == Evaluation.evaluator_id)
            .where(Evaluation.employee_id == employee.id)
            .order_by(EvaluationPeriod.year, EvaluationPeriod.month, Evaluation.id)
        )
        return [
            {
                **row_dict(evaluation, without=("employee_id", "evaluator_id")),
                "period": f"{year:04d}-{month:02d}",
                "evaluator": {"id": boss_id, "nip": boss_nip, "name": boss_name},
            }
            for evaluation, year, month, boss_id, boss_nip, boss_name in rows
        ]

    async def evaluations_written(self, employee: Employee) -> list[dict[str, Any]]:
        """Evaluations they wrote (or began) as supervisor; the evaluatee by id and NIP only."""
        rows = await self.session.execute(
            select(Evaluation, EvaluationPeriod.year, EvaluationPeriod.month, Employee.nip)
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .join(Employee, Employee.id == Evaluation.employee_id)
            .where(Evaluation.evaluator_id == employee.id)
            .order_by(EvaluationPeriod.year, EvaluationPeriod.month, Evaluation.id)
        )
        return [
            {
                **row_dict(evaluation, without=("employee_id", "evaluator_id")),
                "period": f"{year:04d}-{month:02d}",
                "employee": {"id": evaluation.employee_id, "nip": nip},
            }
            for evaluation, year, month, nip in rows
        ]

    async def coaching_assigned_by(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(
                Evaluation.id,
                Evaluation.coaching_training_id,
                Evaluation.coaching_assigned_at,
                Employee.id,
                Employee.nip,
            )
            .join(Employee, Employee.id == Evaluation.employee_id)
            .where(Evaluation.coaching_assigned_by_id == employee.id)
            .order_by(Evaluation.id)
        )
        return [
            {
                "evaluation_id": evaluation_id,
                "training_id": training_id,
                "assigned_at": at,
                "employee": {"id": i, "nip": nip},
            }
            for evaluation_id, training_id, at, i, nip in rows
        ]

    async def evaluation_reopenings(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.scalars(
            select(EvaluationReopening)
            .where(
                or_(
                    EvaluationReopening.evaluator_id == employee.id,
                    EvaluationReopening.created_by_id == employee.id,
                )
            )
            .order_by(EvaluationReopening.id)
        )
        return [row_dict(row) for row in rows]

    async def submitted_predicates(self, employee: Employee) -> list[tuple[int, int, str]]:
        """(year, month, predicate) of their submitted evaluations, newest first."""
        rows = await self.session.execute(
            select(EvaluationPeriod.year, EvaluationPeriod.month, Evaluation.predicate)
            .join(EvaluationPeriod, EvaluationPeriod.id == Evaluation.period_id)
            .where(
                Evaluation.employee_id == employee.id,
                Evaluation.status == "submitted",
                Evaluation.predicate.is_not(None),
            )
            .order_by(EvaluationPeriod.year.desc(), EvaluationPeriod.month.desc())
        )
        return [(year, month, predicate) for year, month, predicate in rows]

    def _outbox_of(self, employee: Employee, telegram_ids: Sequence[int]) -> Any:
        m = OutboxMessage
        if telegram_ids:
            return or_(m.employee_id == employee.id, m.chat_id.in_(list(telegram_ids)))
        return m.employee_id == employee.id

    async def outbox(self, employee: Employee, telegram_ids: Sequence[int]) -> list[OutboxMessage]:
        """The messages addressed to them (to their employee record or one of their chats)."""
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(self._outbox_of(employee, telegram_ids))
            .order_by(OutboxMessage.id)
        )
        return list(rows)

    async def announcements_received(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(AnnouncementRecipient, Announcement.send_at, Announcement.status)
            .join(Announcement, Announcement.id == AnnouncementRecipient.announcement_id)
            .where(AnnouncementRecipient.employee_id == employee.id)
            .order_by(AnnouncementRecipient.id)
        )
        return [
            {
                **row_dict(recipient, without=("employee_id",)),
                "announcement": {"send_at": send_at, "status": status},
            }
            for recipient, send_at, status in rows
        ]

    async def announcements_handled(
        self, employee: Employee, telegram_ids: Sequence[int]
    ) -> list[dict[str, Any]]:
        """Announcements they created, cancelled or resent (as HR), without the content."""
        a = Announcement
        e = employee.id
        rows = await self.session.scalars(
            select(a)
            .where(or_(a.created_by_id == e, a.cancelled_by_id == e, a.resent_by_id == e))
            .order_by(a.id)
        )
        result = []
        for row in rows:
            roles = [
                role
                for role, who in (
                    ("created", row.created_by_id),
                    ("cancelled", row.cancelled_by_id),
                    ("resent", row.resent_by_id),
                )
                if who == e
            ]
            result.append(
                {
                    "id": row.id,
                    "roles": roles,
                    "status": row.status,
                    "created_at": row.created_at,
                    "send_at": row.send_at,
                    "chat_id": row.chat_id if row.chat_id in telegram_ids else None,
                }
            )
        return result

    async def activation_codes(self, employee: Employee) -> list[dict[str, Any]]:
        rows = await self.session.scalars(
            select(ActivationCode)
            .where(ActivationCode.employee_id == employee.id)
            .order_by(ActivationCode.id)
        )
        return [row_dict(row, without=("employee_id", "code_hash")) for row in rows]

    async def uploads(self, employee: Employee, telegram_ids: Sequence[int]) -> list[Upload]:
        condition = Upload.employee_id == employee.id
        if telegram_ids:
            condition = or_(condition, Upload.telegram_user_id.in_(list(telegram_ids)))
        return list(await self.session.scalars(select(Upload).where(condition).order_by(Upload.id)))

    async def drafts(self, telegram_ids: Sequence[int]) -> list[Draft]:
        if not telegram_ids:
            return []
        rows = await self.session.scalars(
            select(Draft).where(Draft.telegram_user_id.in_(list(telegram_ids))).order_by(Draft.id)
        )
        return list(rows)

    async def link_attempts(self, telegram_ids: Sequence[int]) -> list[LinkAttempt]:
        if not telegram_ids:
            return []
        rows = await self.session.scalars(
            select(LinkAttempt)
            .where(LinkAttempt.telegram_user_id.in_(list(telegram_ids)))
            .order_by(LinkAttempt.id)
        )
        return list(rows)

    async def audit_entries(self, employee: Employee) -> list[AuditMatch]:
        """Entries written by them, or about them: their record (by NIP or id), their
        mutations or evaluations, or naming them in the details (an id or their NIP)."""
        mutation_ids = {
            str(i)
            for i in await self.session.scalars(
                select(Mutation.id).where(Mutation.employee_id == employee.id)
            )
        }
        evaluation_ids = {
            str(i)
            for i in await self.session.scalars(
                select(Evaluation.id).where(Evaluation.employee_id == employee.id)
            )
        }
        subjects = {
            "employee": {employee.nip, str(employee.id)},
            "mutation": mutation_ids,
            "evaluation": evaluation_ids,
        }
        found: list[AuditMatch] = []
        last = 0
        while True:
            page = list(
                await self.session.scalars(
                    select(AuditLog)
                    .where(AuditLog.id > last)
                    .order_by(AuditLog.id)
                    .limit(_AUDIT_PAGE)
                )
            )
            for entry in page:
                actor = entry.actor_id == employee.id
                subject = entry.entity_id in subjects.get(entry.entity_type or "", ()) or _names(
                    entry.details, employee
                )
                if actor or subject:
                    found.append(AuditMatch(entry, actor, subject))
            if len(page) < _AUDIT_PAGE:
                return found
            last = page[-1].id

    # ------------------------------------------------------------------ erasing
    async def erasure_targets(self, employee: Employee) -> ErasureTargets:
        """What :meth:`erase` would change now (nothing when erased before)."""
        ids = await self.telegram_ids(employee)
        targets = ErasureTargets()
        targets.employee_link = (
            employee.telegram_user_id is not None
            or employee.linked_at is not None
            or employee.language is not None
            or employee.blocked_at is not None
            or not employee.reachable
        )
        targets.telegram_users = [user.id for user in await self.telegram_users(ids)]
        targets.drafts = [draft.id for draft in await self.drafts(ids)]
        targets.link_attempts = [attempt.id for attempt in await self.link_attempts(ids)]
        targets.activation_codes = list(
            await self.session.scalars(
                select(ActivationCode.id).where(ActivationCode.employee_id == employee.id)
            )
        )
        targets.uploads = [upload.id for upload in await self.uploads(employee, ids)]
        referenced = await self._announcement_outbox_ids()
        for row in await self.outbox(employee, ids):
            if row.id not in referenced:
                targets.outbox_deleted.append(row.id)
            elif (
                row.chat_id != NO_CHAT
                or row.content_purged_at is None
                or row.status in (PENDING, SENDING)
            ):
                targets.outbox_stubbed.append(row.id)
        if ids:
            targets.announcements = list(
                await self.session.scalars(
                    select(Announcement.id).where(Announcement.chat_id.in_(ids))
                )
            )
        quoted = _quoted_values(ids, await self.telegram_users(ids))
        if quoted:
            for match in await self.audit_entries(employee):
                details = _scrub(match.entry.details or {}, quoted)
                entity_id = ERASED if match.entry.entity_id in quoted else match.entry.entity_id
                if details != (match.entry.details or {}) or entity_id != match.entry.entity_id:
                    targets.audit_entries[match.entry.id] = (details, entity_id)
        return targets

    async def _announcement_outbox_ids(self) -> set[int]:
        r = AnnouncementRecipient
        found: set[int] = set()
        for column in (r.outbox_id, r.first_outbox_id):
            found.update(
                value for value in await self.session.scalars(select(column).distinct()) if value
            )
        return found

    async def erase(self, employee: Employee, targets: ErasureTargets, now: dt.datetime) -> None:
        """Apply ``targets`` (from :meth:`erasure_targets`, in the same transaction)."""
        if targets.employee_link:
            employee.telegram_user_id = None
            employee.linked_at = None
            employee.language = None
            employee.blocked_at = None
            employee.reachable = True
            employee.updated_at = now
            await self.session.flush()
        m = OutboxMessage
        for ids in chunks(targets.outbox_stubbed, _IN_CHUNK):
            # Announcement rows keep their ids, status and times (HR's figures); an unsent
            # one is cancelled, as it can no longer reach anyone.
            unsent = or_(
                m.status == PENDING, (m.status == SENDING) & m.attempt_started_at.is_(None)
            )
            await self.session.execute(
                update(m)
                .where(m.id.in_(ids), unsent)
                .values(
                    status="cancelled", last_error=ERASED_REASON, lease_until=None, lease_owner=None
                )
                .execution_options(synchronize_session=False)
            )
            await self.session.execute(
                update(m)
                .where(m.id.in_(ids), m.content_purged_at.is_(None))
                .values(content_purged_at=now)
                .execution_options(synchronize_session=False)
            )
            await self.session.execute(
                update(m)
                .where(m.id.in_(ids))
                .values(payload=PURGED_PAYLOAD, chat_id=NO_CHAT)
                .execution_options(synchronize_session=False)
            )
        for model, ids in (
            (OutboxMessage, targets.outbox_deleted),
            (TelegramUser, targets.telegram_users),
            (Draft, targets.drafts),
            (LinkAttempt, targets.link_attempts),
            (ActivationCode, targets.activation_codes),
            (Upload, targets.uploads),
        ):
            for chunk in chunks(ids, _IN_CHUNK):
                await self.session.execute(
                    delete(model)
                    .where(model.id.in_(chunk))  # type: ignore[attr-defined]
                    .execution_options(synchronize_session=False)
                )
        for chunk in chunks(targets.announcements, _IN_CHUNK):
            await self.session.execute(
                update(Announcement)
                .where(Announcement.id.in_(chunk))
                .values(chat_id=NO_CHAT)
                .execution_options(synchronize_session=False)
            )
        for entry_id, (details, entity_id) in targets.audit_entries.items():
            await self.session.execute(
                update(AuditLog)
                .where(AuditLog.id == entry_id)
                .values(details=details, entity_id=entity_id)
                .execution_options(synchronize_session=False)
            )


def _names(details: Any, employee: Employee) -> bool:
    """Whether audit details name the employee: an id key with their id, or their NIP."""
    if isinstance(details, dict):
        for key, value in details.items():
            if key in _ID_KEYS and value == employee.id:
                return True
            if _names(value, employee):
                return True
        return False
    if isinstance(details, list):
        return any(_names(value, employee) for value in details)
    return isinstance(details, str) and details == employee.nip


def _quoted_values(telegram_ids: Sequence[int], users: Sequence[TelegramUser]) -> set[Any]:
    """The values that quote their Telegram account: ids, @usernames, Telegram names."""
    values: set[Any] = set()
    for telegram_id in telegram_ids:
        values.update({telegram_id, str(telegram_id)})
    for user in users:
        if user.username:
            values.update({user.username, f"@{user.username}"})
        if user.first_name:
            values.add(user.first_name)
    return values


def _scrub(value: Any, quoted: set[Any]) -> Any:
    if isinstance(value, dict):
        return {key: _scrub(item, quoted) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, quoted) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str | int) and value in quoted:
        return ERASED
    return value


class RetentionRepository:
    """Retention queries besides the outbox's (``OutboxRepository.purge_contents``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete_stale_drafts(self, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` drafts untouched since before ``before``; how many. Drafts
        are already treated as absent after ``DRAFT_TTL`` but only removed when seen again:
        one never seen again would keep what the person typed."""
        ids = list(
            await self.session.scalars(
                select(Draft.id).where(Draft.updated_at < before).order_by(Draft.id).limit(limit)
            )
        )
        if not ids:
            return 0
        result = await self.session.execute(
            delete(Draft)
            .where(Draft.id.in_(ids), Draft.updated_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget_upload_files(self, before: dt.datetime, limit: int) -> int:
        """Blank the Telegram ``file_id`` of up to ``limit`` finished uploads (imported,
        rejected, cancelled) finished before ``before``; how many. The file (a list of
        employees) can then no longer be fetched through the bot; its name, kind, status and
        counts stay (with the audit log's import entry)."""
        u = Upload
        finished = u.finished_at.is_not(None) & (u.finished_at < before)
        ids = list(
            await self.session.scalars(
                select(u.id)
                .where(u.status.in_(sorted(UPLOAD_FINAL_STATUSES)), u.file_id != "", finished)
                .order_by(u.id)
                .limit(limit)
            )
        )
        if not ids:
            return 0
        result = await self.session.execute(
            update(u)
            .where(u.id.in_(ids), u.file_id != "")
            .values(file_id="")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# Drafts are gone for the person after DRAFT_TTL; retention deletes them an hour later, so
# the evaluation idle pause (at most DRAFT_TTL) always sees its draft first.
STALE_DRAFT_AGE = DRAFT_TTL + dt.timedelta(hours=1)
