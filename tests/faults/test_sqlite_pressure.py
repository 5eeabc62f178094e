"""SQLite under pressure (issue 9, item 5): 50 writers at once against one SQLite file.

The live bot (polling the emulator, concurrent updates) gets, at the same moment, 10
supervisors' first /nilai answers (each opens an evaluation draft and stores a rating) and 40
participants' Hadir presses on a training, while ``run_bot.py import`` writes 5,000 employees
from another process (one long write transaction on the same file: the presses are fired
once it holds the write lock). Every transaction takes
the write lock up front (BEGIN IMMEDIATE) and waits up to the busy timeout.

Afterwards: no "database is locked" (or any error) reached a user or the log, every Hadir and
every rating landed exactly once, the import landed whole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bot.i18n import get_translator
from bot.rules.periods import WORK
from bot.trainings import BUTTON_HADIR
from storage.db import is_sqlite
from storage.models import Employee, Evaluation, Unit
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import live_settings, start_live_bot, stop_live_bot
from tests.support.bot_child import ROOT
from tests.support.chat import buttons_of
from tests.trainings.support import add_training, answers

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not is_sqlite(TEST_DATABASE_URL),
        reason="SQLite's single writer lock is what is under test; PostgreSQL has row locks",
    ),
]

ID = get_translator("id")
BOSSES = 10
PARTICIPANTS = 40
IMPORT_ROWS = 5_000
BOSS0 = 7850001
STAFF0 = 7851001
PART0 = 7852001
ERROR_WORDS = (
    "locked",
    ID("Sorry, something went wrong on our side. Please try again."),
    ID("The service is having a disruption. Please try again in a few minutes."),
)


async def add_people(sessionmaker) -> tuple[list[int], list[int]]:
    """(staff ids, one per boss in order), (participant ids)."""
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Pendidikan dan Kebudayaan")
        session.add(unit)
        await session.flush()

        def person(n: int, chat: int, **values: Any) -> dict[str, Any]:
            return {
                "nip": f"19880303201203{n:04d}",
                "name": f"Pegawai {n:03d}",
                "position": "Staf",
                "unit_id": unit.id,
                "role": "asn",
                "telegram_user_id": chat,
                **values,
            }

        bosses = [person(i, BOSS0 + i, position="Kepala Seksi") for i in range(BOSSES)]
        await session.execute(insert(Employee), bosses)
        boss_ids = list(
            await session.scalars(
                select(Employee.id).where(Employee.unit_id == unit.id).order_by(Employee.id)
            )
        )
        staff = [person(100 + i, STAFF0 + i, supervisor_id=boss_ids[i]) for i in range(BOSSES)]
        parts = [person(200 + i, PART0 + i) for i in range(PARTICIPANTS)]
        await session.execute(insert(Employee), staff + parts)
        by_chat = dict(
            (await session.execute(select(Employee.telegram_user_id, Employee.id))).all()
        )
    return [by_chat[STAFF0 + i] for i in range(BOSSES)], [
        by_chat[PART0 + i] for i in range(PARTICIPANTS)
    ]


def write_locked(database: str) -> bool:
    """Whether another connection holds SQLite's write lock (no waiting)."""
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()


def write_employees(path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from import_bench import make_rows, write_xlsx  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    write_xlsx(make_rows(IMPORT_ROWS, seed=5), path)


async def test_fifty_writers_at_once_get_no_database_is_locked(
    emulator, sessionmaker, database_url: str, tmp_path: Path, caplog
):
    caplog.set_level(logging.WARNING)
    staff, participants = await add_people(sessionmaker)
    training = await add_training(sessionmaker, participants, title="Diklat Kepemimpinan")
    path = tmp_path / "pegawai.xlsx"
    await asyncio.to_thread(write_employees, path)
    async with sessionmaker() as session:
        employees_before = await session.scalar(select(func.count()).select_from(Employee))
    client = emulator.client
    for chat in [*range(BOSS0, BOSS0 + BOSSES), *range(PART0, PART0 + PARTICIPANTS)]:
        emulator.state.create_user(chat, f"User {chat}")
    bot = await start_live_bot(emulator, live_settings(emulator, database_url))
    try:
        # Everyone up to the button that writes (a card shown; no write yet for the RSVPs).
        async def card(chat: int) -> dict[str, Any]:
            await client.send_text(chat, "/pelatihan")
            return await client.wait_for_bot_message(
                chat, lambda m: f"latih:{training}:hadir" in buttons_of(m), timeout=60
            )

        async def listing(chat: int) -> dict[str, Any]:
            await client.send_text(chat, "/nilai")
            return await client.wait_for_bot_message(
                chat, lambda m: any(d.startswith("nl:o:") for d in buttons_of(m)), timeout=60
            )

        cards = await asyncio.gather(*(card(PART0 + i) for i in range(PARTICIPANTS)))
        listings = await asyncio.gather(*(listing(BOSS0 + i) for i in range(BOSSES)))

        # Now all at once: the import, 40 Hadir presses, 10 evaluation drafts opened.
        env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
        log = tmp_path / "import.log"
        with log.open("ab") as out:
            importer = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "run_bot.py"), "import", str(path),
                "--kind", "employees", cwd=tmp_path, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip

        # Fire when the import holds SQLite's write lock (its one transaction), so the bot's
        # writers queue behind it.
        database = make_url(database_url).database
        assert database
        for _ in range(6000):  # a minute at most
            if importer.returncode is not None or await asyncio.to_thread(write_locked, database):
                break
            await asyncio.sleep(0.01)
        assert importer.returncode is None, "the import ended before the writers started"

        async def press_hadir(i: int) -> None:
            chat, message = PART0 + i, cards[i]
            await client.press_button_text(chat, message["message_id"], ID(BUTTON_HADIR))
            await client.wait_for_bot_message(
                chat, lambda m: m["message_id"] == message["message_id"], timeout=60
            )

        async def open_and_rate(i: int) -> None:
            chat, message = BOSS0 + i, listings[i]
            opener = next(d for d in buttons_of(message) if d.endswith(f":{staff[i]}"))
            await client.press_button(chat, message["message_id"], opener)
            shown = await client.wait_for_bot_message(
                chat, lambda m: m["message_id"] == message["message_id"], timeout=60
            )
            rate = next(d for d in buttons_of(shown) if f":{WORK}:" in d or ":w:" in d)
            await client.press_button(chat, message["message_id"], rate)
            await client.wait_for_bot_message(
                chat,
                lambda m: (
                    m["message_id"] == message["message_id"] and buttons_of(m) != buttons_of(shown)
                ),
                timeout=60,
            )

        await asyncio.gather(
            *(press_hadir(i) for i in range(PARTICIPANTS)),
            *(open_and_rate(i) for i in range(BOSSES)),
        )
        assert await asyncio.wait_for(importer.wait(), 120) == 0, log.read_text()
    finally:
        await stop_live_bot(bot)

    # Nothing reached a user but the expected answers.
    for chat in [*range(BOSS0, BOSS0 + BOSSES), *range(PART0, PART0 + PARTICIPANTS)]:
        for m in await client.bot_messages(chat):
            texts = [m.get("plain_text") or ""] + [e.get("plain_text") or "" for e in m["edits"]]
            for shown in texts:
                assert not any(w in shown for w in ERROR_WORDS), (chat, shown)
    for item in await client.callback_answers():
        text = (item.get("answer") or {}).get("text") or ""
        assert not any(w in text for w in ERROR_WORDS), item
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or "locked" in r.getMessage()]
    assert not errors, [r.getMessage() for r in errors]

    # Every write landed exactly once.
    stored = await answers(sessionmaker, training)
    assert sorted(e for e, a in stored.items() if a[0] == "hadir") == sorted(participants)
    async with sessionmaker() as session:
        rows = list(
            await session.scalars(select(Evaluation).where(Evaluation.employee_id.in_(staff)))
        )
        employees_after = await session.scalar(select(func.count()).select_from(Employee))
    assert sorted(r.employee_id for r in rows) == sorted(staff)  # one draft each
    assert all(r.work_result is not None for r in rows), [(r.id, r.work_result) for r in rows]
    assert employees_after == employees_before + IMPORT_ROWS
