"""What ``/nilai`` shows: the team list, each step of the guided evaluation, the summary, the
Ubah chooser and the final card — pure text (Telegram HTML) and keyboards, no database.

Buttons are plain data (:data:`Buttons`, rows of ``(label, callback_data)``); the handler
(``handlers.evaluations``) turns them into markup and checks every press again on the server.
Callback data stays far below Telegram's 64 bytes:

* ``nl:p:{page}`` — a page of the team list;
* ``nl:o:{period_id}:{employee_id}`` — start or resume the evaluation of one report;
* ``nl:{evaluation_id}:{step}:{answer}`` — an answer at one step, with short codes
  (:data:`STEP_CODES`, :data:`RATING_CODES` and the actions below). The step in the data must
  be the evaluation's ``current_step`` when pressed; anything else is a stale button.

Decisions:

* The seven BerAKHLAK descriptions are short forms of the official core-value behaviours
  (SE MenPAN-RB 20/2021); the three ratings carry a one-line meaning, one set for Hasil Kerja
  (against the agreed targets) and one for behaviour.
* The derived Perilaku Kerja is shown with every value's rating and the rule in one line
  (``BEHAVIOUR_RULE``: majority or strict), so the supervisor sees why.
* The Ubah chooser is a view of the summary step (its buttons carry the summary step): a jump
  saves the target as ``current_step``; answering it returns to the summary
  (``bot.evaluations.answer_values``). Perilaku Kerja is derived, so it is not a target.
* A feedback step with feedback already given offers "keep" and "no feedback" next to typing
  a new text; a skipped feedback is stored as an empty text ("asked, none given"), which is
  what lets a later Ubah return to the summary.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from bot.evaluations import month_name
from bot.i18n import N_, Translator
from bot.rules.periods import BEHAVIOUR, EVALUATION_STEPS, FEEDBACK, FEEDBACK_MAX, SUMMARY, WORK
from bot.rules.skp import (
    BERAKHLAK,
    BERAKHLAK_LABELS,
    PREDICATE_LABELS,
    RATING_LABELS,
    BehaviourRule,
    Predicate,
    Rating,
    predicate,
    summarise_behaviour,
)
from bot.trainings import Buttons
from storage.repositories.evaluations import (
    SUBMITTED,
    EvaluationState,
    PeriodInfo,
    TeamMember,
)

FLOW = "evaluation"  # the flows draft of a live conversation (``handlers.flows``)
PREFIX = "nl:"
PAGE_SIZE = 8
NAME_SHOWN = 40  # characters of a name on a button

STEP_CODES: dict[str, str] = {
    WORK: "w",
    "berorientasi_pelayanan": "pl",
    "akuntabel": "ak",
    "kompeten": "ko",
    "harmonis": "hm",
    "loyal": "ly",
    "adaptif": "ad",
    "kolaboratif": "kl",
    BEHAVIOUR: "b",
    FEEDBACK: "f",
    SUMMARY: "s",
}
CODE_STEPS = {code: step for step, code in STEP_CODES.items()}
RATING_CODES: dict[Rating, str] = {Rating.DI_ATAS: "a", Rating.SESUAI: "s", Rating.DI_BAWAH: "b"}
CODE_RATINGS = {code: rating for rating, code in RATING_CODES.items()}
RATED_STEPS: tuple[str, ...] = (WORK, *BERAKHLAK)
JUMP_TARGETS: tuple[str, ...] = (*RATED_STEPS, FEEDBACK)

# Actions (the answer part of ``nl:{evaluation}:{step}:{answer}``); ratings are one letter.
BACK = "bk"
CANCEL = "x"
NEXT = "nx"  # behaviour → feedback
SKIP = "sk"  # feedback: none
KEEP = "kp"  # feedback: keep the one given
SEND = "ok"  # summary: Kirim
EDIT = "ed"  # summary: the Ubah chooser
SHOW_SUMMARY = "sm"  # Ubah chooser → the summary again
JUMP = "g"  # "g" + a step code: Ubah to that step

RATING_ICONS: dict[Rating, str] = {Rating.DI_ATAS: "⬆️", Rating.SESUAI: "✅", Rating.DI_BAWAH: "⬇️"}
RATINGS_SHOWN: tuple[Rating, ...] = (Rating.DI_ATAS, Rating.SESUAI, Rating.DI_BAWAH)

WORK_MEANINGS: dict[Rating, str] = {
    Rating.DI_ATAS: N_("the results clearly exceed the agreed targets (amount, quality, time)"),
    Rating.SESUAI: N_("the results meet the agreed targets"),
    Rating.DI_BAWAH: N_("the results fall short of the agreed targets"),
}
BEHAVIOUR_MEANINGS: dict[Rating, str] = {
    Rating.DI_ATAS: N_("shows this consistently and is an example to others"),
    Rating.SESUAI: N_("shows this as expected"),
    Rating.DI_BAWAH: N_("does not yet show this as expected"),
}
# Short forms of the official BerAKHLAK core-value behaviours (SE MenPAN-RB 20/2021).
VALUE_DESCRIPTIONS: dict[str, str] = {
    "berorientasi_pelayanan": N_(
        "understands and meets the public's needs; friendly, quick, solution-minded and "
        "reliable; keeps improving the service"
    ),
    "akuntabel": N_(
        "honest, responsible, careful, disciplined, with high integrity; uses state property "
        "responsibly and efficiently; does not misuse authority"
    ),
    "kompeten": N_(
        "keeps developing own skills for changing challenges; helps others learn; does the "
        "work with the best quality"
    ),
    "harmonis": N_(
        "respects everyone whatever their background; likes to help others; builds a good "
        "working atmosphere"
    ),
    "loyal": N_(
        "holds to Pancasila and the 1945 Constitution, faithful to the Republic and the lawful "
        "government; protects the good name of colleagues, leaders, agency and state; keeps "
        "official secrets"
    ),
    "adaptif": N_(
        "adjusts quickly to change; keeps innovating and being creative; acts proactively"
    ),
    "kolaboratif": N_(
        "gives others the chance to contribute; open to working together for added value; "
        "brings resources together for shared goals"
    ),
}
RULE_TEXTS: dict[BehaviourRule, str] = {
    BehaviourRule.MAJORITY: N_("Rule: the rating given most often; on a tie, Meets expectations."),
    BehaviourRule.STRICT: N_(
        "Rule: any Below expectations gives Below; Above expectations needs more than half "
        "Above; otherwise Meets expectations."
    ),
}


# --------------------------------------------------------------------------- callback data
@dataclass(frozen=True, slots=True)
class PagePress:
    page: int


@dataclass(frozen=True, slots=True)
class OpenPress:
    period_id: int
    employee_id: int


@dataclass(frozen=True, slots=True)
class StepPress:
    evaluation_id: int
    step: str
    answer: str  # a rating code, an action, or JUMP + a step code


Press = PagePress | OpenPress | StepPress

_PAGE = re.compile(r"^nl:p:(\d{1,4})$")
_OPEN = re.compile(r"^nl:o:(\d{1,12}):(\d{1,12})$")
_STEP = re.compile(r"^nl:(\d{1,12}):([a-z]{1,2}):([a-z]{1,3})$")


def page_data(page: int) -> str:
    return f"{PREFIX}p:{page}"


def open_data(period_id: int, employee_id: int) -> str:
    return f"{PREFIX}o:{period_id}:{employee_id}"


def step_data(evaluation_id: int, step: str, answer: str) -> str:
    return f"{PREFIX}{evaluation_id}:{STEP_CODES[step]}:{answer}"


def parse(data: str | None) -> Press | None:
    """What a button names (``None``: not one of ours, or malformed)."""
    data = data or ""
    if match := _PAGE.match(data):
        return PagePress(int(match[1]))
    if match := _OPEN.match(data):
        return OpenPress(int(match[1]), int(match[2]))
    if (match := _STEP.match(data)) and match[2] in CODE_STEPS:
        return StepPress(int(match[1]), CODE_STEPS[match[2]], match[3])
    return None


def rating_of(answer: str) -> Rating | None:
    return CODE_RATINGS.get(answer)


def jump_target(answer: str) -> str | None:
    """The step an Ubah button jumps to (``None``: not a jump, or not a target)."""
    if not answer.startswith(JUMP):
        return None
    step = CODE_STEPS.get(answer[len(JUMP) :])
    return step if step in JUMP_TARGETS else None


# --------------------------------------------------------------------------- small pieces
def step_number(step: str) -> int:
    return EVALUATION_STEPS.index(step) + 1


def _shorten(text: str, limit: int = NAME_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rating_label(rating: Rating | str, t: Translator) -> str:
    return t(RATING_LABELS[Rating(rating)])


def value_label(value: str, t: Translator) -> str:
    return t(BERAKHLAK_LABELS[value])


def rule_text(rule: BehaviourRule, t: Translator) -> str:
    return t(RULE_TEXTS[rule])


def derived(state: EvaluationState, rule: BehaviourRule) -> Rating | None:
    if any(value not in state.ratings for value in BERAKHLAK):
        return None
    return summarise_behaviour((state.ratings[v] for v in BERAKHLAK), rule)


def predicate_for(state: EvaluationState, rule: BehaviourRule) -> Predicate | None:
    behaviour = derived(state, rule)
    if behaviour is None or state.work_result is None:
        return None
    return predicate(state.work_result, behaviour)


def complete(state: EvaluationState) -> bool:
    return state.work_result is not None and all(v in state.ratings for v in BERAKHLAK)


def _common_row(evaluation_id: int, step: str, t: Translator) -> list[tuple[str, str]]:
    return [
        (t("⬅️ Back"), step_data(evaluation_id, step, BACK)),
        (t("✖ Cancel"), step_data(evaluation_id, step, CANCEL)),
    ]


def header(state: EvaluationState, period: PeriodInfo, t: Translator) -> list[str]:
    """The first lines of every step: what, for whom."""
    title = t("📝 Performance evaluation · {month}", month=month_name(t, period.year, period.month))
    person = f"👤 <b>{escape(state.employee_name)}</b>"
    if state.employee_position:
        person += f" · {escape(state.employee_position)}"
    return [f"<b>{escape(title)}</b>", person]


def _step_line(step: str, t: Translator) -> str:
    text = t(
        "Step {n} of {total}",
        n=t.number(step_number(step)),
        total=t.number(len(EVALUATION_STEPS)),
    )
    return f"<i>{escape(text)}</i>"


# --------------------------------------------------------------------------- the steps
def rating_view(
    state: EvaluationState, period: PeriodInfo, step: str, t: Translator
) -> tuple[str, Buttons]:
    """Hasil Kerja or one BerAKHLAK value: the question, the meaning of each rating, three
    rating buttons, Back and Cancel."""
    lines = [*header(state, period, t), _step_line(step, t), ""]
    if step == WORK:
        heading = t("Work results")
        question = t(
            "How were the work results of {name} this month, against the agreed targets?",
            name=state.employee_name,
        )
        meanings = WORK_MEANINGS
        given = state.work_result
        lines.append(f"<b>{escape(heading)}</b>")
    else:
        position = BERAKHLAK.index(step) + 1
        heading = t(
            "Work behaviour · BerAKHLAK value {n} of {total}",
            n=t.number(position),
            total=t.number(len(BERAKHLAK)),
        )
        label = value_label(step, t)
        description = t(VALUE_DESCRIPTIONS[step])
        question = t("How did {name} show this value this month?", name=state.employee_name)
        meanings = BEHAVIOUR_MEANINGS
        given = state.ratings.get(step)
        lines += [
            escape(heading),
            f"<b>{escape(label)}</b>",
            f"<i>{escape(description)}</i>",
        ]
    lines += ["", escape(question), ""]
    for rating in RATINGS_SHOWN:
        label = rating_label(rating, t)
        meaning = t(meanings[rating])
        lines.append(f"{RATING_ICONS[rating]} <b>{escape(label)}</b>: {escape(meaning)}")
    if given:
        saved = t("Saved answer: {rating}", rating=rating_label(given, t))
        lines += ["", "💾 " + escape(saved)]
    rows: Buttons = []
    for rating in RATINGS_SHOWN:
        label = rating_label(rating, t)
        rows.append(
            [(f"{RATING_ICONS[rating]} {label}", step_data(state.id, step, RATING_CODES[rating]))]
        )
    rows.append(_common_row(state.id, step, t))
    return "\n".join(lines), rows


def behaviour_view(
    state: EvaluationState, period: PeriodInfo, t: Translator, rule: BehaviourRule
) -> tuple[str, Buttons]:
    """The derived Perilaku Kerja, every value's rating and the rule; Continue."""
    result = derived(state, rule)
    assert result is not None, "behaviour before all seven values"
    heading = t("Work behaviour, from the seven BerAKHLAK values:")
    lines = [*header(state, period, t), _step_line(BEHAVIOUR, t), "", escape(heading)]
    for value in BERAKHLAK:
        rating = Rating(state.ratings[value])
        label = value_label(value, t)
        lines.append(f"{RATING_ICONS[rating]} {escape(label)}")
    outcome = t("Work behaviour: {rating}", rating=rating_label(result, t))
    hint = t("Tap Continue to go on, or Back to change a value.")
    lines += [
        "",
        f"<b>{escape(outcome)}</b>",
        f"<i>{escape(rule_text(rule, t))}</i>",
        "",
        escape(hint),
    ]
    rows: Buttons = [
        [(t("Continue ➡️"), step_data(state.id, BEHAVIOUR, NEXT))],
        _common_row(state.id, BEHAVIOUR, t),
    ]
    return "\n".join(lines), rows


def feedback_view(state: EvaluationState, period: PeriodInfo, t: Translator) -> tuple[str, Buttons]:
    """Ask for the optional feedback (typed as a message) or Skip."""
    heading = t("Feedback (optional)")
    ask = t(
        "Type your feedback for {name} as a message (at most {max} characters), or tap Skip.",
        name=state.employee_name,
        max=t.number(FEEDBACK_MAX),
    )
    lines = [
        *header(state, period, t),
        _step_line(FEEDBACK, t),
        "",
        f"<b>{escape(heading)}</b>",
        escape(ask),
    ]
    rows: Buttons = []
    if state.feedback:
        current = t("Current feedback:")
        lines += ["", escape(current), f"<i>{escape(state.feedback)}</i>"]
        rows.append([(t("✅ Keep this feedback"), step_data(state.id, FEEDBACK, KEEP))])
        rows.append([(t("🗑 No feedback"), step_data(state.id, FEEDBACK, SKIP))])
    else:
        rows.append([(t("⏭ Skip"), step_data(state.id, FEEDBACK, SKIP))])
    rows.append(_common_row(state.id, FEEDBACK, t))
    return "\n".join(lines), rows


def answers_html(state: EvaluationState, t: Translator, rule: BehaviourRule) -> list[str]:
    """Every answer, the derived behaviour, the feedback and the predicate."""
    lines: list[str] = []
    if state.work_result:
        work = t("Work results: {rating}", rating=rating_label(state.work_result, t))
        lines.append(f"{RATING_ICONS[Rating(state.work_result)]} {escape(work)}")
    behaviour = state.behaviour or derived(state, rule)
    if behaviour:
        text = t("Work behaviour: {rating}", rating=rating_label(behaviour, t))
        lines.append(f"{RATING_ICONS[Rating(behaviour)]} {escape(text)}")
    for value in BERAKHLAK:
        if value in state.ratings:
            rating = Rating(state.ratings[value])
            label = value_label(value, t)
            lines.append(f"    {RATING_ICONS[rating]} {escape(label)}")
    feedback_heading = t("Feedback:")
    if state.feedback:
        lines += ["", escape(feedback_heading), f"<i>{escape(state.feedback)}</i>"]
    else:
        none = t("(no feedback)")
        lines += ["", f"{escape(feedback_heading)} {escape(none)}"]
    result = Predicate(state.predicate) if state.predicate else predicate_for(state, rule)
    if result is not None:
        label = t(PREDICATE_LABELS[result])
        lines += ["", escape(t("Predicate:")) + f" <b>{escape(label)}</b>"]
    return lines


def summary_view(
    state: EvaluationState, period: PeriodInfo, t: Translator, rule: BehaviourRule
) -> tuple[str, Buttons]:
    """All answers and the predicate from the matrix: Send, Change, Back, Cancel."""
    heading = t("Summary")
    hint = t("Check the answers, then tap Send. The employee is told at once.")
    lines = [
        *header(state, period, t),
        _step_line(SUMMARY, t),
        "",
        f"<b>{escape(heading)}</b>",
        *answers_html(state, t, rule),
        "",
        escape(hint),
    ]
    rows: Buttons = [
        [(t("📨 Send"), step_data(state.id, SUMMARY, SEND))],
        [(t("✏️ Change"), step_data(state.id, SUMMARY, EDIT))],
        _common_row(state.id, SUMMARY, t),
    ]
    return "\n".join(lines), rows


def edit_view(state: EvaluationState, period: PeriodInfo, t: Translator) -> tuple[str, Buttons]:
    """Ubah: a button per step to jump to; back to the summary."""
    question = t("Which part do you want to change?")
    lines = [*header(state, period, t), "", escape(question)]
    rows: Buttons = []
    for step in RATED_STEPS:
        given = state.work_result if step == WORK else state.ratings.get(step)
        icon = RATING_ICONS[Rating(given)] if given else "▫️"
        label = t("Work results") if step == WORK else value_label(step, t)
        rows.append([(f"{icon} {label}", step_data(state.id, SUMMARY, JUMP + STEP_CODES[step]))])
    rows.append([(t("✍️ Feedback"), step_data(state.id, SUMMARY, JUMP + STEP_CODES[FEEDBACK]))])
    rows.append([(t("⬅️ Back to the summary"), step_data(state.id, SUMMARY, SHOW_SUMMARY))])
    return "\n".join(lines), rows


def step_view(
    state: EvaluationState, period: PeriodInfo, step: str, t: Translator, rule: BehaviourRule
) -> tuple[str, Buttons]:
    """The message of ``step`` for this evaluation."""
    if step in RATED_STEPS:
        return rating_view(state, period, step, t)
    if step == BEHAVIOUR:
        return behaviour_view(state, period, t, rule)
    if step == FEEDBACK:
        return feedback_view(state, period, t)
    return summary_view(state, period, t, rule)


def final_html(
    state: EvaluationState,
    period: PeriodInfo,
    t: Translator,
    rule: BehaviourRule,
    *,
    told: bool | None = None,
) -> str:
    """A submitted evaluation; ``told``: just sent, whether the employee was told."""
    heading = t("✅ Evaluation sent")
    lines = [*header(state, period, t), "", f"<b>{escape(heading)}</b>"]
    if state.submitted_at is not None:
        when = t("Sent on {date}", date=t.date(t.local(state.submitted_at).date()))
        lines.append(f"<i>{escape(when)}</i>")
    lines += ["", *answers_html(state, t, rule)]
    if told is True:
        lines += ["", "📬 " + escape(t("{name} has been told.", name=state.employee_name))]
    elif told is False:
        lines += [
            "",
            "ℹ️ "
            + escape(
                t(
                    "{name} is not on Telegram yet; the result is saved and HR can see it.",
                    name=state.employee_name,
                )
            ),
        ]
    lines += ["", escape(t("To rate other staff: /nilai"))]
    return "\n".join(lines)


def paused_html(name: str, t: Translator, *, idle: bool = False) -> str:
    """The conversation ended (Batal, /batal, or inactivity); the answers stay."""
    if idle:
        text = t(
            "⏸ The evaluation of {name} was paused because there was no activity; your answers "
            "are saved. Send /nilai to continue.",
            name=name,
        )
    else:
        text = t(
            "⏸ The evaluation of {name} is paused; your answers are saved. "
            "Send /nilai to continue.",
            name=name,
        )
    return escape(text)


def feedback_too_long(length: int, t: Translator) -> str:
    return t(
        "That is {n} characters; the feedback may have at most {max}. Please type it again, "
        "shorter, or tap Skip.",
        n=t.number(length),
        max=t.number(FEEDBACK_MAX),
    )


# --------------------------------------------------------------------------- the team list
def member_state(member: TeamMember, t: Translator) -> str:
    if member.status == SUBMITTED and member.predicate:
        return t("✅ sent: {predicate}", predicate=t(PREDICATE_LABELS[Predicate(member.predicate)]))
    if member.status is not None:
        step = member.current_step if member.current_step in EVALUATION_STEPS else WORK
        return t(
            "✏️ draft, step {n} of {total}",
            n=t.number(step_number(step)),
            total=t.number(len(EVALUATION_STEPS)),
        )
    return t("⬜ not rated yet")


def _member_icon(member: TeamMember) -> str:
    if member.status == SUBMITTED:
        return "✅"
    return "✏️" if member.status is not None else "⬜"


def pages(count: int) -> int:
    return max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE)


def team_view(
    members: Sequence[TeamMember],
    period: PeriodInfo,
    t: Translator,
    *,
    page: int = 0,
    in_progress: TeamMember | None = None,
) -> tuple[str, Buttons]:
    """The supervisor's direct reports for ``period`` ("baru dimutasi" first, as
    ``EvaluationRepository.team`` orders them), a page at a time, a button per person."""
    total_pages = pages(len(members))
    page = min(max(page, 0), total_pages - 1)
    shown = members[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    title = t(
        "📝 Performance evaluation (SKP) · {month}",
        month=month_name(t, period.year, period.month),
    )
    deadline = t("Deadline: {date}", date=t.date(period.closes_on))
    done = sum(1 for m in members if m.status == SUBMITTED)
    progress = t("Sent: {done} of {total}", done=t.number(done), total=t.number(len(members)))
    lines = [f"<b>{escape(title)}</b>", "⏰ " + escape(deadline), escape(progress)]
    rows: Buttons = []
    if in_progress is not None and in_progress.evaluation_id is not None:
        label = t("▶️ Continue: {name}", name=_shorten(in_progress.name))
        rows.append([(label, open_data(period.id, in_progress.employee_id))])
    for number, member in enumerate(shown, start=page * PAGE_SIZE + 1):
        lines += ["", f"{number}. <b>{escape(member.name)}</b>"]
        if member.moved_at is not None:
            moved = t(
                "🆕 recently transferred ({date})",
                date=t.date(t.local(member.moved_at).date(), "d MMM y"),
            )
            lines.append("    " + escape(moved))
        lines.append("    " + escape(member_state(member, t)))
        icon = "🆕" if member.moved_at is not None else _member_icon(member)
        label = f"{icon} {number}. {_shorten(member.name)}"
        rows.append([(label, open_data(period.id, member.employee_id))])
    if total_pages > 1:
        where = t("Page {page} of {pages}", page=t.number(page + 1), pages=t.number(total_pages))
        lines += ["", f"<i>{escape(where)}</i>"]
        nav: list[tuple[str, str]] = []
        if page > 0:
            nav.append(("◀️", page_data(page - 1)))
        if page < total_pages - 1:
            nav.append(("▶️", page_data(page + 1)))
        rows.append(nav)
    lines += ["", escape(t("Choose a name to rate."))]
    return "\n".join(lines), rows


def no_period_html(next_opens: dt.date, t: Translator) -> str:
    return escape(
        t(
            "No evaluation period is open for you now. The next one opens on {date}.",
            date=t.date(next_opens),
        )
    )


def no_team_html(hr_contact: str, t: Translator) -> str:
    return escape(
        t(
            "You have no direct reports in HR's data. If this is wrong, please contact {hr}.",
            hr=hr_contact,
        )
    )
