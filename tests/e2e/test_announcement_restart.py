"""An announcement to 3,000 people survives a SIGKILL of the bot (SQLite and PostgreSQL).

The real bot runs as a child process (``tests.support.bot_child``: ``build_application`` from
the settings, ``run_polling``) against the emulator; HR sends an announcement to all through
chat; when about a third has arrived the child is killed with SIGKILL and a new one started.
Afterwards: no chat got the announcement twice; every recipient's outbox row is ``sent``
(exactly one copy in the chat, the stored message id is that copy) or ``uncertain`` (a row
the killed process had marked in flight: it may or may not have arrived, and is never sent
again), the uncertain ones at most one wave of the sender; ``sent + uncertain == 3000``; HR's
progress message went on in place and HR got exactly one final report.

The sender runs at 500 messages/s here (Telegram allows ~30/s; see ``bot_child``), claiming
batches of 300 rows and marking them in flight in waves of 100 (``global_rate *
wave_seconds``): the bound on the uncertain rows is the wave (plus the previous wave's
outcomes not yet stored), not the batch.

Also: a process that stopped while sending HR's first progress message (its claim,
``progress_message_id = 0``, left behind) does not leave HR without progress for good.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.announcements import confirm
from bot.emulator import RunningEmulator
from bot.i18n import get_translator
from storage.models import Announcement, OutboxMessage, utcnow
from storage.repositories.announcements import PROGRESS_CLAIM, PROGRESS_SENDING
from tests.e2e.conftest import LiveBot
from tests.evaluations import office as small_office
from tests.support.bot_child import BotChild
from tests.support.chat import has_text, shown, with_button
from tests.support.factories import add_linked_office
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

ID = get_translator("id")
Maker = async_sessionmaker[AsyncSession]

TOTAL = 3000
FIRST_CHAT = 7800001
HR_CHAT = FIRST_CHAT  # HR is one of the 3,000 (everyone active gets an announcement to all)
RATE = 500.0
BATCH = 300
WAVE = 100
WAVE_SECONDS = WAVE / RATE
# Rows that may be marked in flight with no outcome stored at any moment: the wave being sent,
# and at most the previous wave's outcomes not yet stored (they are stored every 50 ms, but a
# write can take a while): two waves, below the batch.
IN_FLIGHT_BOUND = 2 * WAVE
LEASE = 3.0  # a killed sender's rows come back (or become uncertain) after this
DELIVERY = {
    "global_rate": RATE,
    "batch_size": BATCH,
    "wave_seconds": WAVE_SECONDS,
    "lease_seconds": LEASE,
    "poll_interval": 0.2,
}
TEXT = "Pengumuman: apel akbar HUT Kota Bukittinggi, Senin pukul 07.30 di Lapangan Kantin."


async def add_people(sessionmaker: Maker, emulator: RunningEmulator) -> dict[int, int]:
    """HR and 2,999 staff, all linked, with emulator users: employee id -> chat."""
    chats = await add_linked_office(sessionmaker, people=TOTAL, first_chat=FIRST_CHAT)
    # In-process: 3,000 users in a few milliseconds (the control API would take seconds).
    for n in range(TOTAL):
        emulator.state.create_user(FIRST_CHAT + n, "Admin" if n == 0 else f"Pegawai {n}")
    return chats


def copies(emulator: RunningEmulator, skip: set[int]) -> dict[int, list[int]]:
    """chat -> ids of the bot's messages showing the announcement (but those in ``skip``)."""
    found: dict[int, list[int]] = {}
    for chat_id in range(FIRST_CHAT, FIRST_CHAT + TOTAL):
        chat = emulator.state.chats[chat_id]
        found[chat_id] = [
            m.message_id
            for m in list(chat.messages.values())
            if m.from_bot and m.plain_text == TEXT and m.message_id not in skip
        ]
    return found


async def announcement_rows(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like("announcement:1:%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows.all())


async def test_sigkill_in_the_middle_of_3000_and_a_restart_send_each_at_most_once(
    emulator: RunningEmulator, sessionmaker: Maker, database_url: str, tmp_path: Path
):
    started = time.monotonic()
    chats = await add_people(sessionmaker, emulator)
    client = emulator.client

    def child(name: str) -> BotChild:
        return BotChild.on_emulator(
            tmp_path / f"{name}.log", emulator, database_url, delivery=DELIVERY
        )

    first, second = child("bot-1"), child("bot-2")
    try:
        await first.start()
        await client.send_text(HR_CHAT, "/hr_umumkan")
        await client.wait_for_bot_message(HR_CHAT, has_text(ID("📣 New announcement")), timeout=60)
        await client.send_text(HR_CHAT, TEXT)
        menu = await client.wait_for_bot_message(HR_CHAT, with_button("umum:aud:all"))
        await client.press_button(HR_CHAT, menu["message_id"], "umum:aud:all")
        preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
        assert ID.ngettext("{n} recipient", "{n} recipients", TOTAL) in shown(preview)
        # HR's own chat holds the preview: exactly the announcement, sent before it went out.
        preview_copy = {message_id for message_id in copies(emulator, set())[HR_CHAT]}
        assert len(preview_copy) == 1
        await client.press_button(HR_CHAT, preview["message_id"], "umum:send")
        sent_at = time.monotonic()

        async def a_third_arrived() -> bool:
            assert first.running, "the bot died" + first.output()
            return sum(map(len, copies(emulator, preview_copy).values())) >= TOTAL // 3

        # Not too often: the emulator shares this process.
        await wait_until(
            a_third_arrived, 60, "a third of the announcement", first.output, every=0.1
        )
        assert await first.kill() == -signal.SIGKILL
        killed_at = time.monotonic()
        at_kill = sum(map(len, copies(emulator, preview_copy).values()))
        # What the killed bot held: claimed with no outcome recorded ...
        held = [r for r in await announcement_rows(sessionmaker) if r.status == "sending"]
        # ... and of those, the rows marked in flight: their request may have left.
        marked = {r.id for r in held if r.attempt_started_at is not None}
        assert at_kill < TOTAL, "the kill came too late to be in the middle"
        assert len(held) <= BATCH, len(held)
        assert len(marked) <= IN_FLIGHT_BOUND, len(marked)

        await second.start()
        report = await client.wait_for_bot_message(HR_CHAT, with_button("siaran:xlsx"), timeout=90)
        finished_at = time.monotonic()

        async def progress_final() -> bool:
            messages = await client.bot_messages(HR_CHAT)
            return any(
                shown(m) == shown(report) and m["message_id"] != report["message_id"]
                for m in messages
            )

        # The last edit of the progress message may come just after the report.
        await wait_until(progress_final, 10, "the final figures on the progress message")
        assert await second.signal(signal.SIGTERM) == 0, "no clean stop" + second.output()
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()

    rows = await announcement_rows(sessionmaker)
    assert len(rows) == TOTAL
    assert {r.chat_id for r in rows} == set(chats.values())
    status = Counter(r.status for r in rows)
    assert set(status) <= {"sent", "uncertain"}, status
    assert status["sent"] + status["uncertain"] == TOTAL

    received = copies(emulator, preview_copy)
    assert max(map(len, received.values())) <= 1, "a chat got the announcement twice"
    uncertain_arrived = 0
    for row in rows:
        got = received[row.chat_id]
        if row.status == "sent":
            assert got == [row.telegram_message_id], (row.id, got, row.telegram_message_id)
        else:
            # Only a row the killed bot had marked in flight may be uncertain.
            assert row.id in marked, (row.id, row.status, row.last_error)
            assert row.last_error == "sender stopped during delivery"
            uncertain_arrived += len(got)
    assert sum(map(len, received.values())) == status["sent"] + uncertain_arrived
    # Only what the killed sender had marked: about a wave (global_rate * wave_seconds).
    assert status["uncertain"] <= len(marked) <= IN_FLIGHT_BOUND < BATCH

    async with sessionmaker() as session:
        announcement = await session.get(Announcement, 1)
        reports = list(
            (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == "announcement_report")
                )
            ).all()
        )
    assert announcement is not None and announcement.status == "done"
    assert announcement.finished_at is not None
    assert [(r.idempotency_key, r.status) for r in reports] == [
        ("announcement-report:1:first", "sent")
    ]
    hr_messages = await client.bot_messages(HR_CHAT)
    assert [m["message_id"] for m in hr_messages if with_button("siaran:xlsx")(m)] == [
        report["message_id"]
    ]
    assert ID(
        "{sent} of {total} received it", sent=ID.number(status["sent"]), total=ID.number(TOTAL)
    ) in shown(report)
    if status["uncertain"]:
        assert ID("uncertain {n}", n=ID.number(status["uncertain"])) in shown(report)
    # One progress message for the whole announcement: the new process edited the same one.
    sending = ID("📣 Announcement #{id}: sending", id=1)
    progress = [m for m in hr_messages if sending in str(m.get("original") or shown(m))]
    assert len(progress) == 1, [shown(m) for m in progress]
    assert shown(progress[0]) == shown(report)

    print(
        f"3,000 recipients: killed after {at_kill} delivered ({killed_at - sent_at:.1f} s); "
        f"held by the killed bot {len(held)}, marked in flight {len(marked)} "
        f"(wave {WAVE}, batch {BATCH}); sent {status['sent']}, uncertain {status['uncertain']} "
        f"({uncertain_arrived} of them arrived); restart to final report "
        f"{finished_at - killed_at:.1f} s; whole test {time.monotonic() - started:.1f} s"
    )


async def test_a_progress_message_claimed_by_a_stopped_process_is_sent_after_all(
    live_bot: LiveBot, sessionmaker: Maker
):
    """As if the previous process had claimed the first progress message (``0``) a while
    ago and died before Telegram answered (a crash, or a stop cancelling the job during
    ``send_message``): the announcement is sent and reported, and HR still gets the progress
    message (showing, at the end, the final figures) once the claim has gone stale."""
    client = live_bot.client
    office = await small_office.add_office(sessionmaker)
    users = {
        small_office.HR_CHAT: "Admin",
        small_office.HEAD_CHAT: "Yusuf",
        small_office.BOSS_CHAT: "Sari",
        small_office.BOSS2_CHAT: "Hendra",
    }
    for chat, name in users.items():
        await client.create_user(chat, name)
    async with sessionmaker() as session, session.begin():
        confirmed = await confirm(
            session,
            actor_id=office.hr,
            chat_id=small_office.HR_CHAT,
            content={"text": TEXT},
            audience={"kind": "supervisors"},
            send_at=utcnow(),
            scheduled=False,
            now=utcnow(),
        )
        await session.execute(
            update(Announcement)
            .where(Announcement.id == confirmed.id)
            .values(
                progress_message_id=PROGRESS_SENDING,  # claimed, the message never came
                progress_edited_at=utcnow() - PROGRESS_CLAIM - dt.timedelta(seconds=1),
            )
        )
    report = await client.wait_for_bot_message(
        small_office.HR_CHAT, with_button("siaran:xlsx"), timeout=15
    )
    assert ID("{sent} of {total} received it", sent="3", total="3") in shown(report)

    async def others() -> list[str]:
        return [
            shown(m)
            for m in await client.bot_messages(small_office.HR_CHAT)
            if m["message_id"] != report["message_id"]
        ]

    async def progress_final() -> bool:
        return await others() == [shown(report)]

    # The last edit may come just after the report: both take a turn in HR's chat.
    with contextlib.suppress(AssertionError):
        await wait_until(progress_final, 5, "the progress message")
    assert await others() == [shown(report)], "no progress message for HR"
