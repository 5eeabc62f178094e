"""/tim for supervisors: their own team at a glance.

Only the supervisor's **active direct reports** (``Employee.supervisor_id`` is the reader),
each with the years in their post (*TMT jabatan belum diisi* when HR has no date) and where
that puts them for a transfer, their latest submitted predicate (and its month), and their
upcoming trainings (not cancelled, not ended, not declined). Nobody else's staff: the
query starts from the reader's own employee id, read from the database for every update.
A long team is split over several messages.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.context import BotContext
from bot.evaluations import local_today, month_name
from bot.i18n import Translator
from bot.menus import Audience
from bot.rules.talent import ELIGIBILITY_LABELS, eligibility, full_years
from bot.talent import NO_POST_SINCE, predicate_label
from handlers.access import require
from handlers.replies import send_html
from storage.repositories.talent import TalentRepository, TeamMember

MESSAGE_MAX = 4096
TRAININGS_SHOWN = 3
NAME_SHOWN = 60


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def member_html(member: TeamMember, t: Translator, today: dt.date, number: int) -> str:
    head = f"{number}. <b>{escape(_shorten(member.name))}</b> ({escape(member.nip)})"
    lines = [head]
    if member.position:
        lines.append("💼 " + escape(_shorten(member.position)))
    if member.post_since is None:
        lines.append("📅 " + escape(t(NO_POST_SINCE)))
    else:
        count = full_years(member.post_since, today)
        years = t.ngettext("{n} full year in post", "{n} full years in post", count)
        status = t(ELIGIBILITY_LABELS[eligibility(member.post_since, today)])
        lines.append("📅 " + escape(years + " · " + status))
    if member.last is None:
        lines.append("📊 " + escape(t("No submitted evaluation yet.")))
    else:
        last = t(
            "Last predicate ({month}): {predicate}",
            month=month_name(t, member.last.year, member.last.month),
            predicate=predicate_label(t, member.last.predicate),
        )
        lines.append("📊 " + escape(last))
    if member.upcoming:
        shown = [
            t(
                "{title} ({date})",
                title=_shorten(training.title, 40),
                date=t.date(t.local(training.starts_at).date(), "medium"),
            )
            for training in member.upcoming[:TRAININGS_SHOWN]
        ]
        more = len(member.upcoming) - TRAININGS_SHOWN
        text = ", ".join(shown)
        if more > 0:
            text += " " + t("(+{n} more)", n=t.number(more))
        lines.append("🎓 " + escape(text))
    else:
        lines.append("🎓 " + escape(t("No upcoming training.")))
    return "\n".join(lines)


def team_messages(members: list[TeamMember], t: Translator, today: dt.date) -> list[str]:
    """The team as one or more HTML messages, each under Telegram's limit."""
    heading = t.ngettext("My team: {n} person", "My team: {n} people", len(members))
    head = f"👥 <b>{escape(heading)}</b>"
    if not members:
        return [head + "\n\n" + escape(t("You have no active direct reports in the data."))]
    messages: list[str] = []
    current = [head]
    for number, member in enumerate(members, start=1):
        card = member_html(member, t, today, number)
        if len("\n\n".join([*current, card])) > MESSAGE_MAX - 100:
            messages.append("\n\n".join(current))
            current = []
        current.append(card)
    messages.append("\n\n".join(current))
    return messages


@require(Audience.SUPERVISOR)
async def team(update: Update, context: BotContext) -> None:
    """``/tim``: the reader's active direct reports (see the module's docstring)."""
    account = context.account
    assert account is not None and account.employee_id is not None
    today = local_today(context.settings)
    async with context.session() as session:
        members = await TalentRepository(session).team(account.employee_id)
    for text in team_messages(members, context.t, today):
        await send_html(update, context, text)


def register(application: Application) -> None:
    """``/tim`` (group 0, before the fallback)."""
    application.add_handler(CommandHandler("tim", team, filters=filters.UpdateType.MESSAGE))
