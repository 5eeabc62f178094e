"""The scheduler's leader: one PostgreSQL advisory lock, taken over when its holder dies."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.leader import Leadership
from storage.db import create_engine
from tests.conftest import ON_POSTGRES

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="advisory locks are PostgreSQL's")


async def test_sqlite_process_always_leads(engine: AsyncEngine) -> None:
    if ON_POSTGRES:
        pytest.skip("SQLite only")
    changes: list[bool] = []
    leadership = Leadership(engine, on_change=changes.append)
    leadership.start()
    assert leadership.is_leader and await leadership.step()
    await leadership.stop()
    assert changes == [True]


@postgres_only
async def test_one_leader_and_a_clean_handover(database_url: str) -> None:
    engines = [create_engine(database_url) for _ in range(3)]
    changes: dict[int, list[bool]] = {i: [] for i in range(3)}
    processes = [Leadership(e, on_change=changes[i].append) for i, e in enumerate(engines)]
    try:
        assert [await p.step() for p in processes] == [True, False, False]
        # A vanished host's lock is freed within seconds, not after the system's 2 hours.
        held = processes[0]._connection
        assert held is not None
        assert await held.scalar(text("SHOW tcp_keepalives_idle")) in ("10", "10s")
        # Asking again changes nothing: the leader checks, the others still find it taken.
        assert [await p.step() for p in processes] == [True, False, False]
        await processes[0].stop()
        assert changes[0] == [True, False]
        assert [await p.step() for p in processes[1:]] == [True, False]
        assert changes[1] == [True] and changes[2] == []
    finally:
        for process in processes:
            await process.stop()
        for e in engines:
            await e.dispose()


@postgres_only
async def test_dead_leader_is_replaced_and_a_cut_off_leader_steps_down(
    database_url: str,
) -> None:
    first, second = create_engine(database_url), create_engine(database_url)
    leader, follower = Leadership(first), Leadership(second)
    try:
        assert await leader.step() and not await follower.step()
        # The leader's session ends as when its process dies or its network breaks.
        async with second.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND objid = :low"
                ),
                {"low": leader.key & 0xFFFFFFFF},
            )
            await connection.commit()
        assert await follower.step(), "the follower takes the lock over"
        # The old leader's next check fails: it must not go on believing it leads.
        assert not await leader.step()
        assert not leader.is_leader and follower.is_leader
    finally:
        await leader.stop()
        await follower.stop()
        await first.dispose()
        await second.dispose()
