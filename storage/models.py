"""The database schema (SQLAlchemy 2 declarative, identical on SQLite and PostgreSQL).

Times are stored in UTC. Enumerated values are plain strings validated by the rules
in ``bot.rules``, so a new value never needs a database-specific enum migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python; UTC in the database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Unit(TimestampMixin, Base):
    """Unit kerja / perangkat daerah."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    employees: Mapped[list[Employee]] = relationship(back_populates="unit")


class TelegramUser(TimestampMixin, Base):
    """Anyone who has talked to the bot, linked or not (keeps an unlinked user's language)."""

    __tablename__ = "telegram_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))


class Employee(TimestampMixin, Base):
    """An ASN (PNS or PPPK); supervisors are employees who have direct reports."""

    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    employee_type: Mapped[str] = mapped_column(String(8), default="PNS")
    position: Mapped[str] = mapped_column(String(200), default="")
    rank: Mapped[str | None] = mapped_column(String(40))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), index=True
    )
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    role: Mapped[str] = mapped_column(String(20), default="asn")
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    linked_at: Mapped[dt.datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    blocked_at: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # TMT Jabatan: since when in the current post (rotation eligibility, bot.rules.talent).
    post_since: Mapped[dt.date | None] = mapped_column(Date)
    # Potensi from a competency assessment: rendah | menengah | tinggi.
    potential: Mapped[str | None] = mapped_column(String(10))

    unit: Mapped[Unit] = relationship(back_populates="employees")
    supervisor: Mapped[Employee | None] = relationship(remote_side=[id])


class Competency(Base):
    """One competency of an employee and its level (HR's optional competencies file)."""

    __tablename__ = "competencies"
    __table_args__ = (UniqueConstraint("employee_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(50), default="")


class UnitFormation(Base):
    """Formasi: how many posts of a kind a unit should have (HR's optional file)."""

    __tablename__ = "unit_formations"
    __table_args__ = (UniqueConstraint("unit_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(String(200))
    required: Mapped[int] = mapped_column(Integer)


class Mutation(TimestampMixin, Base):
    """A transfer of one employee; ``stage`` is the current one (``bot.rules.stages``)."""

    __tablename__ = "mutations"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    mutation_type: Mapped[str] = mapped_column(String(20))
    from_unit: Mapped[str] = mapped_column(String(200))
    from_position: Mapped[str] = mapped_column(String(200), default="")
    to_unit: Mapped[str] = mapped_column(String(200))
    to_position: Mapped[str] = mapped_column(String(200), default="")
    # A move between local governments passes the Pertek BKN step.
    external: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    stage: Mapped[str] = mapped_column(String(30))
    stage_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sk_number: Mapped[str | None] = mapped_column(String(100))
    sk_date: Mapped[dt.date | None] = mapped_column(Date)
    tmt_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    # While ``dikembalikan``: the documents to hand in, one per line.
    missing_documents: Mapped[str | None] = mapped_column(Text)
    # When the inauguration (pelantikan) is planned, once known.
    inauguration_at: Mapped[dt.datetime | None]
    # The supervisor in the new post; unset: the head of the target unit (bot.mutations).
    to_supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL")
    )

    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    events: Mapped[list[MutationEvent]] = relationship(
        back_populates="mutation", order_by="MutationEvent.id"
    )


class MutationEvent(Base):
    """One stage change: when, who, from where to where, and why."""

    __tablename__ = "mutation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    mutation_id: Mapped[int] = mapped_column(
        ForeignKey("mutations.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[str | None] = mapped_column(String(30))
    to_stage: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    changed_by_label: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str | None] = mapped_column(Text)
    # When the people concerned were told (queued in the outbox); NULL: not yet.
    notified_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    mutation: Mapped[Mutation] = relationship(back_populates="events")


class Training(TimestampMixin, Base):
    """A training session (pelatihan / diklat); times in UTC, shown in WIB."""

    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    place: Mapped[str] = mapped_column(String(300), default="")
    online_link: Mapped[str | None] = mapped_column(String(500))
    mutation_id: Mapped[int | None] = mapped_column(ForeignKey("mutations.id", ondelete="SET NULL"))
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))

    participants: Mapped[list[TrainingParticipant]] = relationship(back_populates="training")


class TrainingParticipant(Base):
    __tablename__ = "training_participants"
    __table_args__ = (UniqueConstraint("training_id", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(ForeignKey("trainings.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    # unknown | hadir | tidak_hadir
    attendance: Mapped[str] = mapped_column(String(20), default="unknown")
    responded_at: Mapped[dt.datetime | None]
    absence_reason: Mapped[str | None] = mapped_column(Text)

    training: Mapped[Training] = relationship(back_populates="participants")
    employee: Mapped[Employee] = relationship()


class EvaluationPeriod(Base):
    """One monthly SKP period."""

    __tablename__ = "evaluation_periods"
    __table_args__ = (UniqueConstraint("year", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    # open | locked
    status: Mapped[str] = mapped_column(String(10), default="open")


class EvaluationReopening(Base):
    """HR reopened a locked period for one supervisor (``evaluator_id``) or for all (NULL)."""

    __tablename__ = "evaluation_reopenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(
        ForeignKey("evaluation_periods.id", ondelete="CASCADE"), index=True
    )
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    until: Mapped[dt.date] = mapped_column(Date)  # the last day evaluations are taken again
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Evaluation(TimestampMixin, Base):
    """A supervisor's monthly rating of one report; a draft until submitted."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("period_id", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("evaluation_periods.id"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    # draft | submitted
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # di_atas | sesuai | di_bawah
    work_result: Mapped[str | None] = mapped_column(String(10))
    behaviour_ratings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    behaviour: Mapped[str | None] = mapped_column(String(10))
    predicate: Mapped[str | None] = mapped_column(String(30))
    feedback: Mapped[str | None] = mapped_column(Text)
    current_step: Mapped[str | None] = mapped_column(String(30))
    submitted_at: Mapped[dt.datetime | None]
    # Coaching (pembinaan) for a low predicate: the training HR assigned, when and by whom.
    coaching_training_id: Mapped[int | None] = mapped_column(
        ForeignKey("trainings.id", ondelete="SET NULL")
    )
    coaching_assigned_at: Mapped[dt.datetime | None]
    coaching_assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))


class OutboxMessage(Base):
    """A message the bot sends on its own initiative (see the delivery pipeline)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # pending | sending | sent | failed | blocked | uncertain | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    # Set (committed) just before the request may leave; a crashed sender's row that has it
    # becomes ``uncertain`` instead of being sent again. Cleared with every recorded outcome.
    attempt_started_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # When the content (payload) of a finished row was purged (MESSAGE_RETENTION_DAYS).
    content_purged_at: Mapped[dt.datetime | None]


class AuditLog(Base):
    """Who did what, when: stage changes, imports, role changes, broadcasts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ActivationCode(Base):
    """A one-time code HR hands out to link a Telegram account; only its hash is stored."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(
        ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    # Set when a newer code replaces this one or HR withdraws it.
    revoked_at: Mapped[dt.datetime | None]
    created_by_label: Mapped[str] = mapped_column(String(100), default="")


class LinkAttempt(Base):
    """Every linking attempt; failures in the last hour limit further attempts."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_user_at", "telegram_user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # phone | code
    method: Mapped[str] = mapped_column(String(10))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Upload(Base):
    """A data file HR sent in chat, kept until it is imported or dropped."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    file_id: Mapped[str] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(String(300), default="")
    file_size: Mapped[int | None] = mapped_column(Integer)
    # pending (waiting for the kind) | imported | rejected | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    kind: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DayOff(Base):
    """An extra day off HR declares (cuti bersama, local holidays) besides national ones."""

    __tablename__ = "days_off"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Draft(Base):
    """The state of one guided conversation of one person, saved at every step.

    A restart, a second process or a new phone continues where the person left off.
    """

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("telegram_user_id", "flow"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    flow: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Announcement(Base):
    """An HR broadcast (``/hr_umumkan``): its content, audience and delivery.

    ``content`` is the outbox payload every recipient gets (text with Telegram's entities, or
    a photo/document ``file_id`` with its caption and caption entities); the recipients and
    their outbox rows are in :class:`AnnouncementRecipient`, fixed when HR confirmed.
    """

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    # The chat of HR who confirmed it: the progress message and the final report go there.
    chat_id: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"kind": "all" | "units" | "supervisors" | "nips", "unit_ids": [...], "file_name": ...}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    # scheduled | sending | done | cancelled
    status: Mapped[str] = mapped_column(String(12), default="sending")
    send_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    resent_at: Mapped[dt.datetime | None]
    resent_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    # The live progress message in HR's chat; 0 while one process is sending it.
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_edited_at: Mapped[dt.datetime | None]


class AnnouncementRecipient(Base):
    """One employee an announcement was meant for: the outbox row that carries it, or why
    none (``skipped``: ``not_linked`` | ``unreachable``)."""

    __tablename__ = "announcement_recipients"
    __table_args__ = (UniqueConstraint("announcement_id", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), index=True
    )
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    skipped: Mapped[str | None] = mapped_column(String(12))
    # The failed first delivery, when "Kirim ulang yang gagal" gave this recipient a new row.
    first_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class ProcessedUpdate(Base):
    """A Telegram update the bot has taken on (``handlers.dedupe``): the same ``update_id``
    delivered again (a poll or webhook retry) is ignored. Pruned after a few days."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # No index: only the hourly prune reads it (a scan of a few days of updates).
    handled_at: Mapped[dt.datetime]  # when it was taken on (again, after a takeover)
    # When its handlers had finished (PostgreSQL): a copy of an unfinished one whose process
    # died is taken over after a while (``handlers.dedupe``).
    finished_at: Mapped[dt.datetime | None]


class SendBudget(Base):
    """The send budget shared by every process on one PostgreSQL (``bot.send_budget``): the
    time of the next free slot. Unused on SQLite (one process)."""

    __tablename__ = "send_budget"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot_at: Mapped[dt.datetime]
