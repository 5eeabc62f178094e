"""Pushes from handlers and services go through the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import BotContext
from storage.repositories.outbox import OutboxRepository


async def notify_employee(
    session: AsyncSession,
    context: BotContext,
    *,
    key: str,
    chat_id: int,
    employee_id: int | None,
    text: str,
    kind: str = "notice",
    parse_mode: str | None = None,
    reply_markup: dict[str, Any] | None = None,
    urgent: bool = False,
) -> bool:
    """Queue one message; it is sent after the transaction commits (never twice per key)."""
    payload: dict[str, Any] = {"text": text, "parse_mode": parse_mode}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    queued = await OutboxRepository(session).enqueue(
        key, chat_id, payload, kind=kind, employee_id=employee_id, urgent=urgent
    )
    if queued:
        context.after_commit(context.wake_sender)
    return queued
