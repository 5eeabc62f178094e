"""/hr_talenta [unit] for HR (BKPSDM): the talent map (PermenPAN-RB 3/2020), 3×3 boxes of
performance × potential (``bot.talent``).

Without a unit: every active employee; with text: the unit whose name contains it (several
match: a button per unit, up to :data:`UNITS_OFFERED`). The reply: the counts per box with
the boxes' names and those counted apart (*belum dinilai potensinya*, *belum cukup data*),
a button per non-empty group listing its people, and **📥 Unduh** (XLSX of everyone with
their box); then the map as a PNG picture.

Buttons (``tal:…``, ids only): ``m:{unit|0}`` opens the map of a unit (0: all),
``b:{box}:{unit|0}`` lists the people of a box (1–9; :data:`NO_POTENTIAL_GROUP`,
:data:`NO_DATA_GROUP`: those counted apart), ``dl:{unit|0}`` sends the XLSX. Every press is
checked again on the server (HR, read from the database for every update; the unit exists)
and recomputes the map: ``callback_data`` grants nothing.
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
from bot.evaluations import local_today, month_name
from bot.i18n import Translator
from bot.menus import Audience
from bot.rules.talent import LEVEL_LABELS
from bot.talent import (
    BOX_NAMES,
    BOXES,
    TalentEntry,
    TalentMap,
    box_label,
    eligibility_label,
    file_name,
    predicate_label,
    talent_map,
    talent_workbook,
)
from bot.talent_chart import talent_grid_png
from handlers.access import require, stale_button
from handlers.replies import Buttons, button_router, markup, send_html
from storage.repositories.talent import TalentRepository, UnitMatch

PREFIX = "tal:"
MESSAGE_MAX = 4096
PEOPLE_SHOWN = 20  # cards per list message
UNITS_OFFERED = 10
PREDICATES_SHOWN = 3
TRAININGS_SHOWN = 3
NAME_SHOWN = 60
NO_POTENTIAL_GROUP = 10
NO_DATA_GROUP = 11
GROUPS = (*BOXES, NO_POTENTIAL_GROUP, NO_DATA_GROUP)

_BUTTON = re.compile(r"^tal:(m|b|dl)((?::\d{1,18}){1,2})$")


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def group_of(data: TalentMap, group: int) -> list[TalentEntry]:
    if group == NO_POTENTIAL_GROUP:
        return data.no_potential
    if group == NO_DATA_GROUP:
        return data.not_enough_data
    return data.boxes.get(group, [])


def group_title(t: Translator, group: int) -> str:
    if group == NO_POTENTIAL_GROUP:
        return t("Potential not yet assessed")
    if group == NO_DATA_GROUP:
        return t("Not enough data (fewer than 3 months rated)")
    return t("Box {box}: {name}", box=group, name=box_label(t, group))


# --------------------------------------------------------------------------- rendering
def scope_name(t: Translator, unit: UnitMatch | None) -> str:
    return unit.name if unit is not None else t("all units")


def map_html(data: TalentMap, t: Translator, unit: UnitMatch | None) -> str:
    """Counts per box (9 first), those counted apart, the total and how the map is made."""
    title = t("Talent map: {scope}", scope=_shorten(scope_name(t, unit)))
    lines = [f"🧭 <b>{escape(title)}</b>"]
    counts = data.counts
    for box in reversed(BOXES):
        line = t(
            "{box}. {name}: {count}",
            box=box,
            name=box_label(t, box),
            count=t.number(counts[box]),
        )
        lines.append(escape(line))
    lines.append("")
    lines.append(
        escape(t("Potential not yet assessed: {count}", count=t.number(len(data.no_potential))))
    )
    not_enough = t(
        "Not enough data (fewer than 3 months rated): {count}",
        count=t.number(len(data.not_enough_data)),
    )
    lines.append(escape(not_enough))
    total = t("Active employees: {count}", count=t.number(data.total))
    lines += ["", f"<b>{escape(total)}</b>"]
    hint = t(
        "Performance: the submitted monthly predicates of the last 12 months. Potential: "
        "from the competency assessment loaded by HR."
    )
    lines.append(f"<i>{escape(hint)}</i>")
    return "\n".join(lines)


def map_buttons(data: TalentMap, t: Translator, unit: UnitMatch | None) -> InlineKeyboardMarkup:
    unit_id = unit.id if unit is not None else 0
    rows: Buttons = []
    row: list[tuple[str, str]] = []
    for box in reversed(BOXES):
        count = len(data.boxes.get(box, ()))
        if count:
            label = t("👥 Box {box} ({count})", box=box, count=t.number(count))
            row.append((label, f"{PREFIX}b:{box}:{unit_id}"))
            if len(row) == 3:
                rows.append(row)
                row = []
    if row:
        rows.append(row)
    if data.no_potential:
        label = t("👥 Potential not assessed ({count})", count=t.number(len(data.no_potential)))
        rows.append([(label, f"{PREFIX}b:{NO_POTENTIAL_GROUP}:{unit_id}")])
    if data.not_enough_data:
        label = t("👥 Not enough data ({count})", count=t.number(len(data.not_enough_data)))
        rows.append([(label, f"{PREFIX}b:{NO_DATA_GROUP}:{unit_id}")])
    rows.append([(t("📥 Download (XLSX)"), f"{PREFIX}dl:{unit_id}")])
    return markup(rows)


def person_html(entry: TalentEntry, t: Translator, number: int) -> str:
    """One card: name (NIP), unit, post, years in post and transfer status, last
    predicates, trainings done."""
    person = entry.person
    head = f"{number}. <b>{escape(_shorten(person.name))}</b> ({escape(person.nip)})"
    lines = [head, "🏢 " + escape(_shorten(person.unit))]
    if person.position:
        lines.append("💼 " + escape(_shorten(person.position)))
    if entry.years is None:
        lines.append("📅 " + escape(eligibility_label(t, entry)))
    else:
        years = t.ngettext("{n} full year in post", "{n} full years in post", entry.years)
        status = eligibility_label(t, entry)
        lines.append("📅 " + escape(years + " · " + status))
    if person.predicates:
        shown = [
            t(
                "{month}: {predicate}",
                month=month_name(t, p.year, p.month),
                predicate=predicate_label(t, p.predicate),
            )
            for p in person.predicates[:PREDICATES_SHOWN]
        ]
        lines.append("📊 " + escape("; ".join(shown)))
    else:
        lines.append("📊 " + escape(t("No submitted evaluation in the last 12 months.")))
    if person.trainings:
        titles = [_shorten(training.title, 40) for training in person.trainings]
        more = len(titles) - TRAININGS_SHOWN
        text = ", ".join(titles[:TRAININGS_SHOWN])
        if more > 0:
            text += " " + t("(+{n} more)", n=t.number(more))
        lines.append("🎓 " + escape(text))
    else:
        lines.append("🎓 " + escape(t("No training attended yet.")))
    return "\n".join(lines)


def group_html(
    data: TalentMap, t: Translator, group: int, unit: UnitMatch | None, *, shown: int = PEOPLE_SHOWN
) -> str:
    people = group_of(data, group)
    title, scope = group_title(t, group), _shorten(scope_name(t, unit))
    heading = t.ngettext(
        "{title} · {scope}: {n} person",
        "{title} · {scope}: {n} people",
        len(people),
        title=title,
        scope=scope,
    )
    head = [f"👥 <b>{escape(heading)}</b>", ""]
    if not people:
        return "\n".join([*head, escape(t("Nobody is in this group any more."))])
    cards = [person_html(entry, t, n) for n, entry in enumerate(people[:shown], start=1)]
    while len(cards) > 1 and len("\n\n".join(head + cards)) > MESSAGE_MAX - 200:
        cards.pop()
    hidden = len(people) - len(cards)
    if hidden:
        more = t("…and {n} more (all are in the XLSX file).", n=t.number(hidden))
        cards.append(escape(more))
    return "\n".join(head) + "\n\n".join(cards)


def units_html(t: Translator, text: str, units: list[UnitMatch]) -> str:
    if not units:
        return escape(t("No unit name contains “{text}”.", text=_shorten(text, 40)))
    return escape(t("Several units match “{text}”. Choose one:", text=_shorten(text, 40)))


def chart_png(data: TalentMap, t: Translator, unit: UnitMatch | None) -> bytes:
    apart = t(
        "Counted apart: potential not yet assessed {a}, not enough data {b}",
        a=t.number(len(data.no_potential)),
        b=t.number(len(data.not_enough_data)),
    )
    return talent_grid_png(
        data.counts,
        {box: t(name) for box, name in BOX_NAMES.items()},
        {level: t(label) for level, label in LEVEL_LABELS.items()},
        title=t("Talent map: {scope}", scope=_shorten(scope_name(t, unit))),
        xlabel=t("Performance (last 12 months)"),
        ylabel=t("Potential"),
        footer=apart,
    )


# --------------------------------------------------------------------------- sending
async def _send_map(update: Update, context: BotContext, unit: UnitMatch | None) -> None:
    chat = update.effective_chat
    assert chat is not None
    t = context.t
    today = local_today(context.settings)
    async with context.session() as session:
        data = await talent_map(session, today, unit_id=unit.id if unit else None)
    await send_html(update, context, map_html(data, t, unit), map_buttons(data, t, unit))
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    picture = await asyncio.to_thread(chart_png, data, t, unit)
    caption = t("Talent map: {scope}", scope=_shorten(scope_name(t, unit)))
    await context.bot.send_photo(chat.id, picture, caption=caption)


@require(Audience.HR_ADMIN)
async def hr_talent(update: Update, context: BotContext) -> None:
    """``/hr_talenta [unit]``: the talent map (see the module's docstring)."""
    assert update.effective_message is not None
    t = context.t
    text = " ".join(context.args or []).strip()
    unit: UnitMatch | None = None
    if text:
        async with context.session() as session:
            units = await TalentRepository(session).units_like(text, limit=UNITS_OFFERED)
        exact = [u for u in units if u.name.casefold() == text.casefold()]
        if len(units) == 1 or exact:
            unit = exact[0] if exact else units[0]
        else:
            rows: Buttons = [[(_shorten(u.name, 48), f"{PREFIX}m:{u.id}")] for u in units]
            await update.effective_message.reply_text(
                units_html(t, text, units),
                parse_mode=ParseMode.HTML,
                reply_markup=markup(rows) if rows else None,
            )
            return
    await _send_map(update, context, unit)


# --------------------------------------------------------------------------- buttons
async def _unit(context: BotContext, unit_id: int) -> tuple[bool, UnitMatch | None]:
    """(found, the unit); 0 is every unit."""
    if unit_id == 0:
        return True, None
    async with context.session() as session:
        unit = await TalentRepository(session).unit(unit_id)
    return unit is not None, unit


async def _open_map(update: Update, context: BotContext, args: list[int]) -> None:
    query = update.callback_query
    assert query is not None
    found, unit = await _unit(context, args[0]) if len(args) == 1 else (False, None)
    if not found:
        await stale_button(update, context)
        return
    await query.answer()
    await _send_map(update, context, unit)


async def _list_group(update: Update, context: BotContext, args: list[int]) -> None:
    query = update.callback_query
    assert query is not None
    if len(args) != 2 or args[0] not in GROUPS:
        await stale_button(update, context)
        return
    found, unit = await _unit(context, args[1])
    if not found:
        await stale_button(update, context)
        return
    today = local_today(context.settings)
    async with context.session() as session:
        data = await talent_map(session, today, unit_id=unit.id if unit else None)
    await query.answer()
    await send_html(update, context, group_html(data, context.t, args[0], unit))


async def _download(update: Update, context: BotContext, args: list[int]) -> None:
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    t = context.t
    found, unit = await _unit(context, args[0]) if len(args) == 1 else (False, None)
    if not found:
        await stale_button(update, context)
        return
    today = local_today(context.settings)
    async with context.session() as session:
        data = await talent_map(session, today, unit_id=unit.id if unit else None)
    await query.answer(t("Preparing the file…"))
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    content = await asyncio.to_thread(talent_workbook, data, t)
    caption = t(
        "Talent map ({scope}): everyone with their box, or why they have none.",
        scope=_shorten(scope_name(t, unit)),
    )
    await context.bot.send_document(chat.id, content, filename=file_name(t, today), caption=caption)


_ACTIONS = {"m": _open_map, "b": _list_group, "dl": _download}

on_button = require(Audience.HR_ADMIN)(button_router(_BUTTON, _ACTIONS, numbers=True))


def register(application: Application) -> None:
    """``/hr_talenta`` and its buttons (group 0, before the fallback)."""
    application.add_handler(
        CommandHandler("hr_talenta", hr_talent, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=f"^{re.escape(PREFIX)}"))
