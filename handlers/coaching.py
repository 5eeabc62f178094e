"""/hr_pembinaan for HR (BKPSDM): employees flagged for coaching, and assigning a training.

``/hr_pembinaan`` shows one message: how many employees are flagged (their latest evaluation
is Butuh Perbaikan, Kurang/Misconduct or Sangat Kurang and no coaching training is assigned:
``storage.repositories.coaching``), a page of :data:`PAGE` of them — name, unit, supervisor,
predicate and month, the recommended trainings (``bot.rules.coaching``) — and per person a
**Tugaskan pelatihan** button; paging buttons; **Sudah ditugaskan (N)** lists the latest
assignments compactly.

Buttons (``callback_data`` ≤ 64 bytes, naming only what to look up):

* ``hrp:list:{offset}`` — a page of the list;
* ``hrp:pick:{evaluation}:{offset}`` — the employee with every recommendation and the open
  upcoming trainings as buttons (those fitting a recommendation first, marked ⭐); none:
  a pointer to /hr_pelatihan;
* ``hrp:give:{evaluation}:{training}`` — one press assigns (``bot.coaching.assign_training``:
  participant added, evaluation marked, audit entry, employee and supervisor told through
  the outbox, all in one transaction);
* ``hrp:done`` — the latest assignments.

Every press is checked again on the server: the presser must be HR (read from the database
for every update), the evaluation must still flag its employee, and the training must still
be open; anything else is answered with an alert and changes nothing, so a second press on
the same training button assigns and tells nobody twice.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.coaching import (
    ASSIGNED,
    TRAINING_CLOSED,
    assign_training,
    assigned_html,
    done_html,
    fitting_first,
    list_html,
    pick_html,
    training_button,
)
from bot.context import BotContext
from bot.delivery import application_now
from bot.menus import Audience
from handlers.access import require, stale_button
from handlers.replies import Buttons, button_router, edit_html, markup, send_html
from storage.repositories.coaching import CoachingRepository
from storage.repositories.trainings import TrainingRepository

PREFIX = "hrp:"
PAGE = 6
TRAININGS_SHOWN = 10
ASSIGNED_SHOWN = 15
BUTTON_NAME_MAX = 28

_BUTTON = re.compile(r"^hrp:(list|pick|give|done)((?::\d{1,18}){0,2})$")


def _short(text: str, limit: int = BUTTON_NAME_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def list_view(context: BotContext, offset: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of the flagged employees with their buttons (``offset`` clamped to the list)."""
    t = context.t
    async with context.session() as session:
        repository = CoachingRepository(session)
        items, total = await repository.flagged(offset=max(0, offset), limit=PAGE)
        if not items and total and offset > 0:
            offset = (total - 1) // PAGE * PAGE
            items, total = await repository.flagged(offset=offset, limit=PAGE)
        assigned = await repository.assigned_count()
    offset = max(0, offset) if items else 0
    rows: Buttons = [
        [
            (
                t("🎓 Assign training: {name}", name=f"{number}. {_short(item.name)}"),
                f"{PREFIX}pick:{item.evaluation_id}:{offset}",
            )
        ]
        for number, item in enumerate(items, start=offset + 1)
    ]
    paging = []
    if offset > 0:
        paging.append((t("◀️ Previous"), f"{PREFIX}list:{max(0, offset - PAGE)}"))
    if offset + len(items) < total:
        paging.append((t("Next ▶️"), f"{PREFIX}list:{offset + PAGE}"))
    if paging:
        rows.append(paging)
    if assigned:
        rows.append([(t("📋 Already assigned ({n})", n=t.number(assigned)), f"{PREFIX}done")])
    text = list_html(items, total, offset, assigned, t)
    return text, markup(rows) if rows else None


@require(Audience.HR_ADMIN)
async def hr_coaching(update: Update, context: BotContext) -> None:
    """``/hr_pembinaan``: the first page of the flagged employees."""
    text, keyboard = await list_view(context, 0)
    await send_html(update, context, text, keyboard)


def _not_flagged(context: BotContext) -> str:
    return context.t(
        "This employee already has a coaching training, or is no longer flagged. "
        "Send /hr_pembinaan for the current list."
    )


async def _list(update: Update, context: BotContext, args: list[int]) -> None:
    assert update.callback_query is not None
    offset = args[0] if args else 0
    text, keyboard = await list_view(context, offset)
    await update.callback_query.answer()
    await edit_html(update, text, keyboard)


async def _pick(update: Update, context: BotContext, args: list[int]) -> None:
    assert update.callback_query is not None
    if len(args) != 2:
        await stale_button(update, context)
        return
    evaluation_id, offset = args
    t, now = context.t, application_now(context.application)
    async with context.session() as session:
        item = await CoachingRepository(session).flagged_one(evaluation_id)
        upcoming = await TrainingRepository(session).upcoming_for_hr(now=now, limit=TRAININGS_SHOWN)
    if item is None:
        await stale_button(update, context, _not_flagged(context))
        return
    choices = fitting_first([summary.training for summary in upcoming], item)
    rows: Buttons = [
        [(training_button(training, fitting, t), f"{PREFIX}give:{evaluation_id}:{training.id}")]
        for training, fitting in choices
    ]
    rows.append([(t("↩ Back"), f"{PREFIX}list:{offset}")])
    await update.callback_query.answer()
    await edit_html(update, pick_html(item, t, has_trainings=bool(choices)), markup(rows))


async def _give(update: Update, context: BotContext, args: list[int]) -> None:
    query, account = update.callback_query, context.account
    assert query is not None and account is not None
    if len(args) != 2:
        await stale_button(update, context)
        return
    evaluation_id, training_id = args
    t = context.t
    async with context.session() as session:
        outcome = await assign_training(
            session,
            context.settings,
            evaluation_id=evaluation_id,
            training_id=training_id,
            actor_id=account.employee_id,
            now=application_now(context.application),
        )
        if outcome.queued:
            context.after_commit(context.wake_sender)
    if outcome.status == TRAINING_CLOSED:
        await stale_button(
            update, context, t("That training is no longer open. Please choose another one.")
        )
        return
    if outcome.status != ASSIGNED:
        await stale_button(update, context, _not_flagged(context))
        return
    await query.answer(t("Assigned."))
    back = markup([[(t("↩ Back to the list"), f"{PREFIX}list:0")]])
    await edit_html(update, done_html(outcome, t), back)


async def _done(update: Update, context: BotContext, args: list[int]) -> None:
    assert update.callback_query is not None
    t = context.t
    async with context.session() as session:
        items, total = await CoachingRepository(session).assigned(limit=ASSIGNED_SHOWN)
    await update.callback_query.answer()
    back = markup([[(t("↩ Back to the list"), f"{PREFIX}list:0")]])
    await edit_html(update, assigned_html(items, total, t), back)


_ACTIONS = {"list": _list, "pick": _pick, "give": _give, "done": _done}


on_button = require(Audience.HR_ADMIN)(button_router(_BUTTON, _ACTIONS, numbers=True))


def register(application: Application) -> None:
    """``/hr_pembinaan`` and its buttons (group 0, before the fallback)."""
    application.add_handler(
        CommandHandler("hr_pembinaan", hr_coaching, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(PREFIX)}"))
