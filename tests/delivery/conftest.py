"""Delivery tests: the outbox repository on both databases, the sender against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.delivery import Sender, delivery_bot
from bot.emulator import RunningEmulator, run_emulator
from storage.models import OutboxMessage
from storage.repositories.outbox import OutboxRepository
from tests.support.telegram import TOKEN


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with run_emulator(bot_username="bukittinggi_asn_bot") as running:
        yield running


@pytest.fixture
async def bot(emulator: RunningEmulator) -> AsyncIterator[Bot]:
    """A plain bot on the emulator, as the sender uses in production."""
    bot = delivery_bot(
        TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url, read_timeout=5
    )
    await bot.request.initialize()
    yield bot
    await bot.request.shutdown()


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
    chat_id: int,
    payload: dict[str, Any] | None = None,
    **kwargs: Any,
) -> bool:
    async with sessionmaker() as session, session.begin():
        return await OutboxRepository(session).enqueue(
            key, chat_id, payload or {"text": key}, kind=kwargs.pop("kind", "test"), **kwargs
        )


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def row_by_key(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> OutboxMessage:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )
        assert found is not None, key
        return found


async def drain(
    sender: Sender,
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    timeout: float = 10.0,  # noqa: ASYNC109 - a safety net, not a measured threshold
) -> dict[str, int]:
    """Run rounds until nothing is pending or being sent; the final counts by status."""
    deadline = time.monotonic() + timeout
    while True:
        if await sender.run_once(bot) == 0:
            async with sessionmaker() as session:
                counts = await OutboxRepository(session).counts_by_status()
            if counts["pending"] + counts["sending"] == 0:
                return counts
            await asyncio.sleep(max(0.02, min(sender.paused_for(), 0.2)))
        assert time.monotonic() < deadline, "the outbox did not drain"
