"""HR data upload in chat: /hr_impor explains; a CSV or XLSX document is imported.

The importer is the one the command line uses (``storage.importers.import_file``): every row
is checked first and nothing is written from a file with any problem. The kind of data is
recognised from the column headers, or asked with buttons (``impor:<upload id>:<kind>``).
The report comes back in chat; a long list of problems also comes as an XLSX file.

After a mutations file is imported, its stage changes are told at once: the importer leaves
them pending, and ``bot.mutation_notices.tell_pending`` queues the pushes (the employee's
card, the new and old supervisors at ``pelantikan``) in transactions of their own, then the
outbox sender is woken. If that fails, the import stands and the scheduler's tick tells them.

Only HR administrators may upload; the role is checked again when a button is pressed, and
the button must belong to the presser's own upload, still pending (``callback_data`` never
grants anything).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.cli import KIND_NAMES
from bot.context import BotContext
from bot.delivery import application_now
from bot.i18n import N_, Translator
from bot.menus import Audience
from bot.mutation_notices import tell_pending
from handlers.access import require, stale_button
from handlers.replies import parse_id
from storage.importers import (
    MAX_FILE_BYTES,
    ImportFileError,
    ImportIssue,
    ImportKind,
    ImportResult,
    detect_kind,
    expected_header_line,
    import_file,
    read_table,
)
from storage.importers import messages as m
from storage.repositories.uploads import IMPORTED, REJECTED, UploadRecord, UploadRepository

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "impor:"
CANCEL = "batal"
_CALLBACK = re.compile(
    r"^impor:(\d{1,18}):(employees|mutations|trainings|competencies|formations|batal)$"
)
DOWNLOAD_FAILED = {"issues": 0, "reason": "download failed"}
ACTOR_LABEL = "telegram"  # who imported is actor_id; no NIP in labels that may be logged

# Beyond either limit the problems also come as a file (a message holds 4096 characters).
MAX_CHAT_ISSUES = 30
MAX_CHAT_CHARS = 3500
PREVIEW_ISSUES = 10  # problems still shown in chat next to the file
PREVIEW_LINE_CHARS = 300
# Below this size parsing is quicker than handing the work to a thread.
THREAD_THRESHOLD = 256 * 1024
_UNSAFE_NAME = re.compile(r"[^0-9A-Za-z._-]+")

# Button labels and headings (KIND_NAMES from the command line are the lower-case nouns).
KIND_LABELS: dict[ImportKind, str] = {
    ImportKind.EMPLOYEES: N_("Employees"),
    ImportKind.MUTATIONS: N_("Mutations"),
    ImportKind.TRAININGS: N_("Trainings"),
    ImportKind.COMPETENCIES: N_("Competencies"),
    ImportKind.FORMATIONS: N_("Unit formations"),
}
# Kind buttons per keyboard row (five in one row would be cramped on a phone).
KIND_ROWS = 3
# The same msgids as the command line's report (bot/cli.py), so one translation serves both.
IMPORTED_MSGID = N_(
    "Imported {kind}: {rows} rows ({created} new, {updated} updated, {unchanged} unchanged)."
)


@dataclass(slots=True)
class Report:
    """What to tell HR (HTML), what to attach, and how to close the upload."""

    text: str
    status: str
    result: dict[str, Any]
    attachment: tuple[str, bytes] | None = None


def escape(text: str) -> str:
    """Text for an HTML message (quotes need no escaping outside attributes)."""
    return html.escape(text, quote=False)


def _bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind_name(kind: ImportKind | str, t: Translator) -> str:
    return t(KIND_NAMES[ImportKind(kind).value])


# --------------------------------------------------------------------------- /hr_impor
def instructions(t: Translator) -> str:
    lines = [
        escape(
            t(
                "Send the data file here as a document: Excel (.xlsx) or CSV (UTF-8, separated "
                "by commas or semicolons), at most {limit} MB. Row 1 holds the column headers; "
                "they tell me what the file contains:",
                limit=t.number(MAX_FILE_BYTES // 1024 // 1024),
            )
        ),
        "",
    ]
    for kind in ImportKind:
        lines.append(f"{_bold(t(KIND_LABELS[kind]))}: {escape(expected_header_line(kind))}")
    lines += [
        "",
        escape(
            t(
                "Dates are written day first (DD/MM/YYYY). In Excel, format the NIP column as "
                "Text so that no digit is lost."
            )
        ),
        escape(
            t(
                "Every row is checked first: if any row has a problem, nothing is imported and "
                "I list each problem with its row and column."
            )
        ),
    ]
    return "\n".join(lines)


@require(Audience.HR_ADMIN)
async def show_instructions(update: Update, context: BotContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(instructions(context.t), parse_mode=ParseMode.HTML)


# --------------------------------------------------------------------------- reports
def success_text(result: ImportResult, t: Translator) -> str:
    return escape(
        t(
            IMPORTED_MSGID,
            kind=kind_name(result.kind, t),
            rows=t.number(result.rows),
            created=t.number(result.created),
            updated=t.number(result.updated),
            unchanged=t.number(result.unchanged),
        )
    )


def _problems_heading(count: int, t: Translator) -> str:
    return escape(
        t.ngettext(
            "Nothing was imported: {n} problem was found. Fix it and import again.",
            "Nothing was imported: {n} problems were found. Fix them and import again.",
            count,
        )
    )


def report_file_name(file_name: str, t: Translator) -> str:
    """``laporan-impor-<name>.xlsx``: the upload's name without its extension, made safe."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    safe = _UNSAFE_NAME.sub("-", stem).strip("-._")[:60] or "data"
    return t("import-report-{name}.xlsx", name=safe)


def issues_workbook(issues: list[ImportIssue], t: Translator) -> bytes:
    """The problems as an XLSX sheet: row, column, reason (cell text kept as text)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_shorten(t("Problems"), 31))
    sheet.column_dimensions["A"].width = 8
    sheet.column_dimensions["B"].width = 22
    sheet.column_dimensions["C"].width = 100

    def text_cell(value: str) -> WriteOnlyCell:
        # Values come as HR typed them: never let "=..." become a formula.
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell

    sheet.append([text_cell(t("Row")), text_cell(t("Column")), text_cell(t("Problem"))])
    for issue in issues:
        sheet.append(
            [
                issue.row,
                text_cell(issue.column or ""),
                text_cell(issue.render(t.gettext)),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def failure_report(result: ImportResult, t: Translator, file_name: str) -> Report:
    issues = result.issues
    outcome = {"kind": result.kind.value, "rows": result.rows, "issues": len(issues)}
    heading = _problems_heading(len(issues), t)
    if len(issues) <= MAX_CHAT_ISSUES:
        lines = [escape(issue.render_line(t.gettext)) for issue in issues]
        text = "\n".join([heading, "", *lines])
        if len(text) <= MAX_CHAT_CHARS:
            return Report(text, REJECTED, outcome)
    preview = [
        escape(_shorten(issue.render_line(t.gettext), PREVIEW_LINE_CHARS))
        for issue in issues[:PREVIEW_ISSUES]
    ]
    if len(issues) > PREVIEW_ISSUES:
        preview.append("…")
    more = t.ngettext(
        "The complete list of {n} problem is in the attached file.",
        "The complete list of {n} problems is in the attached file.",
        len(issues),
    )
    text = "\n".join([heading, "", *preview, "", escape(more)])
    workbook = await asyncio.to_thread(issues_workbook, issues, t)
    return Report(text, REJECTED, outcome, (report_file_name(file_name, t), workbook))


def file_error_report(issue: ImportIssue, t: Translator, file_name: str) -> Report:
    text = t(
        "Nothing was imported from {file}: {reason}",
        file=_bold(_shorten(file_name, 200)),
        reason=escape(_shorten(issue.render(t.gettext), MAX_CHAT_CHARS)),
    )
    return Report(text, REJECTED, {"issues": 1, "reason": issue.message[:200]})


async def run_import(
    context: BotContext, upload: UploadRecord, data: bytes, kind: ImportKind
) -> Report:
    """Import the file with the command line's importer and say what happened."""
    t, account = context.t, context.account
    assert account is not None
    try:
        result = await import_file(
            context.bot_data.sessionmaker,  # type: ignore[arg-type]
            data,
            upload.file_name,
            kind,
            actor_id=account.employee_id,
            actor_label=ACTOR_LABEL,
            timezone=context.settings.timezone,
        )
    except ImportFileError as exc:
        report = file_error_report(exc.issue, t, upload.file_name)
        report.result["kind"] = kind.value
        return report
    if not result.ok:
        return await failure_report(result, t, upload.file_name)
    outcome = {
        "kind": result.kind.value,
        "rows": result.rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
    }
    text = success_text(result, t)
    if result.kind is ImportKind.MUTATIONS:
        queued = await tell_stage_changes(context)
        outcome["notices"] = queued
        if queued:
            text += "\n" + escape(notices_text(queued, t))
    return Report(text, IMPORTED, outcome)


def notices_text(queued: int, t: Translator) -> str:
    return t.ngettext(
        "{n} notice about the stage changes will be sent.",
        "{n} notices about the stage changes will be sent.",
        queued,
    )


async def tell_stage_changes(context: BotContext) -> int:
    """Queue the pushes of the stage changes an import left pending, wake the sender; how
    many messages were queued. A failure is logged: the scheduler's tick retries."""
    assert context.bot_data.sessionmaker is not None

    def wake(queued: int) -> None:
        if queued:
            context.wake_sender()

    try:
        return await tell_pending(
            context.bot_data.sessionmaker,
            context.settings,
            now=application_now(context.application),
            after_batch=wake,
        )
    except Exception:
        log.exception("stage changes of an import not told yet; the scheduler's tick will")
        return 0


# --------------------------------------------------------------------------- helpers
async def _show_action(context: BotContext, chat_id: int, action: str) -> None:
    """Show "typing…" or "sending a file…" while the bot works; a failure changes nothing."""
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, action)


async def _download(context: BotContext, file_id: str) -> bytes:
    telegram_file = await context.bot.get_file(file_id)
    return bytes(await telegram_file.download_as_bytearray())


async def _read_headers(data: bytes, file_name: str) -> list[str]:
    if len(data) > THREAD_THRESHOLD:
        table = await asyncio.to_thread(read_table, data, file_name)
    else:
        table = read_table(data, file_name)
    return table.headers


async def _finish(context: BotContext, upload: UploadRecord, report: Report) -> None:
    async with context.session() as session:
        await UploadRepository(session).finish(
            upload.id, report.status, kind=report.result.get("kind"), result=report.result
        )


async def _give_up(context: BotContext, upload: UploadRecord) -> None:
    """After an unexpected failure: close the upload as rejected if the database lets us."""
    try:
        async with context.session() as session:
            await UploadRepository(session).finish(
                upload.id,
                REJECTED,
                result={"issues": 0, "reason": "internal error"},
            )
    except Exception:  # the original error is what matters; it is re-raised by the caller
        log.warning("could not close upload %s after a failure", upload.id)


async def _send_attachment(context: BotContext, chat_id: int, report: Report) -> None:
    if report.attachment is None:
        return
    name, content = report.attachment
    await _show_action(context, chat_id, ChatAction.UPLOAD_DOCUMENT)
    await context.bot.send_document(chat_id, content, filename=name)


def _download_failed(t: Translator, file_name: str) -> str:
    return t(
        "Telegram could not give me the file {file}. Please send it again.",
        file=_bold(file_name),
    )


def kind_keyboard(upload_id: int, t: Translator) -> InlineKeyboardMarkup:
    def button(label: str, choice: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"{CALLBACK_PREFIX}{upload_id}:{choice}")

    kinds = [button(t(KIND_LABELS[kind]), kind.value) for kind in ImportKind]
    return InlineKeyboardMarkup(
        [
            *(kinds[start : start + KIND_ROWS] for start in range(0, len(kinds), KIND_ROWS)),
            [button(t("Cancel"), CANCEL)],
        ]
    )


# --------------------------------------------------------------------------- a document
@require(Audience.HR_ADMIN)
async def receive_document(update: Update, context: BotContext) -> None:
    message, account = update.effective_message, context.account
    assert message is not None and message.document is not None and account is not None
    assert account.employee_id is not None and update.effective_user is not None
    t, document = context.t, message.document
    file_name = (document.file_name or "").strip() or "data"
    # Telegram lets a bot download at most 20 MB: refuse larger files before trying.
    if document.file_size is not None and document.file_size > MAX_FILE_BYTES:
        size = t.number(round(document.file_size / 1024 / 1024, 1))
        limit = t.number(MAX_FILE_BYTES // 1024 // 1024)
        await message.reply_text(
            escape(t(m.FILE_TOO_LARGE, size=size, limit=limit)),
            parse_mode=ParseMode.HTML,
            do_quote=True,
        )
        return
    async with context.session() as session:
        upload = await UploadRepository(session).create(
            telegram_user_id=update.effective_user.id,
            employee_id=account.employee_id,
            file_id=document.file_id,
            file_name=file_name,
            file_size=document.file_size,
        )
    await _show_action(context, message.chat_id, ChatAction.TYPING)
    try:
        try:
            data = await _download(context, upload.file_id)
        except TelegramError:
            report = Report(_download_failed(t, upload.file_name), REJECTED, dict(DOWNLOAD_FAILED))
            await _finish(context, upload, report)
            await message.reply_text(report.text, parse_mode=ParseMode.HTML, do_quote=True)
            return
        try:
            headers = await _read_headers(data, upload.file_name)
        except ImportFileError as exc:
            report = file_error_report(exc.issue, t, upload.file_name)
            await _finish(context, upload, report)
            await message.reply_text(report.text, parse_mode=ParseMode.HTML, do_quote=True)
            return
        kind = detect_kind(headers)
        if kind is None:
            await message.reply_text(
                t(
                    "I could not tell from the column headers what {file} contains. "
                    "Which data is it?",
                    file=_bold(upload.file_name),
                ),
                parse_mode=ParseMode.HTML,
                reply_markup=kind_keyboard(upload.id, t),
                do_quote=True,
            )
            return
        async with context.session() as session:
            claimed = await UploadRepository(session).claim(
                upload.id, upload.telegram_user_id, kind.value
            )
        assert claimed is not None  # just created; no button for it exists yet
        report = await run_import(context, claimed, data, kind)
        await _finish(context, claimed, report)
    except Exception:
        await _give_up(context, upload)
        raise
    await message.reply_text(report.text, parse_mode=ParseMode.HTML, do_quote=True)
    await _send_attachment(context, message.chat_id, report)


# --------------------------------------------------------------------------- a kind button
@require(Audience.HR_ADMIN)
async def choose_kind(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    t = context.t
    # callback_data comes from the client: a well-formed one for this person's own upload.
    match = _CALLBACK.match(query.data or "")
    if match is None:
        await stale_button(update, context)
        return
    upload_id, choice = parse_id(match[1]), match[2]
    if upload_id is None:
        await stale_button(update, context)
        return
    if choice == CANCEL:
        async with context.session() as session:
            repository = UploadRepository(session)
            upload = await repository.get_for_user(upload_id, user.id)
            cancelled = upload is not None and await repository.cancel(upload_id, user.id)
        if not cancelled or upload is None:
            await stale_button(update, context)
            return
        await query.answer()
        await query.edit_message_text(
            t("Cancelled: nothing was imported from {file}.", file=_bold(upload.file_name)),
            parse_mode=ParseMode.HTML,
        )
        return
    kind = ImportKind(choice)
    async with context.session() as session:
        claimed = await UploadRepository(session).claim(upload_id, user.id, kind.value)
    if claimed is None:
        await stale_button(update, context)
        return
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else user.id
    try:
        with contextlib.suppress(TelegramError):  # only a courtesy: the buttons go away
            await query.edit_message_text(
                t(
                    "Importing {file} as {kind}…",
                    file=_bold(claimed.file_name),
                    kind=escape(kind_name(kind, t)),
                ),
                parse_mode=ParseMode.HTML,
            )
        await _show_action(context, chat_id, ChatAction.TYPING)
        try:
            data = await _download(context, claimed.file_id)
        except TelegramError:
            report = Report(_download_failed(t, claimed.file_name), REJECTED, dict(DOWNLOAD_FAILED))
        else:
            report = await run_import(context, claimed, data, kind)
        await _finish(context, claimed, report)
    except Exception:
        await _give_up(context, claimed)
        raise
    try:
        await query.edit_message_text(report.text, parse_mode=ParseMode.HTML)
    except BadRequest:  # the question can no longer be edited: say it in a new message
        await context.bot.send_message(chat_id, report.text, parse_mode=ParseMode.HTML)
    await _send_attachment(context, chat_id, report)


def register(application: Application) -> None:
    application.add_handler(
        CommandHandler("hr_impor", show_instructions, filters=filters.UpdateType.MESSAGE)
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.Document.ALL,
            receive_document,
        )
    )
    application.add_handler(
        CallbackQueryHandler(choose_kind, pattern=f"^{re.escape(CALLBACK_PREFIX)}")
    )
