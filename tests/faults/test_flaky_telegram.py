"""A flaky Telegram (issue 9, item 3): the emulator answers 429 to about 10% of the bot's
sending calls (``retry_after`` 1-5 s: five rules of 2% each) and times out about 2% (the
message is recorded, the answer comes after the bot's read timeout: "uncertain delivery").

With the live bot: staff send /status, participants press Hadir on a training, a supervisor
goes through /nilai to the end, and HR sends an announcement to everyone (~55 people), all at
the same time.

What "completes" means under timeouts: a timed-out call still reached the chat (the emulator
records it, then answers too late), but python-telegram-bot raises ``TimedOut`` in the handler,
which stops there; the error handler then tells the person "Maaf, terjadi kesalahan ..." (so a
reply after the timed-out one, e.g. HR's preview after the "Semua ASN" edit, is never sent).
The person simply starts again (``retrying``, at most 3 tries). So: every flow ends with the
data right (every Hadir stored, the evaluation submitted with the chosen ratings), an error
reply only where a call timed out (never for a 429: the rate limiter waits and retries), the
announcement at most once per recipient, every outbox row ``sent`` or ``uncertain``, and
``uncertain`` only when a timeout fault fired. In the logs: no error but the timeouts the
emulator caused (an error handler's "update failed" with a ``TimedOut``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from telegram.error import NetworkError

from bot.emulator import RunningEmulator
from bot.evaluation_cards import NEXT, SEND, SKIP, page_data
from bot.i18n import get_translator
from bot.rules.periods import BEHAVIOUR, FEEDBACK, SUMMARY, WORK
from bot.rules.skp import BERAKHLAK, Rating
from bot.trainings import BUTTON_HADIR
from storage.models import OutboxMessage
from tests.e2e.conftest import live_settings, start_live_bot, stop_live_bot
from tests.evaluations.conversation_support import (
    BOSS_CHAT,
    OTHER_BOSS_CHAT,
    STAFF_CHAT,
    add_people,
    answer,
    evaluation_of,
)
from tests.support.chat import buttons_of
from tests.support.factories import add_linked_office
from tests.trainings.support import add_training

pytestmark = pytest.mark.e2e

ID = get_translator("id")
STAFF = 50
FIRST = 7840001  # staff chats; HR is FIRST - 1
HR_CHAT = FIRST - 1
TIMEOUT_DELAY = 6.0  # above python-telegram-bot's 5 s read timeout
WAIT = 25  # per answer: a timed-out call (6 s) plus 429 retries (up to 5 s each)
DELIVERY = {"global_rate": 200.0, "batch_size": 50, "lease_seconds": 3.0, "poll_interval": 0.2}
TEXT = "Pengumuman: apel pagi Senin pukul 07.30 di halaman Balai Kota."


def with_button(data: str):
    return lambda m: data in buttons_of(m)


def edited_with(message_id: int, data: str | None = None):
    return lambda m: m["message_id"] == message_id and (data is None or data in buttons_of(m))


async def add_staff(sessionmaker) -> list[int]:
    """HR (``HR_CHAT``) and ``STAFF`` linked staff; the staff's employee ids."""
    chats = await add_linked_office(
        sessionmaker,
        people=STAFF + 1,
        first_chat=HR_CHAT,
        unit_name="Dinas Komunikasi dan Informatika",
        nip_prefix="19900202201502",
    )
    return list(chats)[1:]


async def status_of(client, chat: int) -> None:
    await client.send_text(chat, "/status")
    await expect(client, chat, timeout=WAIT)


async def hadir(client, chat: int, training: int) -> None:
    await client.send_text(chat, "/pelatihan")
    card = await expect(client, chat, with_button(f"latih:{training}:hadir"), WAIT)
    await client.press_button_text(chat, card["message_id"], ID(BUTTON_HADIR))
    await expect(client, chat, edited_with(card["message_id"]), timeout=WAIT)


async def nilai(client, sessionmaker, staff: int) -> int:
    """The supervisor rates ``staff`` to the end. A retry opens the draft where the last try
    left it, so each card is answered by what it shows: a rating step (Di atas ekspektasi),
    the behaviour step (Lanjut), the feedback (Lewati), then Kirim on the summary; or the
    evaluation as sent (the last try's Kirim worked, its answer timed out)."""
    await client.send_text(BOSS_CHAT, "/nilai")
    listing = await expect(
        client, BOSS_CHAT, lambda m: any(d.startswith("nl:o:") for d in buttons_of(m)), timeout=WAIT
    )
    message_id = listing["message_id"]
    opener = next(d for d in buttons_of(listing) if d.endswith(f":{staff}"))
    await client.press_button(BOSS_CHAT, message_id, opener)
    card = await expect(client, BOSS_CHAT, lambda m: m["message_id"] == message_id, WAIT)
    evaluation = await evaluation_of(sessionmaker, staff)
    assert evaluation is not None
    eid = evaluation.id
    ratings = [answer(eid, step, Rating.DI_ATAS) for step in (WORK, *BERAKHLAK)]
    onwards = [*ratings, answer(eid, BEHAVIOUR, NEXT), answer(eid, FEEDBACK, SKIP)]
    send = answer(eid, SUMMARY, SEND)
    while send not in buttons_of(card):
        shown = buttons_of(card)
        if shown == [page_data(0)]:  # a try before was sent, only its answer was lost
            return eid
        press = next((data for data in onwards if data in shown), None)
        assert press is not None, f"an unexpected card: {card.get('plain_text')!r} {shown}"
        await client.press_button(BOSS_CHAT, card["message_id"], press)
        if press == onwards[-1]:  # the summary comes as a new message
            card = await expect(client, BOSS_CHAT, with_button(send), WAIT)
        else:
            card = await expect(client, BOSS_CHAT, edited_with(card["message_id"]), WAIT)
    await client.press_button(BOSS_CHAT, card["message_id"], send)
    await expect(
        client,
        BOSS_CHAT,
        lambda m: m["message_id"] == card["message_id"] and not buttons_of(m),
        WAIT,
    )
    return eid


async def announce(client) -> None:
    await client.send_text(HR_CHAT, "/hr_umumkan")
    await expect(client, HR_CHAT, timeout=WAIT)
    await client.send_text(HR_CHAT, TEXT)
    menu = await expect(client, HR_CHAT, with_button("umum:aud:all"), WAIT)
    await client.press_button(HR_CHAT, menu["message_id"], "umum:aud:all")
    preview = await expect(client, HR_CHAT, with_button("umum:send"), WAIT)
    await client.press_button(HR_CHAT, preview["message_id"], "umum:send")


RETRIED: dict[str, int] = {}
SORRY = ID("Sorry, something went wrong on our side. Please try again.")


async def expect(client, chat: int, predicate=None, timeout: float = WAIT) -> dict[str, Any]:  # noqa: ASYNC109
    """The bot message matching ``predicate``; an error reply ends the wait at once (the
    person sees it and starts again)."""
    found = await client.wait_for_bot_message(
        chat,
        lambda m: m.get("plain_text") == SORRY or predicate is None or predicate(m),
        timeout=timeout,
    )
    if found.get("plain_text") == SORRY and not (predicate is not None and predicate(found)):
        raise AssertionError(f"chat {chat}: the bot answered with an error")
    return found


async def retrying(name: str, flow: Callable[[], Awaitable[Any]], tries: int = 3) -> Any:
    """A person's flow; if an answer never comes (a reply whose call timed out ended the
    handler early: the person sees "Maaf, terjadi kesalahan ..."), the person starts the flow
    again, as they would. ``RETRIED`` counts the restarts."""
    for attempt in range(tries):
        try:
            return await flow()
        except AssertionError:
            if attempt == tries - 1:
                raise
            RETRIED[name] = RETRIED.get(name, 0) + 1
    return None


def copies(emulator: RunningEmulator, chat_id: int) -> int:
    chat = emulator.state.chats.get(chat_id)
    if chat is None:
        return 0
    return sum(1 for m in list(chat.messages.values()) if m.from_bot and m.plain_text == TEXT)


async def test_conversations_and_an_announcement_complete_on_a_flaky_telegram(
    emulator: RunningEmulator, sessionmaker, database_url: str, caplog
):
    RETRIED.clear()
    caplog.set_level(logging.WARNING)
    people = await add_people(sessionmaker)
    staff = await add_staff(sessionmaker)
    training = await add_training(sessionmaker, staff[:10], title="Bimtek Pelayanan Prima")
    client = emulator.client
    emulator.state.rng.seed(9)  # reproducible faults
    for chat in [BOSS_CHAT, STAFF_CHAT, OTHER_BOSS_CHAT, HR_CHAT, *range(FIRST, FIRST + STAFF)]:
        emulator.state.create_user(chat, f"User {chat}")
    for retry_after in range(1, 6):
        await client.add_fault("429", probability=0.02, retry_after=retry_after)
    timeouts = await client.add_fault("timeout", probability=0.02, delay=TIMEOUT_DELAY)
    bot = await start_live_bot(emulator, live_settings(emulator, database_url), delivery=DELIVERY)
    try:
        jobs = {
            "announce": retrying("announce", lambda: announce(client)),
            "nilai": retrying("nilai", lambda: nilai(client, sessionmaker, people.staff)),
            **{
                f"status {n}": retrying(f"status {n}", lambda n=n: status_of(client, FIRST + n))
                for n in range(10, 20)
            },
            **{
                f"hadir {n}": retrying(f"hadir {n}", lambda n=n: hadir(client, FIRST + n, training))
                for n in range(10)
            },
        }
        tasks = {asyncio.ensure_future(job): name for name, job in jobs.items()}
        done, pending = await asyncio.wait(tasks, timeout=150)
        for task in pending:
            task.cancel()
        failed = {tasks[t]: repr(t.exception()) for t in done if t.exception() is not None}
        assert not pending and not failed, ([tasks[t] for t in pending], failed)
        deadline = time.monotonic() + 90
        while True:
            async with sessionmaker() as session:
                rows = list(
                    await session.scalars(
                        select(OutboxMessage).where(
                            OutboxMessage.idempotency_key.like("announcement:%")
                        )
                    )
                )
            if len(rows) >= STAFF and all(r.status in ("sent", "uncertain") for r in rows):
                break
            assert time.monotonic() < deadline, sorted(
                (r.chat_id, r.status, r.attempts, str(r.not_before), r.last_error)
                for r in rows
                if r.status not in ("sent", "uncertain")
            )
            await asyncio.sleep(0.2)
    finally:
        await stop_live_bot(bot)
    fired = {f["id"]: f for f in await client.faults()}
    timeouts_fired = fired[timeouts["id"]]["fired"]

    # The data ends right.
    evaluation = await evaluation_of(sessionmaker, people.staff)
    assert evaluation is not None and evaluation.status == "submitted"
    assert evaluation.work_result == "di_atas"
    from tests.trainings.support import answers

    stored = await answers(sessionmaker, training)
    assert all(stored[e][0] == "hadir" for e in staff[:10]), stored

    # The announcement: at most once each; sent rows arrived once; uncertain only with timeouts.
    uncertain = [r for r in rows if r.status == "uncertain"]
    assert len(uncertain) <= timeouts_fired, (len(uncertain), timeouts_fired)
    chats = set(range(FIRST, FIRST + STAFF)) | {HR_CHAT, BOSS_CHAT, STAFF_CHAT, OTHER_BOSS_CHAT}
    for chat in chats - {HR_CHAT}:  # HR's chat also holds the preview
        assert copies(emulator, chat) <= 1, chat
    by_chat = {r.chat_id: r.status for r in rows}
    for chat, status in by_chat.items():
        if status == "sent" and chat != HR_CHAT:
            assert copies(emulator, chat) == 1, chat

    # What people saw: an error reply only where a call timed out (the handler stopped at the
    # timed-out call; the person started again, see ``RETRIED``), never for a 429.
    sorry = ID("Sorry, something went wrong on our side. Please try again.")
    shown_errors = sum(
        1
        for chat in emulator.state.chats.values()
        for m in list(chat.messages.values())
        if m.from_bot and m.plain_text == sorry
    )
    assert shown_errors <= timeouts_fired, (shown_errors, timeouts_fired, RETRIED)

    # Nothing unhandled: the only errors are the timeouts the emulator caused.
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        and not (r.exc_info and isinstance(r.exc_info[1], NetworkError))
    ]
    assert not errors, [r.getMessage() for r in errors]
