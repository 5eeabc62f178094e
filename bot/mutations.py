"""Mutations (mutasi): how a transfer reads in chat, and the changes that tell people.

Rendering (pure: a :class:`~storage.repositories.mutations.MutationView` and a translator in,
HTML out, every value escaped): the card with its timeline and what happens next, the
history line, the notices.

Changes, each in the caller's transaction with its audit entry:

* :func:`change_stage`: checks the move with the stage machine (``bot.rules.stages``), records
  it only if the mutation is still where the caller saw it, and processes the new event;
* :func:`create_mutation`: a new mutation at ``diusulkan``, from the employee's current post;
* :func:`process_events`: for every stage change nobody was told of yet (from the chat, an
  import in chat or on the command line), in one transaction: mark it told, tell the
  employee (``mutation_stage:{event}``, the card), and when the mutation first reaches
  ``pelantikan`` or ``selesai`` (whichever comes first), apply the move to the employee
  record (unit, post, supervisor, and the post's date ``post_since``: the mutation's TMT if
  known, else the local day of that stage change) and tell the new supervisor
  (``mutation_joined:{mutation}:{supervisor}``) and the old one
  (``mutation_left:{mutation}:{supervisor}``). The scheduler's tick runs it too, so an import
  made while the bot was down is told when it starts; the keys make every message once.

Decisions: a mutation imported straight into ``selesai`` or ``dibatalkan`` is history, told
to nobody. The new supervisor is the one HR named (``to_supervisor_id``), else the head of
the target unit (who supervises most people there). A target unit that is not one of ours
(a move out to another government) changes nothing in the employee record: HR's next
employee import does. The old supervisor is the employee's supervisor while still in the
origin unit, else the head of the origin unit.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import N_, Translator, get_translator
from bot.rules.stages import (
    FINAL_STAGES,
    MOVED_STAGES,
    MUTATION_TYPE_LABELS,
    STAGE_LABELS,
    MutationType,
    Stage,
    StageChange,
    TransitionProblem,
    check_transition,
    timeline,
)
from storage.models import utcnow
from storage.repositories.audit import AuditRepository
from storage.repositories.mutations import (
    MutationRepository,
    MutationView,
    PendingEvent,
    Person,
)
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger(__name__)

ACTOR_LABEL = "telegram"
NOTE_SHOWN = 500  # characters of a note shown on a card
RECENTLY_MOVED = dt.timedelta(days=92)  # "baru dimutasi": moved in the last 3 months

TYPE_ICONS = {
    MutationType.ROTASI: "🔁",
    MutationType.PROMOSI: "⬆️",
    MutationType.ANTAR_INSTANSI: "🏛",
}
NEXT_STEPS: dict[Stage, str] = {
    Stage.DIUSULKAN: N_("The proposal waits for BKPSDM to check the documents."),
    Stage.VERIFIKASI: N_("BKPSDM is checking the documents."),
    Stage.DIKEMBALIKAN: N_("Please hand in the missing documents to {hr_contact}:"),
    Stage.PERTIMBANGAN_TPK: N_("Waiting for the meeting of the performance assessment team (TPK)."),
    Stage.PERTEK_BKN: N_(
        "Waiting for the technical approval of BKN (Regional Office XII Pekanbaru)."
    ),
    Stage.SK_TERBIT: N_("The date of the inauguration will be announced."),
    Stage.PELANTIKAN: N_(
        "Report to {unit}. From next month your new supervisor evaluates your performance."
    ),
    Stage.SELESAI: N_("The transfer is complete."),
    Stage.DIBATALKAN: N_("This transfer was cancelled."),
}
PROBLEM_TEXTS: dict[TransitionProblem, str] = {
    TransitionProblem.SAME_STAGE: N_("The mutation is already at this stage."),
    TransitionProblem.FINAL: N_(
        "This mutation is finished or cancelled; it cannot change any more."
    ),
    TransitionProblem.NOT_ALLOWED: N_("A mutation at “{current}” cannot move to “{target}”."),
    TransitionProblem.REASON_REQUIRED: N_("A reason is required."),
    TransitionProblem.DOCUMENTS_REQUIRED: N_("List at least one missing document."),
    TransitionProblem.SK_NUMBER_REQUIRED: N_("The SK number is required."),
    TransitionProblem.SK_DATE_REQUIRED: N_("The SK date is required."),
    TransitionProblem.TMT_REQUIRED: N_("The TMT (effective date) is required."),
    TransitionProblem.SK_DATE_IN_FUTURE: N_("The SK date cannot be in the future."),
    TransitionProblem.TMT_BEFORE_SK_DATE: N_("The TMT cannot be before the SK date."),
}


# --------------------------------------------------------------------------- rendering
def stage_label(stage: str, t: Translator) -> str:
    try:
        return t(STAGE_LABELS[Stage(stage)])
    except ValueError:
        return stage


def type_label(mutation_type: str, t: Translator) -> str:
    try:
        return t(MUTATION_TYPE_LABELS[MutationType(mutation_type)])
    except ValueError:
        return mutation_type


def problem_text(problem: TransitionProblem, t: Translator, current: str, target: str) -> str:
    return t(
        PROBLEM_TEXTS[problem],
        current=stage_label(current, t),
        target=stage_label(target, t),
    )


def _short_date(t: Translator, value: dt.datetime) -> str:
    return t.date(t.local(value).date(), "medium")


def _post(unit: str, position: str) -> str:
    return f"{escape(position)}, {escape(unit)}" if position else escape(unit)


def _shorten(text: str, limit: int = NOTE_SHOWN) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def timeline_lines(view: MutationView, t: Translator) -> list[str]:
    """✅ done (with its date), ▶️ current (since when), ▫️ still to come; a returned file
    shows where it stands, a cancelled one stops at the cancellation."""
    current = Stage(view.stage)
    # An imported file may put a move inside the city at pertek_bkn: show that step, not fail.
    pertek = current is Stage.PERTEK_BKN or view.reached(Stage.PERTEK_BKN.value) is not None
    path = timeline(view.external or pertek)
    if current is Stage.DIBATALKAN:
        cancel = view.reached(Stage.DIBATALKAN.value)
        last = Stage(cancel.from_stage) if cancel and cancel.from_stage else Stage.DIUSULKAN
        reached = Stage.VERIFIKASI if last is Stage.DIKEMBALIKAN else last
        done_until = path.index(reached) + 1 if reached in path else 1
    elif current is Stage.DIKEMBALIKAN:
        done_until = path.index(Stage.VERIFIKASI) + 1
    else:
        done_until = path.index(current) + (1 if current is Stage.SELESAI else 0)
    lines: list[str] = []
    for index, stage in enumerate(path):
        label = escape(stage_label(stage, t))
        event = view.reached(stage.value)
        if index < done_until:
            when = f" — {escape(_short_date(t, event.changed_at))}" if event else ""
            lines.append(f"✅ {label}{when}")
            if current is Stage.DIKEMBALIKAN and stage is Stage.VERIFIKASI:
                returned = view.reached(Stage.DIKEMBALIKAN.value)
                since = view.stage_changed_at if returned is None else returned.changed_at
                text = t(
                    "{stage} — since {date}",
                    stage=stage_label(Stage.DIKEMBALIKAN, t),
                    date=_short_date(t, since),
                )
                lines.append(f"⚠️ <b>{escape(text)}</b>")
        elif current is Stage.DIBATALKAN:
            break
        elif stage is current:
            since = t("since {date}", date=_short_date(t, view.stage_changed_at))
            lines.append(f"▶️ <b>{label}</b> — {escape(since)}")
        else:
            lines.append(f"▫️ {label}")
    if current is Stage.DIBATALKAN:
        text = t(
            "{stage} — {date}",
            stage=stage_label(Stage.DIBATALKAN, t),
            date=_short_date(t, view.stage_changed_at),
        )
        lines.append(f"❌ <b>{escape(text)}</b>")
    return lines


def next_step_lines(view: MutationView, t: Translator, hr_contact: str) -> list[str]:
    """What happens next, in plain words (HTML-escaped lines)."""
    stage = Stage(view.stage)
    if stage is Stage.SK_TERBIT and view.inauguration_at is not None:
        text = t("Attend the inauguration on {when}.", when=t.datetime(view.inauguration_at))
    else:
        text = t(NEXT_STEPS[stage], hr_contact=hr_contact, unit=view.to_unit)
    lines = [f"➡️ {escape(text)}"]
    if stage is Stage.DIKEMBALIKAN:
        lines += [f"  • {escape(item)}" for item in view.missing_documents]
    if stage in (Stage.DIKEMBALIKAN, Stage.DIBATALKAN) and view.note:
        lines.append(escape(t("Reason: {reason}", reason=_shorten(view.note))))
    if view.active and view.trainings:
        lines.append("📚 " + escape(t("Trainings for this transfer:")))
        for training in view.trainings:
            when = t.datetime(training.starts_at)
            lines.append(f"  • {escape(training.title)} — {escape(when)}")
    return lines


def card_html(view: MutationView, t: Translator, *, hr_contact: str, for_hr: bool = False) -> str:
    """One mutation: type, from → to, the current stage, the timeline, the decree once
    issued, and what happens next. HR also sees whose it is and the last note."""
    icon = TYPE_ICONS.get(view.mutation_type, "📄")  # type: ignore[call-overload]
    lines = [f"{icon} <b>{escape(type_label(view.mutation_type, t))}</b>"]
    if for_hr:
        lines.append(f"👤 {escape(view.employee_name)} (<code>{escape(view.employee_nip)}</code>)")
    origin, destination, stage = t("From:"), t("To:"), t("Stage:")
    lines.append(f"{escape(origin)} {_post(view.from_unit, view.from_position)}")
    lines.append(f"{escape(destination)} {_post(view.to_unit, view.to_position)}")
    lines.append(f"{escape(stage)} <b>{escape(stage_label(view.stage, t))}</b>")
    lines.append("")
    lines += timeline_lines(view, t)
    if view.sk_number:
        lines.append("")
        decree = t("SK No. {number}", number=view.sk_number)
        if view.sk_date is not None:
            decree = t("{decree}, dated {date}", decree=decree, date=t.date(view.sk_date))
        lines.append("📜 " + escape(decree))
        if view.tmt_date is not None:
            lines.append("📅 " + escape(t("Effective (TMT): {date}", date=t.date(view.tmt_date))))
    if view.inauguration_at is not None and Stage(view.stage) is not Stage.SK_TERBIT:
        when = t.datetime(view.inauguration_at)
        lines.append("🎖 " + escape(t("Inauguration: {when}", when=when)))
    lines.append("")
    lines += next_step_lines(view, t, hr_contact)
    if for_hr:
        if view.to_supervisor_name:
            lines.append(escape(t("New supervisor: {name}", name=view.to_supervisor_name)))
        last = view.events[-1] if view.events else None
        if last is not None:
            who = t(
                "Last change: {date} by {who}",
                date=t.datetime(last.changed_at),
                who=last.changed_by or "-",
            )
            lines.append("🕓 " + escape(who))
            if last.note and Stage(view.stage) not in (Stage.DIKEMBALIKAN, Stage.DIBATALKAN):
                lines.append(escape(t("Note: {note}", note=_shorten(last.note))))
    return "\n".join(lines)


def history_line(view: MutationView, t: Translator) -> str:
    """A past mutation in one or two lines."""
    head = f"<b>{escape(type_label(view.mutation_type, t))}</b>: " + _post(
        view.to_unit, view.to_position
    )
    outcome = t(
        "{stage} — {date}",
        stage=stage_label(view.stage, t),
        date=t.date(t.local(view.stage_changed_at).date(), "medium"),
    )
    icon = "❌" if view.stage == Stage.DIBATALKAN.value else "✅"
    lines = [head, f"{icon} {escape(outcome)}"]
    if view.stage == Stage.DIBATALKAN.value and view.note:
        lines.append(escape(t("Reason: {reason}", reason=_shorten(view.note, 200))))
    return "\n".join(lines)


MESSAGE_MAX = 4096  # Telegram's limit for a message text
ELLIPSIS = "…"


def clip_lines(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` if it fits in ``limit`` characters, else its first whole lines and ``…``.

    Cutting between lines keeps the HTML well-formed: no tag of a card spans two lines.
    """
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = len(ELLIPSIS)
    for line in text.split("\n"):
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, ELLIPSIS])


def stage_notice_html(view: MutationView, t: Translator, *, hr_contact: str) -> str:
    """The push at a stage change: one line that says what changed, then the card."""
    if view.events and view.events[-1].from_stage is None:
        head = t("A transfer has been proposed for you.")
    else:
        head = t(
            "Your transfer has moved to a new stage: {stage}.",
            stage=stage_label(view.stage, t),
        )
    return clip_lines("📣 " + escape(head) + "\n\n" + card_html(view, t, hr_contact=hr_contact))


def joined_text(view: MutationView, t: Translator) -> str:
    """To the new supervisor: someone joins their unit."""
    lines = [
        "👋 "
        + escape(
            t(
                "{name} joins your team as {position} ({unit}).",
                name=view.employee_name,
                position=view.to_position or "-",
                unit=view.to_unit,
            )
        )
    ]
    if view.tmt_date is not None:
        lines.append(escape(t("Effective (TMT): {date}", date=t.date(view.tmt_date))))
    lines.append(
        escape(
            t(
                "They are marked “recently transferred” in your monthly evaluations "
                "for the next three months."
            )
        )
    )
    return "\n".join(lines)


def left_text(view: MutationView, t: Translator) -> str:
    """To the old supervisor: someone leaves their team."""
    lines = [
        "🚪 "
        + escape(
            t(
                "{name} leaves your team for {post}.",
                name=view.employee_name,
                post=f"{view.to_position}, {view.to_unit}" if view.to_position else view.to_unit,
            )
        )
    ]
    if view.tmt_date is not None:
        lines.append(escape(t("Effective (TMT): {date}", date=t.date(view.tmt_date))))
    lines.append(escape(t("You no longer evaluate them from the next period.")))
    return "\n".join(lines)


# --------------------------------------------------------------------------- changes
@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """``event_id`` when saved; else why not: ``problems`` from the stage machine, or
    ``stale`` (the mutation is gone or no longer at the stage the caller saw)."""

    event_id: int | None = None
    problems: list[TransitionProblem] = field(default_factory=list)
    stale: bool = False
    queued: int = 0


def local_today(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()


async def change_stage(
    session: AsyncSession,
    settings: Settings,
    mutation_id: int,
    *,
    expected: str,
    target: str,
    change: StageChange | None = None,
    note: str | None = None,
    inauguration_at: dt.datetime | None = None,
    actor_id: int | None,
    actor_label: str = ACTOR_LABEL,
    now: dt.datetime | None = None,
) -> ChangeOutcome:
    """Move a mutation one step (checked by the stage machine) and tell the people."""
    now = now or utcnow()
    change = change or StageChange()
    repository = MutationRepository(session)
    found = await repository.stage_of(mutation_id)
    if found is None or found[1] != expected:
        return ChangeOutcome(stale=True)
    view = await repository.get(mutation_id, now=now)
    assert view is not None
    problems = check_transition(
        Stage(expected),
        Stage(target),
        external=view.external,
        change=change,
        today=local_today(settings, now),
    )
    if problems:
        return ChangeOutcome(problems=problems)
    reason = change.reason.strip() if change.reason else None
    text = reason or (note.strip() if note and note.strip() else None)
    event_id = await repository.change_stage(
        mutation_id,
        expected=expected,
        target=target,
        note=text,
        actor_id=actor_id,
        actor_label=actor_label,
        missing_documents=change.missing_documents if target == Stage.DIKEMBALIKAN else (),
        sk_number=change.sk_number.strip() if change.sk_number else None,
        sk_date=change.sk_date,
        tmt_date=change.tmt_date,
        inauguration_at=inauguration_at,
        now=now,
    )
    if event_id is None:
        return ChangeOutcome(stale=True)
    details: dict[str, object] = {"mutation_id": mutation_id, "from": expected, "to": target}
    if text:
        details["note"] = text
    if target == Stage.DIKEMBALIKAN:
        details["missing_documents"] = list(change.missing_documents)
    if target == Stage.SK_TERBIT:
        details |= {
            "sk_number": change.sk_number,
            "sk_date": change.sk_date.isoformat() if change.sk_date else None,
            "tmt": change.tmt_date.isoformat() if change.tmt_date else None,
        }
    if inauguration_at is not None:
        details["inauguration_at"] = inauguration_at.isoformat()
    AuditRepository(session).record(
        "mutation_stage",
        actor_id=actor_id,
        actor_label=actor_label,
        entity_type="mutation",
        entity_id=str(mutation_id),
        details=details,
    )
    queued = await process_events(session, settings, ids=[event_id], now=now)
    return ChangeOutcome(event_id=event_id, queued=queued)


async def create_mutation(
    session: AsyncSession,
    settings: Settings,
    *,
    employee_id: int,
    mutation_type: MutationType,
    to_unit: str,
    to_position: str,
    to_supervisor_id: int | None = None,
    note: str | None = None,
    actor_id: int | None,
    actor_label: str = ACTOR_LABEL,
    now: dt.datetime | None = None,
    early_reason: str | None = None,
) -> tuple[int, int]:
    """A new mutation at ``diusulkan`` from the employee's current post; returns
    ``(mutation id, messages queued)``. ``early_reason``: why HR proposes it before two
    years in the post (kept in the audit entry of the creation)."""
    now = now or utcnow()
    repository = MutationRepository(session)
    person = await repository.person(employee_id)
    if person is None:
        raise LookupError(f"no employee {employee_id}")
    mutation_id, event_id = await repository.create(
        employee_id=employee_id,
        mutation_type=mutation_type.value,
        from_unit=person.unit,
        from_position=person.position,
        to_unit=to_unit.strip(),
        to_position=to_position.strip(),
        external=mutation_type is MutationType.ANTAR_INSTANSI,
        to_supervisor_id=to_supervisor_id,
        note=note.strip() if note and note.strip() else None,
        actor_id=actor_id,
        actor_label=actor_label,
        now=now,
    )
    AuditRepository(session).record(
        "mutation_created",
        actor_id=actor_id,
        actor_label=actor_label,
        entity_type="mutation",
        entity_id=str(mutation_id),
        details={
            "employee_id": employee_id,
            "type": mutation_type.value,
            "to_unit": to_unit,
            "to_position": to_position,
            "to_supervisor_id": to_supervisor_id,
            **({"early_reason": early_reason.strip()} if early_reason else {}),
        },
    )
    queued = await process_events(session, settings, ids=[event_id], now=now)
    return mutation_id, queued


def _translator(settings: Settings, language: str | None) -> Translator:
    return get_translator(language or settings.default_language, settings.timezone)


async def _tell(
    session: AsyncSession,
    settings: Settings,
    person: Person | None,
    key: str,
    render: object,
    kind: str = "mutation",
) -> int:
    if person is None or not person.can_be_told:
        return 0
    assert person.telegram_user_id is not None and callable(render)
    t = _translator(settings, person.language)
    queued = await OutboxRepository(session).enqueue(
        key,
        person.telegram_user_id,
        {"text": render(t), "parse_mode": "HTML"},
        kind=kind,
        employee_id=person.employee_id,
    )
    return int(bool(queued))


async def _supervisors(
    repository: MutationRepository, view: MutationView, person: Person
) -> tuple[int | None, int | None, tuple[int, str] | None]:
    """``(old supervisor, new supervisor, target unit)`` of a move."""
    if person.unit.casefold() == view.from_unit.strip().casefold():
        old = person.supervisor_id
    else:
        origin = await repository.unit_by_name(view.from_unit)
        old = (
            await repository.unit_head(origin[0], excluding=person.employee_id) if origin else None
        )
    target = await repository.unit_by_name(view.to_unit)
    new = view.to_supervisor_id
    if new is None and target is not None:
        new = await repository.unit_head(target[0], excluding=person.employee_id)
    return old, new, target


def post_since(view: MutationView, changed_at: dt.datetime, timezone: str) -> dt.date:
    """TMT Jabatan after a move: the mutation's TMT if known, else the local day of the change."""
    if view.tmt_date is not None:
        return view.tmt_date
    if changed_at.tzinfo is None:  # stored in UTC
        changed_at = changed_at.replace(tzinfo=dt.UTC)
    return changed_at.astimezone(ZoneInfo(timezone)).date()


async def _apply_move(
    session: AsyncSession,
    settings: Settings,
    view: MutationView,
    person: Person,
    changed_at: dt.datetime,
) -> int:
    repository = MutationRepository(session)
    old, new, target = await _supervisors(repository, view, person)
    if target is not None:
        await repository.move_employee(
            person.employee_id,
            unit_id=target[0],
            position=view.to_position,
            supervisor_id=new,
            post_since=post_since(view, changed_at, settings.timezone),
        )
        AuditRepository(session).record(
            "employee_moved",
            actor_id=None,
            actor_label="mutation",
            entity_type="employee",
            entity_id=str(person.employee_id),
            details={
                "mutation_id": view.id,
                "from_unit": person.unit,
                "to_unit": target[1],
                "supervisor_id": new,
            },
        )
    queued = 0
    if new is not None and new != old:
        queued += await _tell(
            session,
            settings,
            await repository.person(new),
            f"mutation_joined:{view.id}:{new}",
            lambda t: joined_text(view, t),
        )
    if old is not None and old != new:
        queued += await _tell(
            session,
            settings,
            await repository.person(old),
            f"mutation_left:{view.id}:{old}",
            lambda t: left_text(view, t),
        )
    return queued


async def _process(
    session: AsyncSession,
    settings: Settings,
    event: PendingEvent,
    view: MutationView,
    person: Person,
) -> int:
    repository = MutationRepository(session)
    queued = 0
    moved = Stage(event.to_stage) in MOVED_STAGES
    if moved and event.from_stage is not None:
        if not await repository.moved_before(view.id, event.id):
            queued += await _apply_move(session, settings, view, person, event.changed_at)
    history = event.from_stage is None and Stage(event.to_stage) in FINAL_STAGES
    # The card shows the mutation as it is now; a later change has its own notice.
    if not history and view.stage == event.to_stage:
        queued += await _tell(
            session,
            settings,
            person,
            f"mutation_stage:{event.id}",
            lambda t: stage_notice_html(view, t, hr_contact=settings.hr_contact),
        )
    return queued


async def process_events(
    session: AsyncSession,
    settings: Settings,
    *,
    ids: list[int] | None = None,
    now: dt.datetime | None = None,
    limit: int = 500,
) -> int:
    """Tell the people of every stage change not yet told (``ids``: only those); returns
    how many messages were queued. Runs in the caller's transaction."""
    now = now or utcnow()
    repository = MutationRepository(session)
    pending = await repository.pending_events(ids=ids, limit=limit)
    # Claimed in one statement: events another process claimed first are skipped.
    claimed = await repository.claim_events([event.id for event in pending], now)
    events = [event for event in pending if event.id in claimed]
    views = await repository.many({event.mutation_id for event in events}, now=now)
    people = await repository.people({view.employee_id for view in views.values()})
    queued = 0
    for event in events:
        view = views.get(event.mutation_id)
        person = people.get(view.employee_id) if view is not None else None
        if view is not None and person is not None:
            queued += await _process(session, settings, event, view, person)
    return queued
