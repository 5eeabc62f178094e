"""/nilai: a supervisor's monthly evaluation (SKP) of their direct reports, in one guided chat.

``/nilai`` (private chats, supervisors) shows the open period (its month and deadline) and
the direct reports with their state — sent with the predicate, a draft at step n, not rated
yet — those *baru dimutasi* (moved in during the last three months) first, a button per
person, a page of :data:`bot.evaluation_cards.PAGE_SIZE` at a time, and a **Lanjutkan**
button for the evaluation in progress. Choosing a person starts (or resumes, at the stored
step) the guided evaluation in the same message, edited in place: Hasil Kerja → the seven
BerAKHLAK values → the derived Perilaku Kerja → feedback (typed, or Lewati) → the summary with
the predicate → **Kirim** / **Ubah** / **Batal**. Every step has Back and Cancel (see
``bot.evaluation_cards`` for the texts, the keyboards and the callback data).

State: the evaluation row is the conversation's state (every answer and ``current_step`` are
saved as they are given, ``bot.evaluations``); the ``evaluation`` flows draft only says that a
conversation is live — which evaluation, which message — so typed feedback reaches it and
inactivity can end it (``bot.evaluation_idle``). A restart, another phone or a day's pause
loses nothing: ``/nilai`` and the person's button show the stored step, and pressing a button
of an older message of the same evaluation still works (it restarts the draft).

Every press is checked again on the server: the presser is a supervisor (``require``), the
evaluation exists, its employee is the presser's direct report now (otherwise a refusal alert
and an ``evaluation_refused`` audit entry: a forged press), the period is still open for the
presser (deadline, or HR's reopening; otherwise a "closed" alert), the evaluation is still a
draft, and the button's step is the evaluation's ``current_step`` (otherwise a stale button).
The predicate is computed on the server at Kirim; a double tap submits once.

Decisions:

* Back at the first step returns to the list (and ends the live conversation; the answers
  stay). ``/nilai`` also ends a live conversation, so a text typed after it is not taken as
  feedback for an evaluation no longer on screen.
* Typed feedback is answered with the summary as a new message (below the supervisor's text,
  where the eye is); the earlier message loses its buttons. Too long a text (over
  ``FEEDBACK_MAX`` characters) is refused with its length, and the step waits for another.
* Batal and ``/batal`` end the conversation and keep every answer: the message says that
  ``/nilai`` resumes. Text typed while a button step is shown gets a pointer to the buttons.
* A submitted evaluation chosen from the list is shown read-only, with a button back to the
  list. After Kirim the final card has no buttons and says whether the employee was told.
* The application's clock (``bot_data.extras["clock"]``, ``bot.delivery.application_now``)
  decides "today" for the periods, so tests can stand on a fixed date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from dataclasses import dataclass
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot import evaluation_cards as cards
from bot.config import Settings
from bot.context import BotContext
from bot.delivery import application_now
from bot.evaluations import (
    answer_values,
    clean_feedback,
    is_open_for,
    local_today,
    month_name,
    moved_since,
    open_period_for,
    resume_step,
    save,
    submit,
    window_of,
)
from bot.menus import Audience, allowed_audience
from bot.rules.periods import (
    BEHAVIOUR,
    FEEDBACK,
    FEEDBACK_MAX,
    SUMMARY,
    add_months,
    first_unanswered,
    previous_step,
)
from bot.trainings import Buttons
from handlers.access import refuse, require, stale_button
from handlers.flows import Flow, begin, register_flow
from handlers.replies import edit_html, markup
from storage.repositories.audit import AuditRepository
from storage.repositories.drafts import DraftRepository, DraftState
from storage.repositories.evaluations import (
    DRAFT,
    EvaluationRepository,
    EvaluationState,
    PeriodInfo,
    TeamMember,
)

log = logging.getLogger(__name__)

FLOW = cards.FLOW
REFUSED_ACTION = "evaluation_refused"


# --------------------------------------------------------------------------- helpers
def _now(context: BotContext) -> dt.datetime:
    return application_now(context.application)


def _today(context: BotContext) -> dt.date:
    return local_today(context.settings, _now(context))


def _me(context: BotContext) -> int:
    assert context.account is not None and context.account.employee_id is not None
    return context.account.employee_id


def _draft_data(update: Update, evaluation_id: int, message_id: int | None) -> dict[str, int]:
    chat = update.effective_chat
    data = {"evaluation_id": evaluation_id}
    if message_id is not None:
        data["message_id"] = message_id
    if chat is not None:
        data["chat_id"] = chat.id
    return data


async def _live(
    context: BotContext,
    session: AsyncSession,
    update: Update,
    state: EvaluationState,
    step: str,
    message_id: int | None,
) -> None:
    """The conversation about ``state`` is live (again) in ``message_id``."""
    assert update.effective_user is not None
    await begin(
        context,
        session,
        update.effective_user.id,
        FLOW,
        step,
        _draft_data(update, state.id, message_id),
    )


async def _end(context: BotContext, session: AsyncSession, update: Update) -> None:
    assert update.effective_user is not None
    await DraftRepository(session).clear(update.effective_user.id, FLOW)


def _shown_step(state: EvaluationState) -> str:
    """Where the evaluation stands (a later step never shows before its answers exist)."""
    step = resume_step(state)
    if step in (BEHAVIOUR, FEEDBACK, SUMMARY) and not cards.complete(state):
        step = first_unanswered(state.work_result, state.ratings)
    return step


def _refused(
    session: AsyncSession,
    context: BotContext,
    data: str,
    *,
    employee_id: int,
    evaluation_id: int | None = None,
) -> None:
    """A press for someone who is not the presser's direct report: logged and audited."""
    log.warning(
        "evaluation press refused: employee %s is not a direct report of %s (%r)",
        employee_id,
        _me(context),
        data,
    )
    AuditRepository(session).record(
        REFUSED_ACTION,
        actor_id=_me(context),
        actor_label="telegram",
        entity_type="evaluation" if evaluation_id is not None else "employee",
        entity_id=str(evaluation_id if evaluation_id is not None else employee_id),
        details={
            "employee_id": employee_id,
            "callback_data": data,
            "reason": "not_direct_report",
        },
    )


def _refusal_text(context: BotContext) -> str:
    return context.t("Sorry, you can only rate your own direct reports.")


def _locked_text(context: BotContext, period: PeriodInfo) -> str:
    t = context.t
    return t(
        "The evaluation period for {month} is closed. HR (BKPSDM) can reopen it.",
        month=month_name(t, period.year, period.month),
    )


def _sent_text(context: BotContext) -> str:
    return context.t("This evaluation has already been sent.")


# --------------------------------------------------------------------------- the list
async def next_opening(session: AsyncSession, settings: Settings, today: dt.date) -> dt.date:
    """The first day after ``today`` on which a period opens."""
    for delta in (0, 1, 2):
        window = await window_of(session, settings, *add_months(today.year, today.month, delta))
        if window.opens_on > today:
            return window.opens_on
    raise AssertionError("a period opens every month")  # pragma: no cover


async def _in_progress(
    session: AsyncSession, user_id: int, members: list[TeamMember]
) -> TeamMember | None:
    """The evaluation to continue: the live conversation's, else the draft touched last."""
    drafts = [m for m in members if m.status == DRAFT and m.evaluation_id is not None]
    if not drafts:
        return None
    live = await DraftRepository(session).get(user_id, FLOW)
    if live is not None:
        for member in drafts:
            if member.evaluation_id == live.data.get("evaluation_id"):
                return member
    repository = EvaluationRepository(session)
    newest: tuple[dt.datetime, TeamMember] | None = None
    for member in drafts:
        assert member.evaluation_id is not None
        state = await repository.get(member.evaluation_id)
        if state is not None and (newest is None or state.updated_at > newest[0]):
            newest = (state.updated_at, member)
    return newest[1] if newest else None


async def _team_view(
    context: BotContext, session: AsyncSession, user_id: int, page: int
) -> tuple[str, Buttons]:
    me, now = _me(context), _now(context)
    today = local_today(context.settings, now)
    period = await open_period_for(session, context.settings, me, today)
    if period is None:
        opens = await next_opening(session, context.settings, today)
        return cards.no_period_html(opens, context.t), []
    members = await EvaluationRepository(session).team(me, period.id, moved_since=moved_since(now))
    if not members:
        return cards.no_team_html(context.settings.hr_contact, context.t), []
    in_progress = await _in_progress(session, user_id, members)
    return cards.team_view(members, period, context.t, page=page, in_progress=in_progress)


@require(Audience.SUPERVISOR)
async def nilai(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    async with context.session() as session:
        text, rows = await _team_view(context, session, user.id, 0)
        await DraftRepository(session).clear(user.id, FLOW)
    await message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=markup(rows) if rows else None
    )


# --------------------------------------------------------------------------- buttons
@dataclass
class Outcome:
    """What to show after a press: an alert, and/or the message's new text and buttons."""

    alert: str | None = None
    text: str | None = None
    rows: Buttons | None = None


async def _page(update: Update, context: BotContext, press: cards.PagePress) -> Outcome:
    assert update.effective_user is not None
    async with context.session() as session:
        text, rows = await _team_view(context, session, update.effective_user.id, press.page)
    return Outcome(text=text, rows=rows)


async def _open(update: Update, context: BotContext, press: cards.OpenPress) -> Outcome:
    query = update.callback_query
    assert query is not None
    me, t, rule = _me(context), context.t, context.settings.behaviour_rule
    message_id = query.message.message_id if query.message else None
    async with context.session() as session:
        repository = EvaluationRepository(session)
        if not await repository.is_direct_report(me, press.employee_id):
            _refused(session, context, query.data or "", employee_id=press.employee_id)
            return Outcome(alert=_refusal_text(context))
        period = await repository.period(press.period_id)
        if period is None:
            return Outcome(alert=t("This button is no longer valid."))
        if not await is_open_for(session, context.settings, period.id, me, _today(context)):
            return Outcome(alert=_locked_text(context, period))
        state = await repository.start(period.id, press.employee_id, me)
        if state.submitted:
            back = [[(t("⬅️ Back to the list"), cards.page_data(0))]]
            return Outcome(text=cards.final_html(state, period, t, rule), rows=back)
        step = _shown_step(state)
        if step != state.current_step:
            state = await save(session, state, {"current_step": step}) or state
        await _live(context, session, update, state, step, message_id)
    text, rows = cards.step_view(state, period, step, t, rule)
    return Outcome(text=text, rows=rows)


async def _act(
    update: Update,
    context: BotContext,
    session: AsyncSession,
    state: EvaluationState,
    period: PeriodInfo,
    press: cards.StepPress,
) -> Outcome:
    """Do what an (already checked) press at the evaluation's current step asks."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    t, rule, step, answer = context.t, context.settings.behaviour_rule, press.step, press.answer
    message_id = query.message.message_id if query.message else None
    if answer == cards.CANCEL:
        await _end(context, session, update)
        return Outcome(text=cards.paused_html(state.employee_name, t), rows=[])
    if answer == cards.BACK:
        before = previous_step(step)
        if before is None:  # the first step: back to the list
            await _end(context, session, update)
            text, rows = await _team_view(context, session, user.id, 0)
            return Outcome(text=text, rows=rows)
        values: dict[str, object] = {"current_step": before}
    elif (rating := cards.rating_of(answer)) is not None and step in cards.RATED_STEPS:
        values = answer_values(state, step, rating)
    elif step == BEHAVIOUR and answer == cards.NEXT:
        values = {"current_step": FEEDBACK}
    elif step == FEEDBACK and answer == cards.SKIP:
        values = {"feedback": "", "current_step": SUMMARY}
    elif step == FEEDBACK and answer == cards.KEEP and state.feedback:
        values = {"current_step": SUMMARY}
    elif step == SUMMARY and answer == cards.SEND:
        return await _send(update, context, session, state, period)
    elif step == SUMMARY and answer in (cards.EDIT, cards.SHOW_SUMMARY):
        await _live(context, session, update, state, SUMMARY, message_id)
        if answer == cards.EDIT:
            text, rows = cards.edit_view(state, period, t)
        else:
            text, rows = cards.summary_view(state, period, t, rule)
        return Outcome(text=text, rows=rows)
    elif step == SUMMARY and (target := cards.jump_target(answer)) is not None:
        values = {"current_step": target}
    else:
        return Outcome(alert=t("This button is no longer valid."))
    saved = await save(session, state, values)
    if saved is None:  # submitted meanwhile (another phone, a double tap)
        return Outcome(alert=_sent_text(context))
    shown = _shown_step(saved)
    await _live(context, session, update, saved, shown, message_id)
    text, rows = cards.step_view(saved, period, shown, t, rule)
    return Outcome(text=text, rows=rows)


async def _send(
    update: Update,
    context: BotContext,
    session: AsyncSession,
    state: EvaluationState,
    period: PeriodInfo,
) -> Outcome:
    """Kirim: submit once (the predicate is computed on the server), tell the employee."""
    t = context.t
    outcome = await submit(session, context.settings, state, evaluator_id=_me(context))
    if outcome.incomplete:
        return Outcome(alert=t("Some answers are still missing."))
    if not outcome.submitted or outcome.state is None:
        return Outcome(alert=_sent_text(context))
    await _end(context, session, update)
    if outcome.queued:
        context.after_commit(context.wake_sender)
    text = cards.final_html(
        outcome.state, period, t, context.settings.behaviour_rule, told=bool(outcome.queued)
    )
    return Outcome(alert=None, text=text, rows=[])


async def _step(update: Update, context: BotContext, press: cards.StepPress) -> Outcome:
    query = update.callback_query
    assert query is not None
    me = _me(context)
    async with context.session() as session:
        repository = EvaluationRepository(session)
        state = await repository.get(press.evaluation_id)
        if state is None:
            return Outcome(alert=context.t("This button is no longer valid."))
        if not await repository.is_direct_report(me, state.employee_id):
            _refused(
                session,
                context,
                query.data or "",
                employee_id=state.employee_id,
                evaluation_id=state.id,
            )
            return Outcome(alert=_refusal_text(context))
        period = await repository.period(state.period_id)
        assert period is not None
        if not await is_open_for(session, context.settings, period.id, me, _today(context)):
            return Outcome(alert=_locked_text(context, period))
        if state.status != DRAFT:
            return Outcome(alert=_sent_text(context))
        if press.step != (state.current_step or _shown_step(state)):
            return Outcome(alert=context.t("This button is no longer valid."))
        return await _act(update, context, session, state, period, press)


@require(Audience.SUPERVISOR)
async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    press = cards.parse(query.data)
    if isinstance(press, cards.PagePress):
        outcome = await _page(update, context, press)
    elif isinstance(press, cards.OpenPress):
        outcome = await _open(update, context, press)
    elif isinstance(press, cards.StepPress):
        outcome = await _step(update, context, press)
    else:
        outcome = Outcome(alert=context.t("This button is no longer valid."))
    if outcome.alert is not None:
        await stale_button(update, context, outcome.alert)
        return
    await query.answer()
    if outcome.text is not None:
        await edit_html(update, outcome.text, markup(outcome.rows) if outcome.rows else None)


# --------------------------------------------------------------------------- typed feedback
async def _strip_buttons(context: BotContext, draft: DraftState, text: str) -> None:
    """A courtesy: the conversation's earlier message keeps its text, loses its buttons."""
    chat_id, message_id = draft.data.get("chat_id"), draft.data.get("message_id")
    if not chat_id or not message_id:
        return
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML
        )


async def on_text(update: Update, context: BotContext, draft: DraftState) -> None:
    """A message typed while an evaluation conversation is live: the feedback."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t, rule = context.t, context.settings.behaviour_rule
    if not allowed_audience(Audience.SUPERVISOR, context.account):
        async with context.session() as session:
            await _end(context, session, update)
        await refuse(update, context, Audience.SUPERVISOR)
        return
    me = _me(context)
    problem: str | None = None
    reply: str | None = None
    saved: EvaluationState | None = None
    async with context.session() as session:
        repository = EvaluationRepository(session)
        state = await repository.get(int(draft.data.get("evaluation_id") or 0))
        period = await repository.period(state.period_id) if state is not None else None
        if state is None or period is None:
            problem = t("This evaluation is no longer available. Send /nilai to start again.")
        elif not await repository.is_direct_report(me, state.employee_id):
            problem = _refusal_text(context)
        elif not await is_open_for(session, context.settings, period.id, me, _today(context)):
            problem = _locked_text(context, period)
        elif state.status != DRAFT:
            problem = _sent_text(context)
        if problem is not None:
            await _end(context, session, update)
        else:
            assert state is not None
            step = state.current_step or _shown_step(state)
            feedback = clean_feedback(message.text or "")
            if step != FEEDBACK:
                reply = t(
                    "Please answer with the buttons in the message above, or send /batal to pause."
                )
            elif feedback is None:
                reply = t("Please type the feedback as text, or tap Skip.")
            elif len(feedback) > FEEDBACK_MAX:
                reply = cards.feedback_too_long(len(feedback), t)
            else:
                saved = await save(session, state, {"feedback": feedback, "current_step": SUMMARY})
                if saved is None:
                    problem = _sent_text(context)
                    await _end(context, session, update)
            if problem is None:  # the conversation goes on: touch the draft
                await DraftRepository(session).put(user.id, FLOW, step, draft.data)
    if problem is not None or reply is not None:
        await message.reply_text(problem or reply or "")
        return
    assert saved is not None and period is not None
    done = "✍️ " + escape(t("Feedback saved."))
    await _strip_buttons(context, draft, f"{cards.header(saved, period, t)[1]}\n{done}")
    text, rows = cards.summary_view(saved, period, t, rule)
    sent = await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup(rows))
    async with context.session() as session:
        await _live(context, session, update, saved, SUMMARY, sent.message_id)


async def on_cancel(update: Update, context: BotContext, draft: DraftState) -> None:
    """``/batal`` during an evaluation: the conversation ends, the answers stay."""
    message = update.effective_message
    assert message is not None
    async with context.session() as session:
        await _end(context, session, update)
        state = await EvaluationRepository(session).get(int(draft.data.get("evaluation_id") or 0))
    if state is None or state.status != DRAFT:
        await message.reply_text(context.t("Cancelled. Nothing was changed."))
        return
    text = cards.paused_html(state.employee_name, context.t)
    await _strip_buttons(context, draft, text)
    await message.reply_text(text, parse_mode=ParseMode.HTML)


# --------------------------------------------------------------------------- wiring
def register(application: Application) -> None:
    """``/nilai`` and its buttons (group 0, before the fallback) and the feedback flow."""
    private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("nilai", nilai, filters=private))
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(cards.PREFIX)}"))
    register_flow(application, Flow(FLOW, on_text, on_cancel))
