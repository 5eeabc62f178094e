"""/hr_rotasi [unit] for HR (BKPSDM): who is due for rotation (more than five years in the
post), with their box in the talent map and the units where their post is under-filled.

``/hr_rotasi`` covers every active employee; ``/hr_rotasi TEXT`` those of the units whose
name contains TEXT. One message: how many active employees are not yet eligible / eligible /
due / have no TMT jabatan, then the people due, longest in the post first (the first
:data:`SHOWN`, within Telegram's 4,096 characters; "…and N more"), each with their unit,
position, years in the post, talent box and up to :data:`OPENINGS_SHOWN` under-filled posts
elsewhere (from HR's ``Unit, Jabatan, Formasi`` file; without one the message says so once).
**📥 Unduh** sends everyone as XLSX.

Button (``rot:dl[:unit…]``, ids only): the units of the filter are named by id, and the
press is checked again on the server (HR, read from the database for every update; the units
still exist). When the ids do not fit in Telegram's 64 bytes the file covers every unit (its
caption says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from bot.menus import Audience
from bot.mutations import MESSAGE_MAX, local_today
from bot.rotation import RotationReport, box_text, opening_text, rotation_report
from bot.rules.talent import ELIGIBILITY_LABELS, Eligibility
from handlers.access import require, stale_button
from handlers.replies import Buttons, button_router, markup
from storage.exports.rotation import file_name, rotation_workbook
from storage.repositories.rotation import RotationRepository

PREFIX = "rot:"
SHOWN = 30
OPENINGS_SHOWN = 3
NAME_SHOWN = 60
UNITS_NAMED = 5
FILTER_MIN, FILTER_MAX = 2, 100
CALLBACK_MAX = 64

_BUTTON = re.compile(r"^rot:(dl)((?::\d{1,18}){0,20})$")


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def download_data(report: RotationReport) -> str:
    """``rot:dl`` followed by the filter's unit ids, or bare (every unit) if they do not fit."""
    data = PREFIX + "dl" + "".join(f":{unit.id}" for unit in report.units)
    return data if len(data.encode()) <= CALLBACK_MAX else PREFIX + "dl"


def counts_html(report: RotationReport, t: Translator) -> list[str]:
    total = sum(report.counts.values())
    lines = [escape(t.ngettext("{n} active employee:", "{n} active employees:", total))]
    for kind in Eligibility:
        label = t(ELIGIBILITY_LABELS[kind])
        lines.append(f"• {escape(label)}: <b>{escape(t.number(report.counts[kind]))}</b>")
    unknown = t("TMT jabatan not filled in")
    lines.append(f"• {escape(unknown)}: <b>{escape(t.number(report.counts[None]))}</b>")
    return lines


def rotation_html(report: RotationReport, t: Translator, *, shown: int = SHOWN) -> str:
    """The message: counts, then the first ``shown`` people due (HTML, within 4,096)."""
    heading = t("Due for rotation (more than 5 years in post)")
    head = [f"🔁 <b>{escape(heading)}</b>"]
    if report.units:
        names = ", ".join(_shorten(unit.name, 48) for unit in report.units[:UNITS_NAMED])
        if len(report.units) > UNITS_NAMED:
            names += ", …"
        head.append(escape(t("Units: {names}", names=names)))
    head.append(escape(t("As of {date}.", date=t.date(report.today, "long"))))
    head += ["", *counts_html(report, t), ""]
    if not report.candidates:
        head.append("✅ " + escape(t("Nobody is due for rotation.")))
        return "\n".join(head)
    items: list[str] = []
    for number, item in enumerate(report.candidates[:shown], start=1):
        post = f"{item.position}, {item.unit}" if item.position else item.unit
        since = t.date(item.post_since, "medium")
        years = t.ngettext(
            "{n} year in the post (since {date})",
            "{n} years in the post (since {date})",
            item.years,
            date=since,
        )
        lines = [
            f"{number}. <b>{escape(_shorten(item.name))}</b> — {escape(_shorten(post, 120))}",
            f"   {escape(years)} · {escape(box_text(item, t))}",
        ]
        lines += [
            f"   ➡️ {escape(_shorten(opening_text(opening, t), 160))}"
            for opening in item.openings[:OPENINGS_SHOWN]
        ]
        items.append("\n".join(lines))
    footer: list[str] = []
    if not report.has_formations:
        footer.append(
            "ℹ️ "
            + escape(
                t(
                    "No formasi has been imported (a file with the columns Unit, Jabatan, "
                    "Formasi), so no under-filled posts are suggested."
                )
            )
        )
    footer.append(escape(t("Everyone due is in the XLSX file (📥 Download).")))

    def assemble(kept: list[str]) -> str:
        more = len(report.candidates) - len(kept)
        tail = [escape(t("…and {n} more.", n=t.number(more)))] if more else []
        return "\n".join([*head, "\n\n".join(kept), *tail, "", *footer])

    text = assemble(items)
    while len(text) > MESSAGE_MAX and len(items) > 1:
        items.pop()
        text = assemble(items)
    return text


def rotation_keyboard(report: RotationReport, t: Translator) -> InlineKeyboardMarkup | None:
    if not report.candidates:
        return None
    rows: Buttons = [[(t("📥 Download"), download_data(report))]]
    return markup(rows)


@require(Audience.HR_ADMIN)
async def hr_rotation(update: Update, context: BotContext) -> None:
    """``/hr_rotasi [unit]``."""
    assert update.effective_message is not None
    t = context.t
    typed = " ".join(context.args or []).strip()
    unit_ids: list[int] | None = None
    if typed:
        if not FILTER_MIN <= len(typed) <= FILTER_MAX:
            await update.effective_message.reply_text(
                t("Please type 2 to 100 characters of the unit's name, e.g. /hr_rotasi Bappeda.")
            )
            return
        async with context.session() as session:
            units = await RotationRepository(session).units_matching(typed)
        if not units:
            await update.effective_message.reply_text(t("No unit matches “{text}”.", text=typed))
            return
        unit_ids = [unit.id for unit in units]
    today = local_today(context.settings)
    async with context.session() as session:
        report = await rotation_report(session, today, unit_ids)
    await update.effective_message.reply_text(
        rotation_html(report, t),
        parse_mode=ParseMode.HTML,
        reply_markup=rotation_keyboard(report, t),
    )


# --------------------------------------------------------------------------- buttons
async def _download(update: Update, context: BotContext, args: list[int]) -> None:
    """``dl[:unit…]``: everyone due (in those units) as XLSX."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    t = context.t
    unit_ids = sorted(set(args)) or None
    today = local_today(context.settings)
    async with context.session() as session:
        if unit_ids is not None and len(await RotationRepository(session).units(unit_ids)) != len(
            unit_ids
        ):
            report = None
        else:
            report = await rotation_report(session, today, unit_ids)
    if report is None:
        await stale_button(update, context)
        return
    await query.answer(t("Preparing the file…"))
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    content = await asyncio.to_thread(rotation_workbook, report, t)
    if report.units:
        names = ", ".join(_shorten(unit.name, 48) for unit in report.units[:UNITS_NAMED])
        caption = t("Due for rotation on {date}, units: {names}.", date=t.date(today), names=names)
    else:
        caption = t("Due for rotation on {date}, every unit.", date=t.date(today))
    await context.bot.send_document(
        chat.id, content, filename=file_name(t, today), caption=_shorten(caption, 1000)
    )


_ACTIONS = {"dl": _download}

on_button = require(Audience.HR_ADMIN)(button_router(_BUTTON, _ACTIONS, numbers=True))


def register(application: Application) -> None:
    """``/hr_rotasi`` and its button (group 0, before the fallback)."""
    application.add_handler(
        CommandHandler("hr_rotasi", hr_rotation, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(PREFIX)}"))
