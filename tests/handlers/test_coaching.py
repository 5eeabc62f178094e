"""Layer 2: /hr_pembinaan — the flagged list, choosing a training, assigning once; HR only."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from html import escape
from types import SimpleNamespace
from typing import Any

import pytest
from telegram.ext import Application

from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.models import utcnow
from tests.evaluations.office import (
    BOSS_CHAT,
    HR_CHAT,
    STAFF_CHAT,
    Maker,
    add_evaluation,
    add_office,
    add_period,
    add_training,
    count_outbox,
    evaluation,
    outbox,
    participants,
)
from tests.handlers.conftest import running_app
from tests.support.telegram import CapturingRequest, callback_update, message_update

ID = get_translator("id")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))
BELOW = "di_bawah"
NOT_FLAGGED = ID(
    "This employee already has a coaching training, or is no longer flagged. "
    "Send /hr_pembinaan for the current list."
)


@pytest.fixture
async def captured(settings) -> AsyncIterator[tuple[Application, CapturingRequest]]:
    async with running_app(settings, CapturingRequest()) as (application, request):
        request.clear()
        yield application, request


def buttons(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def labels(params: dict[str, Any]) -> dict[str, str]:
    markup = params.get("reply_markup") or {}
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


async def say(app, request, text: str, user: int = HR_CHAT) -> dict:
    request.clear()
    await app.process_update(message_update(app, user, text))
    (sent,) = request.sent()
    return sent


async def press(app, request, data: str, user: int = HR_CHAT) -> dict | None:
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data))
    shown = request.sent("editMessageText") + request.sent()
    return shown[-1] if shown else None


def alert(request) -> str | None:
    (answer,) = request.sent("answerCallbackQuery")
    return answer.get("text") if answer.get("show_alert") else None


async def scenario(sessionmaker: Maker) -> SimpleNamespace:
    """Rina (Butuh Perbaikan) and Hendra (Kurang/Misconduct) flagged in November; Doni rated
    Baik; two open trainings (one fits Rina's recommendation) and a cancelled one."""
    office = await add_office(sessionmaker)
    november = await add_period(sessionmaker, 2026, 11)
    four_below = {v: BELOW for v in ("akuntabel", "loyal", "adaptif", "kolaboratif")}
    rina = await add_evaluation(sessionmaker, november, office.staff, office.boss, work=BELOW)
    hendra = await add_evaluation(
        sessionmaker, november, office.boss2, office.head, ratings=four_below
    )
    doni = await add_evaluation(sessionmaker, november, office.staff2, office.boss)
    soon = utcnow() + dt.timedelta(days=7)
    other = await add_training(sessionmaker, "Orientasi Jabatan Baru", soon, code="PB-10")
    planning = await add_training(
        sessionmaker,
        "Pelatihan Perencanaan Kerja dan Manajemen Kinerja",
        soon + dt.timedelta(days=1),
        code="PB-11",
    )
    cancelled = await add_training(sessionmaker, "Dibatalkan", soon, code="PB-12", cancelled=True)
    return SimpleNamespace(
        office=office,
        rina=rina,
        hendra=hendra,
        doni=doni,
        other=other,
        planning=planning,
        cancelled=cancelled,
    )


# --------------------------------------------------------------------------- guards
async def test_hr_pembinaan_and_its_buttons_are_for_hr_only(captured, sessionmaker):
    app, request = captured
    s = await scenario(sessionmaker)
    for user in (STAFF_CHAT, BOSS_CHAT):  # an ASN, and a supervisor who is not HR
        reply = await say(app, request, "/hr_pembinaan", user=user)
        assert reply["text"] == HR_ONLY
        for data in (
            "hrp:list:0",
            f"hrp:pick:{s.rina}:0",
            f"hrp:give:{s.rina}:{s.planning}",
            "hrp:done",
        ):
            assert await press(app, request, data, user=user) is None
            assert alert(request) == HR_ONLY
    assert await count_outbox(sessionmaker) == 0
    assert await participants(sessionmaker, s.planning) == []
    assert (await evaluation(sessionmaker, s.rina)).coaching_training_id is None


# --------------------------------------------------------------------------- the list
async def test_the_list_shows_exactly_the_flagged_with_their_recommendation(captured, sessionmaker):
    app, request = captured
    s = await scenario(sessionmaker)
    reply = await say(app, request, "/hr_pembinaan")
    text = reply["text"]
    assert reply["parse_mode"] == "HTML"
    assert "Rina Marlina" in text and "Hendra Putra" in text
    assert "Doni" not in text and "Wati" not in text
    assert escape(ID("Supervisor: {name}", name="Sari Dewi, S.T.")) in text
    assert "Butuh Perbaikan" in text and "Kurang/Misconduct" in text and "November 2026" in text
    assert "Pelatihan Perencanaan Kerja dan Manajemen Kinerja" in text  # Rina's
    assert "Pelatihan Integritas dan Akuntabilitas" in text  # Hendra's (Akuntabel Di Bawah)
    # The more severe first; one button per person.
    assert buttons(reply) == [f"hrp:pick:{s.hendra}:0", f"hrp:pick:{s.rina}:0"]
    assert labels(reply)[f"hrp:pick:{s.rina}:0"].startswith("🎓 Tugaskan pelatihan")


async def test_nobody_flagged(captured, sessionmaker):
    app, request = captured
    await add_office(sessionmaker)
    reply = await say(app, request, "/hr_pembinaan")
    assert ID("Nobody is waiting for a coaching training.") in reply["text"]
    assert buttons(reply) == []


async def test_paging_through_a_long_list(captured, sessionmaker):
    from storage.models import Employee, Unit
    from tests.storage.importing import pns_nip

    app, request = captured
    office = await add_office(sessionmaker)
    november = await add_period(sessionmaker, 2026, 11)
    async with sessionmaker() as session, session.begin():
        unit = Unit(name="Dinas Kesehatan")
        people = [
            Employee(
                nip=pns_nip(200 + n), name=f"Perawat {n:02d}", unit=unit, supervisor_id=office.head
            )
            for n in range(8)
        ]
        session.add_all([unit, *people])
        await session.flush()
        ids = [person.id for person in people]
    for employee in ids:
        await add_evaluation(sessionmaker, november, employee, office.head, work=BELOW)
    first = await say(app, request, "/hr_pembinaan")
    picks = [b for b in buttons(first) if b.startswith("hrp:pick:")]
    assert len(picks) == 6 and "hrp:list:6" in buttons(first)
    second = await press(app, request, "hrp:list:6")
    assert second is not None
    assert len([b for b in buttons(second) if b.startswith("hrp:pick:")]) == 2
    assert "hrp:list:0" in buttons(second) and "Perawat 07" in second["text"]
    # A page past the end shows the last one.
    late = await press(app, request, "hrp:list:60")
    assert late is not None and "Perawat 07" in late["text"]


# --------------------------------------------------------------------------- assigning
async def test_choose_and_assign_once(captured, sessionmaker):
    app, request = captured
    s = await scenario(sessionmaker)
    chooser = await press(app, request, f"hrp:pick:{s.rina}:0")
    assert chooser is not None
    # Open trainings only, the one fitting the recommendation first and starred.
    assert buttons(chooser) == [
        f"hrp:give:{s.rina}:{s.planning}",
        f"hrp:give:{s.rina}:{s.other}",
        "hrp:list:0",
    ]
    assert labels(chooser)[f"hrp:give:{s.rina}:{s.planning}"].startswith("⭐ ")
    assert not labels(chooser)[f"hrp:give:{s.rina}:{s.other}"].startswith("⭐")

    done = await press(app, request, f"hrp:give:{s.rina}:{s.planning}")
    (answer,) = request.sent("answerCallbackQuery")
    assert answer.get("text") == ID("Assigned.") and not answer.get("show_alert")
    assert done is not None and "Rina Marlina" in done["text"] and "PB-11" in done["text"]
    assert await participants(sessionmaker, s.planning) == [s.office.staff]
    marked = await evaluation(sessionmaker, s.rina)
    assert marked.coaching_training_id == s.planning
    assert marked.coaching_assigned_by_id == s.office.hr
    rows = await outbox(sessionmaker)
    assert [(r.idempotency_key, r.chat_id) for r in rows] == [
        (f"training_new:{s.planning}:{s.office.staff}", STAFF_CHAT),
        (f"coaching:{s.rina}:{s.planning}", BOSS_CHAT),
    ]

    # A second press (or a colleague's) assigns and tells nobody again.
    assert await press(app, request, f"hrp:give:{s.rina}:{s.planning}") is None
    assert alert(request) == NOT_FLAGGED
    assert await press(app, request, f"hrp:give:{s.rina}:{s.other}") is None
    assert alert(request) == NOT_FLAGGED
    assert await count_outbox(sessionmaker) == 2
    assert await participants(sessionmaker, s.other) == []
    # Rina has left the list; the assignment is listed compactly.
    listing = await say(app, request, "/hr_pembinaan")
    assert "Rina" not in listing["text"] and "hrp:done" in buttons(listing)
    assigned = await press(app, request, "hrp:done")
    assert assigned is not None and "Rina Marlina" in assigned["text"]
    assert "Pelatihan Perencanaan Kerja" in assigned["text"]


async def test_a_training_that_closed_meanwhile_is_refused(captured, sessionmaker):
    app, request = captured
    s = await scenario(sessionmaker)
    assert await press(app, request, f"hrp:give:{s.hendra}:{s.cancelled}") is None
    assert alert(request) == ID("That training is no longer open. Please choose another one.")
    assert await count_outbox(sessionmaker) == 0
    assert (await evaluation(sessionmaker, s.hendra)).coaching_training_id is None


async def test_a_stale_or_forged_person_button(captured, sessionmaker):
    app, request = captured
    s = await scenario(sessionmaker)
    for data in (f"hrp:pick:{s.doni}:0", "hrp:pick:999999:0", "hrp:give:1", "hrp:zzz:1"):
        assert await press(app, request, data) is None
        assert alert(request) in (NOT_FLAGGED, ID("This button is no longer valid."))
    assert await count_outbox(sessionmaker) == 0


async def test_no_upcoming_training_points_to_hr_pelatihan(captured, sessionmaker):
    app, request = captured
    office = await add_office(sessionmaker)
    november = await add_period(sessionmaker, 2026, 11)
    rina = await add_evaluation(sessionmaker, november, office.staff, office.boss, work=BELOW)
    shown = await press(app, request, f"hrp:pick:{rina}:0")
    assert shown is not None and "/hr_pelatihan" in shown["text"]
    assert buttons(shown) == ["hrp:list:0"]
