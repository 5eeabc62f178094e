"""/kinerja: a linked employee's own monthly evaluation results (SKP).

The submitted evaluations of the last :data:`~bot.evaluations.MONTHS_SHOWN` months (periods
from eleven months before the current one up to it), newest first: the month, the predicate,
Hasil Kerja and Perilaku Kerja, the supervisor's feedback (shortened). Then a small PNG chart
of the predicates month by month (drawn in a worker thread). Drafts are never shown: an
evaluation is the employee's only once the supervisor sent it. Whose history is read comes
from the database account of the sender only; the command takes no argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from html import escape

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, filters

from bot.charts import predicate_history_png, predicate_labels
from bot.context import BotContext
from bot.evaluations import MONTHS_SHOWN, local_today, month_name
from bot.i18n import Translator
from bot.menus import Audience
from bot.mutations import MESSAGE_MAX
from bot.rules.periods import add_months
from bot.rules.skp import PREDICATE_LABELS, RATING_LABELS, Predicate, Rating
from handlers.access import require
from storage.repositories.evaluations import EvaluationRepository, HistoryItem

FEEDBACK_SHOWN = 200  # characters of the feedback in the list


def _shorten(text: str, limit: int = FEEDBACK_SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def recent(
    items: list[HistoryItem], today: dt.date, months: int = MONTHS_SHOWN
) -> list[HistoryItem]:
    """The items of the last ``months`` periods up to today's month (oldest first)."""
    first = add_months(today.year, today.month, -(months - 1))
    return [item for item in items if first <= (item.year, item.month) <= (today.year, today.month)]


def month_axis(items: list[HistoryItem]) -> list[tuple[int, int]]:
    """Every month from the first item's to the last item's (gaps included)."""
    if not items:
        return []
    months = [(items[0].year, items[0].month)]
    while months[-1] < (items[-1].year, items[-1].month):
        months.append(add_months(*months[-1], 1))
    return months


def rating_text(value: str | None, t: Translator) -> str:
    if not value:
        return "—"
    try:
        return t(RATING_LABELS[Rating(value)])
    except ValueError:
        return value


def history_html(items: list[HistoryItem], t: Translator) -> str:
    """The results, newest first, within one message."""
    heading = t("Your performance results (last {n} months)", n=t.number(MONTHS_SHOWN))
    lines = [f"📊 <b>{escape(heading)}</b>"]
    blocks: list[str] = []
    for item in reversed(items):
        predicate = t(PREDICATE_LABELS[Predicate(item.predicate)]) if item.predicate else "—"
        month = month_name(t, item.year, item.month)
        block = [f"<b>{escape(month)}</b>: {escape(predicate)}"]
        block.append(
            escape(
                t(
                    "Work results: {work} · Work behaviour: {behaviour}",
                    work=rating_text(item.work_result, t),
                    behaviour=rating_text(item.behaviour, t),
                )
            )
        )
        if item.feedback:
            block.append(f"<i>{escape(_shorten(item.feedback))}</i>")
        blocks.append("\n".join(block))
    text = "\n\n".join(["\n".join(lines), *blocks])
    while len(text) > MESSAGE_MAX and len(blocks) > 1:
        blocks.pop()
        text = "\n\n".join(["\n".join(lines), *blocks])
    return text


def chart_arguments(
    items: list[HistoryItem], t: Translator
) -> tuple[list[str], list[str | None], dict[Predicate, str], str]:
    """What :func:`bot.charts.predicate_history_png` draws: the months (gaps included),
    the predicate of each, the predicates' names and the title, in ``t``'s language."""
    by_month = {(item.year, item.month): item.predicate for item in items}
    axis = month_axis(items)
    months = [t.date(dt.date(year, month, 1), "MMM y") for year, month in axis]
    predicates = [by_month.get(month) for month in axis]
    return months, predicates, predicate_labels(t), t("My performance predicates")


@require(Audience.LINKED)
async def performance(update: Update, context: BotContext) -> None:
    """``/kinerja``: the reader's own results and their chart."""
    account, chat, message = context.account, update.effective_chat, update.effective_message
    assert account is not None and account.employee_id is not None
    assert chat is not None and message is not None
    t = context.t
    today = local_today(context.settings)
    async with context.session() as session:
        history = await EvaluationRepository(session).history(
            account.employee_id, months=MONTHS_SHOWN
        )
    items = recent(history, today)
    if not items:
        none = t(
            "You have no performance results of the last {n} months yet. They appear here "
            "once your supervisor has sent the monthly evaluation.",
            n=t.number(MONTHS_SHOWN),
        )
        await message.reply_text(escape(none), parse_mode=ParseMode.HTML)
        return
    await message.reply_text(history_html(items, t), parse_mode=ParseMode.HTML)
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    months, predicates, labels, title = chart_arguments(items, t)
    chart = await asyncio.to_thread(predicate_history_png, months, predicates, labels, title=title)
    first, last = items[0], items[-1]
    caption = t(
        "Your predicates, {first} – {last}",
        first=month_name(t, first.year, first.month),
        last=month_name(t, last.year, last.month),
    )
    await context.bot.send_photo(chat.id, chart, caption=caption)


def register(application: Application) -> None:
    """``/kinerja`` (group 0, before the fallback)."""
    application.add_handler(
        CommandHandler("kinerja", performance, filters=filters.UpdateType.MESSAGE)
    )
