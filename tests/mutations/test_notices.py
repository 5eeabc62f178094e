"""The pushes of stage changes made by an import: once per change, whoever tells them.

An import leaves its stage changes pending (``notified_at`` unset). They are told right
after the import (in chat, on the command line: ``bot.mutation_notices.tell_pending``) or
by the scheduler's tick; the outbox keys and the claim on each event make every message once,
even with two processes at it. Re-importing the same file changes nothing, so tells nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import func, select

from bot.config import Settings
from bot.context import BotData
from bot.delivery import Sender
from bot.mutation_notices import tell_pending
from bot.mutations import process_events
from bot.scheduler import run_tick
from storage.demo import load_demo
from storage.models import Employee, Mutation, MutationEvent, OutboxMessage, Unit
from storage.repositories.mutations import MutationRepository
from tests.conftest import ON_POSTGRES
from tests.storage.importing import MUTATION_HEADERS, csv_bytes, run
from tests.support.factories import (
    NIP_STAFF,
    NIP_SUPERVISOR,
    NIP_TARGET_HEAD,
    add_target_unit,
    add_unit_with_staff,
)

ROOT = Path(__file__).resolve().parents[2]
STAFF_CHAT = 6101
BOSS_CHAT = 6102
HEAD_CHAT = 6103
HEAD_NIP = NIP_TARGET_HEAD
DECREE = ["800.1.3.3/45/BKPSDM-2026", "05/02/2026", "01/03/2026"]


def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, bot_token="", database_url=database_url)


def row(stage: str, *, nip: str = NIP_STAFF, decree: bool = False, note: str = "") -> list[str]:
    return [
        nip,
        "Rotasi",
        "Dinas Perhubungan",
        "Analis Transportasi",
        "Bappeda",
        "Perencana Ahli Pertama",
        stage,
        *(DECREE if decree else ["", "", ""]),
        note,
    ]


def mutations_file(*rows: list[str]) -> bytes:
    return csv_bytes([MUTATION_HEADERS, *rows])


async def people(sessionmaker) -> dict[str, int]:
    """Rina (linked) reports to Yusuf (linked) in Dinas Perhubungan; Bappeda has a head
    (linked) with one report."""
    boss_id, staff_id = await add_unit_with_staff(
        sessionmaker, staff_telegram_id=STAFF_CHAT, supervisor_telegram_id=BOSS_CHAT
    )
    async with sessionmaker() as session, session.begin():
        _unit, head, _clerk = add_target_unit(session, head_telegram_id=HEAD_CHAT)
        await session.flush()
        return {"boss": boss_id, "staff": staff_id, "head": head.id}


async def imported(sessionmaker, *rows: list[str]) -> None:
    result = await run(sessionmaker, mutations_file(*rows), actor_label="cli")
    assert result.ok, [issue.render_line() for issue in result.issues]


async def process(sessionmaker, config: Settings) -> int:
    async with sessionmaker() as session, session.begin():
        return await process_events(session, config)


async def outbox(sessionmaker) -> list[tuple[str, int]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.chat_id).order_by(OutboxMessage.id)
        )
        return [(key, chat) for key, chat in rows]


async def pending(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(MutationEvent)
                .where(MutationEvent.notified_at.is_(None))
            )
            or 0
        )


async def latest_event(sessionmaker) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.max(MutationEvent.id))) or 0)


async def test_a_changed_stage_gives_one_push_and_the_same_file_again_none(
    sessionmaker, database_url
):
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"))
    assert await process(sessionmaker, config) == 1  # "a transfer has been proposed"
    before = await outbox(sessionmaker)

    changed = mutations_file(row("Verifikasi", note="Berkas diterima"))
    assert (await run(sessionmaker, changed)).updated == 1
    event = await latest_event(sessionmaker)
    assert await process(sessionmaker, config) == 1
    assert await outbox(sessionmaker) == [*before, (f"mutation_stage:{event}", STAFF_CHAT)]

    again = await run(sessionmaker, changed)
    assert (again.updated, again.unchanged) == (0, 1)
    assert await latest_event(sessionmaker) == event  # no new event ...
    assert await process(sessionmaker, config) == 0  # ... so nothing to tell
    assert len(await outbox(sessionmaker)) == len(before) + 1


async def test_tell_pending_drains_every_batch(sessionmaker, database_url):
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"), row("Diusulkan", nip=NIP_SUPERVISOR))
    woken: list[int] = []
    queued = await tell_pending(sessionmaker, config, batch=1, after_batch=woken.append)
    assert queued == 2  # both linked; one event per transaction
    assert woken == [1, 1]
    assert await pending(sessionmaker) == 0
    assert await tell_pending(sessionmaker, config) == 0


async def test_pelantikan_from_a_file_moves_the_employee_and_tells_both_supervisors(
    sessionmaker, database_url
):
    config = settings(database_url)
    ids = await people(sessionmaker)
    await imported(sessionmaker, row("SK Terbit", decree=True))
    await process(sessionmaker, config)
    await imported(sessionmaker, row("Pelantikan", decree=True))
    assert await process(sessionmaker, config) == 3
    async with sessionmaker() as session:
        mutation_id = await session.scalar(select(Mutation.id))
        staff = await session.get(Employee, ids["staff"])
        assert staff is not None and staff.supervisor_id == ids["head"]
        assert staff.position == "Perencana Ahli Pertama"
    keys = dict(await outbox(sessionmaker))
    assert keys[f"mutation_joined:{mutation_id}:{ids['head']}"] == HEAD_CHAT
    assert keys[f"mutation_left:{mutation_id}:{ids['boss']}"] == BOSS_CHAT


async def test_history_imported_as_finished_is_told_to_nobody(sessionmaker, database_url):
    await people(sessionmaker)
    await imported(sessionmaker, row("Selesai", decree=True))
    assert await process(sessionmaker, settings(database_url)) == 0
    assert await pending(sessionmaker) == 0
    assert await outbox(sessionmaker) == []


async def test_the_tick_tells_what_an_import_left_pending(sessionmaker, database_url):
    """E.g. a command-line import while the bot was down, or a crash after the import."""
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"), row("Diusulkan", nip=NIP_SUPERVISOR))
    assert await pending(sessionmaker) == 2
    application = SimpleNamespace(
        bot_data=BotData(
            settings=settings(database_url),
            sessionmaker=sessionmaker,
            extras={"sender": Sender(sessionmaker)},
        )
    )
    assert await run_tick(application) == 2  # type: ignore[arg-type]
    assert await pending(sessionmaker) == 0
    assert sorted(chat for _key, chat in await outbox(sessionmaker)) == [STAFF_CHAT, BOSS_CHAT]
    assert await run_tick(application) == 0  # type: ignore[arg-type]
    assert len(await outbox(sessionmaker)) == 2


async def test_two_processes_at_once_queue_every_message_once(
    sessionmaker, database_url, monkeypatch
):
    """Two sessions process the same pending events concurrently (on PostgreSQL the second
    waits on the row lock of each event the first has claimed, then finds it told; SQLite
    serialises the transactions)."""
    config = settings(database_url)
    seen: list[int] = []
    real = MutationRepository.pending_events

    async def recorded(self, **kwargs):  # type: ignore[no-untyped-def]
        found = await real(self, **kwargs)
        seen.append(len(found))
        return found

    monkeypatch.setattr(MutationRepository, "pending_events", recorded)
    await people(sessionmaker)
    staff = 8
    async with sessionmaker() as session, session.begin():
        unit = await session.scalar(select(Unit).where(Unit.name == "Dinas Perhubungan"))
        session.add_all(
            Employee(
                nip=f"19880101201201{1 + i % 2}{i + 1:03d}",
                name=f"Pegawai {i}",
                position="Analis Transportasi",
                unit=unit,
                telegram_user_id=6200 + i,
            )
            for i in range(staff)
        )
    await imported(
        sessionmaker,
        *(row("Diusulkan", nip=f"19880101201201{1 + i % 2}{i + 1:03d}") for i in range(staff)),
    )
    counts = await asyncio.gather(process(sessionmaker, config), process(sessionmaker, config))
    if ON_POSTGRES:
        assert seen == [staff, staff]  # both saw every event pending: they did overlap
    else:  # SQLite starts every transaction with the write lock: the second waits its turn
        assert sorted(seen) == [0, staff]
    assert sum(counts) == staff
    keys = [key for key, _chat in await outbox(sessionmaker)]
    assert len(keys) == len(set(keys)) == staff
    assert await pending(sessionmaker) == 0


async def test_the_demo_is_history(sessionmaker, database_url):
    summary = await load_demo(sessionmaker)
    assert summary.mutations > 0
    assert await pending(sessionmaker) == 0
    assert await process(sessionmaker, settings(database_url)) == 0
    assert await outbox(sessionmaker) == []


async def test_a_command_line_import_queues_the_pushes(sessionmaker, database_url, tmp_path):
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"))
    await process(sessionmaker, settings(database_url))
    path = tmp_path / "mutasi.csv"
    path.write_bytes(mutations_file(row("Verifikasi")))
    environment = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    environment["DATABASE_URL"] = database_url
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "run_bot.py"), "import", str(path)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.strip().splitlines()) == 2  # the counts, then the notices
    event = await latest_event(sessionmaker)
    assert (f"mutation_stage:{event}", STAFF_CHAT) in await outbox(sessionmaker)
    assert await pending(sessionmaker) == 0
