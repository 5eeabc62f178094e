"""One send rate for every process on one PostgreSQL (``bot.send_budget``)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from bot.send_budget import SharedSendBudget
from storage.db import create_engine
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the shared budget is PostgreSQL's")


def busiest_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any half-open window ``[t, t + window)``."""
    times = sorted(times)
    best = start = 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_busiest_window_counts_half_open_windows() -> None:
    assert busiest_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert busiest_window([0.0, 1.0, 2.0]) == 1
    assert busiest_window([]) == 0


async def test_three_processes_never_exceed_the_rate_together(database_url: str) -> None:
    rate = 40.0
    engines = [create_engine(database_url) for _ in range(3)]
    budgets = [SharedSendBudget(e, rate) for e in engines]
    sends: list[float] = []
    wanted = int(3 * rate)  # three seconds' worth: several windows

    async def sender(budget: SharedSendBudget) -> None:
        while len(sends) < wanted:
            if await budget.take() is None:
                sends.append(time.monotonic())

    try:
        # Each "process" sends from several coroutines at once, as replies and pushes do.
        await asyncio.gather(*(sender(b) for b in budgets for _ in range(4)))
    finally:
        for e in engines:
            await e.dispose()
    assert busiest_window(sends) <= rate
    # The three shared the work: the budget is not one process's.
    assert all(b.booked > 0 for b in budgets)


async def test_a_pause_holds_every_process(database_url: str) -> None:
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        met_429, other = SharedSendBudget(first, 25), SharedSendBudget(second, 25)
        assert await other.take(max_wait=1.0) is None
        await met_429.pause(30)
        retry_in = await other.take(max_wait=1.0)
        assert retry_in is not None and 25 < retry_in <= 31
    finally:
        await first.dispose()
        await second.dispose()


async def test_the_budget_row_is_unlogged_and_made_again_when_gone(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        budget = SharedSendBudget(engine, 25)
        assert await budget.take(max_wait=1.0) is None
        async with engine.begin() as connection:
            persistence = await connection.scalar(
                text("SELECT relpersistence::text FROM pg_class WHERE relname = 'send_budget'")
            )
            assert persistence == "u"  # unlogged: emptied after a server crash
            await connection.execute(text("DELETE FROM send_budget"))
        assert await budget.take(max_wait=1.0) is None
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM send_budget")) == 1
    finally:
        await engine.dispose()
