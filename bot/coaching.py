"""Coaching (pembinaan) after a low predicate: HR's list, and assigning a training in one step.

Who is flagged and which training is recommended: ``storage.repositories.coaching`` and
``bot.rules.coaching``. :func:`assign_training` does the whole assignment in the caller's
transaction, after checking again that the evaluation still flags its employee and that the
training is still open (not cancelled, not ended):

* the employee becomes a participant (if not one already; answer "not answered yet");
* the evaluation records the training, when and by whom (``coaching_training_id``,
  ``coaching_assigned_at``, ``coaching_assigned_by_id``); a second press finds it assigned
  and changes nothing;
* an audit entry ``coaching_assigned``;
* the employee is told as any new participant is (``bot.trainings``: the training card with
  the Hadir / Tidak hadir buttons, key ``training_new:{training}:{employee}``, so someone
  who was already a participant and was told is not told again); the message does not say
  why — the predicate stays between the employee, the supervisor and HR;
* the supervisor (``storage.repositories.coaching``) is told: who, which training, why
  (month and predicate), key ``coaching:{evaluation}:{training}``.

Only linked, reachable, active people are written to. Notices are urgent (not held by the
quiet hours) when the training starts within ``bot.trainings.URGENT_WITHIN``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.evaluations import month_name
from bot.i18n import Translator, get_translator
from bot.mutations import clip_lines
from bot.rules.coaching import fits, recommended_trainings
from bot.rules.skp import PREDICATE_LABELS, Predicate
from bot.trainings import (
    URGENT_WITHIN,
    answer_buttons,
    card_html,
    keyboard_dict,
    new_training_text,
)
from storage.repositories.audit import AuditRepository
from storage.repositories.coaching import AssignedCoaching, CoachingRepository, FlaggedEvaluation
from storage.repositories.evaluation_reminders import EvaluationReminderRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.trainings import TrainingInfo, TrainingRepository

ACTOR_LABEL = "telegram"
KIND = "coaching"
ASSIGNED = "assigned"
NOT_FLAGGED = "not_flagged"
TRAINING_CLOSED = "training_closed"

MESSAGE_MAX = 4096
NAME_MAX = 60
RECOMMENDATIONS_IN_LIST = 3


def _clip(text: str, limit: int = NAME_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def predicate_label(predicate: str, t: Translator) -> str:
    try:
        return t(PREDICATE_LABELS[Predicate(predicate)])
    except (KeyError, ValueError):
        return predicate


def recommendations(item: FlaggedEvaluation, t: Translator) -> list[str]:
    """The recommended trainings of a flagged evaluation, in the reader's language."""
    return [t(name) for name in recommended_trainings(item.work_result, item.ratings)]


def fitting_first(
    trainings: Sequence[TrainingInfo], item: FlaggedEvaluation
) -> list[tuple[TrainingInfo, bool]]:
    """The open trainings with whether each fits a recommendation (in Indonesian, as HR
    names sessions, or in English); the fitting ones first, otherwise in the given order."""
    names = recommendations(item, get_translator("id")) + recommended_trainings(
        item.work_result, item.ratings
    )
    marked = [(training, fits(training.title, names)) for training in trainings]
    return sorted(marked, key=lambda pair: not pair[1])


# --------------------------------------------------------------------------- HR's views
def entry_html(
    item: FlaggedEvaluation,
    t: Translator,
    *,
    number: int | None = None,
    shown: int | None = RECOMMENDATIONS_IN_LIST,
) -> str:
    """One flagged employee: name, unit, supervisor, predicate and month, the recommended
    trainings (the first ``shown``; all when ``None``)."""
    prefix = f"{number}. " if number is not None else ""
    lines = [f"{prefix}<b>{escape(_clip(item.name))}</b> — {escape(_clip(item.unit))}"]
    boss = item.supervisor_name or "-"
    lines.append(escape(t("Supervisor: {name}", name=_clip(boss))))
    month = month_name(t, item.year, item.month)
    result = t(
        "Predicate: {predicate} ({month})",
        predicate=predicate_label(item.predicate, t),
        month=month,
    )
    lines.append(f"📉 {escape(result)}")
    names = recommendations(item, t)
    listed = names if shown is None else names[:shown]
    more = len(names) - len(listed)
    text = "; ".join(listed)
    if more:
        text += " " + t("(+{n} more)", n=t.number(more))
    lines.append("🎓 " + escape(t("Recommended: {trainings}", trainings=text)))
    return "\n".join(lines)


def list_html(
    items: Sequence[FlaggedEvaluation], total: int, offset: int, assigned: int, t: Translator
) -> str:
    """A page of HR's list (``offset``: the number of the first one, from 0)."""
    title = t("Coaching (pembinaan)")
    lines = [f"🧭 <b>{escape(title)}</b>", ""]
    if not total:
        lines.append(escape(t("Nobody is waiting for a coaching training.")))
    else:
        count = t.ngettext(
            "{n} employee needs a coaching training after a low predicate:",
            "{n} employees need a coaching training after a low predicate:",
            total,
        )
        lines.append(escape(count))
        if total > len(items):
            page = t(
                "Shown: {first}–{last}.",
                first=t.number(offset + 1),
                last=t.number(offset + len(items)),
            )
            lines.append(escape(page))
        for number, item in enumerate(items, start=offset + 1):
            lines += ["", entry_html(item, t, number=number)]
    if assigned:
        lines += ["", escape(t("Already assigned: {n}", n=t.number(assigned)))]
    return clip_lines("\n".join(lines), MESSAGE_MAX)


def pick_html(item: FlaggedEvaluation, t: Translator, *, has_trainings: bool) -> str:
    """The employee (every recommendation) and what to do: choose a training, or make one."""
    lines = [entry_html(item, t, shown=None), ""]
    if has_trainings:
        lines.append(escape(t("Choose the training to assign (⭐ fits a recommendation):")))
    else:
        lines.append(
            escape(
                t(
                    "There is no upcoming training to assign. Create one with /hr_pelatihan, "
                    "then come back to /hr_pembinaan."
                )
            )
        )
    return clip_lines("\n".join(lines), MESSAGE_MAX)


def training_button(training: TrainingInfo, fitting: bool, t: Translator) -> str:
    star = "⭐ " if fitting else ""
    day = t.date(t.local(training.starts_at).date(), "medium")
    return f"{star}{_clip(training.title, 40)} · {day}"


def done_html(outcome: AssignOutcome, t: Translator) -> str:
    """After the assignment: what was done and who was told."""
    assert outcome.item is not None and outcome.training is not None
    item = outcome.item
    head = t("{name} is assigned to this training as coaching:", name=_clip(item.name))
    lines = ["✅ " + escape(head), "", card_html(outcome.training, t, with_code=True), ""]
    if not outcome.participant_added:
        lines.append(escape(t("They were already a participant.")))
    if outcome.employee_told:
        lines.append(
            "📨 " + escape(t("The employee is sent the training with the answer buttons."))
        )
    else:
        lines.append(
            "ℹ️ "
            + escape(
                t("The employee is not told now (no reachable Telegram account, or told before).")
            )
        )
    if outcome.supervisor_told:
        boss = _clip(item.supervisor_name or "-")
        lines.append("📨 " + escape(t("Their supervisor {name} is told.", name=boss)))
    return "\n".join(lines)


def assigned_html(items: Sequence[AssignedCoaching], total: int, t: Translator) -> str:
    """The latest assignments, one line each."""
    title = t("Coaching trainings assigned")
    lines = [f"📋 <b>{escape(title)}</b>"]
    if not total:
        lines += ["", escape(t("No coaching training has been assigned yet."))]
        return "\n".join(lines)
    if total > len(items):
        lines.append(escape(t("The {n} latest:", n=t.number(len(items)))))
    lines.append("")
    for item in items:
        when = t.date(t.local(item.starts_at).date(), "medium")
        line = t(
            "{name} ({month}, {predicate}) → {training}, {date}",
            name=_clip(item.name, 40),
            month=month_name(t, item.year, item.month),
            predicate=predicate_label(item.predicate, t),
            training=_clip(item.training_title, 50),
            date=when,
        )
        mark = " 🚫" if item.cancelled else ""
        lines.append(f"• {escape(line)}{mark}")
    text = "\n".join(lines)
    while len(text) > MESSAGE_MAX and len(lines) > 3:
        lines.pop()
        text = "\n".join(lines)
    return text


# --------------------------------------------------------------------------- the notices
def supervisor_text(item: FlaggedEvaluation, training: TrainingInfo, t: Translator) -> str:
    title = t("Coaching for {name}", name=item.name)
    why = t(
        "Following the performance evaluation for {month} (predicate: {predicate}), HR has "
        "registered {name} for this training:",
        month=month_name(t, item.year, item.month),
        predicate=predicate_label(item.predicate, t),
        name=item.name,
    )
    return "\n\n".join(
        [
            f"🎓 <b>{escape(title)}</b>",
            escape(why),
            card_html(training, t),
            escape(t("Please support their attendance and follow up on their progress.")),
        ]
    )


# --------------------------------------------------------------------------- assigning
@dataclass(frozen=True, slots=True)
class AssignOutcome:
    status: str  # ASSIGNED | NOT_FLAGGED | TRAINING_CLOSED
    item: FlaggedEvaluation | None = None
    training: TrainingInfo | None = None
    participant_added: bool = False
    employee_told: bool = False
    supervisor_told: bool = False

    @property
    def queued(self) -> int:
        return int(self.employee_told) + int(self.supervisor_told)


async def assign_training(
    session: AsyncSession,
    settings: Settings,
    *,
    evaluation_id: int,
    training_id: int,
    actor_id: int | None,
    now: dt.datetime,
) -> AssignOutcome:
    """Assign the training to the flagged evaluation's employee (see the module doc)."""
    coaching = CoachingRepository(session)
    item = await coaching.flagged_one(evaluation_id)
    if item is None:
        return AssignOutcome(NOT_FLAGGED)
    trainings = TrainingRepository(session)
    training = await trainings.get(training_id)
    if training is None or not training.is_open(now):
        return AssignOutcome(TRAINING_CLOSED, item)
    if not await coaching.assign(evaluation_id, training_id, actor_id=actor_id, now=now):
        return AssignOutcome(NOT_FLAGGED)
    added = await trainings.add_participant(training_id, item.employee_id)
    AuditRepository(session).record(
        "coaching_assigned",
        actor_id=actor_id,
        actor_label=ACTOR_LABEL,
        entity_type="evaluation",
        entity_id=str(evaluation_id),
        details={
            "employee_id": item.employee_id,
            "period": f"{item.year:04d}-{item.month:02d}",
            "predicate": item.predicate,
            "training_id": training.id,
            "training_code": training.code,
            "participant_added": added,
        },
    )
    employee_told, supervisor_told = await _tell(session, settings, item, training, now)
    return AssignOutcome(ASSIGNED, item, training, added, employee_told, supervisor_told)


async def _tell(
    session: AsyncSession,
    settings: Settings,
    item: FlaggedEvaluation,
    training: TrainingInfo,
    now: dt.datetime,
) -> tuple[bool, bool]:
    """Queue the employee's and the supervisor's notices; whether each was new."""
    wanted = [item.employee_id]
    if item.supervisor_id is not None:
        wanted.append(item.supervisor_id)
    people = await EvaluationReminderRepository(session).recipients(wanted)
    outbox = OutboxRepository(session)
    urgent = training.starts_at - now <= URGENT_WITHIN
    employee_told = supervisor_told = False
    employee = people.get(item.employee_id)
    if employee is not None:
        t = get_translator(employee.language or settings.default_language, settings.timezone)
        employee_told = await outbox.enqueue(
            f"training_new:{training.id}:{item.employee_id}",
            employee.chat_id,
            {
                "text": new_training_text(training, t),
                "parse_mode": "HTML",
                "reply_markup": keyboard_dict(answer_buttons(training.id, t)),
            },
            kind="training",
            employee_id=item.employee_id,
            urgent=urgent,
        )
    boss = people.get(item.supervisor_id) if item.supervisor_id is not None else None
    if boss is not None and boss.employee_id != item.employee_id:
        t = get_translator(boss.language or settings.default_language, settings.timezone)
        supervisor_told = await outbox.enqueue(
            f"coaching:{item.evaluation_id}:{training.id}",
            boss.chat_id,
            {"text": supervisor_text(item, training, t), "parse_mode": "HTML"},
            kind=KIND,
            employee_id=boss.employee_id,
            urgent=urgent,
        )
    return employee_told, supervisor_told
