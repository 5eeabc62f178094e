"""Which commands a person may use, for /help and Telegram's command menu.

Capabilities add their commands to ``COMMANDS``; the audience decides who sees them.
The server still checks the role on every command: the menu is a convenience only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.i18n import N_, SUPPORTED_LANGUAGES, Translator, get_translator
from storage.repositories import Account


class Audience(StrEnum):
    EVERYONE = "everyone"
    LINKED = "linked"
    SUPERVISOR = "supervisor"
    HR_ADMIN = "hr_admin"


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str  # gettext msgid
    audience: Audience = Audience.EVERYONE


COMMANDS: list[Command] = [
    Command("start", N_("Start and link your account")),
    Command("help", N_("What this bot can do for you")),
    Command("bahasa", N_("Choose the language (Bahasa Indonesia / English)")),
    Command("status", N_("Where my transfer (mutasi) stands"), Audience.LINKED),
    Command("kinerja", N_("My monthly performance results"), Audience.LINKED),
    Command("nilai", N_("Rate my staff for this month (SKP)"), Audience.SUPERVISOR),
    Command("tim", N_("My team: years in post, last results, trainings"), Audience.SUPERVISOR),
    Command("saya", N_("My employee card"), Audience.LINKED),
    Command("pelatihan", N_("My trainings: schedule and attendance"), Audience.LINKED),
    Command("cari", N_("Find an employee by NIP or name"), Audience.HR_ADMIN),
    Command(
        "hr_pelatihan", N_("Trainings: create, move, cancel, attendance list"), Audience.HR_ADMIN
    ),
    Command("hr_mutasi", N_("Mutations: overview, move to the next stage, new"), Audience.HR_ADMIN),
    Command(
        "hr_rekap", N_("Evaluations: progress, pending supervisors, download"), Audience.HR_ADMIN
    ),
    Command("hr_pembinaan", N_("Staff flagged for coaching; assign a training"), Audience.HR_ADMIN),
    Command("hr_talenta", N_("Talent map: performance × potential"), Audience.HR_ADMIN),
    Command("hr_rotasi", N_("Due for rotation (more than 5 years in post)"), Audience.HR_ADMIN),
    Command("hr_umumkan", N_("Send an announcement to ASN"), Audience.HR_ADMIN),
    Command(
        "hr_siaran", N_("Announcements: progress, cancel, download, resend"), Audience.HR_ADMIN
    ),
    Command("hr_impor", N_("Upload employee, mutation or training data"), Audience.HR_ADMIN),
    Command("hr_lepas", N_("Unlink an employee's Telegram account"), Audience.HR_ADMIN),
    Command("hr_admin", N_("Grant or withdraw the HR admin role"), Audience.HR_ADMIN),
    Command("hr_audit", N_("Latest entries of the audit log"), Audience.HR_ADMIN),
    Command(
        "hr_kirim", N_("Outgoing messages: queued, sent, failed, unreachable"), Audience.HR_ADMIN
    ),
]


def allowed_audience(audience: Audience, account: Account | None) -> bool:
    """Whether ``account`` belongs to ``audience`` (roles are read fresh for every update)."""
    match audience:
        case Audience.EVERYONE:
            return True
        case Audience.LINKED:
            return bool(account and account.linked)
        case Audience.SUPERVISOR:
            return bool(account and account.linked and account.is_supervisor)
        case Audience.HR_ADMIN:
            return bool(account and account.linked and account.is_hr_admin)


def commands_for(account: Account | None) -> list[Command]:
    return [command for command in COMMANDS if allowed_audience(command.audience, account)]


def bot_commands(commands: list[Command], translator: Translator) -> list[BotCommand]:
    return [BotCommand(c.name, translator(c.description)) for c in commands]


async def publish_default_menu(bot: Bot, timezone: str, default_language: str) -> None:
    """The menu of someone the bot knows nothing about, in each language."""
    public = commands_for(None)
    for language in SUPPORTED_LANGUAGES:
        translator = get_translator(language, timezone)
        code = None if language == default_language else language
        await bot.set_my_commands(
            bot_commands(public, translator), scope=BotCommandScopeDefault(), language_code=code
        )


async def publish_chat_menu(
    bot: Bot, chat_id: int, account: Account, translator: Translator
) -> bool:
    """This person's own menu, in their language; a failure must not break the reply."""
    try:
        await bot.set_my_commands(
            bot_commands(commands_for(account), translator), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError:
        return False
    return True
