"""Ending evaluation conversations nobody has touched for a while, politely.

A live ``/nilai`` conversation is an ``evaluation`` flows draft (``handlers.evaluations``),
touched at every press and every typed answer. The scheduler's tick calls :func:`pause_idle`:
a draft untouched for ``EVALUATION_IDLE_MINUTES`` (default 30) is removed and the supervisor
gets one message through the outbox: the evaluation of that person is paused, the answers are
saved, ``/nilai`` continues. Nothing of the evaluation itself changes (its row holds every
answer and the step), and a button of the paused conversation's message still works.

Decisions:

* The message's idempotency key is ``evaluation_idle:{evaluation_id}:{epoch of the draft's
  updated_at}``: one message per pause, never two for the same one, even if two processes
  tick at once (the draft is deleted only while still idle, and the key is unique).
* A draft whose evaluation was sent meanwhile (or is gone) is removed silently.
* The message is urgent for the outbox: it answers the supervisor's own activity of a few
  minutes before and would be meaningless in the morning after quiet hours.
* The message is in the supervisor's language (their employee or Telegram setting, else the
  default language).
* ``now`` must be on the drafts' clock: their ``updated_at`` is the real UTC time, which is
  the application's clock in production (a test that fakes the scheduler's clock while a
  conversation is live passes ``now`` itself).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluation_cards import FLOW, paused_html
from bot.i18n import get_translator
from storage.models import Draft
from storage.repositories.accounts import AccountRepository
from storage.repositories.evaluations import DRAFT, EvaluationRepository
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger(__name__)

KIND = "evaluation_idle"


def idle_key(evaluation_id: int, touched: dt.datetime) -> str:
    return f"{KIND}:{evaluation_id}:{int(touched.timestamp())}"


async def pause_idle(session: AsyncSession, settings: Settings, now: dt.datetime) -> int:
    """End the evaluation conversations idle at ``now``; how many messages were queued.

    Runs in the caller's transaction (the scheduler's tick) and never commits.
    """
    cutoff = now - dt.timedelta(minutes=settings.evaluation_idle_minutes)
    rows = (
        await session.execute(
            select(Draft.id, Draft.telegram_user_id, Draft.data, Draft.updated_at).where(
                Draft.flow == FLOW, Draft.updated_at < cutoff
            )
        )
    ).all()
    queued = 0
    evaluations, outbox = EvaluationRepository(session), OutboxRepository(session)
    for draft_id, telegram_user_id, data, touched in rows:
        removed = await session.execute(
            delete(Draft)
            .where(Draft.id == draft_id, Draft.updated_at < cutoff)  # not touched meanwhile
            .execution_options(synchronize_session=False)
        )
        if not getattr(removed, "rowcount", 0):
            continue
        data = dict(data or {})
        state = await evaluations.get(int(data.get("evaluation_id") or 0))
        if state is None or state.status != DRAFT:
            continue
        account = await AccountRepository(session).load(telegram_user_id)
        t = get_translator(account.language or settings.default_language, settings.timezone)
        chat_id = int(data.get("chat_id") or telegram_user_id)
        if await outbox.enqueue(
            idle_key(state.id, touched),
            chat_id,
            {"text": paused_html(state.employee_name, t, idle=True), "parse_mode": "HTML"},
            kind=KIND,
            employee_id=account.employee_id,
            urgent=True,
        ):
            queued += 1
    if queued:
        log.info("evaluations: %d idle conversation(s) paused", queued)
    return queued
