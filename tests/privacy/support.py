"""One person with something in every table that can hold data about them.

Dinas Perhubungan: the head (Pak Yusuf, linked) supervises Rina (``RINA_CHAT``), who is an
HR admin and supervises a clerk, Andi. Rina has a Telegram profile with a username, a
competency, a mutation with its stages (moved by Yusuf) and one where she is the new
supervisor, a training with her absence reason, a submitted evaluation by Yusuf and one she
wrote about Andi (with coaching assigned), a reopening, an announcement she sent and one she
received, messages to her (sent, pending, an old one in another chat of hers), a draft, link
attempts, a used activation code, an upload and audit entries by and about her.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    ActivationCode,
    Announcement,
    AnnouncementRecipient,
    AuditLog,
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
    utcnow,
)

Maker = async_sessionmaker[AsyncSession]

RINA_NIP = "198609262015051001"
RINA_PHONE = "6281234567890"
RINA_CHAT = 5550002
RINA_OLD_CHAT = 5550009  # an account she used before (it redeemed her first code)
RINA_USERNAME = "rina_dishub"
BOSS_NIP = "197501012000031001"
BOSS_CHAT = 5550001
CLERK_NIP = "199001012015051003"
NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
FEEDBACK_OF_RINA = "Rina sangat teliti dalam verifikasi berkas"
FEEDBACK_BY_RINA = "Andi perlu pendampingan arsip"
ABSENCE_REASON = "Sedang dinas luar ke Padang"
DRAFT_TEXT = "Rapat koordinasi pegawai"


@dataclass(frozen=True)
class Person:
    rina: int
    boss: int
    clerk: int
    mutation: int
    other_mutation: int
    announcement_sent: int
    announcement_received: int
    received_outbox: int
    pending_announcement_outbox: int
    notice_outbox: int
    boss_outbox: int


async def add_person(sessionmaker: Maker) -> Person:
    ago = NOW - dt.timedelta(days=3)
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Perhubungan")
        boss = Employee(
            nip=BOSS_NIP,
            name="Ir. Yusuf Datuak Rajo Mudo",
            position="Kepala Dinas",
            unit=unit,
            telegram_user_id=BOSS_CHAT,
            linked_at=ago,
        )
        rina = Employee(
            nip=RINA_NIP,
            name="Rina Marlina, S.E.",
            position="Analis SDM",
            rank="III/b",
            unit=unit,
            supervisor=boss,
            phone=RINA_PHONE,
            role="hr_admin",
            telegram_user_id=RINA_CHAT,
            linked_at=ago,
            language="en",
            post_since=dt.date(2019, 1, 2),
            potential="tinggi",
        )
        clerk = Employee(nip=CLERK_NIP, name="Andi", position="Pengadministrasi", unit=unit)
        clerk.supervisor = rina
        session.add_all([unit, boss, rina, clerk])
        session.add_all(
            [
                TelegramUser(
                    id=RINA_CHAT, first_name="Rina", username=RINA_USERNAME, language="en"
                ),
                TelegramUser(id=RINA_OLD_CHAT, first_name="Rina M", username=None),
                TelegramUser(id=BOSS_CHAT, first_name="Yusuf", username="yusuf"),
            ]
        )
        await session.flush()
        session.add(Competency(employee_id=rina.id, name="Manajemen SDM", level="Mahir"))

        mutation = Mutation(
            employee_id=rina.id,
            mutation_type="rotasi",
            from_unit="Dinas Perhubungan",
            to_unit="Bappeda",
            stage="verifikasi",
            stage_changed_at=ago,
        )
        other = Mutation(
            employee_id=clerk.id,
            mutation_type="rotasi",
            from_unit="Bappeda",
            to_unit="Dinas Perhubungan",
            stage="diusulkan",
            to_supervisor_id=rina.id,
        )
        session.add_all([mutation, other])
        await session.flush()
        session.add_all(
            [
                MutationEvent(mutation_id=mutation.id, to_stage="diusulkan", changed_at=ago),
                MutationEvent(
                    mutation_id=mutation.id,
                    from_stage="diusulkan",
                    to_stage="verifikasi",
                    changed_at=ago,
                    changed_by_id=boss.id,
                    note="Berkas lengkap",
                ),
                MutationEvent(mutation_id=other.id, to_stage="diusulkan", changed_by_id=rina.id),
            ]
        )

        training = Training(
            code="PLT-2026-001",
            title="Pelatihan Kepemimpinan",
            starts_at=NOW + dt.timedelta(days=10),
            ends_at=NOW + dt.timedelta(days=11),
            created_by_id=rina.id,
        )
        session.add(training)
        await session.flush()
        session.add(
            TrainingParticipant(
                training_id=training.id,
                employee_id=rina.id,
                attendance="tidak_hadir",
                responded_at=ago,
                absence_reason=ABSENCE_REASON,
            )
        )

        period = EvaluationPeriod(
            year=2026,
            month=11,
            opens_on=dt.date(2026, 11, 1),
            closes_on=dt.date(2026, 12, 7),
            status="open",
        )
        session.add(period)
        await session.flush()
        session.add_all(
            [
                Evaluation(
                    period_id=period.id,
                    employee_id=rina.id,
                    evaluator_id=boss.id,
                    status="submitted",
                    work_result="di_atas",
                    behaviour="di_atas",
                    predicate="sangat_baik",
                    feedback=FEEDBACK_OF_RINA,
                    submitted_at=ago,
                ),
                Evaluation(
                    period_id=period.id,
                    employee_id=clerk.id,
                    evaluator_id=rina.id,
                    status="submitted",
                    work_result="di_bawah",
                    behaviour="di_bawah",
                    predicate="sangat_kurang",
                    feedback=FEEDBACK_BY_RINA,
                    submitted_at=ago,
                    coaching_training_id=training.id,
                    coaching_assigned_at=ago,
                    coaching_assigned_by_id=rina.id,
                ),
                EvaluationReopening(
                    period_id=period.id,
                    evaluator_id=rina.id,
                    until=dt.date(2026, 12, 9),
                    created_by_id=boss.id,
                ),
            ]
        )

        sent = Announcement(
            created_by_id=rina.id,
            chat_id=RINA_CHAT,
            content={"text": "Apel pagi Senin"},
            audience={"kind": "all"},
            status="done",
            send_at=ago,
            created_at=ago,
            finished_at=ago,
        )
        received = Announcement(
            created_by_id=boss.id,
            chat_id=BOSS_CHAT,
            content={"text": "Rapat dinas"},
            audience={"kind": "all"},
            status="sending",
            send_at=ago,
            created_at=ago,
        )
        session.add_all([sent, received])
        await session.flush()

        def message(key: str, chat: int, employee: int | None, status: str, **kw) -> OutboxMessage:
            return OutboxMessage(
                idempotency_key=key,
                chat_id=chat,
                employee_id=employee,
                kind=kw.pop("kind", "notice"),
                payload=kw.pop("payload", {"text": f"Pesan {key}"}),
                status=status,
                created_at=kw.pop("created_at", ago),
                **kw,
            )

        delivered = message(
            f"announcement:{sent.id}:{rina.id}",
            RINA_CHAT,
            rina.id,
            "sent",
            kind="announcement",
            payload={"text": "Apel pagi Senin"},
            sent_at=ago,
        )
        waiting = message(
            f"announcement:{received.id}:{rina.id}",
            RINA_CHAT,
            rina.id,
            "pending",
            kind="announcement",
            payload={"text": "Rapat dinas"},
        )
        notice = message(f"mutation_stage:{mutation.id}", RINA_CHAT, rina.id, "sent", sent_at=ago)
        old_chat = message("unlinked:old", RINA_OLD_CHAT, rina.id, "sent", sent_at=ago)
        to_boss = message(f"announcement:{sent.id}:{boss.id}", BOSS_CHAT, boss.id, "sent")
        session.add_all([delivered, waiting, notice, old_chat, to_boss])
        await session.flush()
        session.add_all(
            [
                AnnouncementRecipient(
                    announcement_id=sent.id, employee_id=rina.id, outbox_id=delivered.id
                ),
                AnnouncementRecipient(
                    announcement_id=sent.id, employee_id=boss.id, outbox_id=to_boss.id
                ),
                AnnouncementRecipient(
                    announcement_id=sent.id, employee_id=clerk.id, skipped="not_linked"
                ),
                AnnouncementRecipient(
                    announcement_id=received.id, employee_id=rina.id, outbox_id=waiting.id
                ),
            ]
        )

        session.add_all(
            [
                Draft(
                    telegram_user_id=RINA_CHAT,
                    flow="umumkan",
                    step="audience",
                    data={"content": {"text": DRAFT_TEXT}},
                    updated_at=utcnow() - dt.timedelta(hours=1),
                ),
                Draft(
                    telegram_user_id=BOSS_CHAT,
                    flow="umumkan",
                    step="content",
                    data={},
                    updated_at=utcnow() - dt.timedelta(hours=1),
                ),
                LinkAttempt(telegram_user_id=RINA_CHAT, method="phone", succeeded=False, at=ago),
                LinkAttempt(telegram_user_id=RINA_CHAT, method="phone", succeeded=True, at=ago),
                LinkAttempt(telegram_user_id=BOSS_CHAT, method="phone", succeeded=True, at=ago),
                ActivationCode(
                    employee_id=rina.id,
                    code_hash="a" * 64,
                    expires_at=ago,
                    used_at=ago - dt.timedelta(days=30),
                    used_by_telegram_id=RINA_OLD_CHAT,
                ),
                Upload(
                    telegram_user_id=RINA_CHAT,
                    employee_id=rina.id,
                    file_id="BQACAgUAAxkBAAIpegawai",
                    file_name="pegawai.xlsx",
                    status="imported",
                    kind="employees",
                    finished_at=ago,
                    result={"kind": "employees", "rows": 3},
                ),
                AuditLog(
                    actor_id=rina.id,
                    actor_label="telegram",
                    action="account_linked",
                    entity_type="employee",
                    entity_id=RINA_NIP,
                    details={"method": "phone", "telegram_user_id": RINA_CHAT},
                ),
                AuditLog(
                    actor_id=boss.id,
                    actor_label="telegram",
                    action="mutation_stage",
                    entity_type="mutation",
                    entity_id=str(mutation.id),
                    details={"from": "diusulkan", "to": "verifikasi"},
                ),
                AuditLog(
                    actor_id=rina.id,
                    actor_label="telegram",
                    action="evaluation_submitted",
                    entity_type="evaluation",
                    entity_id="999",
                    details={"employee_id": clerk.id, "username": f"@{RINA_USERNAME}"},
                ),
                AuditLog(
                    actor_id=None,
                    actor_label="cli",
                    action="import",
                    entity_type="employees",
                    details={"filename": "pegawai.csv", "rows": 3},
                ),
            ]
        )
        await session.flush()
        return Person(
            rina=rina.id,
            boss=boss.id,
            clerk=clerk.id,
            mutation=mutation.id,
            other_mutation=other.id,
            announcement_sent=sent.id,
            announcement_received=received.id,
            received_outbox=delivered.id,
            pending_announcement_outbox=waiting.id,
            notice_outbox=notice.id,
            boss_outbox=to_boss.id,
        )
