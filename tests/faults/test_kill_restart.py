"""SIGKILL faults (issue 9, item 3): the bot killed in the middle of a /nilai conversation,
and ``run_bot.py import`` killed in the middle of a large import, then started again.

- Conversation: the real bot runs as a child process (``tests.support.bot_child``); a
  supervisor rates two steps of /nilai, the child gets SIGKILL, a new child starts: /nilai
  offers the draft at step 3 of 11 and the conversation goes on from there (the draft is in
  the database, not in the killed process's memory).
- Import: 10,000 generated employees (``bench/import_bench.py``) imported by ``run_bot.py
  import`` in a subprocess, SIGKILLed while its write transaction is open: afterwards the
  database holds none of the rows (the import is one transaction), and running the import
  again imports all 10,000.

The announcement kill case is tests/e2e/test_announcement_restart.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.emulator import RunningEmulator
from bot.i18n import get_translator
from bot.rules.periods import WORK
from bot.rules.skp import BERAKHLAK, Rating
from storage.db import is_sqlite
from storage.models import Employee
from tests.evaluations.conversation_support import BOSS_CHAT, add_people, answer, evaluation_of
from tests.support.bot_child import ROOT, BotChild
from tests.support.chat import buttons_of

pytestmark = pytest.mark.e2e

ID = get_translator("id")
IMPORT_ROWS = 10_000


def edited_with(message_id: int, data: str):
    return lambda m: m["message_id"] == message_id and data in buttons_of(m)


async def test_sigkill_in_the_middle_of_nilai_resumes_at_the_same_step(
    emulator: RunningEmulator, sessionmaker, database_url: str, tmp_path: Path
):
    people = await add_people(sessionmaker)
    client = emulator.client
    await client.create_user(BOSS_CHAT, "Yusuf")

    def child(name: str) -> BotChild:
        return BotChild.on_emulator(tmp_path / f"{name}.log", emulator, database_url)

    first, second = child("bot-1"), child("bot-2")
    try:
        await first.start()
        await client.send_text(BOSS_CHAT, "/nilai")
        listing = await client.wait_for_bot_message(
            BOSS_CHAT, lambda m: any(d.startswith("nl:o:") for d in buttons_of(m)), timeout=60
        )
        opener = next(d for d in buttons_of(listing) if d.endswith(f":{people.staff}"))
        message_id = listing["message_id"]
        await client.press_button(BOSS_CHAT, message_id, opener)
        await client.wait_for_bot_message(
            BOSS_CHAT, lambda m: m["message_id"] == message_id and ":w:a" in str(m), timeout=30
        )
        evaluation = await evaluation_of(sessionmaker, people.staff)
        assert evaluation is not None
        eid = evaluation.id
        await client.press_button(BOSS_CHAT, message_id, answer(eid, WORK, Rating.DI_ATAS))
        await client.wait_for_bot_message(
            BOSS_CHAT, edited_with(message_id, answer(eid, BERAKHLAK[0], Rating.SESUAI)), timeout=30
        )
        await client.press_button(BOSS_CHAT, message_id, answer(eid, BERAKHLAK[0], Rating.DI_ATAS))
        await client.wait_for_bot_message(
            BOSS_CHAT, edited_with(message_id, answer(eid, BERAKHLAK[1], Rating.SESUAI)), timeout=30
        )
        assert await first.kill() == -signal.SIGKILL

        # The draft is in the database, not in the killed process.
        row = await evaluation_of(sessionmaker, people.staff)
        assert row is not None and row.id == eid
        assert row.behaviour_ratings == {BERAKHLAK[0]: "di_atas"}

        await second.start()
        await client.send_text(BOSS_CHAT, "/nilai")
        draft = ID("✏️ draft, step {n} of {total}", n="3", total="11")
        listing = await client.wait_for_bot_message(
            BOSS_CHAT,
            lambda m: draft in (m.get("plain_text") or "") and m["message_id"] != message_id,
            timeout=60,
        )
        resume = buttons_of(listing)[0]
        assert resume.startswith("nl:o:") and resume.endswith(f":{people.staff}")
        await client.press_button(BOSS_CHAT, listing["message_id"], resume)
        third = answer(eid, BERAKHLAK[1], Rating.SESUAI)
        shown = await client.wait_for_bot_message(
            BOSS_CHAT, edited_with(listing["message_id"], third), timeout=30
        )
        assert ID("Step {n} of {total}", n="3", total="11") in shown["plain_text"]
        # ... and goes on from there.
        await client.press_button(BOSS_CHAT, listing["message_id"], third)
        await client.wait_for_bot_message(
            BOSS_CHAT,
            edited_with(listing["message_id"], answer(eid, BERAKHLAK[2], Rating.SESUAI)),
            timeout=30,
        )
        row = await evaluation_of(sessionmaker, people.staff)
        assert row is not None and row.behaviour_ratings == {
            BERAKHLAK[0]: "di_atas",
            BERAKHLAK[1]: "sesuai",
        }
        assert "Traceback" not in (tmp_path / "bot-2.log").read_text(errors="replace")
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()


def _write_employees(path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from import_bench import make_rows, write_xlsx  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    write_xlsx(make_rows(IMPORT_ROWS), path)


async def _import(database_url: str, path: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "run_bot.py"),
            "import",
            str(path),
            "--kind",
            "employees",
            cwd=log.parent,  # no .env file there
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def _wal_size(wal: Path) -> int:
    try:
        return wal.stat().st_size
    except FileNotFoundError:
        return 0


async def _writing(engine, database_url: str) -> bool:
    """Whether some other connection holds an open write transaction."""
    if is_sqlite(database_url):
        database = make_url(database_url).database
        # Pages of the uncommitted transaction spill to the WAL as it grows.
        return _wal_size(Path(f"{database}-wal")) > 256 * 1024
    async with engine.connect() as connection:
        busy = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            )
        )
    return bool(busy)


async def _employees(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Employee)) or 0)


async def test_sigkill_during_an_import_leaves_none_or_all_and_a_rerun_works(
    engine, sessionmaker, database_url: str, tmp_path: Path
):
    path = tmp_path / "pegawai.xlsx"
    await asyncio.to_thread(_write_employees, path)
    before = await _employees(sessionmaker)
    log = tmp_path / "import-1.log"
    process = await _import(database_url, path, log)
    killed_while_writing = False
    try:
        deadline = time.monotonic() + 120
        while process.returncode is None and time.monotonic() < deadline:
            if await _writing(engine, database_url):
                process.kill()
                killed_while_writing = True
                break
            await asyncio.sleep(0.02)
    finally:
        if process.returncode is None:
            process.kill()
        code = await process.wait()
    output = log.read_text(errors="replace")
    assert killed_while_writing, f"the import ended before the kill (rc {code}):\n{output}"
    assert code == -signal.SIGKILL, output
    after_kill = await _employees(sessionmaker)
    assert after_kill in (before, before + IMPORT_ROWS), after_kill
    # The write transaction was open when it was killed: nothing of it is there.
    assert after_kill == before, after_kill

    rerun = await _import(database_url, path, tmp_path / "import-2.log")
    assert await asyncio.wait_for(rerun.wait(), 180) == 0, (tmp_path / "import-2.log").read_text()
    assert await _employees(sessionmaker) == before + IMPORT_ROWS
