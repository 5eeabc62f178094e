"""Guided conversations whose state lives in the database (``storage.repositories.drafts``).

A capability declares a :class:`Flow` (a draft ``flow`` name, what to do with a typed answer,
what ``/batal`` does, optionally what to do with an attachment) and calls
:func:`register_flow`. One router, in group :data:`ROUTER_GROUP` (before the account group
and the capabilities), looks at every private message with text or an attachment (photo,
document, sticker …): when the writer has a live draft of a registered flow, the newest one
gets the message (an attachment only if that flow takes them) and nothing else runs (the
account is loaded first, as the account group would); otherwise the message goes on to the
commands and the fallback untouched. Other commands are never taken: a person in the middle of a
conversation may still use ``/help`` and then answer. ``/batal`` without any conversation
says there is nothing to cancel.

Because the state is a database row, a restart, a second process or a new phone continues
where the person left off; a draft untouched for 24 hours is forgotten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from handlers.access import stale_button
from handlers.account import load_account
from handlers.replies import edit_html
from storage.repositories.drafts import DraftRepository, DraftState

ROUTER_GROUP = -2
CANCEL_COMMANDS = ("batal", "cancel")
_EXTRAS_KEY = "flows"

FlowStep = Callable[[Update, BotContext, DraftState], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Flow:
    name: str  # the draft's ``flow``
    on_text: FlowStep  # the person typed an answer
    on_cancel: FlowStep  # the person sent /batal
    # the person sent a photo, a document, a sticker …; ``None``: it goes on to the others
    on_media: FlowStep | None = None


def _flows(application: Application) -> dict[str, Flow]:
    extras: dict[str, Any] = application.bot_data.extras
    return extras.setdefault(_EXTRAS_KEY, {})


def _command(text: str) -> str | None:
    if not text.startswith("/"):
        return None
    return text.split()[0][1:].split("@")[0].lower()


async def route(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    command = _command(message.text) if message.text is not None else None
    if command is not None and command not in CANCEL_COMMANDS:
        return
    flows = _flows(context.application)
    if message.text is None and not any(flow.on_media for flow in flows.values()):
        return
    async with context.session() as session:
        draft = await DraftRepository(session).latest(user.id, flows)
    if draft is None:
        return
    flow = flows[draft.flow]
    step: FlowStep | None
    if message.text is None:
        step = flow.on_media
    else:
        step = flow.on_cancel if command is not None else flow.on_text
    if step is None:
        return
    await load_account(update, context)
    try:
        await step(update, context, draft)
    except Exception as exc:  # the error handler tells the person; no other handler replies
        await context.application.process_error(update, exc)
    raise ApplicationHandlerStop


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(context.t("There is nothing to cancel."))


async def stop_button(update: Update, context: BotContext, flow: str | None) -> None:
    """A conversation's "✖ Cancel" button: drop the presser's draft of ``flow`` and say so in
    the pressed message; without such a draft (or an unknown ``flow``) a stale-button alert."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    removed = False
    if flow is not None:
        async with context.session() as session:
            removed = await DraftRepository(session).clear(user.id, flow)
    if not removed:
        await stale_button(update, context)
        return
    await query.answer()
    await edit_html(update, escape(context.t("Cancelled. Nothing was changed.")), None)


async def begin(
    context: BotContext,
    session: AsyncSession,
    user_id: int,
    flow: str,
    step: str,
    data: dict[str, Any],
) -> None:
    """Start (or restart) ``flow`` for ``user_id``: one conversation at a time, so the drafts
    of the other registered flows are dropped."""
    drafts = DraftRepository(session)
    others = [name for name in _flows(context.application) if name != flow]
    await drafts.clear(user_id, *others)
    await drafts.put(user_id, flow, step, data)


def register_flow(application: Application, flow: Flow) -> None:
    """Route typed answers to ``flow`` (installs the router once per application)."""
    flows = _flows(application)
    first = not flows
    flows[flow.name] = flow
    if not first:
        return
    private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    private_text = private & filters.TEXT
    # Stickers, voice notes … too: a flow that takes media answers them itself.
    routed = private & (filters.TEXT | filters.ATTACHMENT)
    application.add_handler(MessageHandler(routed, route), group=ROUTER_GROUP)
    application.add_handler(
        CommandHandler(list(CANCEL_COMMANDS), nothing_to_cancel, filters=private_text)
    )
