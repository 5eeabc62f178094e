"""HR announcements: what an announcement is made of, sending it, and HR's live progress.

* :func:`content_from_message`: the announcement as HR wrote it (text, or a photo or a
  document with its caption) as an outbox payload. Telegram's formatting travels as
  *entities*, exactly as HR's client sent them, never re-parsed as HTML: what HR typed can
  never become markup.
* :func:`confirm`: one transaction stores the announcement, every recipient and their outbox
  rows (key ``announcement:{id}:{employee}``, due at the chosen time) and the audit entry.
  The scheduled time is the rows' ``not_before``: it survives any restart.
* :func:`refresh_progress` (a JobQueue job every :data:`PROGRESS_TICK_SECONDS`): for every
  announcement under way it sends HR one progress message and edits it at most every
  ``ANNOUNCEMENT_PROGRESS_SECONDS`` (a bar; sent, failed, blocked; the time left). Each edit
  takes a slot from the outbox sender's budget (:meth:`bot.delivery.Sender.take_slot`), so
  the announcement and its progress stay within Telegram's limits together. When nothing is
  left to send, the message shows the final figures and a final report with **Unduh** and
  **Kirim ulang yang gagal** goes out through the outbox (once: ``announcement-report:{id}``).

Everything is read from the database at every tick, so a restart continues where the last
process stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackContext

from bot.config import Settings
from bot.delivery import application_now, get_sender
from bot.failure_log import failures
from bot.i18n import N_, Translator, get_translator
from bot.leader import is_leader
from bot.rules.broadcast import progress_bar, seconds_left
from bot.rules.quiet import in_quiet_hours, quiet_hours_end_after
from bot.trainings import Buttons, keyboard_dict
from storage.repositories.announcements import (
    CANCELLED,
    DONE,
    NOT_LINKED,
    PROGRESS_SENDING,
    SCHEDULED,
    UNREACHABLE,
    AnnouncementInfo,
    AnnouncementRepository,
    AudienceCount,
    Figures,
)
from storage.repositories.audit import AuditRepository
from storage.repositories.outbox import (
    BLOCKED,
    FAILED,
    SENT,
    UNCERTAIN,
    OutboxRepository,
)
from storage.repositories.outbox import CANCELLED as OUTBOX_CANCELLED

log = logging.getLogger(__name__)

JOB_NAME = "announcement-progress"
PROGRESS_TICK_SECONDS = 1.0
REPORT_KIND = "announcement_report"
EXCERPT_CHARS = 200
BUTTON_PREFIX = "siaran:"

STATUS_LABELS = {
    SCHEDULED: N_("scheduled"),
    "sending": N_("sending"),
    DONE: N_("finished"),
    CANCELLED: N_("cancelled"),
}
# A recipient's delivery state as HR reads it (the file, the figures).
STATE_LABELS = {
    "pending": N_("waiting"),
    "sending": N_("being sent"),
    SENT: N_("sent"),
    FAILED: N_("failed"),
    BLOCKED: N_("blocked the bot"),
    UNCERTAIN: N_("uncertain (may have arrived)"),
    OUTBOX_CANCELLED: N_("stopped (cancelled)"),
    NOT_LINKED: N_("account not linked"),
    UNREACHABLE: N_("unreachable (blocked the bot before)"),
}


# --------------------------------------------------------------------------- content
def content_from_message(message: Message) -> dict[str, Any] | None:
    """The outbox payload of HR's message (text, photo or document), ``None`` for anything
    else. Entities are kept as Telegram sent them (offsets in UTF-16 code units)."""
    if message.text:
        payload: dict[str, Any] = {"text": message.text}
        if message.entities:
            payload["entities"] = [entity.to_dict() for entity in message.entities]
        return payload
    if message.photo:
        payload = {"photo": {"file_id": message.photo[-1].file_id}}
    elif message.document:
        payload = {"document": {"file_id": message.document.file_id}}
    else:
        return None
    if message.caption:
        payload["caption"] = message.caption
        if message.caption_entities:
            payload["caption_entities"] = [e.to_dict() for e in message.caption_entities]
    return payload


def content_kind(content: dict[str, Any]) -> str:
    return "photo" if "photo" in content else "document" if "document" in content else "text"


def excerpt(content: dict[str, Any], limit: int = EXCERPT_CHARS) -> str:
    """The plain words of an announcement, shortened (no formatting; for lists and audit)."""
    words = " ".join(str(content.get("text") or content.get("caption") or "").split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def content_summary(t: Translator, content: dict[str, Any]) -> str:
    """``📷 Foto: Rapat …`` / ``📄 Dokumen …`` / the text, shortened, HTML-escaped."""
    kind = content_kind(content)
    words = excerpt(content, 120)
    if kind == "photo":
        label = t("📷 Photo")
    elif kind == "document":
        label = t("📄 Document")
    else:
        return f"«{escape(words)}»"
    return f"{escape(label)}: «{escape(words)}»" if words else escape(label)


# --------------------------------------------------------------------------- audience
def audience_label(t: Translator, audience: dict[str, Any], unit_names: list[str]) -> str:
    """The audience in words (plain text)."""
    kind = audience.get("kind")
    if kind == "all":
        return t("All ASN")
    if kind == "supervisors":
        return t("Supervisors only")
    if kind == "units":
        shown = ", ".join(unit_names[:3])
        more = len(unit_names) - 3
        if more > 0:
            shown += " " + t("and {n} more", n=t.number(more))
        return t("Units: {units}", units=shown)
    return t("NIP list ({file})", file=str(audience.get("file_name") or t("typed in chat")))


def counts_html(t: Translator, count: AudienceCount) -> str:
    """Recipients, and of whom not linked or unreachable (for the preview)."""
    lines = [
        escape(t.ngettext("{n} recipient", "{n} recipients", count.total)),
        escape(
            t.ngettext(
                "• {n} will get the message",
                "• {n} will get the message",
                count.deliverable,
            )
        ),
    ]
    if count.not_linked:
        lines.append(
            escape(
                t.ngettext(
                    "• {n} has not linked a Telegram account",
                    "• {n} have not linked a Telegram account",
                    count.not_linked,
                )
            )
        )
    if count.unreachable:
        lines.append(
            escape(
                t.ngettext(
                    "• {n} cannot be reached (blocked the bot)",
                    "• {n} cannot be reached (blocked the bot)",
                    count.unreachable,
                )
            )
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- confirming
@dataclass(frozen=True, slots=True)
class Confirmed:
    id: int
    count: AudienceCount


async def confirm(
    session: AsyncSession,
    *,
    actor_id: int | None,
    chat_id: int,
    content: dict[str, Any],
    audience: dict[str, Any],
    send_at: dt.datetime,
    scheduled: bool,
    now: dt.datetime,
) -> Confirmed:
    """Store and queue an announcement (see the module doc), with its audit entry."""
    announcement_id, count = await AnnouncementRepository(session).create(
        created_by_id=actor_id,
        chat_id=chat_id,
        content=content,
        audience=audience,
        send_at=send_at,
        scheduled=scheduled,
        now=now,
    )
    _audit(
        session,
        "announcement_scheduled" if scheduled else "announcement_sent",
        actor_id,
        announcement_id,
        {
            "audience": {k: v for k, v in audience.items() if k != "employee_ids"},
            "kind": content_kind(content),
            "excerpt": excerpt(content),
            "send_at": send_at.isoformat(),
            "recipients": count.total,
            "queued": count.deliverable,
            "not_linked": count.not_linked,
            "unreachable": count.unreachable,
        },
    )
    return Confirmed(announcement_id, count)


def _audit(
    session: AsyncSession,
    action: str,
    actor_id: int | None,
    announcement_id: int,
    details: dict[str, Any],
) -> None:
    AuditRepository(session).record(
        action,
        actor_id=actor_id,
        entity_type="announcement",
        entity_id=str(announcement_id),
        details=details,
    )


async def cancel(
    session: AsyncSession, announcement_id: int, actor_id: int | None, now: dt.datetime
) -> int | None:
    """Stop what is not yet sent; ``None`` if it was finished or cancelled already."""
    stopped = await AnnouncementRepository(session).cancel(announcement_id, actor_id, now)
    if stopped is not None:
        _audit(session, "announcement_cancelled", actor_id, announcement_id, {"stopped": stopped})
    return stopped


async def resend_failed(
    session: AsyncSession, announcement_id: int, actor_id: int | None, now: dt.datetime
) -> tuple[int, int] | None:
    """Queue the failed ones again (once); ``None`` if not possible (see the repository)."""
    result = await AnnouncementRepository(session).resend_failed(announcement_id, actor_id, now)
    if result is not None:
        details = {"queued": result[0], "unreachable": result[1]}
        _audit(session, "announcement_resent", actor_id, announcement_id, details)
    return result


# --------------------------------------------------------------------------- rendering
def _duration(t: Translator, seconds: float) -> str:
    return format_timedelta(
        dt.timedelta(seconds=max(1.0, seconds)), locale=t.language, threshold=1.1
    )


def figures_line(t: Translator, figures: Figures) -> str:
    """``✅ 1.800 · ❌ 2 · ⛔ 5 · ❔ 0`` with words (plain text)."""
    parts = [
        t("sent {n}", n=t.number(figures.get(SENT))),
        t("failed {n}", n=t.number(figures.get(FAILED))),
        t("blocked {n}", n=t.number(figures.get(BLOCKED))),
    ]
    if figures.get(UNCERTAIN):
        parts.append(t("uncertain {n}", n=t.number(figures.get(UNCERTAIN))))
    if figures.get(OUTBOX_CANCELLED):
        parts.append(t("stopped {n}", n=t.number(figures.get(OUTBOX_CANCELLED))))
    return " · ".join(parts)


def skipped_line(t: Translator, figures: Figures) -> str | None:
    if not figures.get(NOT_LINKED) and not figures.get(UNREACHABLE):
        return None
    return t(
        "Not sent: {not_linked} not linked, {unreachable} unreachable",
        not_linked=t.number(figures.get(NOT_LINKED)),
        unreachable=t.number(figures.get(UNREACHABLE)),
    )


def progress_html(
    t: Translator,
    info: AnnouncementInfo,
    figures: Figures,
    *,
    now: dt.datetime,
    first_sent_at: dt.datetime | None,
    sent_in_round: int,
    fallback_rate: float,
    held_until: dt.datetime | None = None,
) -> str:
    """HR's live progress message (HTML). The time left comes from the rate of this round
    (``sent_in_round`` messages since ``first_sent_at``: the first sending or the resend)."""
    queued = figures.queued
    finished = queued - figures.waiting
    lines = [
        "<b>" + escape(t("📣 Announcement #{id}: sending", id=info.id)) + "</b>",
        escape(progress_bar(finished, queued)),
        escape(
            t(
                "{done} of {total} handled",
                done=t.number(finished),
                total=t.number(queued),
            )
        ),
        escape(figures_line(t, figures)),
    ]
    if held_until is not None:
        lines.append(escape(t("⏸ Quiet hours: sending resumes at {time}", time=t.time(held_until))))
    elif figures.waiting:
        elapsed = (now - first_sent_at).total_seconds() if first_sent_at else 0.0
        left = seconds_left(figures.waiting, sent_in_round, elapsed, fallback_rate)
        lines.append(escape(t("About {duration} left", duration=_duration(t, left))))
    return "\n".join(lines)


def final_html(t: Translator, info: AnnouncementInfo, figures: Figures) -> str:
    """The figures once nothing is left to send (done or cancelled)."""
    title = (
        t("📣 Announcement #{id}: cancelled", id=info.id)
        if info.status == CANCELLED
        else t("📣 Announcement #{id}: finished", id=info.id)
    )
    lines = [
        f"<b>{escape(title)}</b>",
        escape(
            t(
                "{sent} of {total} received it",
                sent=t.number(figures.get(SENT)),
                total=t.number(figures.total),
            )
        ),
        escape(figures_line(t, figures)),
    ]
    skipped = skipped_line(t, figures)
    if skipped:
        lines.append(escape(skipped))
    if figures.get(UNCERTAIN):
        lines.append(
            escape(
                t(
                    "Uncertain: the bot stopped or Telegram did not answer while sending; "
                    "these may have arrived and are never sent twice."
                )
            )
        )
    return "\n".join(lines)


def report_buttons(t: Translator, info: AnnouncementInfo, figures: Figures) -> Buttons:
    """Rows of (label, callback_data): Unduh, and Kirim ulang yang gagal when it applies."""
    rows = [[(t("⬇️ Download (XLSX)"), f"{BUTTON_PREFIX}xlsx:{info.id}")]]
    if info.status == DONE and info.resent_at is None and figures.get(FAILED):
        rows.append(
            [
                (
                    t("🔁 Resend the failed ({n})", n=t.number(figures.get(FAILED))),
                    f"{BUTTON_PREFIX}resend:{info.id}",
                )
            ]
        )
    return rows


# --------------------------------------------------------------------------- the job
def _held_until(settings: Settings, now: dt.datetime) -> dt.datetime | None:
    start, end = settings.quiet_hours_start, settings.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    if not in_quiet_hours(now, settings.timezone, start, end):
        return None
    return quiet_hours_end_after(now, settings.timezone, start, end)


async def refresh_progress(application: Application, now: dt.datetime | None = None) -> None:
    """One pass over the announcements under way (see the module doc). Never raises."""
    data = application.bot_data
    settings, sessionmaker = data.settings, data.sessionmaker
    if settings is None or sessionmaker is None:
        return
    now = now or application_now(application)
    try:
        async with sessionmaker() as session, session.begin():
            watched = await AnnouncementRepository(session).to_watch(now)
        for info in watched:
            await _refresh_one(application, settings, info, now)
    except Exception:
        failures(application, "announcement progress pass", log).failed()
    else:
        failures(application, "announcement progress pass", log).succeeded()


async def _refresh_one(
    application: Application, settings: Settings, info: AnnouncementInfo, now: dt.datetime
) -> None:
    sessionmaker = application.bot_data.sessionmaker
    assert sessionmaker is not None
    t = get_translator(info.created_by_language or settings.default_language, settings.timezone)
    async with sessionmaker() as session, session.begin():
        repository = AnnouncementRepository(session)
        figures = (await repository.figures([info.id]))[info.id]
        if info.status == SCHEDULED:
            await repository.mark_started(info.id)
            info = _with(info, status="sending")
        first_sent_at, sent_in_round = await repository.sent_since(
            info.id, info.resent_at or info.send_at
        )
        finished = figures.waiting == 0 and await repository.finish(info.id, now)
        # A scheduled announcement cancelled before its time: HR was told when cancelling.
        report = finished and not (
            info.status == CANCELLED and info.progress_message_id is None and not sent_in_round
        )
        if finished:
            info = _with(info, status=CANCELLED if info.status == CANCELLED else DONE)
        if report:
            round_ = "resend" if info.resent_at else "first"
            await OutboxRepository(session).enqueue(
                f"announcement-report:{info.id}:{round_}",
                info.chat_id,
                {
                    "text": final_html(t, info, figures),
                    "parse_mode": "HTML",
                    "reply_markup": keyboard_dict(report_buttons(t, info, figures)),
                },
                kind=REPORT_KIND,
                employee_id=info.created_by_id,
                urgent=True,
            )
    if report:
        sender = get_sender(application)
        if sender is not None:
            sender.wake()
    if finished:
        # The report says it all; an existing progress message shows the final figures.
        if info.progress_message_id not in (None, PROGRESS_SENDING):
            await _show_progress(
                application, settings, info, final_html(t, info, figures), None, now, force=True
            )
        return
    text = progress_html(
        t,
        info,
        figures,
        now=now,
        first_sent_at=first_sent_at,
        sent_in_round=sent_in_round,
        fallback_rate=settings.send_rate_global,
        held_until=_held_until(settings, now),
    )
    cancel_row = [(t("✖ Cancel the announcement"), f"{BUTTON_PREFIX}cancel:{info.id}")]
    markup = InlineKeyboardMarkup.de_json(keyboard_dict([cancel_row]), None)
    await _show_progress(application, settings, info, text, markup, now, force=False)


async def _show_progress(
    application: Application,
    settings: Settings,
    info: AnnouncementInfo,
    text: str,
    markup: InlineKeyboardMarkup | None,
    now: dt.datetime,
    *,
    force: bool,
) -> None:
    """Send the progress message the first time, else edit it (not more often than
    ``ANNOUNCEMENT_PROGRESS_SECONDS`` unless ``force``)."""
    sessionmaker = application.bot_data.sessionmaker
    assert sessionmaker is not None
    sender = get_sender(application)
    if info.progress_message_id in (None, PROGRESS_SENDING):
        # Another pass (or process) may be sending the first one; a claim of a process that
        # stopped meanwhile is taken over after a while.
        async with sessionmaker() as session, session.begin():
            claimed = await AnnouncementRepository(session).claim_progress_message(info.id, now)
        if not claimed:
            return
        message_id: int | None = None
        try:
            if sender is None or await sender.take_slot(info.chat_id):
                message = await application.bot.send_message(
                    info.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
                )
                message_id = message.message_id
        except TelegramError as exc:
            log.warning("announcement #%d: progress message not sent: %s", info.id, exc)
        async with sessionmaker() as session, session.begin():
            repository = AnnouncementRepository(session)
            if message_id is None:  # try again at the next pass
                await repository.release_progress_message(info.id)
            else:
                await repository.set_progress(info.id, message_id, now)
        return
    interval = dt.timedelta(seconds=settings.announcement_progress_seconds)
    if not force and info.progress_edited_at and now - info.progress_edited_at < interval:
        return
    if sender is not None and not await sender.take_slot(info.chat_id):
        if not force:
            return
    try:
        await application.bot.edit_message_text(
            text,
            chat_id=info.chat_id,
            message_id=info.progress_message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            log.warning("announcement #%d: progress not edited: %s", info.id, exc.message)
    except TelegramError as exc:
        log.warning("announcement #%d: progress not edited: %s", info.id, exc)
    async with sessionmaker() as session, session.begin():
        await AnnouncementRepository(session).set_progress(info.id, None, now)


def _with(info: AnnouncementInfo, **changes: Any) -> AnnouncementInfo:
    from dataclasses import replace

    return replace(info, **changes)


async def _tick(context: CallbackContext) -> None:
    if is_leader(context.application):  # one process edits HR's progress message
        await refresh_progress(context.application)


def start_progress_job(application: Application) -> None:
    """Add the progress pass to the JobQueue (call from ``post_init``, after
    ``bot.scheduler.start_scheduler`` configured the JobQueue's time zone)."""
    job_queue = application.job_queue
    settings = application.bot_data.settings
    if job_queue is None or settings is None:
        return
    stop_progress_job(application)
    job_queue.run_repeating(
        _tick,
        interval=PROGRESS_TICK_SECONDS,
        first=1,
        name=JOB_NAME,
        job_kwargs={
            "id": JOB_NAME,
            "replace_existing": True,
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": 5,
            "timezone": ZoneInfo(settings.timezone),
        },
    )


def stop_progress_job(application: Application) -> None:
    job_queue = application.job_queue
    if job_queue is None:
        return
    for job in job_queue.get_jobs_by_name(JOB_NAME):
        try:
            job.schedule_removal()
        except Exception:  # already gone with a shut-down scheduler
            log.debug("announcement progress job already removed")
