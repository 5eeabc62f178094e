"""PostgreSQL stopped and started again while users are active (issue 9, item 3).

A PostgreSQL instance of the test's own (``initdb`` into a temporary directory as the
``postgres`` user when running as root, trust authentication, a free port), migrated; the live
bot runs on it. Users send /status and get answers; outbox messages are queued (due during the
outage); then ``pg_ctl stop -m fast``. For ``OUTAGE`` seconds users keep sending /status: each
gets the short "Layanan sedang mengalami gangguan" reply (handlers/errors.py). Then the server
starts again: without restarting the bot, /status is answered normally, the outbox resumes and
every queued message arrives exactly once, and the bot's tasks (polling, the sender) are
still alive.

storage/db.py has no pre-ping: a connection that died with the server raises a disconnect
error once, SQLAlchemy then invalidates the whole pool, and the next checkout connects anew.

Runs only when the suite runs on PostgreSQL (``TEST_DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.config import normalize_database_url
from bot.emulator import RunningEmulator
from bot.i18n import get_translator
from storage.db import create_engine, create_sessionmaker, is_sqlite
from storage.migrate import upgrade
from storage.models import Employee, OutboxMessage, Unit, utcnow
from storage.repositories.outbox import OutboxRepository
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import live_settings, start_live_bot, stop_live_bot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        is_sqlite(TEST_DATABASE_URL),
        reason="a PostgreSQL outage: runs only when the suite runs on PostgreSQL",
    ),
]

ID = get_translator("id")
OUTAGE = 30.0  # seconds the server is down (the figure)
USERS = 5
FIRST = 7860001
QUEUED = 20
DISRUPTION = ID("The service is having a disruption. Please try again in a few minutes.")
GENERIC = ID("Sorry, something went wrong on our side. Please try again.")


def NOT_QUEUED(m):  # a predicate: a reply, not one of the queued messages
    return not (m.get("plain_text") or "").startswith("Antrean ")


DELIVERY = {"global_rate": 200.0, "batch_size": 50, "lease_seconds": 3.0, "poll_interval": 0.2}


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A throwaway PostgreSQL cluster."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="pg-outage-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.url = normalize_database_url(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[Server]:
    bin_dir = _binaries()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("initdb/pg_ctl not found under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot run")
    own = Server(bin_dir)
    try:
        own.init()
        own.start()
        upgrade(own.url)
        yield own
    finally:
        own.cleanup()


async def add_users(sessionmaker, emulator: RunningEmulator) -> list[int]:
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Badan Kepegawaian dan Pengembangan SDM")
        session.add(unit)
        await session.flush()
        await session.execute(
            insert(Employee),
            [
                {
                    "nip": f"19870404201001{n:04d}",
                    "name": f"Pegawai {n}",
                    "position": "Staf",
                    "unit_id": unit.id,
                    "role": "asn",
                    "telegram_user_id": FIRST + n,
                }
                for n in range(USERS)
            ],
        )
    chats = [FIRST + n for n in range(USERS)]
    for chat in chats:
        emulator.state.create_user(chat, f"User {chat}")
    return chats


async def test_a_postgres_outage_gives_short_replies_and_the_bot_recovers(
    emulator: RunningEmulator, server: Server, caplog
):
    caplog.set_level(logging.INFO)
    engine = create_engine(server.url)
    sessionmaker = create_sessionmaker(engine)
    client = emulator.client
    chats = await add_users(sessionmaker, emulator)
    bot = await start_live_bot(emulator, live_settings(emulator, server.url), delivery=DELIVERY)
    stopped = False
    try:
        # Users active: /status answered normally.
        normal: dict[int, str] = {}
        for chat in chats:
            await client.send_text(chat, "/status")
            reply = await client.wait_for_bot_message(chat, NOT_QUEUED, timeout=30)
            assert DISRUPTION not in reply["plain_text"]
            normal[chat] = reply["plain_text"]

        # Messages queued, due while the server is down.
        due = utcnow() + dt.timedelta(seconds=2)
        async with sessionmaker() as session, session.begin():
            for n in range(QUEUED):
                await OutboxRepository(session).enqueue(
                    f"outage:{n}", chats[n % USERS], {"text": f"Antrean {n}"}, kind="test",
                    not_before=due,
                )  # fmt: skip
        await engine.dispose()

        await asyncio.to_thread(server.stop, "fast")
        stopped = True
        down_at = time.monotonic()
        replies: list[str] = []
        while time.monotonic() - down_at < OUTAGE:
            for chat in chats:
                await client.send_text(chat, "/status")
            for chat in chats:
                reply = await client.wait_for_bot_message(chat, NOT_QUEUED, timeout=20)
                # The short disruption reply, never silence, a traceback or the generic one.
                assert reply["plain_text"] == DISRUPTION, reply["plain_text"]
                replies.append(reply["plain_text"])
            await asyncio.sleep(3)
        assert len(replies) >= USERS

        await asyncio.to_thread(server.start)
        stopped = False
        # Without a restart of the bot: answered normally again (the first try may still meet a
        # dead pooled connection; a person would simply send again).
        for chat in chats:
            deadline = time.monotonic() + 30
            while True:
                await client.send_text(chat, "/status")
                reply = await client.wait_for_bot_message(chat, NOT_QUEUED, timeout=20)
                if reply["plain_text"] not in (DISRUPTION, GENERIC):
                    break
                assert time.monotonic() < deadline, "still disrupted after the restart"
                await asyncio.sleep(1)
            assert reply["plain_text"] == normal[chat]

        # The outbox resumes: every queued message exactly once.
        deadline = time.monotonic() + 30
        while True:
            async with sessionmaker() as session:
                rows = list(
                    await session.scalars(
                        select(OutboxMessage).where(OutboxMessage.idempotency_key.like("outage:%"))
                    )
                )
            if all(r.status == "sent" for r in rows):
                break
            assert time.monotonic() < deadline, sorted((r.status, r.last_error) for r in rows)
            await asyncio.sleep(0.2)
        assert len(rows) == QUEUED
        for n in range(QUEUED):
            chat = emulator.state.chats[chats[n % USERS]]
            copies = [
                m
                for m in list(chat.messages.values())
                if m.from_bot and m.plain_text == f"Antrean {n}"
            ]
            assert len(copies) == 1, (n, len(copies))
        assert bot.app.running and bot.app.updater is not None and bot.app.updater.running
        # The sender failed every round (5 a second) while the server was down: its log says
        # so once with a traceback, then a count each minute, then that it works again.
        sender_lines = [r for r in caplog.records if r.getMessage().startswith("outbox sender")]
        failed = [r for r in sender_lines if "failed; retrying" in r.getMessage()]
        assert 1 <= len(failed) <= 2 and len(sender_lines) <= 8, [
            r.getMessage() for r in sender_lines
        ]
        assert any("works again" in r.getMessage() for r in sender_lines)
    finally:
        await stop_live_bot(bot)
        await engine.dispose()
        if stopped:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.start)


async def test_every_reply_during_the_outage_is_the_disruption_one(
    emulator: RunningEmulator, server: Server
):
    engine = create_engine(server.url)
    sessionmaker = create_sessionmaker(engine)
    client = emulator.client
    chats = await add_users(sessionmaker, emulator)
    await engine.dispose()
    bot = await start_live_bot(emulator, live_settings(emulator, server.url), delivery=DELIVERY)
    try:
        await client.send_text(chats[0], "/status")
        assert (
            DISRUPTION
            not in (await client.wait_for_bot_message(chats[0], NOT_QUEUED, timeout=30))[
                "plain_text"
            ]
        )
        await asyncio.to_thread(server.stop, "fast")
        seen = []
        for chat in chats:
            await client.send_text(chat, "/status")
            seen.append(
                (await client.wait_for_bot_message(chat, NOT_QUEUED, timeout=20))["plain_text"]
            )
        assert seen == [DISRUPTION] * len(chats), seen
    finally:
        await stop_live_bot(bot)
