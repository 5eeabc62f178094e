"""Fault tests of the delivery pipeline against the emulator, on SQLite and PostgreSQL.

* The sender process (``python -m bot.delivery_main``) is killed with SIGKILL in the middle of
  500 messages and started again: no message reaches its chat twice; every row ends ``sent``
  (delivered exactly once) or ``uncertain``, and only rows the killed sender had marked in
  flight (``attempt_started_at``: their request may have left) can be uncertain. Those are
  bounded by the wave the killed sender had marked, counted and reported.
* PostgreSQL: two senders drain the same outbox at once and never send (or claim) the same row.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import Sender, delivery_bot
from bot.emulator import RunningEmulator
from storage.db import create_engine, create_sessionmaker
from storage.models import Employee, OutboxMessage, Unit
from storage.repositories.outbox import OutboxRepository
from tests.conftest import ON_POSTGRES
from tests.support.telegram import TOKEN
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIRST_CHAT = 7100001
BATCH = 50
LEASE = 3.0


# ---------------------------------------------------------------------------- helpers
async def linked_employees(
    sessionmaker: async_sessionmaker[AsyncSession], emulator: RunningEmulator, count: int
) -> list[tuple[int, int]]:
    """``count`` employees with linked Telegram accounts (and emulator users): (id, chat)."""
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Komunikasi dan Informatika")
        people = [
            Employee(
                nip=f"19800101200501{1 + n % 2}{n + 1:03d}",
                name=f"Pegawai Uji {n}",
                unit=unit,
                telegram_user_id=FIRST_CHAT + n,
            )
            for n in range(count)
        ]
        session.add_all([unit, *people])
        await session.flush()
        linked = [(person.id, FIRST_CHAT + n) for n, person in enumerate(people)]
    for n, (_, chat) in enumerate(linked):
        await emulator.client.create_user(chat, f"Pegawai {n}")
    return linked


async def enqueue_many(
    sessionmaker: async_sessionmaker[AsyncSession],
    linked: list[tuple[int, int]],
    count: int,
    prefix: str,
) -> dict[str, int]:
    """``count`` messages round-robin over the chats, each with a unique text: text -> chat."""
    texts: dict[str, int] = {}
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        for n in range(count):
            employee_id, chat = linked[n % len(linked)]
            text = f"{prefix} {n:04d} untuk {chat}"
            await repo.enqueue(
                f"{prefix}:{n}", chat, {"text": text}, kind="test", employee_id=employee_id
            )
            texts[text] = chat
    return texts


def delivered(emulator: RunningEmulator) -> Counter[str]:
    """How many times each text reached a chat (the emulator's stored bot messages)."""
    return Counter(
        message.text or ""
        for chat in list(emulator.state.chats.values())
        for message in list(chat.messages.values())
        if message.from_bot
    )


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return await OutboxRepository(session).counts_by_status()


class SenderProcess:
    """``python -m bot.delivery_main`` in a subprocess, its output in a log file."""

    def __init__(self, database_url: str, emulator: RunningEmulator, log: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": emulator.base_url,
            "TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
            # No quiet hours: what is sent must not depend on the time of day.
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
            "PYTHONPATH": str(ROOT),
        }
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.delivery_main",
                "--global-rate=100",
                "--per-chat-rate=50",
                f"--batch-size={BATCH}",
                f"--lease-seconds={LEASE}",
                "--poll-interval=0.2",
                "--read-timeout=10",
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def output(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n--- sender log (tail) ---\n" + "\n".join(text.splitlines()[-30:])

    async def signal(self, signum: int, timeout: float = 15.0) -> int:  # noqa: ASYNC109
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def ensure_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


# ---------------------------------------------------------------------------- SIGKILL
async def test_sender_killed_mid_way_and_restarted_sends_every_message_once(
    emulator: RunningEmulator,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
):
    started = time.monotonic()
    total = 500
    linked = await linked_employees(sessionmaker, emulator, 50)
    texts = await enqueue_many(sessionmaker, linked, total, "Kill")
    # Every send takes a little while, so requests are in flight when the kill lands.
    await emulator.client.add_fault("slow", delay=0.05)

    first = SenderProcess(database_url, emulator, tmp_path / "sender-1.log")
    second = SenderProcess(database_url, emulator, tmp_path / "sender-2.log")
    try:
        await first.start()

        async def some_sent() -> bool:
            assert first.process is not None
            assert first.process.returncode is None, "the sender died" + first.output()
            # Half-way through a batch (batches of 50 go out at 100/s): rows are in flight.
            return sum(delivered(emulator).values()) >= 175

        await wait_until(some_sent, 30, "the first 175 messages", first.output)
        assert await first.signal(signal.SIGKILL) == -signal.SIGKILL
        at_kill = delivered(emulator)
        # What the killed sender held: claimed, outcome not recorded (sent or not) ...
        held = [row for row in await outbox_rows(sessionmaker) if row.status == "sending"]
        in_flight = {row.id for row in held}
        # ... and of those, the rows marked in flight: their request may have left.
        marked = {row.id for row in held if row.attempt_started_at is not None}
        assert sum(at_kill.values()) < total, "the kill came too late to be mid-way"
        assert 0 < len(in_flight) <= BATCH
        assert len(marked) <= len(in_flight)

        await second.start()

        async def drained() -> bool:
            now = await counts(sessionmaker)
            return now["pending"] + now["sending"] == 0

        await wait_until(drained, 40, "the outbox to drain after the restart", second.output)
        assert await second.signal(signal.SIGTERM) == 0, "no clean stop" + second.output()
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()

    final = await counts(sessionmaker)
    rows = await outbox_rows(sessionmaker)
    received = delivered(emulator)
    assert set(received) <= set(texts), "a message nobody enqueued"
    assert final["sent"] + final["uncertain"] == total, final  # nothing failed, nothing lost

    duplicates = sorted(text for text, times in received.items() if times > 1)
    assert duplicates == [], "sent twice"
    uncertain_delivered = 0
    for row in rows:
        times = received[row.payload["text"]]
        if row.status == "sent":
            assert times == 1, (row.id, times)
            # The stored message id is the chat's copy of exactly this text.
            chat = emulator.state.chats[row.chat_id]
            stored = chat.messages[row.telegram_message_id]
            assert stored.text == row.payload["text"]
        else:
            # Only a row the killed sender had marked in flight may be uncertain.
            assert row.status == "uncertain" and row.id in marked, (row.id, row.status, times)
            assert row.last_error == "sender stopped during delivery"
            uncertain_delivered += times
    # Messages received = rows sent, plus the uncertain ones that did arrive.
    assert sum(received.values()) == final["sent"] + uncertain_delivered
    assert final["uncertain"] <= len(marked) <= BATCH
    report = (
        f"killed after {sum(at_kill.values())}/{total} delivered; claimed and unrecorded at "
        f"the kill {len(in_flight)} (batch {BATCH}), of them marked in flight {len(marked)}; "
        f"delivered twice {len(duplicates)}; uncertain {final['uncertain']} "
        f"({uncertain_delivered} of them had arrived); took {time.monotonic() - started:.1f} s"
    )
    print(report)
    record_property("sigkill", report)
    assert time.monotonic() - started < 60


# ---------------------------------------------------------------------------- two senders
@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite has one sender; SKIP LOCKED is PostgreSQL's")
async def test_two_senders_on_postgres_never_send_the_same_row(
    emulator: RunningEmulator,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
):
    total = 300
    linked = await linked_employees(sessionmaker, emulator, 60)
    texts = await enqueue_many(sessionmaker, linked, total, "Dua")
    await emulator.client.add_fault("slow", delay=0.01)

    claims: dict[str, list[int]] = defaultdict(list)
    original_claim = OutboxRepository.claim

    async def recording_claim(self, owner, limit, lease, now=None):  # type: ignore[no-untyped-def]
        claimed = await original_claim(self, owner, limit, lease, now)
        claims[owner].extend(row.id for row in claimed)
        return claimed

    monkeypatch.setattr(OutboxRepository, "claim", recording_claim)

    # Two senders as two processes would be: own engines, own HTTP clients, own owners.
    engines = [create_engine(database_url) for _ in range(2)]
    bots = [
        delivery_bot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url)
        for _ in range(2)
    ]
    senders = [
        Sender(
            create_sessionmaker(engine),
            global_rate=500,
            per_chat_rate=100,
            batch_size=20,
            lease_seconds=30,
            poll_interval=0.05,
            owner=f"sender-{n}",
        )
        for n, engine in enumerate(engines)
    ]
    try:
        for bot in bots:
            await bot.request.initialize()
        for bot, sender in zip(bots, senders, strict=True):
            sender.start(bot, owns_bot=True)

        async def drained() -> bool:
            now = await counts(sessionmaker)
            return now["pending"] + now["sending"] == 0

        await wait_until(drained, 40, "two senders to drain 300 rows")
    finally:
        for sender in senders:
            await sender.stop()
        for engine in engines:
            await engine.dispose()

    assert (await counts(sessionmaker))["sent"] == total
    received = delivered(emulator)
    assert received == Counter(dict.fromkeys(texts, 1))  # every row exactly once
    for text, chat in texts.items():  # ... and in its own chat
        chat_texts = [m.text for m in emulator.state.chats[chat].messages.values()]
        assert chat_texts.count(text) == 1

    first, second = (set(claims[sender.owner]) for sender in senders)
    assert first and second, "both senders should have taken a share"
    assert not first & second, "a row was claimed by both senders"
    assert first | second == {row.id for row in await outbox_rows(sessionmaker)}
    for row in await outbox_rows(sessionmaker):
        assert row.lease_owner == ("sender-0" if row.id in first else "sender-1")
    record_property("two_senders", f"sender-0 sent {len(first)}, sender-1 sent {len(second)}")
