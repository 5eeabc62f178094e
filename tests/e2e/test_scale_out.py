"""Three bot processes in webhook mode on one PostgreSQL, and the leader killed mid-way.

The real command (``run_bot.py run --webhook``) runs three times; the emulator delivers the
updates round-robin over the three, as a load balancer in front of them would (a process
that refuses the connection is skipped). While HR writes an announcement to everyone, one
step per process, and training reminders fall due every few seconds, the scheduler's leader
is killed with SIGKILL. Afterwards:

- another process became the leader (its ``/healthz`` says so) and the reminders due after
  the kill were queued by it: every reminder was queued exactly once and arrived exactly
  once (but for rows the killed process had in flight: ``uncertain``, at most once);
- every recipient of the announcement got it exactly once (same exception), and HR got the
  one final report;
- HR's conversation went through more than one process;
- the sends of all processes together never exceeded ``SEND_RATE_GLOBAL`` in any second.
"""

from __future__ import annotations

import datetime as dt
import signal
import socket
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.emulator import RunningEmulator
from bot.i18n import get_translator
from storage.models import Announcement, OutboxMessage, Training, TrainingParticipant, utcnow
from tests.conftest import ON_POSTGRES
from tests.support.bot_child import RUN_BOT, BotChild
from tests.support.chat import has_text, shown, with_button
from tests.support.factories import add_linked_office
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ON_POSTGRES, reason="several processes need PostgreSQL"),
]

ID = get_translator("id")
Maker = async_sessionmaker[AsyncSession]

PROCESSES = 3
PEOPLE = 241  # HR and 240 staff: all get the announcement
FIRST_CHAT = 7_300_001
HR_CHAT = FIRST_CHAT
RATE = 40  # SEND_RATE_GLOBAL, shared by the three
TRAININGS = 6  # one training's reminders fall due every REMINDER_SPACING seconds
PARTICIPANTS = 20
REMINDER_SPACING = 3
SECRET = "rahasia-scale_out"
PUBLIC_URL = "https://bot.bukittinggi.example/telegram"
TEXT = "Pengumuman: layanan kepegawaian pindah ke Gedung B mulai Senin."


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def health(http: aiohttp.ClientSession, port: int) -> dict | None:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
            return await answer.json()
    except aiohttp.ClientError:
        return None


async def add_trainings(sessionmaker: Maker, staff: list[int]) -> dict[int, list[int]]:
    """Trainings starting a minute and a bit from now (``TRAINING_REMINDERS=1m``): the k-th
    one's reminders fall due ``REMINDER_SPACING * (k + 1)`` seconds from now. Training id ->
    its participants' employee ids."""
    now = utcnow()
    made: dict[int, list[int]] = {}
    async with sessionmaker() as session, session.begin():
        for k in range(TRAININGS):
            starts = now + dt.timedelta(minutes=1, seconds=REMINDER_SPACING * (k + 1))
            training = Training(
                code=f"SCALE-{k}",
                title=f"Pelatihan Layanan Prima {k}",
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=2),
                place="Aula Balai Kota",
            )
            session.add(training)
            await session.flush()
            chosen = staff[k * PARTICIPANTS : (k + 1) * PARTICIPANTS]
            await session.execute(
                insert(TrainingParticipant),
                [{"training_id": training.id, "employee_id": e} for e in chosen],
            )
            made[training.id] = chosen
    return made


async def outbox_rows(sessionmaker: Maker, kind: str) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(rows.all())


def bot_texts(emulator: RunningEmulator, chat_id: int) -> list[str]:
    chat = emulator.state.chats[chat_id]
    return [m.plain_text for m in list(chat.messages.values()) if m.from_bot]


async def test_three_webhook_processes_and_a_killed_leader(
    emulator: RunningEmulator, sessionmaker: Maker, database_url: str, tmp_path: Path
) -> None:
    chats = await add_linked_office(sessionmaker, people=PEOPLE, first_chat=FIRST_CHAT)
    employee_of = {chat: employee for employee, chat in chats.items()}
    for n in range(PEOPLE):
        emulator.state.create_user(FIRST_CHAT + n, "Admin" if n == 0 else f"Pegawai {n}")
    client = emulator.client
    # Telegram's flood control at the shared cap: a process overstepping it would meet 429s.
    await client.set_rate_limit(global_per_second=RATE)
    ports = free_ports(PROCESSES)
    environment = {
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "SEND_RATE_GLOBAL": str(RATE),
        "LEADER_RETRY_SECONDS": "1",
        "SCHEDULER_TICK_SECONDS": "1",
        "TRAINING_REMINDERS": "1m",
        "ANNOUNCEMENT_PROGRESS_SECONDS": "1",
    }
    children = [
        BotChild.on_emulator(
            tmp_path / f"bot-{port}.log",
            emulator,
            database_url,
            environment=environment,
            argv=[RUN_BOT, "run", "--webhook", "--no-migrate", "--port", str(port)],
        )
        for port in ports
    ]

    def logs() -> str:
        return "".join(child.output(25) for child in children)

    async with aiohttp.ClientSession() as http:
        try:
            for child in children:
                await child.start()

            async def all_healthy() -> bool:
                found = [await health(http, port) for port in ports]
                return all(h is not None and h["status"] == "ok" for h in found)

            await wait_until(all_healthy, 60, "three healthy processes", logs)

            async def leaders() -> list[int]:
                found = {port: await health(http, port) for port in ports}
                return [p for p, h in found.items() if h is not None and h["leader"]]

            async def one_leader() -> bool:
                return len(await leaders()) == 1

            await wait_until(one_leader, 30, "one leader", logs)
            assert len(await leaders()) == 1
            await client.set_webhook_backends([f"http://127.0.0.1:{p}/telegram" for p in ports])
            trainings = await add_trainings(sessionmaker, list(chats)[1:])

            # HR's conversation: each step may land on another process.
            await client.send_text(HR_CHAT, "/hr_umumkan")
            await client.wait_for_bot_message(
                HR_CHAT, has_text(ID("📣 New announcement")), timeout=60
            )
            await client.send_text(HR_CHAT, TEXT)
            menu = await client.wait_for_bot_message(HR_CHAT, with_button("umum:aud:all"))
            await client.press_button(HR_CHAT, menu["message_id"], "umum:aud:all")
            preview = await client.wait_for_bot_message(HR_CHAT, with_button("umum:send"))
            assert ID.ngettext("{n} recipient", "{n} recipients", PEOPLE) in shown(preview)
            await client.press_button(HR_CHAT, preview["message_id"], "umum:send")

            def announced() -> int:
                return sum(
                    bot_texts(emulator, FIRST_CHAT + n).count(TEXT) for n in range(1, PEOPLE)
                )

            async def a_third_arrived() -> bool:
                return announced() >= PEOPLE // 3

            await wait_until(a_third_arrived, 90, "a third of the announcement", logs)
            (leader_port,) = await leaders()
            leader = children[ports.index(leader_port)]
            assert await leader.kill() == -signal.SIGKILL
            killed_at = utcnow()
            survivors = [p for p in ports if p != leader_port]
            assert announced() < PEOPLE - 1, "the kill came too late to be in the middle"

            async def new_leader() -> bool:
                found = [await health(http, port) for port in survivors]
                return sum(1 for h in found if h is not None and h["leader"]) == 1

            await wait_until(new_leader, 60, "a new leader", logs)
            report = await client.wait_for_bot_message(
                HR_CHAT, with_button("siaran:xlsx"), timeout=120
            )

            reminders_due = TRAININGS * PARTICIPANTS

            async def reminders_done() -> bool:
                rows = await outbox_rows(sessionmaker, "training_reminder")
                return len(rows) == reminders_due and all(
                    r.status in ("sent", "uncertain") for r in rows
                )

            await wait_until(reminders_done, 120, "every reminder", logs)
            # A conversation started after the kill goes on across the survivors too.
            await client.send_text(HR_CHAT, "/hr_umumkan")
            await client.wait_for_bot_message(
                HR_CHAT, has_text(ID("📣 New announcement")), timeout=60
            )
            await client.send_text(HR_CHAT, "/batal")
            await client.wait_for_bot_message(
                HR_CHAT,
                has_text(ID("The announcement was not sent. Nothing was changed.")),
                timeout=60,
            )
            for port in survivors:
                child = children[ports.index(port)]
                assert await child.signal(signal.SIGTERM) == 0, "no clean stop" + child.output()
        finally:
            for child in children:
                await child.ensure_stopped()

    # Reminders: each queued once; each arrived once unless the killed process had it in
    # flight (uncertain: never sent again).
    reminder_rows = await outbox_rows(sessionmaker, "training_reminder")
    keys = Counter(r.idempotency_key for r in reminder_rows)
    assert len(keys) == reminders_due and max(keys.values()) == 1
    assert {(r.employee_id) for r in reminder_rows} == {
        e for chosen in trainings.values() for e in chosen
    }
    queued_after_kill = [r for r in reminder_rows if r.created_at > killed_at]
    assert queued_after_kill, "the new leader queued the reminders due after the kill"
    uncertain = [r for r in reminder_rows if r.status == "uncertain"]
    for row in reminder_rows:
        k = next(i for i, chosen in enumerate(trainings.values()) if row.employee_id in chosen)
        title = f"Pelatihan Layanan Prima {k}"
        got = sum(title in text for text in bot_texts(emulator, row.chat_id))
        if row.status == "sent":
            assert got == 1, (row.idempotency_key, got)
        else:
            assert got <= 1, (row.idempotency_key, got)

    # The announcement: exactly once each, the same exception.
    rows = await outbox_rows(sessionmaker, "announcement")
    assert {r.chat_id for r in rows} == set(chats.values())
    status = Counter(r.status for r in rows)
    assert set(status) <= {"sent", "uncertain"}, status
    for row in rows:
        got = bot_texts(emulator, row.chat_id).count(TEXT) - (row.chat_id == HR_CHAT)  # preview
        if row.status == "sent":
            assert got == 1, (row.chat_id, got)
        else:
            assert got <= 1, (row.chat_id, got)
            assert row.last_error == "sender stopped during delivery"
    uncertain += [r for r in rows if r.status == "uncertain"]
    assert all(employee_of.get(r.chat_id) is not None for r in uncertain)
    async with sessionmaker() as session:
        announcement = await session.get(Announcement, 1)
    assert announcement is not None and announcement.status == "done"
    hr = await client.bot_messages(HR_CHAT)
    assert [m["message_id"] for m in hr if with_button("siaran:xlsx")(m)] == [report["message_id"]]

    # HR's conversation went through more than one process.
    hr_updates = {
        u["update_id"]
        for u in emulator.state.update_history.values()
        if (u.get("message") or u.get("callback_query", {}).get("message") or {})
        .get("chat", {})
        .get("id")
        == HR_CHAT
    }
    deliveries = [d for d in await client.deliveries() if d["update_id"] in hr_updates]
    served_by = {d["url"] for d in deliveries if d["status"] == 200}
    assert len(served_by) >= 2, served_by

    # All processes together kept to the shared cap: no second held more, no 429.
    stats = await client.send_stats(window=1.0)
    assert 0 < stats["max_in_window"] <= RATE, stats
    assert not [c for c in await client.calls() if c["status"] == 429]
