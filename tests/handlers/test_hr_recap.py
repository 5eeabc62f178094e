"""Layer 2: /hr_rekap — the recap, Ingatkan, Buka kembali, Unduh, and who may use them."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from telegram.ext import Application

from bot.config import Settings
from bot.evaluation_reports import Recap
from bot.evaluations import is_open_for, month_name
from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from handlers.hr_recap import PENDING_SHOWN, pending_view, recap_html
from storage.models import Evaluation, EvaluationReopening
from storage.repositories.evaluation_reports import PendingSupervisor, UnitProgress
from storage.repositories.evaluations import PeriodInfo
from tests.evaluations.reports_support import (
    A1_CHAT,
    BOSS_A_CHAT,
    HR_CHAT,
    MediaCapturingRequest,
    add_org,
    outbox,
    wib_today,
)
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN, callback_update, message_update

ID = get_translator("id")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))
STALE = ID("This button is no longer valid.")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(settings: Settings) -> AsyncIterator[tuple[Application, MediaCapturingRequest]]:
    async with running_app(settings, MediaCapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def say(app, request, text: str, user: int = HR_CHAT) -> list[dict]:
    request.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def press(app, request, data: str, user: int = HR_CHAT) -> dict | None:
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data))
    shown = request.sent("editMessageText") + request.sent()
    return shown[-1] if shown else None


def answer(request) -> dict:
    (found,) = request.sent("answerCallbackQuery")
    return found


def alert(request) -> str | None:
    found = answer(request)
    return found.get("text") if found.get("show_alert") else None


def buttons(params: dict | None) -> list[str]:
    keyboard = (params or {}).get("reply_markup") or {}
    if not isinstance(keyboard, dict):
        keyboard = keyboard.to_dict()
    return [b["callback_data"] for row in keyboard.get("inline_keyboard", []) for b in row]


def month_of(key: str) -> str:
    year, month = map(int, key.split("-"))
    return month_name(ID, year, month)


async def reopenings(sessionmaker) -> list[tuple[int, int | None]]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(EvaluationReopening).order_by(EvaluationReopening.id))
        return [(r.period_id, r.evaluator_id) for r in rows]


# --------------------------------------------------------------------------- guards
async def test_only_hr_may_use_the_recap_and_its_buttons(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    for user in (A1_CHAT, BOSS_A_CHAT):  # an ASN, and a supervisor who is not HR
        for command in ("/hr_rekap", f"/hr_rekap {org.locked_key}"):
            (reply,) = await say(app, request, command, user=user)
            assert reply["text"] == HR_ONLY
        for data in (
            f"rkp:dl:{org.locked}",
            f"rkp:nd:{org.open}:{org.boss_a}",
            f"rkp:ro:{org.locked}:0",
            f"rkp:ry:{org.locked}:0",
            f"rkp:ry:{org.locked}:{org.boss_a}",
            "rkp:rx",
        ):
            assert await press(app, request, data, user=user) is None, data
            assert alert(request) == HR_ONLY, data
            assert request.sent("sendDocument") == request.sent("sendPhoto") == []
    assert await outbox(sessionmaker) == []
    assert await reopenings(sessionmaker) == []


async def test_forged_or_stale_buttons_change_nothing(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    for data in (
        "rkp:dl:999999",
        f"rkp:dl:{org.locked}:1",
        f"rkp:nd:999999:{org.boss_a}",
        f"rkp:nd:{org.open}:{org.a1}",  # a1 rates nobody
        f"rkp:ry:{org.locked}:{org.a1}",
        f"rkp:ro:{org.locked}:{org.b1}",
        "rkp:zz:1",
        "rkp:ry:abc",
    ):
        assert await press(app, request, data) is None, data
        assert alert(request) in (STALE, ID("Nothing is pending any more for this supervisor.")), (
            data
        )
    # Reopening a month that is not locked.
    await press(app, request, f"rkp:ry:{org.open}:0")
    assert alert(request) == ID("This month is not locked: nothing to reopen.")
    assert await outbox(sessionmaker) == []
    assert await reopenings(sessionmaker) == []


# --------------------------------------------------------------------------- the recap
async def test_the_recap_of_the_open_period(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    head, waiting = await say(app, request, "/hr_rekap")
    text = head["text"]
    assert month_of(org.open_key) in text
    assert "🟢" in text and "🔒" not in text
    assert (
        ID(
            "{unit}: {submitted} / {total} ({percent})",
            unit="Dinas Perhubungan",
            submitted="1",
            total="3",
            percent="33%",
        )
        in text
    )
    assert (
        ID(
            "{unit}: {submitted} / {total} ({percent})",
            unit="Bappeda",
            submitted="0",
            total="3",
            percent="0%",
        )
        in text
    )
    assert "BKPSDM" not in text  # nobody there has a supervisor
    assert (
        ID("All units: {submitted} / {total} ({percent})", submitted="1", total="6", percent="17%")
        in text
    )
    assert (
        ID("{predicate}: {count} ({percent})", predicate=ID("Very good"), count="1", percent="100%")
        in text
    )
    assert buttons(head) == [f"rkp:dl:{org.open}"]  # open: nothing to reopen

    listed = waiting["text"]
    assert (
        ID.ngettext(
            "{n} supervisor still has evaluations to submit:",
            "{n} supervisors still have evaluations to submit:",
            2,
        )
        in listed
    )
    assert listed.index("Ir. Yusuf") < listed.index("Dra. Fitri &lt;Yanti&gt;")  # escaped
    assert ID("not reachable on Telegram") in listed
    # Only the linked supervisor can be reminded.
    assert buttons(waiting) == [f"rkp:nd:{org.open}:{org.boss_a}"]


async def test_a_locked_month_and_bad_or_unknown_months(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    head, waiting = await say(app, request, f"/hr_rekap {org.locked_key}")
    assert month_of(org.locked_key) in head["text"] and "🔒" in head["text"]
    drafts = ID.ngettext(
        "{n} evaluation is being written (draft).",
        "{n} evaluations are being written (drafts).",
        1,
    )
    assert drafts in head["text"]
    assert buttons(head) == [f"rkp:dl:{org.locked}", f"rkp:ro:{org.locked}:0"]
    assert buttons(waiting) == [
        f"rkp:ro:{org.locked}:{org.boss_b}",
        f"rkp:ro:{org.locked}:{org.boss_a}",
    ]

    (reply,) = await say(app, request, "/hr_rekap 2026-13")
    assert reply["text"].startswith("“2026-13”")
    (reply,) = await say(app, request, "/hr_rekap kemarin")
    assert "YYYY-MM" in reply["text"]
    (reply,) = await say(app, request, "/hr_rekap 2001-01")
    assert (
        ID("There is no evaluation period for {month}.", month=month_name(ID, 2001, 1))
        in (reply["text"])
    )
    assert org.locked_key in reply["text"] and org.open_key in reply["text"]


def test_long_lists_stay_within_one_message():
    t = ID
    period = PeriodInfo(1, 2026, 10, dt.date(2026, 10, 1), dt.date(2026, 11, 6), "locked")
    long = "Dinas Pekerjaan Umum, Perumahan Rakyat, Kawasan Permukiman dan Pertanahan"
    progress = [UnitProgress(n, f"{long} {n:03d}", n, 2 * n + 1) for n in range(150)]
    pending = [
        PendingSupervisor(
            n,
            f"Dr. Ir. H. Muhammad Yusuf Datuak Rajo Mudo {n}",
            "1" * 18,
            f"{long} {n}",
            3,
            9,
            5000 + n,
            True,
            "id",
            None,
        )
        for n in range(300)
    ]
    data = Recap(period, dt.date(2026, 11, 20), True, None, progress, pending, {"baik": 9}, 0)
    text = recap_html(data, t)
    assert len(text) <= 4096
    assert any(line.startswith("…") and "XLSX" in line for line in text.splitlines())
    assert (
        ID("{predicate}: {count} ({percent})", predicate=ID("Good"), count="9", percent="100%")
        in text
    )  # the tail is kept whole
    listed, keyboard = pending_view(data, t)
    assert len(listed) <= 4096
    assert ID("…and {n} more (all are in the XLSX file).", n=ID.number(300 - PENDING_SHOWN)) in (
        listed
    )
    assert keyboard is not None
    presses = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert len(presses) == PENDING_SHOWN
    assert all(len(p.encode()) <= 64 for p in presses)


# --------------------------------------------------------------------------- Ingatkan
async def test_ingatkan_queues_one_reminder_a_day(captured, sessionmaker, settings):
    app, request = captured
    org = await add_org(sessionmaker)
    data = f"rkp:nd:{org.open}:{org.boss_a}"
    await press(app, request, data)
    assert answer(request)["text"] == ID(
        "Reminder queued for {name}.", name="Ir. Yusuf Datuak Rajo Mudo"
    )
    await press(app, request, data)
    assert alert(request) == ID(
        "{name} was already reminded today.", name="Ir. Yusuf Datuak Rajo Mudo"
    )
    (row,) = await outbox(sessionmaker)
    assert row.idempotency_key == (
        f"evaluation_nudge:{org.open_key}:{org.boss_a}:{wib_today().isoformat()}"
    )
    assert row.chat_id == BOSS_A_CHAT
    assert month_of(org.open_key) in row.payload["text"] and "/nilai" in row.payload["text"]

    # The unlinked supervisor cannot be reminded; nor anyone in a locked month.
    await press(app, request, f"rkp:nd:{org.open}:{org.boss_b}")
    assert "Telegram" in (alert(request) or "")
    await press(app, request, f"rkp:nd:{org.locked}:{org.boss_a}")
    assert alert(request) == ID(
        "The month is locked for {name}: reopen it first.", name="Ir. Yusuf Datuak Rajo Mudo"
    )
    assert len(await outbox(sessionmaker)) == 1


async def test_no_reminder_once_everything_is_submitted(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    async with sessionmaker() as session, session.begin():
        for employee in (org.b1, org.b2):
            session.add(
                Evaluation(
                    period_id=org.open,
                    employee_id=employee,
                    evaluator_id=org.boss_b,
                    status="submitted",
                    predicate="baik",
                    behaviour_ratings={},
                )
            )
    await press(app, request, f"rkp:nd:{org.open}:{org.boss_b}")
    assert alert(request) == ID("Nothing is pending any more for this supervisor.")
    assert await outbox(sessionmaker) == []


# --------------------------------------------------------------------------- Buka kembali
async def test_buka_kembali_for_one_supervisor_then_for_all(captured, sessionmaker, settings):
    app, request = captured
    org = await add_org(sessionmaker)
    today = wib_today()
    # One supervisor: a question first, nothing is changed yet.
    question = await press(app, request, f"rkp:ro:{org.locked}:{org.boss_b}")
    assert question is not None and "Dra. Fitri &lt;Yanti&gt;" in question["text"]
    assert buttons(question) == [f"rkp:ry:{org.locked}:{org.boss_b}", "rkp:rx"]
    assert await reopenings(sessionmaker) == []
    cancelled = await press(app, request, "rkp:rx")
    assert cancelled is not None and cancelled["text"] == ID("Nothing was changed.")
    assert await reopenings(sessionmaker) == []

    done = await press(app, request, f"rkp:ry:{org.locked}:{org.boss_b}")
    assert done is not None and done["text"].startswith("✅")
    assert await reopenings(sessionmaker) == [(org.locked, org.boss_b)]
    async with sessionmaker() as session:
        assert await is_open_for(session, settings, org.locked, org.boss_b, today)
        assert not await is_open_for(session, settings, org.locked, org.boss_a, today)
    assert await outbox(sessionmaker) == []  # Boss B is not on Telegram
    # A second tap: already reopened until that day, nothing more.
    again = await press(app, request, f"rkp:ry:{org.locked}:{org.boss_b}")
    assert again is not None and "✅" in again["text"]
    assert await reopenings(sessionmaker) == [(org.locked, org.boss_b)]

    # The pending list now offers a reminder to Boss B's line? Not on Telegram: no button;
    # Boss A's line still offers to reopen.
    _, waiting = await say(app, request, f"/hr_rekap {org.locked_key}")
    assert buttons(waiting) == [f"rkp:ro:{org.locked}:{org.boss_a}"]

    # For all: Boss A (on Telegram, staff pending) is told once.
    question = await press(app, request, f"rkp:ro:{org.locked}:0")
    assert question is not None and buttons(question)[0] == f"rkp:ry:{org.locked}:0"
    await press(app, request, f"rkp:ry:{org.locked}:0")
    await press(app, request, f"rkp:ry:{org.locked}:0")
    assert await reopenings(sessionmaker) == [(org.locked, org.boss_b), (org.locked, None)]
    async with sessionmaker() as session:
        assert await is_open_for(session, settings, org.locked, org.boss_a, today)
    (told,) = await outbox(sessionmaker)
    assert told.chat_id == BOSS_A_CHAT and told.kind == "evaluation_reopened"
    assert month_of(org.locked_key) in told.payload["text"]
    # Reopened: the supervisors can be reminded now.
    head, waiting = await say(app, request, f"/hr_rekap {org.locked_key}")
    assert "🔓" in head["text"]
    assert buttons(waiting) == [f"rkp:nd:{org.locked}:{org.boss_a}"]


# --------------------------------------------------------------------------- Unduh
async def test_unduh_sends_the_workbook_and_the_chart(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    await press(app, request, f"rkp:dl:{org.locked}")
    assert answer(request).get("show_alert") is not True
    (document,) = request.sent("sendDocument")
    (photo,) = request.sent("sendPhoto")
    assert document["chat_id"] == photo["chat_id"] == HR_CHAT
    files = {method: (name, content) for method, name, content in request.uploaded}
    name, content = files["sendDocument"]
    assert name == ID("evaluations-{period}.xlsx", period=org.locked_key)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert sheet.max_row == 1 + 6
    _, chart = files["sendPhoto"]
    image = Image.open(io.BytesIO(chart))
    image.load()
    assert image.format == "PNG" and image.size[0] >= 400


async def test_unduh_without_submitted_evaluations_sends_no_chart(captured, sessionmaker):
    app, request = captured
    org = await add_org(sessionmaker)
    async with sessionmaker() as session, session.begin():
        count = await session.scalar(select(func.count(Evaluation.id)))
        assert count == 7
        for evaluation in await session.scalars(
            select(Evaluation).where(Evaluation.period_id == org.open)
        ):
            await session.delete(evaluation)
    await press(app, request, f"rkp:dl:{org.open}")
    assert len(request.sent("sendDocument")) == 1
    assert request.sent("sendPhoto") == []
    (note,) = request.sent()
    assert note["text"] == ID("No evaluation has been submitted yet, so there is no chart.")
