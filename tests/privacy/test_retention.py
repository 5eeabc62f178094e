"""Retention (bot.retention): delivered messages' contents purged after MESSAGE_RETENTION_DAYS,
stale drafts deleted, finished uploads' file ids forgotten; nothing that reads them breaks."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Settings
from bot.delivery import Sender, build_call, delivery_bot
from bot.emulator import run_emulator
from bot.i18n import get_translator
from bot.retention import purge_all_expired, purge_expired_contents, retention_cutoff
from storage.models import Draft, Employee, OutboxMessage, Upload, utcnow
from storage.repositories.announcements import AnnouncementRepository
from storage.repositories.outbox import PURGED_PAYLOAD, OutboxRepository
from tests.delivery.conftest import drain
from tests.handlers.conftest import running_app
from tests.privacy.support import BOSS_CHAT, NOW, Maker, Person, add_person
from tests.support.telegram import TOKEN, FileServingRequest, callback_update, message_update

ID = get_translator("id")
OLD = NOW - dt.timedelta(days=91)
RECENT = NOW - dt.timedelta(days=89)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


async def _add(sessionmaker: Maker, key: str, status: str, **values) -> int:
    async with sessionmaker() as session, session.begin():
        row = OutboxMessage(
            idempotency_key=key,
            chat_id=6680001,
            kind="notice",
            payload={"text": f"isi {key}"},
            status=status,
            created_at=values.pop("created_at", OLD),
            **values,
        )
        session.add(row)
        await session.flush()
        return row.id


async def _rows(sessionmaker: Maker) -> dict[str, OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage))
        return {row.idempotency_key: row for row in rows}


async def _purge(sessionmaker: Maker, before: dt.datetime, limit: int = 100) -> int:
    async with sessionmaker() as session, session.begin():
        return await OutboxRepository(session).purge_contents(before, limit, now=NOW)


# --------------------------------------------------------------------------- the outbox
async def test_only_finished_rows_older_than_the_cutoff_lose_their_content(sessionmaker):
    for status in ("sent", "failed", "blocked", "uncertain", "cancelled"):
        await _add(sessionmaker, f"old-{status}", status, sent_at=OLD)
    await _add(sessionmaker, "failed-never-sent", "failed")  # created long ago, no sent_at
    await _add(sessionmaker, "created-old-sent-recently", "sent", sent_at=RECENT)
    await _add(sessionmaker, "recent", "sent", created_at=RECENT, sent_at=RECENT)
    await _add(sessionmaker, "pending", "pending")
    await _add(sessionmaker, "sending", "sending")
    cutoff = NOW - dt.timedelta(days=90)

    assert await _purge(sessionmaker, cutoff) == 6
    rows = await _rows(sessionmaker)
    purged = {key for key, row in rows.items() if row.content_purged_at is not None}
    assert purged == {
        "old-sent",
        "old-failed",
        "old-blocked",
        "old-uncertain",
        "old-cancelled",
        "failed-never-sent",
    }
    for key in purged:
        assert rows[key].payload == PURGED_PAYLOAD and rows[key].content_purged_at == NOW
    for key in set(rows) - purged:
        assert rows[key].payload == {"text": f"isi {key}"}
    # Status and times stay: HR's figures are the same.
    assert (rows["old-sent"].status, rows["old-sent"].sent_at) == ("sent", OLD)
    assert await _purge(sessionmaker, cutoff) == 0  # already purged rows are left alone


async def test_purging_goes_in_batches(sessionmaker):
    for n in range(5):
        await _add(sessionmaker, f"m{n}", "sent", sent_at=OLD)
    batches = [await _purge(sessionmaker, NOW, limit=2) for _ in range(4)]
    assert batches == [2, 2, 1, 0]
    assert await _purge(sessionmaker, NOW, limit=0) == 0


async def test_the_service_follows_message_retention_days(sessionmaker, database_url):
    await _add(sessionmaker, "forty-days", "sent", sent_at=NOW - dt.timedelta(days=40))
    default = Settings(database_url=database_url, _env_file=None)
    assert default.message_retention_days == 90
    assert retention_cutoff(default, NOW) == NOW - dt.timedelta(days=90)
    async with sessionmaker() as session, session.begin():
        assert await purge_expired_contents(session, default, NOW) == 0
    shorter = Settings(database_url=database_url, message_retention_days=30, _env_file=None)
    async with sessionmaker() as session, session.begin():
        assert await purge_expired_contents(session, shorter, NOW) == 1
    assert (await _rows(sessionmaker))["forty-days"].payload == PURGED_PAYLOAD


async def test_a_backlog_is_worked_off_in_short_transactions(sessionmaker, database_url):
    for n in range(7):
        await _add(sessionmaker, f"m{n}", "sent", sent_at=OLD)
    settings = Settings(database_url=database_url, _env_file=None)
    assert await purge_all_expired(sessionmaker, settings, NOW, batch=3) == 7
    assert all(row.content_purged_at for row in (await _rows(sessionmaker)).values())


# --------------------------------------------------------------------------- drafts, uploads
async def test_stale_drafts_and_old_upload_files_are_forgotten(sessionmaker, database_url):
    person = await add_person(sessionmaker)
    async with sessionmaker() as session, session.begin():
        session.add_all(
            [
                Draft(
                    telegram_user_id=1,
                    flow="umumkan",
                    step="content",
                    data={"content": {"text": "lama"}},
                    updated_at=utcnow() - dt.timedelta(hours=26),
                ),
                Draft(
                    telegram_user_id=2,
                    flow="umumkan",
                    step="content",
                    data={},
                    updated_at=utcnow() - dt.timedelta(hours=2),
                ),
                Upload(
                    telegram_user_id=1,
                    employee_id=person.rina,
                    file_id="old-file",
                    status="imported",
                    created_at=OLD,
                    finished_at=OLD,
                ),
                Upload(
                    telegram_user_id=1,
                    employee_id=person.rina,
                    file_id="old-but-pending",
                    status="pending",
                    created_at=OLD,
                ),
            ]
        )
    settings = Settings(database_url=database_url, _env_file=None)
    async with sessionmaker() as session, session.begin():
        assert await purge_expired_contents(session, settings, NOW) == 2  # a draft, a file id
    async with sessionmaker() as session:
        users = set(await session.scalars(select(Draft.telegram_user_id)))
        files = set(await session.scalars(select(Upload.file_id)))
    assert 1 not in users and 2 in users  # 26 hours untouched: gone; 2 hours: kept
    assert files == {"", "old-but-pending", "BQACAgUAAxkBAAIpegawai"}  # old & finished: blank


# --------------------------------------------------------------------------- readers
async def _purge_all(sessionmaker: Maker) -> int:
    return await _purge(sessionmaker, NOW + dt.timedelta(days=1), limit=1000)


async def test_announcement_figures_and_report_survive_a_purge(sessionmaker, settings):
    person: Person = await add_person(sessionmaker)
    async with sessionmaker() as session:
        repo = AnnouncementRepository(session)
        figures = (await repo.figures([person.announcement_sent]))[person.announcement_sent]
        recipients = await repo.recipients(person.announcement_sent)
    assert await _purge_all(sessionmaker) > 0
    async with sessionmaker() as session:
        repo = AnnouncementRepository(session)
        again = (await repo.figures([person.announcement_sent]))[person.announcement_sent]
        assert again.by_state == figures.by_state
        assert await repo.recipients(person.announcement_sent) == recipients
        info = await repo.get(person.announcement_sent)
        assert info is not None and info.content == {"text": "Apel pagi Senin"}

    # HR downloads the recipients of the announcement (Yusuf is the HR admin here).
    async with await _app_with_hr(settings, sessionmaker, person) as (app, request):
        request.clear()
        await app.process_update(
            callback_update(app, BOSS_CHAT, f"siaran:xlsx:{person.announcement_sent}")
        )
        ((_, content),) = request.uploaded
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert any("198609262015051001" in [str(v) for v in row] for row in rows)


async def _app_with_hr(settings: Settings, sessionmaker: Maker, person: Person):
    async with sessionmaker() as session, session.begin():
        boss = await session.get(Employee, person.boss)
        assert boss is not None
        boss.role = "hr_admin"
    return running_app(settings, FileServingRequest())


async def test_the_delivery_screens_show_purged_uncertain_rows(sessionmaker, settings):
    person = await add_person(sessionmaker)
    async with sessionmaker() as session, session.begin():
        row = await session.get(OutboxMessage, person.notice_outbox)
        assert row is not None
        row.status = "uncertain"
    assert await _purge_all(sessionmaker) > 0
    async with await _app_with_hr(settings, sessionmaker, person) as (app, request):
        request.clear()
        await app.process_update(message_update(app, BOSS_CHAT, "/hr_kirim"))
        (figures,) = request.sent()
        assert ID("Uncertain: {n}", n="1") in figures["text"]
        request.clear()
        await app.process_update(callback_update(app, BOSS_CHAT, "kirim:list"))
        (shown,) = request.sent("editMessageText")
        assert "<code>notice</code> — Rina Marlina, S.E." in shown["text"]
        assert f"r:{person.notice_outbox}" in str(shown["reply_markup"])


@pytest.mark.e2e
async def test_a_purged_uncertain_message_sent_again_fails_and_reaches_nobody(sessionmaker):
    row_id = await _add(sessionmaker, "lost", "uncertain", sent_at=None)
    assert await _purge_all(sessionmaker) == 1
    with pytest.raises(ValueError):
        build_call(None, 6680001, PURGED_PAYLOAD)  # type: ignore[arg-type]
    async with sessionmaker() as session, session.begin():
        assert await OutboxRepository(session).resolve_uncertain(row_id, resend=True)
    async with run_emulator(bot_username="bukittinggi_asn_bot") as emulator:
        await emulator.client.create_user(6680001, "Pegawai")
        bot = delivery_bot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url)
        await bot.request.initialize()
        try:
            counts = await drain(Sender(sessionmaker), bot, sessionmaker)
        finally:
            await bot.request.shutdown()
        assert await emulator.client.bot_messages(6680001) == []
    assert counts["failed"] == 1
    row = (await _rows(sessionmaker))["lost"]
    assert "unusable payload" in (row.last_error or "")
