"""/hr_audit: the latest entries of the audit log (HR only)."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, filters

from bot.context import BotContext
from bot.i18n import N_
from bot.menus import Audience
from handlers.access import require
from storage.repositories import AuditEntry, AuditRepository

DEFAULT_ENTRIES = 15
MAX_ENTRIES = 30
ACTION_NAMES = {
    "account_linked": N_("linked a Telegram account"),
    "account_unlinked": N_("unlinked a Telegram account"),
    "hr_admin_granted": N_("granted the HR admin role"),
    "hr_admin_withdrawn": N_("withdrew the HR admin role"),
    "import": N_("imported a file"),
    "activation_codes_issued": N_("issued activation codes"),
    "demo_load": N_("loaded the demo data"),
    "day_off_add": N_("added a day off"),
    "day_off_remove": N_("removed a day off"),
    "training_created": N_("created a training"),
    "training_moved": N_("moved a training"),
    "training_cancelled": N_("cancelled a training"),
    "mutation_created": N_("proposed a mutation"),
    "mutation_stage": N_("moved a mutation to another stage"),
    "employee_moved": N_("moved an employee to a new unit (mutation)"),
    "evaluation_submitted": N_("submitted a performance evaluation"),
    "evaluation_refused": N_("was refused rating someone who is not a direct report"),
    "evaluation_reopened": N_("reopened a performance evaluation period"),
    "coaching_assigned": N_("assigned a coaching training"),
    "announcement_sent": N_("sent an announcement"),
    "announcement_scheduled": N_("scheduled an announcement"),
    "announcement_cancelled": N_("cancelled an announcement"),
    "announcement_resent": N_("resent the failed messages of an announcement"),
    "personal_data_erased": N_("erased an employee's personal data on request"),
}


def render_entry(entry: AuditEntry, context: BotContext) -> str:
    t = context.t
    when = t.local(entry.at)
    actor = entry.actor_name or entry.actor_label or t("system")
    action = t(ACTION_NAMES[entry.action]) if entry.action in ACTION_NAMES else entry.action
    target = f" — {escape(entry.entity_id)}" if entry.entity_id else ""
    details = entry.details or {}
    extra = f" ({escape(str(details['filename']))})" if "filename" in details else ""
    stamp = f"{t.date(when.date(), style='medium')} {when:%H.%M}"
    return f"<code>{escape(stamp)}</code> {escape(actor)}: {escape(action)}{target}{extra}"


@require(Audience.HR_ADMIN)
async def show_audit(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    count = DEFAULT_ENTRIES
    if context.args and context.args[0].isdigit():
        count = max(1, min(MAX_ENTRIES, int(context.args[0])))
    async with context.session() as session:
        entries = await AuditRepository(session).recent(count)
    t = context.t
    if not entries:
        await update.effective_message.reply_text(t("The audit log is empty."))
        return
    title = t("Audit log, newest first")
    lines = [f"<b>{escape(title)}</b>"]
    lines += [render_entry(entry, context) for entry in entries]
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler("hr_audit", show_audit, filters=filters.UpdateType.MESSAGE)
    )
