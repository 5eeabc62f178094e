"""Export and erasure of one person's data (bot.personal_data), on both databases."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import BigInteger, func, select

from bot.linking import LinkStatus, link_by_phone
from bot.personal_data import ERASED_ACTION, erase, erasure_preview, export_document, to_json
from storage.models import (
    ActivationCode,
    Announcement,
    AuditLog,
    Base,
    Competency,
    Draft,
    Employee,
    Evaluation,
    LinkAttempt,
    Mutation,
    MutationEvent,
    OutboxMessage,
    TelegramUser,
    TrainingParticipant,
    Upload,
)
from storage.repositories.announcements import AnnouncementRepository
from storage.repositories.outbox import PURGED_PAYLOAD
from storage.repositories.personal_data import (
    ERASED,
    EXPORT_COVERAGE,
    NO_CHAT,
    NOT_PERSONAL,
)
from tests.privacy.support import (
    ABSENCE_REASON,
    BOSS_CHAT,
    DRAFT_TEXT,
    FEEDBACK_BY_RINA,
    FEEDBACK_OF_RINA,
    NOW,
    RINA_CHAT,
    RINA_NIP,
    RINA_OLD_CHAT,
    RINA_PHONE,
    RINA_USERNAME,
    Maker,
    Person,
    add_person,
)

# The export's sections that show each covered table's rows.
SECTIONS: dict[str, tuple[str, ...]] = {
    "employees": ("employee", "supervisor", "direct_reports"),
    "telegram_users": ("telegram_accounts",),
    "competencies": ("competencies",),
    "mutations": ("mutations", "mutations_as_new_supervisor"),
    "mutation_events": ("mutations", "mutation_events_recorded"),
    "trainings": ("trainings", "trainings_created"),
    "training_participants": ("trainings",),
    "evaluation_reopenings": ("evaluation_reopenings",),
    "evaluations": ("evaluations", "evaluations_written", "coaching_assigned"),
    "outbox": ("outbox_messages",),
    "audit_log": ("audit_log",),
    "activation_codes": ("activation_codes",),
    "link_attempts": ("link_attempts",),
    "uploads": ("uploads",),
    "drafts": ("drafts",),
    "announcements": ("announcements_handled",),
    "announcement_recipients": ("announcements_received",),
}


def _holds_telegram_id(table_name: str, column) -> bool:
    """A Telegram user or chat id (not a message or update id)."""
    name = column.name
    if table_name == "telegram_users" and name == "id":
        return True
    return (
        isinstance(column.type, BigInteger)
        and re.search(r"(^|_)(telegram_user_id|telegram_id|chat_id)$", name) is not None
    )


# --------------------------------------------------------------------------- coverage
def test_every_table_is_either_exported_or_declared_not_personal():
    tables = set(Base.metadata.tables)
    assert set(EXPORT_COVERAGE) | set(NOT_PERSONAL) == tables
    assert not set(EXPORT_COVERAGE) & set(NOT_PERSONAL)
    assert set(SECTIONS) == set(EXPORT_COVERAGE)


def test_every_reference_to_an_employee_or_a_telegram_id_is_covered():
    """A new column pointing at employees, or holding a Telegram user or chat id, must be
    named in EXPORT_COVERAGE (and exported) before this passes."""
    missing = []
    for table in Base.metadata.sorted_tables:
        covered = set(EXPORT_COVERAGE.get(table.name, ()))
        for column in table.columns:
            to_employee = any(fk.column.table.name == "employees" for fk in column.foreign_keys)
            if (to_employee or _holds_telegram_id(table.name, column)) and (
                column.name not in covered
            ):
                missing.append(f"{table.name}.{column.name}")
    assert missing == []
    # The detection itself sees what it must (a guard against a check that cannot fail).
    tables = Base.metadata.tables
    assert _holds_telegram_id("outbox", tables["outbox"].c.chat_id)
    assert _holds_telegram_id("activation_codes", tables["activation_codes"].c.used_by_telegram_id)
    assert _holds_telegram_id("drafts", tables["drafts"].c.telegram_user_id)
    assert not _holds_telegram_id("outbox", tables["outbox"].c.telegram_message_id)
    assert not _holds_telegram_id("processed_updates", tables["processed_updates"].c.update_id)


# --------------------------------------------------------------------------- export
async def _export(sessionmaker: Maker, nip: str = RINA_NIP) -> dict:
    async with sessionmaker() as session, session.begin():
        employee = await session.scalar(select(Employee).where(Employee.nip == nip))
        assert employee is not None
        document = await export_document(session, employee, now=NOW, timezone="Asia/Jakarta")
    return json.loads(to_json(document))


async def test_the_export_holds_every_section_with_iso_dates(sessionmaker):
    person = await add_person(sessionmaker)
    data = await _export(sessionmaker)
    for table, sections in SECTIONS.items():
        for section in sections:
            assert data[section], f"{table}: {section} is empty"
    assert data["export"]["coverage"] == {k: list(v) for k, v in EXPORT_COVERAGE.items()}
    assert data["export"]["generated_at"] == "2026-12-07T03:00:00+00:00"
    employee = data["employee"]
    assert (employee["nip"], employee["phone"], employee["telegram_user_id"]) == (
        RINA_NIP,
        RINA_PHONE,
        RINA_CHAT,
    )
    assert employee["post_since"] == "2019-01-02"
    assert dt.datetime.fromisoformat(employee["linked_at"]).tzinfo is not None
    assert data["unit"]["name"] == "Dinas Perhubungan"
    assert data["supervisor"]["nip"] == "197501012000031001"
    assert {a["id"] for a in data["telegram_accounts"]} == {RINA_CHAT, RINA_OLD_CHAT}
    assert [a["username"] for a in data["telegram_accounts"] if a["linked_now"]] == [RINA_USERNAME]
    (mutation,) = data["mutations"]
    assert [e["to_stage"] for e in mutation["events"]] == ["diusulkan", "verifikasi"]
    assert data["mutations_as_new_supervisor"][0]["mutation_id"] == person.other_mutation
    assert data["evaluations"][0]["feedback"] == FEEDBACK_OF_RINA
    assert data["evaluations"][0]["period"] == "2026-11"
    (written,) = data["evaluations_written"]
    assert written["feedback"] == FEEDBACK_BY_RINA
    assert written["employee"] == {"id": person.clerk, "nip": "199001012015051003"}
    assert "name" not in written["employee"]
    assert data["trainings"][0]["participation"]["absence_reason"] == ABSENCE_REASON
    assert data["talent"]["potential"] == "tinggi"
    assert data["drafts"][0]["data"]["content"]["text"] == DRAFT_TEXT
    assert [m["idempotency_key"] for m in data["outbox_messages"]] == [
        f"announcement:{person.announcement_sent}:{person.rina}",
        f"announcement:{person.announcement_received}:{person.rina}",
        f"mutation_stage:{person.mutation}",
        "unlinked:old",
    ]
    assert data["outbox_messages"][0]["payload"] == {"text": "Apel pagi Senin"}
    assert all(m["chat_id"] != BOSS_CHAT for m in data["outbox_messages"])
    assert all("code_hash" not in code for code in data["activation_codes"])
    assert "activation_codes.code_hash" in data["export"]["omitted"]
    actions = {(e["action"], e["by_them"], e["about_them"]) for e in data["audit_log"]}
    assert actions == {
        ("account_linked", True, True),
        ("mutation_stage", False, True),
        ("evaluation_submitted", True, False),
    }
    # Other people's Telegram data is not in it.
    text = to_json(data)
    assert "yusuf" not in text and str(BOSS_CHAT) not in text


async def test_a_purged_message_is_exported_without_content(sessionmaker):
    person = await add_person(sessionmaker)
    async with sessionmaker() as session, session.begin():
        row = await session.get(OutboxMessage, person.notice_outbox)
        assert row is not None
        row.payload, row.content_purged_at = PURGED_PAYLOAD, NOW
    data = await _export(sessionmaker)
    (notice,) = [m for m in data["outbox_messages"] if m["id"] == person.notice_outbox]
    assert notice["payload"] is None and notice["content_purged_at"] is not None
    assert notice["status"] == "sent"


# --------------------------------------------------------------------------- erase
async def _erase(sessionmaker: Maker) -> dict[str, int]:
    async with sessionmaker() as session, session.begin():
        employee = await session.scalar(select(Employee).where(Employee.nip == RINA_NIP))
        assert employee is not None
        return await erase(session, employee, actor_label="cli", now=NOW)


async def _count(sessionmaker: Maker, model, *where) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(model)
        return int(await session.scalar(query.where(*where) if where else query) or 0)


async def _snapshot(sessionmaker: Maker, person: Person) -> dict[str, int]:
    """What must survive an erasure: official records and other people's data."""
    return {
        "mutations": await _count(sessionmaker, Mutation),
        "events": await _count(sessionmaker, MutationEvent),
        "evaluations": await _count(sessionmaker, Evaluation),
        "participants": await _count(sessionmaker, TrainingParticipant),
        "competencies": await _count(sessionmaker, Competency),
        "boss_drafts": await _count(sessionmaker, Draft, Draft.telegram_user_id == BOSS_CHAT),
        "boss_attempts": await _count(
            sessionmaker, LinkAttempt, LinkAttempt.telegram_user_id == BOSS_CHAT
        ),
        "boss_user": await _count(sessionmaker, TelegramUser, TelegramUser.id == BOSS_CHAT),
        "boss_outbox": await _count(
            sessionmaker, OutboxMessage, OutboxMessage.id == person.boss_outbox
        ),
    }


async def test_erase_removes_the_telegram_side_and_keeps_the_official_records(sessionmaker):
    person = await add_person(sessionmaker)
    before = await _snapshot(sessionmaker, person)
    async with sessionmaker() as session, session.begin():
        figures_before = await AnnouncementRepository(session).figures([person.announcement_sent])
        employee = await session.get(Employee, person.rina)
        assert employee is not None
        preview = await erasure_preview(session, employee)
    assert preview.kept.mutations == 1 and preview.kept.evaluations_written == 1

    counts = await _erase(sessionmaker)
    assert counts == preview.counts
    assert counts == {
        "account_link": 1,
        "telegram_users": 2,  # the linked account and the one that redeemed her code
        "drafts": 1,
        "link_attempts": 2,
        "activation_codes": 1,
        "uploads": 1,
        "outbox_deleted": 2,  # the stage notice, the message in her old chat
        "outbox_stubbed": 2,  # the two announcement rows
        "announcements_chat": 1,
        "audit_details": 2,
    }
    assert await _snapshot(sessionmaker, person) == before

    async with sessionmaker() as session:
        rina = await session.get(Employee, person.rina)
        assert rina is not None
        assert (rina.telegram_user_id, rina.linked_at, rina.language) == (None, None, None)
        assert (rina.nip, rina.phone, rina.role) == (RINA_NIP, RINA_PHONE, "hr_admin")
        for model in (ActivationCode, Upload):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
        assert await session.get(TelegramUser, RINA_CHAT) is None
        assert await session.get(TelegramUser, RINA_OLD_CHAT) is None
        assert await session.get(OutboxMessage, person.notice_outbox) is None
        delivered = await session.get(OutboxMessage, person.received_outbox)
        waiting = await session.get(OutboxMessage, person.pending_announcement_outbox)
        assert delivered is not None and waiting is not None
        assert (delivered.status, delivered.payload, delivered.chat_id) == (
            "sent",
            PURGED_PAYLOAD,
            NO_CHAT,
        )
        assert delivered.sent_at is not None and delivered.content_purged_at == NOW
        assert (waiting.status, waiting.payload) == ("cancelled", PURGED_PAYLOAD)
        sent = await session.get(Announcement, person.announcement_sent)
        assert sent is not None and sent.chat_id == NO_CHAT
        assert sent.content == {"text": "Apel pagi Senin"}  # HR's announcement itself stays
        figures_after = await AnnouncementRepository(session).figures([person.announcement_sent])
        entries = {e.action: e for e in await session.scalars(select(AuditLog))}
        remaining = await session.scalar(
            select(func.count()).select_from(Evaluation).where(Evaluation.feedback.is_not(None))
        )
    # The announcement's figures do not change: her row is still counted as sent.
    assert figures_after[person.announcement_sent].by_state == (
        figures_before[person.announcement_sent].by_state
    )
    assert remaining == 2
    assert entries["account_linked"].details == {"method": "phone", "telegram_user_id": ERASED}
    assert entries["evaluation_submitted"].details["username"] == ERASED
    erased = entries[ERASED_ACTION]
    assert (erased.entity_type, erased.entity_id, erased.actor_label) == (
        "employee",
        RINA_NIP,
        "cli",
    )
    recorded = json.dumps(erased.details)
    for quoted in (str(RINA_CHAT), RINA_USERNAME, DRAFT_TEXT, RINA_PHONE, "Apel"):
        assert quoted not in recorded
    assert erased.details["erased"]["drafts"] == 1


async def test_erasing_twice_finds_nothing_and_writes_nothing(sessionmaker):
    await add_person(sessionmaker)
    assert any((await _erase(sessionmaker)).values())
    audit = await _count(sessionmaker, AuditLog)
    again = await _erase(sessionmaker)
    assert not any(again.values())
    assert await _count(sessionmaker, AuditLog) == audit
    data = await _export(sessionmaker)
    for section in ("telegram_accounts", "drafts", "link_attempts", "activation_codes", "uploads"):
        assert data[section] == [], section
    assert all(m["payload"] is None for m in data["outbox_messages"])
    assert data["employee"]["telegram_user_id"] is None
    assert data["evaluations"] and data["mutations"] and data["trainings"]


async def test_after_erasure_the_person_can_link_again(sessionmaker):
    person = await add_person(sessionmaker)
    await _erase(sessionmaker)
    async with sessionmaker() as session, session.begin():
        result = await link_by_phone(session, RINA_CHAT, RINA_CHAT, "0812-3456-7890", now=NOW)
    assert result.status is LinkStatus.LINKED and result.employee_id == person.rina


async def test_an_id_now_linked_to_someone_else_is_not_erased(sessionmaker):
    """Rina's old account now belongs to the clerk: his profile and drafts stay."""
    person = await add_person(sessionmaker)
    async with sessionmaker() as session, session.begin():
        clerk = await session.get(Employee, person.clerk)
        assert clerk is not None
        clerk.telegram_user_id = RINA_OLD_CHAT
        session.add(Draft(telegram_user_id=RINA_OLD_CHAT, flow="x", step="y", data={}))
    counts = await _erase(sessionmaker)
    assert counts["telegram_users"] == 1
    async with sessionmaker() as session:
        assert await session.get(TelegramUser, RINA_OLD_CHAT) is not None
        assert await session.scalar(
            select(func.count()).select_from(Draft).where(Draft.telegram_user_id == RINA_OLD_CHAT)
        )


@pytest.mark.parametrize("section", ["outbox_messages", "drafts", "link_attempts"])
async def test_an_employee_with_nothing_has_empty_sections(sessionmaker, section):
    await add_person(sessionmaker)
    data = await _export(sessionmaker, "199001012015051003")  # the clerk: no Telegram
    assert data[section] == []
    assert data["telegram_accounts"] == []
