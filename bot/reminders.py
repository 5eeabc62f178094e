"""Training reminders: queue the due ones in the outbox, in each participant's language.

Called by the scheduler's tick (``bot.scheduler``) in one transaction. The rules
(``bot.rules.reminders``): of the reminders whose time passed only the latest is sent, late
after an outage if the training has not begun; once it has begun, a reminder never sent is
dropped and logged (training id and count only). Who receives them:
``storage.repositories.reminders``.

Each message (``kind = "training_reminder"``, ``employee_id`` set, HTML) holds the title,
the start (and end) in WIB through Babel, the place or online link, how long until the
start, and the buttons ✅ Hadir / ❌ Tidak hadir (``latih:{training_id}:hadir`` /
``latih:{training_id}:absen``, handled in ``handlers.trainings``). It is urgent (sent during
quiet hours) when holding it would deliver it less than an hour before the start.

Each tick also withdraws queued, unsent reminders that no longer hold (training cancelled,
moved or begun; participant removed or declined; an older one superseded by a newer one still
queued, e.g. after quiet hours or a sender outage), in the same transaction;
``OutboxRepository.cancel_pending(training_key_prefix(id))`` does it at once when HR moves or
cancels a training.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Translator, get_translator
from bot.rules.reminders import is_urgent, reminder_time, window_start
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminders import KIND, DueReminder, ReminderRepository

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "latih"
ANSWER_YES = "hadir"
ANSWER_NO = "absen"
# A reminder queued this long after its time was missed while the bot was not running.
LATE_AFTER = dt.timedelta(minutes=10)


def callback_data(training_id: int, answer: str) -> str:
    """``latih:{training_id}:hadir`` / ``latih:{training_id}:absen`` (well under 64 bytes)."""
    return f"{CALLBACK_PREFIX}:{training_id}:{answer}"


def time_left(t: Translator, delta: dt.timedelta) -> str:
    """``7 hari`` / ``2 jam`` / ``45 menit``: days from 23.5 h on, hours from 90 minutes."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes >= 23 * 60 + 30:
        return t.ngettext("{n} day", "{n} days", round(minutes / (24 * 60)))
    if minutes >= 90:
        return t.ngettext("{n} hour", "{n} hours", round(minutes / 60))
    return t.ngettext("{n} minute", "{n} minutes", minutes)


def _when(t: Translator, starts_at: dt.datetime, ends_at: dt.datetime) -> str:
    if t.local(starts_at).date() == t.local(ends_at).date():
        end = t.time(ends_at)
    else:
        end = t.datetime(ends_at)
    return t("{start} until {end}", start=t.datetime(starts_at), end=end)


def reminder_payload(reminder: DueReminder, t: Translator, now: dt.datetime) -> dict[str, Any]:
    """The outbox payload of one reminder (HTML; every value from the database escaped)."""
    lines = [
        "🔔 <b>" + escape(t("Training reminder")) + "</b>",
        "<b>" + escape(reminder.title) + "</b>",
        "",
        "🗓 " + escape(_when(t, reminder.starts_at, reminder.ends_at)),
    ]
    if reminder.place and reminder.place != reminder.online_link:
        lines.append("📍 " + escape(t("Place: {place}", place=reminder.place)))
    if reminder.online_link:
        lines.append("🔗 " + escape(t("Online link: {link}", link=reminder.online_link)))
    left = time_left(t, reminder.starts_at - now)
    lines.append("⏳ " + escape(t("Starts in {duration}.", duration=left)))
    lines.append("")
    if reminder.attendance == "hadir":
        lines.append(
            escape(t("You have confirmed you will attend. If that changes, tell us below."))
        )
    else:
        lines.append(escape(t("Will you attend? Please answer with a button below.")))
    keyboard = [
        [
            {
                "text": t("✅ Attending"),
                "callback_data": callback_data(reminder.training_id, ANSWER_YES),
            },
            {
                "text": t("❌ Not attending"),
                "callback_data": callback_data(reminder.training_id, ANSWER_NO),
            },
        ]
    ]
    return {
        "text": "\n".join(lines),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
        "reply_markup": {"inline_keyboard": keyboard},
    }


async def enqueue_due_reminders(
    session: AsyncSession,
    settings: Settings,
    now: dt.datetime,
    *,
    last_tick: dt.datetime | None = None,
) -> int:
    """Queue every reminder due at ``now`` (UTC) in the caller's transaction; how many were
    new. Idempotent: a second call at the same moment queues nothing. ``last_tick`` (the
    previous tick's ``now``, ``None`` after a start) bounds the check for dropped ones."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    offsets = settings.reminder_offsets
    repository = ReminderRepository(session)
    outbox = OutboxRepository(session)
    queued = 0
    late: dict[tuple[int, dt.timedelta], int] = defaultdict(int)
    for reminder in await repository.due(now, offsets):
        t = get_translator(reminder.language or settings.default_language, settings.timezone)
        urgent = is_urgent(
            reminder.starts_at,
            now,
            settings.timezone,
            settings.quiet_hours_start,
            settings.quiet_hours_end,
        )
        added = await outbox.enqueue(
            reminder.key,
            reminder.chat_id,
            reminder_payload(reminder, t, now),
            kind=KIND,
            employee_id=reminder.employee_id,
            urgent=urgent,
        )
        if added:
            queued += 1
            if now - reminder_time(reminder.starts_at, reminder.offset) > LATE_AFTER:
                late[reminder.training_id, reminder.offset] += 1
    for (training_id, offset), count in late.items():
        log.info(
            "reminders: training #%d, %d reminder(s) of %s before queued late "
            "(their time passed while the bot was not running)",
            training_id,
            count,
            offset,
        )

    # After queuing, in the same transaction: the sender never sees a superseded one.
    withdrawn = await repository.withdraw_stale(now)
    for reason, count in withdrawn.items():
        log.info("reminders: %d queued reminder(s) withdrawn (%s)", count, reason)

    since = window_start(now, offsets, last_tick)
    for training_id, count in (await repository.dropped(since, now, offsets)).items():
        log.warning(
            "reminders: training #%d began before its last reminder (%s before) was sent to "
            "%d participant(s); dropped",
            training_id,
            min(offsets),
            count,
        )
    if queued:
        log.info("reminders: %d queued", queued)
    return queued
