"""Layer 2: /nilai — the list, the guided evaluation, its guards, Kirim, the idle pause.

The application's clock stands on Thursday 3 December 2026 (November open until Monday
7 December), so nothing depends on the day the tests run; drafts keep the real time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram.ext import Application

from bot.config import Settings
from bot.evaluation_cards import (
    BACK,
    CANCEL,
    EDIT,
    FLOW,
    JUMP,
    NEXT,
    SEND,
    SHOW_SUMMARY,
    SKIP,
    STEP_CODES,
    open_data,
)
from bot.evaluation_idle import pause_idle
from bot.i18n import get_translator
from bot.rules.periods import BEHAVIOUR, EVALUATION_STEPS, FEEDBACK, FEEDBACK_MAX, SUMMARY, WORK
from bot.rules.skp import (
    BERAKHLAK,
    PREDICATE_LABELS,
    PREDICATE_MATRIX,
    RATING_LABELS,
    Predicate,
    Rating,
)
from bot.rules.stages import Stage
from bot.scheduler import run_tick
from storage.models import Employee, Evaluation, EvaluationPeriod, OutboxMessage, Unit, utcnow
from storage.repositories.evaluations import EvaluationRepository
from tests.evaluations.conversation_support import (
    AFTER_DEADLINE,
    BOSS_CHAT,
    CLOCK,
    OTHER_BOSS_CHAT,
    STAFF_CHAT,
    STAFF_NAME,
    add_people,
    answer,
    audit_entries,
    buttons,
    drafts,
    evaluation_of,
    evaluations,
    outbox_keys,
)
from tests.handlers.conftest import running_app
from tests.mutations.status_support import add_mutation
from tests.support.telegram import CapturingRequest, callback_update, message_update

ID = get_translator("id")
EN = get_translator("en")
STALE = ID("This button is no longer valid.")
NOT_MINE = ID("Sorry, you can only rate your own direct reports.")


def clock_at(app: Application, when: dt.datetime) -> None:
    app.bot_data.extras["clock"] = lambda: when


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, CapturingRequest]]:
    async with running_app(settings, CapturingRequest()) as (application, request):
        clock_at(application, CLOCK)
        request.clear()
        yield application, request


async def say(app: Application, request: CapturingRequest, text: str, user: int = BOSS_CHAT):
    request.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def press(
    app: Application, request: CapturingRequest, data: str, user: int = BOSS_CHAT
) -> dict[str, Any] | None:
    """Press a button; the message edited (or sent) in answer (``None``: only an alert)."""
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data, message_id=500))
    shown = request.sent("editMessageText") + request.sent()
    return shown[-1] if shown else None


def alert(request: CapturingRequest) -> str | None:
    (reply,) = request.sent("answerCallbackQuery")
    return reply.get("text") if reply.get("show_alert") else None


async def period_id(sessionmaker, year: int = 2026, month: int = 11) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(EvaluationPeriod.id).where(
                EvaluationPeriod.year == year, EvaluationPeriod.month == month
            )
        )
        assert found is not None
        return found


async def open_staff(app, request, sessionmaker, employee_id: int) -> tuple[int, dict]:
    """/nilai, then the person's button: (evaluation id, the first step's message)."""
    sent = await say(app, request, "/nilai")
    data = open_data(await period_id(sessionmaker), employee_id)
    assert data in buttons(sent[-1])
    shown = await press(app, request, data)
    assert shown is not None
    found = await evaluation_of(sessionmaker, employee_id)
    assert found is not None
    return found.id, shown


async def rate(
    app, request, evaluation_id: int, work: Rating, values: list[Rating] | Rating
) -> dict:
    """Answer Hasil Kerja and the seven values; the Perilaku Kerja step shown."""
    values = values if isinstance(values, list) else [values] * len(BERAKHLAK)
    shown = await press(app, request, answer(evaluation_id, WORK, work))
    for value, rating in zip(BERAKHLAK, values, strict=True):
        shown = await press(app, request, answer(evaluation_id, value, rating))
    assert shown is not None
    return shown


async def to_summary(app, request, evaluation_id: int, work: Rating, values) -> dict:
    await rate(app, request, evaluation_id, work, values)
    await press(app, request, answer(evaluation_id, BEHAVIOUR, NEXT))
    shown = await press(app, request, answer(evaluation_id, FEEDBACK, SKIP))
    assert shown is not None
    return shown


# --------------------------------------------------------------------------- the whole way
@pytest.mark.parametrize("language", ["id", "en"])
async def test_the_whole_conversation_ends_with_one_evaluation_and_one_notice(
    captured, sessionmaker, language
):
    app, request = captured
    t = get_translator(language)
    people = await add_people(sessionmaker, boss_language=None if language == "id" else "en")
    listing = (await say(app, request, "/nilai"))[-1]
    assert "November 2026" in listing["text"]
    assert t.date(dt.date(2026, 12, 7)) in listing["text"]  # the deadline
    assert t("⬜ not rated yet") in listing["text"]
    assert STAFF_NAME in listing["text"]
    assert "Budi" not in listing["text"]  # another supervisor's staff

    evaluation_id, shown = await open_staff(app, request, sessionmaker, people.staff)
    assert t("Step {n} of {total}", n="1", total="11") in shown["text"]
    assert t("the results meet the agreed targets") in shown["text"]
    assert buttons(shown) == [
        answer(evaluation_id, WORK, Rating.DI_ATAS),
        answer(evaluation_id, WORK, Rating.SESUAI),
        answer(evaluation_id, WORK, Rating.DI_BAWAH),
        answer(evaluation_id, WORK, BACK),
        answer(evaluation_id, WORK, CANCEL),
    ]
    shown = await press(app, request, answer(evaluation_id, WORK, Rating.DI_ATAS))
    assert shown is not None
    assert t("Service oriented") in shown["text"]
    assert t("Step {n} of {total}", n="2", total="11") in shown["text"]
    assert request.sent("editMessageText"), "the message is edited in place"
    values = [Rating.DI_ATAS] * 4 + [Rating.SESUAI] * 3
    for value, rating in zip(BERAKHLAK, values, strict=True):
        shown = await press(app, request, answer(evaluation_id, value, rating))
    assert shown is not None
    assert t("Rule: the rating given most often; on a tie, Meets expectations.") in shown["text"]
    behaviour = t("Work behaviour: {rating}", rating=t(RATING_LABELS[Rating.DI_ATAS]))
    assert behaviour in shown["text"]
    shown = await press(app, request, answer(evaluation_id, BEHAVIOUR, NEXT))
    assert shown is not None and answer(evaluation_id, FEEDBACK, SKIP) in buttons(shown)

    sent = await say(app, request, "Kerja bagus, <b>pertahankan</b> & terus belajar")
    summary = sent[-1]
    assert "Kerja bagus, &lt;b&gt;pertahankan&lt;/b&gt; &amp; terus belajar" in summary["text"]
    assert t(PREDICATE_LABELS[Predicate.SANGAT_BAIK]) in summary["text"]
    assert answer(evaluation_id, SUMMARY, SEND) in buttons(summary)
    assert len(request.sent("editMessageText")) == 1  # the old message loses its buttons
    assert "reply_markup" not in request.sent("editMessageText")[0]
    ((user, flow, step, data),) = await drafts(sessionmaker)
    assert (user, flow, step, data["evaluation_id"]) == (BOSS_CHAT, FLOW, SUMMARY, evaluation_id)

    final = await press(app, request, answer(evaluation_id, SUMMARY, SEND))
    assert final is not None and not buttons(final)
    assert t("{name} has been told.", name=STAFF_NAME) in final["text"]
    (row,) = await evaluations(sessionmaker)
    assert (row.status, row.predicate, row.behaviour) == ("submitted", "sangat_baik", "di_atas")
    assert row.feedback == "Kerja bagus, <b>pertahankan</b> & terus belajar"
    assert await outbox_keys(sessionmaker) == [f"evaluation:{evaluation_id}"]
    assert await drafts(sessionmaker) == []
    listing = (await say(app, request, "/nilai"))[-1]
    sent_line = t("✅ sent: {predicate}", predicate=t(PREDICATE_LABELS[Predicate.SANGAT_BAIK]))
    assert sent_line in listing["text"]


@pytest.mark.parametrize(("work", "behaviour"), list(PREDICATE_MATRIX))
async def test_every_cell_of_the_predicate_matrix(captured, sessionmaker, work, behaviour):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    # Four of seven values carry the column's rating: the majority rule gives it.
    others = Rating.SESUAI if behaviour is not Rating.SESUAI else Rating.DI_ATAS
    values = [behaviour] * 4 + [others] * 3
    summary = await to_summary(app, request, evaluation_id, work, values)
    expected = PREDICATE_MATRIX[(work, behaviour)]
    assert ID("Predicate:") + f" <b>{ID(PREDICATE_LABELS[expected])}</b>" in summary["text"]
    await press(app, request, answer(evaluation_id, SUMMARY, SEND))
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None
    assert (row.work_result, row.behaviour, row.predicate) == (work, behaviour, expected)


async def test_back_works_at_every_step(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    # Walk forward; at every step after the first go back once and forward again.
    forward = {WORK: Rating.SESUAI, **dict.fromkeys(BERAKHLAK, Rating.SESUAI)}
    forward_action: dict[str, Any] = {**forward, BEHAVIOUR: NEXT, FEEDBACK: SKIP}
    for index, step in enumerate(EVALUATION_STEPS[:-1]):
        if index > 0:
            shown = await press(app, request, answer(evaluation_id, step, BACK))
            before = EVALUATION_STEPS[index - 1]
            assert shown is not None
            assert ID("Step {n} of {total}", n=str(index), total="11") in shown["text"]
            row = await evaluation_of(sessionmaker, people.staff)
            assert row is not None and row.current_step == before
            # The button of the step left behind is stale now.
            assert await press(app, request, answer(evaluation_id, step, BACK)) is None
            assert alert(request) == STALE
            await press(app, request, answer(evaluation_id, before, forward_action[before]))
        row = await evaluation_of(sessionmaker, people.staff)
        assert row is not None and row.current_step == step, (step, row.current_step)
        await press(app, request, answer(evaluation_id, step, forward_action[step]))
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.current_step == SUMMARY
    shown = await press(app, request, answer(evaluation_id, SUMMARY, BACK))
    assert shown is not None and answer(evaluation_id, FEEDBACK, SKIP) in buttons(shown)
    # Back at the first step returns to the list (the answers stay).
    await press(app, request, answer(evaluation_id, FEEDBACK, SKIP))
    await press(app, request, answer(evaluation_id, SUMMARY, EDIT))
    await press(app, request, answer(evaluation_id, SUMMARY, JUMP + STEP_CODES[WORK]))
    shown = await press(app, request, answer(evaluation_id, WORK, BACK))
    assert shown is not None and STAFF_NAME in shown["text"]
    assert open_data(await period_id(sessionmaker), people.staff) in buttons(shown)
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.work_result == "sesuai" and len(row.behaviour_ratings) == 7


@pytest.mark.parametrize("feedback", [None, "Tingkatkan ketelitian."])
async def test_ubah_jumps_to_a_step_and_returns_to_the_summary(captured, sessionmaker, feedback):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await rate(app, request, evaluation_id, Rating.DI_ATAS, Rating.DI_ATAS)
    await press(app, request, answer(evaluation_id, BEHAVIOUR, NEXT))
    if feedback is None:
        await press(app, request, answer(evaluation_id, FEEDBACK, SKIP))
    else:
        await say(app, request, feedback)
    chooser = await press(app, request, answer(evaluation_id, SUMMARY, EDIT))
    assert chooser is not None
    jumps = [data for data in buttons(chooser) if data.split(":")[-1].startswith(JUMP)]
    assert len(jumps) == 9  # Hasil Kerja, seven values, feedback
    shown = await press(app, request, answer(evaluation_id, SUMMARY, SHOW_SUMMARY))
    assert shown is not None and answer(evaluation_id, SUMMARY, SEND) in buttons(shown)
    await press(app, request, answer(evaluation_id, SUMMARY, EDIT))
    shown = await press(app, request, answer(evaluation_id, SUMMARY, JUMP + STEP_CODES["harmonis"]))
    assert shown is not None and ID("Harmonious") in shown["text"]
    shown = await press(app, request, answer(evaluation_id, "harmonis", Rating.DI_BAWAH))
    assert shown is not None and answer(evaluation_id, SUMMARY, SEND) in buttons(shown)
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.current_step == SUMMARY
    assert row.behaviour_ratings["harmonis"] == "di_bawah"
    # Six Di Atas and one Di Bawah: still Di Atas, Sangat Baik.
    assert ID(PREDICATE_LABELS[Predicate.SANGAT_BAIK]) in shown["text"]
    # Ubah to Hasil Kerja: Di Bawah → Butuh Perbaikan, back at the summary.
    await press(app, request, answer(evaluation_id, SUMMARY, EDIT))
    await press(app, request, answer(evaluation_id, SUMMARY, JUMP + STEP_CODES[WORK]))
    shown = await press(app, request, answer(evaluation_id, WORK, Rating.DI_BAWAH))
    assert shown is not None
    assert ID(PREDICATE_LABELS[Predicate.BUTUH_PERBAIKAN]) in shown["text"]
    # Ubah to the feedback: typed text replaces it and returns to the summary.
    await press(app, request, answer(evaluation_id, SUMMARY, EDIT))
    await press(app, request, answer(evaluation_id, SUMMARY, JUMP + STEP_CODES[FEEDBACK]))
    sent = await say(app, request, "Perlu pendampingan.")
    assert answer(evaluation_id, SUMMARY, SEND) in buttons(sent[-1])
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and (row.feedback, row.current_step) == ("Perlu pendampingan.", SUMMARY)


async def test_a_stale_button_and_text_at_a_button_step_change_nothing(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await press(app, request, answer(evaluation_id, WORK, Rating.SESUAI))
    assert await press(app, request, answer(evaluation_id, WORK, Rating.DI_BAWAH)) is None
    assert alert(request) == STALE
    sent = await say(app, request, "bagus")
    assert sent[-1]["text"] == ID(
        "Please answer with the buttons in the message above, or send /batal to pause."
    )
    for data in (f"nl:{evaluation_id}:zz:a", f"nl:{evaluation_id}:w:q", "nl:x"):
        request.clear()
        await app.process_update(callback_update(app, BOSS_CHAT, data))
        assert alert(request) == STALE
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and (row.work_result, row.current_step) == ("sesuai", BERAKHLAK[0])


# --------------------------------------------------------------------------- guards
async def test_a_forged_press_for_someone_elses_staff_is_refused_and_audited(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    # The other supervisor (a real supervisor, of Budi) forges presses for Rina.
    forged = [
        open_data(await period_id(sessionmaker), people.staff),
        answer(evaluation_id, WORK, Rating.DI_BAWAH),
        answer(evaluation_id, WORK, CANCEL),
    ]
    for data in forged:
        assert await press(app, request, data, user=OTHER_BOSS_CHAT) is None
        assert alert(request) == NOT_MINE
    entries = await audit_entries(sessionmaker, "evaluation_refused")
    assert len(entries) == len(forged)
    assert {entry.details["employee_id"] for entry in entries} == {people.staff}
    assert {entry.details["callback_data"] for entry in entries} == set(forged)
    assert entries[0].entity_type == "employee" and entries[1].entity_type == "evaluation"
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.work_result is None and row.current_step == WORK
    assert len(await evaluations(sessionmaker)) == 1
    # Rina herself (no reports) is refused before anything is looked up.
    assert (
        await press(app, request, answer(evaluation_id, WORK, Rating.DI_ATAS), STAFF_CHAT) is None
    )
    assert alert(request) == ID("Sorry, this is only for supervisors with direct reports.")
    # The real supervisor of someone moved away is refused too, from then on.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.id == people.staff).values(supervisor_id=None)
        )
        await session.execute(
            update(Employee).where(Employee.id == people.clerk).values(supervisor_id=people.boss)
        )
    assert await press(app, request, answer(evaluation_id, WORK, Rating.DI_ATAS)) is None
    assert alert(request) == NOT_MINE


async def test_a_double_kirim_stores_one_evaluation_and_one_notice(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await to_summary(app, request, evaluation_id, Rating.SESUAI, Rating.SESUAI)
    send = answer(evaluation_id, SUMMARY, SEND)
    request.clear()
    # Two taps at once (updates are processed concurrently), then a third later.
    await asyncio.gather(
        app.process_update(callback_update(app, BOSS_CHAT, send)),
        app.process_update(callback_update(app, BOSS_CHAT, send)),
    )
    await press(app, request, send)
    assert alert(request) == ID("This evaluation has already been sent.")
    (row,) = await evaluations(sessionmaker)
    assert row.status == "submitted" and row.predicate == "baik"
    assert await outbox_keys(sessionmaker) == [f"evaluation:{evaluation_id}"]
    assert len(await audit_entries(sessionmaker, "evaluation_submitted")) == 1


async def test_after_the_deadline_presses_are_locked_until_hr_reopens(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await press(app, request, answer(evaluation_id, WORK, Rating.SESUAI))
    november = await period_id(sessionmaker)
    clock_at(app, AFTER_DEADLINE)
    locked = ID("The evaluation period for {month} is closed. HR (BKPSDM) can reopen it.",
                month="November 2026")  # fmt: skip
    for data in (
        answer(evaluation_id, BERAKHLAK[0], Rating.DI_ATAS),
        open_data(november, people.staff),
    ):
        assert await press(app, request, data) is None
        assert alert(request) == locked
    sent = await say(app, request, "/nilai")  # December is the open period now
    assert "Desember 2026" in sent[-1]["text"]
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.behaviour_ratings == {}
    # HR reopens November for this supervisor until Thursday 10 December.
    async with sessionmaker() as session, session.begin():
        await EvaluationRepository(session).reopen(
            november, evaluator_id=people.boss, until=dt.date(2026, 12, 10), actor_id=None
        )
    shown = await press(app, request, answer(evaluation_id, BERAKHLAK[0], Rating.DI_ATAS))
    assert shown is not None and ID("Accountable") in shown["text"]
    sent = await say(app, request, "/nilai")  # the reopened period comes first
    assert "November 2026" in sent[-1]["text"]
    # Once the reopening has ended, the period is locked again.
    clock_at(app, dt.datetime(2026, 12, 11, 3, 0, tzinfo=dt.UTC))
    assert await press(app, request, answer(evaluation_id, BERAKHLAK[1], Rating.DI_ATAS)) is None
    assert alert(request) == locked


# --------------------------------------------------------------------------- feedback, idle
async def test_feedback_longer_than_the_limit_is_refused_and_asked_again(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await rate(app, request, evaluation_id, Rating.SESUAI, Rating.SESUAI)
    await press(app, request, answer(evaluation_id, BEHAVIOUR, NEXT))
    sent = await say(app, request, "x" * (FEEDBACK_MAX + 1))
    assert sent[-1]["text"] == ID(
        "That is {n} characters; the feedback may have at most {max}. Please type it again, "
        "shorter, or tap Skip.",
        n="1.001",
        max="1.000",
    )
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and (row.feedback, row.current_step) == (None, FEEDBACK)
    sent = await say(app, request, "y" * FEEDBACK_MAX)
    assert answer(evaluation_id, SUMMARY, SEND) in buttons(sent[-1])
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and row.feedback == "y" * FEEDBACK_MAX


async def test_batal_and_slash_batal_pause_and_keep_the_answers(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await press(app, request, answer(evaluation_id, WORK, Rating.DI_ATAS))
    paused = ID(
        "⏸ The evaluation of {name} is paused; your answers are saved. Send /nilai to continue.",
        name=STAFF_NAME,
    )
    shown = await press(app, request, answer(evaluation_id, BERAKHLAK[0], CANCEL))
    assert shown is not None and shown["text"] == paused and not buttons(shown)
    assert await drafts(sessionmaker) == []
    # /nilai offers to continue; the person's button resumes at the same step.
    listing = (await say(app, request, "/nilai"))[-1]
    resume = open_data(await period_id(sessionmaker), people.staff)
    assert buttons(listing)[0] == resume
    assert ID("▶️ Continue: {name}", name=STAFF_NAME) in str(listing["reply_markup"])
    shown = await press(app, request, resume)
    assert shown is not None and answer(evaluation_id, BERAKHLAK[0], Rating.SESUAI) in buttons(
        shown
    )
    sent = await say(app, request, "/batal")
    assert sent[-1]["text"] == paused
    assert await drafts(sessionmaker) == []
    row = await evaluation_of(sessionmaker, people.staff)
    assert row is not None and (row.work_result, row.current_step) == ("di_atas", BERAKHLAK[0])


async def test_an_idle_conversation_is_paused_once_and_its_buttons_still_work(
    captured, sessionmaker, settings
):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    await press(app, request, answer(evaluation_id, WORK, Rating.DI_ATAS))
    ((_user, _flow, _step, data),) = await drafts(sessionmaker)
    assert data["evaluation_id"] == evaluation_id
    soon = utcnow() + dt.timedelta(minutes=settings.evaluation_idle_minutes - 1)
    later = utcnow() + dt.timedelta(minutes=settings.evaluation_idle_minutes + 1)
    async with sessionmaker() as session, session.begin():
        assert await pause_idle(session, settings, soon) == 0
    async with sessionmaker() as session, session.begin():
        assert await pause_idle(session, settings, later) == 1
    async with sessionmaker() as session, session.begin():
        assert await pause_idle(session, settings, later) == 0
    assert await drafts(sessionmaker) == []
    (key,) = await outbox_keys(sessionmaker, "evaluation_idle:")
    assert key.startswith(f"evaluation_idle:{evaluation_id}:")
    async with sessionmaker() as session:
        message = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )
        assert message is not None and message.chat_id == BOSS_CHAT and message.urgent
        assert message.payload["text"] == ID(
            "⏸ The evaluation of {name} was paused because there was no activity; your answers "
            "are saved. Send /nilai to continue.",
            name=STAFF_NAME,
        )
    # The paused message's button still works and the conversation is live again.
    shown = await press(app, request, answer(evaluation_id, BERAKHLAK[0], Rating.SESUAI))
    assert shown is not None and ID("Accountable") in shown["text"]
    assert [d[:3] for d in await drafts(sessionmaker)] == [(BOSS_CHAT, FLOW, BERAKHLAK[1])]
    # A sent evaluation's idle draft is dropped without a message.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Evaluation).where(Evaluation.id == evaluation_id).values(status="submitted")
        )
    async with sessionmaker() as session, session.begin():
        assert await pause_idle(session, settings, later) == 0
    assert await drafts(sessionmaker) == []


# --------------------------------------------------------------------------- the list
async def test_recently_moved_staff_are_listed_first(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    async with sessionmaker() as session, session.begin():
        unit_id = await session.scalar(select(Employee.unit_id).where(Employee.id == people.boss))
        zul = Employee(
            nip="199202022018011005",
            name="Zulkifli",
            position="Pengadministrasi",
            unit_id=unit_id,
            supervisor_id=people.boss,
        )
        session.add(zul)
        await session.flush()
        zul_id = zul.id
    await add_mutation(
        sessionmaker, zul_id, stage=Stage.PELANTIKAN, started=CLOCK - dt.timedelta(days=20)
    )
    listing = (await say(app, request, "/nilai"))[-1]
    text = listing["text"]
    assert text.index("Zulkifli") < text.index(STAFF_NAME)
    assert "🆕 baru dimutasi" in text
    november = await period_id(sessionmaker)
    assert buttons(listing)[:2] == [open_data(november, zul_id), open_data(november, people.staff)]


async def test_many_reports_are_paginated(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Sekretariat Daerah")
        session.add(unit)
        for number in range(11):
            session.add(
                Employee(
                    nip=f"1990010120150510{number + 10:02d}",
                    name=f"Staf {number + 10:02d}",
                    position="Pengadministrasi",
                    unit=unit,
                    supervisor_id=people.boss,
                )
            )
    listing = (await say(app, request, "/nilai"))[-1]
    assert ID("Page {page} of {pages}", page="1", pages="2") in listing["text"]
    assert "nl:p:1" in buttons(listing) and len(buttons(listing)) == 9
    shown = await press(app, request, "nl:p:1")
    assert shown is not None
    assert ID("Page {page} of {pages}", page="2", pages="2") in shown["text"]
    assert buttons(shown)[-1] == "nl:p:0" and len(buttons(shown)) == 4 + 1


async def test_without_an_open_period_the_next_opening_is_given(sessionmaker, database_url):
    settings = Settings(
        bot_token="1:x", database_url=database_url, evaluation_opens_day=10, _env_file=None
    )
    await add_people(sessionmaker)
    async with running_app(settings, CapturingRequest()) as (app, request):
        clock_at(app, AFTER_DEADLINE)  # Tuesday 8 December: November closed, December not open
        sent = await say(app, request, "/nilai")
    assert sent[-1]["text"] == ID(
        "No evaluation period is open for you now. The next one opens on {date}.",
        date=ID.date(dt.date(2026, 12, 10)),
    )


async def test_a_restarted_bot_resumes_at_the_same_step(settings, sessionmaker):
    people = await add_people(sessionmaker)
    async with running_app(settings, CapturingRequest()) as (app, request):
        clock_at(app, CLOCK)
        evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
        await rate(app, request, evaluation_id, Rating.SESUAI, Rating.DI_ATAS)
        await press(app, request, answer(evaluation_id, BEHAVIOUR, NEXT))
    async with running_app(settings, CapturingRequest()) as (app, request):
        clock_at(app, CLOCK)
        # Still at the feedback: typed text is taken by the new process.
        sent = await say(app, request, "Lanjutkan kinerja yang baik.")
        assert answer(evaluation_id, SUMMARY, SEND) in buttons(sent[-1])
    async with running_app(settings, CapturingRequest()) as (app, request):
        clock_at(app, CLOCK)
        listing = (await say(app, request, "/nilai"))[-1]
        assert ID("✏️ draft, step {n} of {total}", n="11", total="11") in listing["text"]
        shown = await press(app, request, buttons(listing)[0])
        assert shown is not None and answer(evaluation_id, SUMMARY, SEND) in buttons(shown)


async def test_the_scheduler_tick_pauses_idle_conversations(captured, sessionmaker, settings):
    app, request = captured
    people = await add_people(sessionmaker)
    evaluation_id, _ = await open_staff(app, request, sessionmaker, people.staff)
    later = utcnow() + dt.timedelta(minutes=settings.evaluation_idle_minutes + 1)
    await run_tick(app, later)
    assert await drafts(sessionmaker) == []
    (key,) = await outbox_keys(sessionmaker, "evaluation_idle:")
    assert key.startswith(f"evaluation_idle:{evaluation_id}:")
