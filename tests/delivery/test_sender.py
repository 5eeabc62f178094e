"""The sender over real HTTP against the local Bot API emulator, on SQLite or PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot import metrics
from bot.delivery import Sender
from bot.emulator import RunningEmulator
from storage.models import Employee, OutboxMessage, utcnow
from storage.repositories.outbox import OutboxRepository
from tests.delivery.conftest import drain, enqueue, row_by_key, rows
from tests.support.factories import add_unit_with_staff

pytestmark = pytest.mark.e2e

USERS = [6680001, 6680002, 6680003, 6680004, 6680005]


def png_bytes() -> bytes:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_sender(sessionmaker: async_sessionmaker[AsyncSession], **options: Any) -> Sender:
    options.setdefault("backoff_base", 0.05)
    return Sender(sessionmaker, **options)


async def bot_messages(emulator: RunningEmulator, chat_id: int) -> list[dict[str, Any]]:
    return await emulator.client.bot_messages(chat_id)


async def send_calls(emulator: RunningEmulator, chat_id: int | None = None) -> list[dict]:
    calls = [
        c
        for c in await emulator.client.calls()
        if c["method"] in ("sendMessage", "sendPhoto", "sendDocument")
    ]
    if chat_id is None:
        return calls
    return [c for c in calls if int(c["params"]["chat_id"]) == chat_id]


@pytest.fixture
async def users(emulator: RunningEmulator) -> list[int]:
    for n, user in enumerate(USERS):
        await emulator.client.create_user(user, f"Pegawai {n}")
    return USERS


async def test_twenty_messages_to_five_users_are_each_delivered_once_and_paced(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    for n in range(20):
        await enqueue(sessionmaker, f"notice:{n}", users[n % 5], {"text": f"Pesan {n}"})
    sender = make_sender(sessionmaker, per_chat_rate=5, batch_size=8)

    counts = await drain(sender, bot, sessionmaker)

    assert counts["sent"] == 20
    stored = {r.idempotency_key: r for r in await rows(sessionmaker)}
    for index, user in enumerate(users):
        messages = await bot_messages(emulator, user)
        expected = [f"Pesan {n}" for n in range(index, 20, 5)]
        assert [m["plain_text"] for m in messages] == expected  # once each, in order
        for m, n in zip(messages, range(index, 20, 5), strict=True):
            assert stored[f"notice:{n}"].telegram_message_id == m["message_id"]
        # Per-chat pacing (5/s here): request start times recorded by the emulator.
        times = [c["time"] for c in await send_calls(emulator, user)]
        assert len(times) == 4
        assert all(b - a >= 0.15 for a, b in itertools.pairwise(times))


async def test_inline_keyboard_document_and_photo(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
):
    user = users[0]
    keyboard = {"inline_keyboard": [[{"text": "Hadir", "callback_data": "att:1:yes"}]]}
    report = b"nip;nama\n1;Rina\n"
    picture = tmp_path / "grafik.png"
    picture.write_bytes(png_bytes())
    await enqueue(
        sessionmaker,
        "training:1",
        user,
        {"text": "<b>Pelatihan</b> besok", "parse_mode": "HTML", "reply_markup": keyboard},
    )
    await enqueue(
        sessionmaker,
        "report:1",
        user,
        {
            "document": {"bytes_b64": base64.b64encode(report).decode(), "filename": "r.csv"},
            "caption": "Laporan",
        },
    )
    await enqueue(
        sessionmaker,
        "chart:1",
        user,
        {"photo": {"bytes_b64": base64.b64encode(png_bytes()).decode()}, "caption": "Grafik"},
    )
    await enqueue(sessionmaker, "chart:2", user, {"photo": {"path": str(picture)}})
    sender = make_sender(sessionmaker, per_chat_rate=20)

    assert (await drain(sender, bot, sessionmaker))["sent"] == 4

    text, document, photo, photo_from_path = await bot_messages(emulator, user)
    assert text["plain_text"] == "Pelatihan besok"
    assert text["reply_markup"] == keyboard
    assert document["kind"] == "document" and document["plain_caption"] == "Laporan"
    assert document["document"]["file_name"] == "r.csv"
    assert await emulator.client.download_file(document["document"]["file_id"]) == report
    assert photo["kind"] == "photo" and photo["plain_caption"] == "Grafik"
    assert photo_from_path["kind"] == "photo"

    # A file Telegram already has is sent again by its file_id.
    await enqueue(
        sessionmaker,
        "report:again",
        user,
        {"document": {"file_id": document["document"]["file_id"]}},
    )
    assert (await drain(sender, bot, sessionmaker))["sent"] == 5
    again = (await bot_messages(emulator, user))[-1]
    assert again["document"]["file_id"] == document["document"]["file_id"]


async def test_blocked_user_is_marked_unreachable_and_never_retried(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    user = users[0]
    _, staff_id = await add_unit_with_staff(sessionmaker, staff_telegram_id=user)
    await emulator.client.block_user(user)
    await enqueue(sessionmaker, "a", user, employee_id=staff_id)
    await enqueue(sessionmaker, "b", user, employee_id=staff_id)
    await enqueue(sessionmaker, "c", users[1])
    sender = make_sender(sessionmaker)

    counts = await drain(sender, bot, sessionmaker)
    assert (counts["blocked"], counts["sent"]) == (2, 1)
    assert await sender.run_once(bot) == 0  # nothing comes back

    assert len(await send_calls(emulator, user)) == 1  # "b" was not even tried
    first = await row_by_key(sessionmaker, "a")
    assert "blocked" in (first.last_error or "")
    assert (
        await row_by_key(sessionmaker, "b")
    ).last_error == f"chat blocked the bot (outbox #{first.id})"
    async with sessionmaker() as session:
        employee = await session.get(Employee, staff_id)
        assert employee is not None
        assert not employee.reachable and employee.blocked_at is not None


async def test_429_pauses_all_sending_then_delivers_once(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    flooded, other = users[0], users[1]
    await emulator.client.add_fault("429", chat_id=flooded, count=1, retry_after=2)
    await enqueue(sessionmaker, "flooded", flooded)
    await enqueue(sessionmaker, "other", other)
    # 1/s overall: the second chat's slot (a second later) comes after the 429 has been seen,
    # in the middle of the two-second pause.
    sender = make_sender(sessionmaker, global_rate=1)
    refusals = metrics.sample("bot_telegram_429_total")
    pushed = metrics.sample("bot_messages_sent_total", {"source": "outbox"})

    assert await sender.run_once(bot) == 2
    assert sender.paused_for() > 0
    assert metrics.sample("bot_telegram_429_total") == refusals + 1
    assert await sender.run_once(bot) == 0  # paused: claims nothing
    counts = await drain(sender, bot, sessionmaker)

    assert counts["sent"] == 2
    assert metrics.sample("bot_messages_sent_total", {"source": "outbox"}) == pushed + 2
    calls = [
        (int(c["params"]["chat_id"]), c["status"], c["time"]) for c in await send_calls(emulator)
    ]
    assert calls[0][:2] == (flooded, 429)
    assert sorted(call[:2] for call in calls[1:]) == sorted([(flooded, 200), (other, 200)])
    refused_at = calls[0][2]
    assert all(at - refused_at >= 1.9 for _, _, at in calls[1:])  # nobody sent during the pause
    for user in (flooded, other):
        assert len(await bot_messages(emulator, user)) == 1
    row = await row_by_key(sessionmaker, "flooded")
    assert row.attempts == 0  # a 429 is not the message's fault


async def test_timeout_after_the_request_left_is_uncertain_and_not_resent(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    user = users[0]
    await emulator.client.add_fault("timeout", chat_id=user, count=1, delay=1.0)
    await enqueue(sessionmaker, "slow", user)
    sender = make_sender(sessionmaker, read_timeout=0.3)

    counts = await drain(sender, bot, sessionmaker)

    assert counts["uncertain"] == 1
    assert await sender.run_once(bot) == 0
    assert len(await send_calls(emulator, user)) == 1
    assert len(await bot_messages(emulator, user)) == 1  # Telegram did deliver it
    async with sessionmaker() as session:
        [entry] = await OutboxRepository(session).uncertain()
    assert entry.idempotency_key == "slow" and "timed out" in (entry.last_error or "")


async def test_server_and_network_errors_are_retried_with_backoff(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    await emulator.client.add_fault("500", chat_id=users[0], count=2)
    await emulator.client.add_fault("network", chat_id=users[1], count=1)
    await enqueue(sessionmaker, "five-hundred", users[0])
    await enqueue(sessionmaker, "dropped", users[1])
    sender = make_sender(sessionmaker, per_chat_rate=50)

    counts = await drain(sender, bot, sessionmaker)

    assert counts["sent"] == 2
    assert [c["status"] for c in await send_calls(emulator, users[0])] == [500, 500, 200]
    assert (await row_by_key(sessionmaker, "five-hundred")).attempts == 2
    assert (await row_by_key(sessionmaker, "dropped")).attempts == 1
    for user in users[:2]:
        assert len(await bot_messages(emulator, user)) == 1


async def test_retries_give_up_after_the_cap(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    await emulator.client.add_fault("500", chat_id=users[0])
    await enqueue(sessionmaker, "doomed", users[0])
    sender = make_sender(sessionmaker, per_chat_rate=50, max_attempts=3, backoff_base=0.01)

    assert (await drain(sender, bot, sessionmaker))["failed"] == 1
    assert len(await send_calls(emulator, users[0])) == 3
    row = await row_by_key(sessionmaker, "doomed")
    assert row.attempts == 3 and "gave up after 3 attempts" in (row.last_error or "")


async def test_bad_request_fails_with_telegrams_reason(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
):
    await enqueue(sessionmaker, "long", users[0], {"text": "x" * 4097})
    await enqueue(sessionmaker, "gone", users[1], {"photo": {"path": str(tmp_path / "no.png")}})
    sender = make_sender(sessionmaker)

    assert (await drain(sender, bot, sessionmaker))["failed"] == 2
    assert "too long" in ((await row_by_key(sessionmaker, "long")).last_error or "")
    assert "unusable payload" in ((await row_by_key(sessionmaker, "gone")).last_error or "")
    assert len(await send_calls(emulator)) == 1  # the missing file never reached Telegram


async def test_a_crashed_senders_rows_are_sent_by_the_next_sender_once(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    await enqueue(sessionmaker, "orphan", users[0])
    async with sessionmaker() as session, session.begin():
        [claimed] = await OutboxRepository(session).claim("crashed:1:x", 10, 60, utcnow())
    fresh = make_sender(sessionmaker)
    assert await fresh.run_once(bot) == 0  # still leased

    async with sessionmaker() as session, session.begin():  # ... until the lease runs out
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claimed.id)
            .values(lease_until=utcnow() - dt.timedelta(seconds=1))
        )
    assert (await drain(fresh, bot, sessionmaker))["sent"] == 1
    async with sessionmaker() as session, session.begin():
        assert not await OutboxRepository(session).mark_sent(claimed.id, "crashed:1:x", 1)
    assert len(await bot_messages(emulator, users[0])) == 1
    assert (await row_by_key(sessionmaker, "orphan")).lease_owner == fresh.owner


async def test_one_chat_is_paced_to_one_message_a_second_without_holding_up_others(
    emulator: RunningEmulator,
    bot: Bot,
    users: list[int],
    sessionmaker: async_sessionmaker[AsyncSession],
):
    busy, quiet = users[0], users[1]
    for n in range(3):
        await enqueue(sessionmaker, f"busy:{n}", busy, {"text": f"Busy {n}"})
    await enqueue(sessionmaker, "quiet", quiet)
    sender = make_sender(sessionmaker, per_chat_rate=1, max_chat_wait=0.5)

    # The first round sends one message to each chat and gives the busy chat's rest back
    # instead of sleeping on them.
    assert await sender.run_once(bot) == 4
    async with sessionmaker() as session:
        counts = await OutboxRepository(session).counts_by_status()
    assert (counts["sent"], counts["pending"]) == (2, 2)
    assert (await row_by_key(sessionmaker, "busy:1")).attempts == 0

    assert (await drain(sender, bot, sessionmaker))["sent"] == 4
    messages = await bot_messages(emulator, busy)
    assert [m["plain_text"] for m in messages] == ["Busy 0", "Busy 1", "Busy 2"]
    times = [c["time"] for c in await send_calls(emulator, busy)]
    # Paced, not back to back (milliseconds apart). The exact interval is the Pacer's, tested
    # on a fake clock in test_pacer.py: arrival times here carry the machine's jitter.
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(times))
