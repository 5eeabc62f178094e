"""Layer 2: /hr_umumkan and /hr_siaran — who may use them, the draft conversation (content,
audience, NIP list, preview, schedule), and sending exactly once; requests captured."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import time
from collections.abc import AsyncIterator
from html import escape
from types import SimpleNamespace
from typing import Any

import pytest
from babel.dates import format_timedelta
from openpyxl import load_workbook
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application

from bot.i18n import get_translator
from bot.menus import Audience
from bot.trainings import nip_problem_text, parse_nips
from handlers.access import refusal
from storage.importers.messages import NIP_LOST_DIGITS
from storage.models import Announcement, AuditLog, Draft, OutboxMessage, Unit
from storage.repositories.announcements import AnnouncementRepository
from storage.repositories.drafts import DraftRepository, DraftState
from tests.evaluations.office import (
    BOSS2_CHAT,
    BOSS_CHAT,
    HEAD_CHAT,
    HR_CHAT,
    STAFF_CHAT,
    Maker,
    Office,
    add_office,
    wib,
)
from tests.handlers.conftest import running_app
from tests.storage.importing import csv_bytes, pns_nip, xlsx_bytes
from tests.support.telegram import (
    STICKER,
    VOICE,
    FileServingRequest,
    callback_update,
    document_update,
    message_update,
    user_dict,
)

ID = get_translator("id")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))
STALE = ID("This button is no longer valid.")
NOT_SENT = ID("The announcement was not sent. Nothing was changed.")
FLOW = "umumkan"
NOW = wib(2026, 12, 7, 10, 0)  # Monday 7 December 2026, 10.00 WIB: outside quiet hours
TEXT = "Rapat koordinasi besok pukul 09.00 di aula <lantai 2>"
ENTITIES = [
    {"type": "bold", "offset": 0, "length": 16},
    {"type": "text_link", "offset": 37, "length": 4, "url": "https://bukittinggikota.go.id/"},
]


@pytest.fixture
async def captured(settings) -> AsyncIterator[tuple[Application, FileServingRequest]]:
    async with running_app(settings, FileServingRequest()) as (application, request):
        application.bot_data.extras["clock"] = lambda: NOW
        request.clear()
        yield application, request


@pytest.fixture
async def office(sessionmaker: Maker) -> Office:
    return await add_office(sessionmaker)


# --------------------------------------------------------------------------- updates
_ids = itertools.count(900_000)


def update_with(app: Application, user: int, content: dict[str, Any]) -> Update:
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Admin"},
        "from": user_dict(user, "Admin"),
        **content,
    }
    return Update.de_json({"update_id": next(_ids), "message": message}, app.bot)


async def say(app, request, text: str, user: int = HR_CHAT) -> list[str]:
    """Send a text; the texts of the messages the bot sent back."""
    request.clear()
    await app.process_update(message_update(app, user, text))
    return [sent["text"] for sent in request.sent()]


async def send(app, request, content: dict[str, Any], user: int = HR_CHAT) -> list[dict]:
    request.clear()
    await app.process_update(update_with(app, user, content))
    return request.sent()


async def press(app, request, data: str, user: int = HR_CHAT) -> list[dict]:
    """Press a button; the messages edited or sent in answer (in order)."""
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data))
    return [c.params for c in request.calls if c.method in ("editMessageText", "sendMessage")]


def alert(request) -> str | None:
    (answer,) = request.sent("answerCallbackQuery")
    return answer.get("text") if answer.get("show_alert") else None


def buttons(params: dict) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def labels(params: dict) -> dict[str, str]:
    markup = params.get("reply_markup") or {}
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


# --------------------------------------------------------------------------- database
async def draft(sessionmaker: Maker, user: int = HR_CHAT) -> DraftState | None:
    async with sessionmaker() as session, session.begin():
        return await DraftRepository(session).get(user, FLOW)


async def count(sessionmaker: Maker, model: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def outbox(sessionmaker: Maker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def stored(sessionmaker: Maker) -> list[Announcement]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Announcement).order_by(Announcement.id))).all())


async def audit_actions(sessionmaker: Maker) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def to_preview(app, request, audience: str = "sup") -> list[dict]:
    """/hr_umumkan, the formatted text, an audience: the preview messages."""
    await say(app, request, "/hr_umumkan")
    await send(app, request, {"text": TEXT, "entities": ENTITIES})
    return await press(app, request, f"umum:aud:{audience}")


# --------------------------------------------------------------------------- who may
async def test_asn_and_supervisors_are_refused_and_get_no_draft(captured, sessionmaker, office):
    app, request = captured
    for user in (STAFF_CHAT, BOSS_CHAT):  # an ASN, and a supervisor who is not HR
        assert await say(app, request, "/hr_umumkan", user=user) == [HR_ONLY]
        assert await say(app, request, "/hr_siaran", user=user) == [HR_ONLY]
        assert await draft(sessionmaker, user) is None
        # What they type next is not taken as an announcement.
        replies = await say(app, request, "Rapat besok", user=user)
        assert ID("Who should get this announcement?") not in replies
    assert await count(sessionmaker, Draft) == 0
    assert await count(sessionmaker, Announcement) == 0


async def test_forged_presses_by_an_asn_change_nothing(captured, sessionmaker, office):
    app, request = captured
    # Even with a draft at the preview step (forged in the database), an ASN sends nothing.
    async with sessionmaker() as session, session.begin():
        await DraftRepository(session).put(
            STAFF_CHAT,
            FLOW,
            "preview",
            {"content": {"text": "Libur!"}, "audience": {"kind": "all"}},
        )
    for data in (
        "umum:send",
        "umum:aud:all",
        "umum:sched_ok",
        "siaran:stop:1",
        "siaran:resend:1",
        "siaran:cancel:1",
        "siaran:xlsx:1",
        "siaran:list",
    ):
        assert await press(app, request, data, user=STAFF_CHAT) == [], data
        assert alert(request) == HR_ONLY, data
        assert request.sent("sendDocument") == []
    assert await count(sessionmaker, Announcement) == 0
    assert await count(sessionmaker, OutboxMessage) == 0
    assert await audit_actions(sessionmaker) == []
    kept = await draft(sessionmaker, STAFF_CHAT)
    assert kept is not None and kept.step == "preview"


async def test_an_asn_cannot_stop_or_resend_a_real_announcement(captured, sessionmaker, office):
    app, request = captured
    async with sessionmaker() as session, session.begin():
        repository = AnnouncementRepository(session)
        scheduled, _ = await repository.create(
            created_by_id=office.hr,
            chat_id=HR_CHAT,
            content={"text": "Apel Senin"},
            audience={"kind": "all"},
            send_at=NOW + dt.timedelta(days=1),
            scheduled=True,
            now=NOW,
        )
        finished, _ = await repository.create(
            created_by_id=office.hr,
            chat_id=HR_CHAT,
            content={"text": "Rapat"},
            audience={"kind": "supervisors"},
            send_at=NOW,
            scheduled=False,
            now=NOW,
        )
    rows = await outbox(sessionmaker)
    failed = [r.id for r in rows if r.idempotency_key.startswith(f"announcement:{finished}:")]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.id.in_(failed))
            .values(status="failed", last_error="Bad Request: chat not found")
        )
        assert await AnnouncementRepository(session).finish(finished, NOW)
    before = [(r.id, r.status) for r in await outbox(sessionmaker)]

    for data in (f"siaran:stop:{scheduled}", f"siaran:resend:{finished}"):
        assert await press(app, request, data, user=STAFF_CHAT) == [], data
        assert alert(request) == HR_ONLY, data
    assert [(r.id, r.status) for r in await outbox(sessionmaker)] == before
    first, second = await stored(sessionmaker)
    assert (first.status, first.cancelled_at) == ("scheduled", None)
    assert (second.status, second.resent_at) == ("done", None)
    assert await audit_actions(sessionmaker) == []


# --------------------------------------------------------------------------- sending
async def test_hr_sends_to_supervisors_exactly_once(captured, sessionmaker, office):
    app, request = captured
    (prompt,) = await say(app, request, "/hr_umumkan")
    assert escape(ID("📣 New announcement")) in prompt
    assert (await draft(sessionmaker)).step == "content"

    (choose,) = await send(app, request, {"text": TEXT, "entities": ENTITIES})
    assert choose["text"] == escape(ID("Who should get this announcement?"))
    assert buttons(choose) == [
        "umum:aud:all",
        "umum:aud:units",
        "umum:aud:sup",
        "umum:aud:nips",
        "umum:stop",
    ]
    saved = await draft(sessionmaker)
    assert saved.step == "audience"
    assert saved.data["content"] == {"text": TEXT, "entities": ENTITIES}

    edited, shown, preview = await press(app, request, "umum:aud:sup")
    assert edited["text"] == escape(ID("Supervisors only"))
    # The announcement as recipients get it: the same text and entities, no parse mode.
    assert shown["chat_id"] == HR_CHAT and shown["text"] == TEXT
    assert [dict(e) for e in shown["entities"]] == ENTITIES
    assert shown.get("parse_mode") is None
    # The head, Bu Sari and Pak Hendra supervise someone: three recipients, all linked.
    assert escape(ID.ngettext("{n} recipient", "{n} recipients", 3)) in preview["text"]
    assert escape(ID("To: {audience}", audience=ID("Supervisors only"))) in preview["text"]
    assert buttons(preview) == ["umum:send", "umum:sched", "umum:back", "umum:stop"]
    assert (await draft(sessionmaker)).step == "preview"
    assert await count(sessionmaker, Announcement) == 0

    shown = await press(app, request, "umum:send")
    assert alert(request) is None
    (announcement,) = await stored(sessionmaker)
    assert shown[0]["text"] == escape(
        ID.ngettext(
            "✅ Announcement #{id} is being sent to {n} recipient.",
            "✅ Announcement #{id} is being sent to {n} recipients.",
            3,
            id=announcement.id,
        )
    ) + "\n" + escape(ID("The progress follows below; all announcements: /hr_siaran."))
    # HR's live progress message, with its cancel button.
    (progress,) = [p for p in shown[1:] if p["chat_id"] == HR_CHAT]
    assert buttons(progress) == [f"siaran:cancel:{announcement.id}"]
    assert await draft(sessionmaker) is None

    # A second press (a double tap, or an old message) sends nothing more.
    assert await press(app, request, "umum:send") == []
    assert alert(request) == STALE

    assert await count(sessionmaker, Announcement) == 1
    assert (announcement.status, announcement.audience) == ("sending", {"kind": "supervisors"})
    assert announcement.created_by_id == office.hr and announcement.send_at == NOW
    rows = await outbox(sessionmaker)
    assert sorted(r.chat_id for r in rows) == sorted([HEAD_CHAT, BOSS_CHAT, BOSS2_CHAT])
    assert {r.idempotency_key for r in rows} == {
        f"announcement:{announcement.id}:{e}" for e in (office.head, office.boss, office.boss2)
    }
    assert all(r.payload == {"text": TEXT, "entities": ENTITIES} for r in rows)
    assert await audit_actions(sessionmaker) == ["announcement_sent"]


async def test_two_simultaneous_presses_send_once(captured, sessionmaker, office):
    app, request = captured
    await to_preview(app, request)
    request.clear()
    await asyncio.gather(
        app.process_update(callback_update(app, HR_CHAT, "umum:send")),
        app.process_update(callback_update(app, HR_CHAT, "umum:send")),
    )
    answers = [a.get("text") for a in request.sent("answerCallbackQuery")]
    assert sorted(answers, key=str) == sorted([None, STALE], key=str)
    assert await count(sessionmaker, Announcement) == 1
    assert await count(sessionmaker, OutboxMessage) == 3
    assert await audit_actions(sessionmaker) == ["announcement_sent"]


# --------------------------------------------------------------------------- units
async def unit_ids(sessionmaker: Maker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {name: id_ for id_, name in await session.execute(select(Unit.id, Unit.name))}


async def test_choosing_units(captured, sessionmaker, office):
    app, request = captured
    units = await unit_ids(sessionmaker)
    dishub, bkpsdm = units["Dinas Perhubungan"], units["BKPSDM"]
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    (shown,) = await press(app, request, "umum:aud:units")
    # By name, with their active employees; no "Next" before a unit is ticked.
    assert buttons(shown) == [
        f"umum:unit:{bkpsdm}",
        f"umum:unit:{dishub}",
        "umum:back",
        "umum:stop",
    ]
    assert labels(shown)[f"umum:unit:{dishub}"] == "▫️ Dinas Perhubungan (6)"
    assert await press(app, request, "umum:units_ok") == []
    assert alert(request) == ID("Tick at least one unit first.")

    for _ in range(3):  # tick, untick, tick
        (shown,) = await press(app, request, f"umum:unit:{dishub}")
    assert labels(shown)[f"umum:unit:{dishub}"] == "✅ Dinas Perhubungan (6)"
    assert "umum:units_ok" in buttons(shown)
    assert (await draft(sessionmaker)).data["unit_ids"] == [dishub]
    assert await press(app, request, "umum:unit:999999") == []  # forged
    assert alert(request) == STALE

    edited, _, preview = await press(app, request, "umum:units_ok")
    assert edited["text"] == escape(ID("Units: {units}", units="Dinas Perhubungan"))
    # Six in the unit; Wati has not linked her account.
    assert escape(ID.ngettext("{n} recipient", "{n} recipients", 6)) in preview["text"]
    assert (
        escape(
            ID.ngettext(
                "• {n} has not linked a Telegram account",
                "• {n} have not linked a Telegram account",
                1,
            )
        )
        in preview["text"]
    )
    assert (await draft(sessionmaker)).data["audience"] == {"kind": "units", "unit_ids": [dishub]}

    (back,) = await press(app, request, "umum:back")
    assert buttons(back)[0] == "umum:aud:all"
    saved = await draft(sessionmaker)
    assert saved.step == "audience" and saved.data == {"content": {"text": TEXT}}


# --------------------------------------------------------------------------- /batal
async def to_step(app, request, step: str) -> None:
    await say(app, request, "/hr_umumkan")
    if step == "content":
        return
    await say(app, request, TEXT)
    if step == "audience":
        return
    await press(app, request, "umum:aud:sup")
    await press(app, request, "umum:sched")


@pytest.mark.parametrize("step", ["content", "audience", "schedule"])
async def test_batal_leaves_at_every_step(captured, sessionmaker, office, step):
    app, request = captured
    await to_step(app, request, step)
    assert (await draft(sessionmaker)).step == step
    assert await say(app, request, "/batal") == [NOT_SENT]
    assert await draft(sessionmaker) is None
    assert await say(app, request, "/batal") == [ID("There is nothing to cancel.")]
    # What HR types now is no longer an announcement, and nothing was stored.
    assert ID("Who should get this announcement?") not in await say(app, request, TEXT)
    assert await count(sessionmaker, Announcement) == 0
    assert await count(sessionmaker, OutboxMessage) == 0


async def test_the_cancel_button_leaves_too(captured, sessionmaker, office):
    app, request = captured
    await to_preview(app, request)
    (edited,) = await press(app, request, "umum:stop")
    assert edited["text"] == escape(ID("Cancelled. Nothing was changed."))
    assert await draft(sessionmaker) is None
    assert await press(app, request, "umum:send") == []
    assert alert(request) == STALE
    assert await count(sessionmaker, Announcement) == 0


# --------------------------------------------------------------------------- scheduling
async def test_the_schedule_step_checks_the_time(captured, sessionmaker, office):
    app, request = captured
    await to_preview(app, request)
    (asked,) = await press(app, request, "umum:sched")
    assert escape(ID("Send /batal to stop.")) in asked["text"]
    settings = app.bot_data.settings
    refusals = {
        "kemarin": ID(
            "I could not read that. Please write the date and time, e.g. 12/01/2026 08.00."
        ),
        "06/12/2026 09.00": ID(
            "That time is past or too close. Choose a time at least a few minutes ahead."
        ),
        "07/12/2026 10.01": ID(
            "That time is past or too close. Choose a time at least a few minutes ahead."
        ),
        "07/12/2026 22.00": ID(
            "That is in the quiet hours ({start}–{end} WIB), when only urgent messages go "
            "out. Please choose another time.",
            start=f"{settings.quiet_hours_start:%H.%M}",
            end=f"{settings.quiet_hours_end:%H.%M}",
        ),
        "08/12/2026 05.30": ID(
            "That is in the quiet hours ({start}–{end} WIB), when only urgent messages go "
            "out. Please choose another time.",
            start="21.00",
            end="06.00",
        ),
        "10/03/2027 09.00": ID("That is too far ahead: at most 60 days from now."),
    }
    for typed, expected in refusals.items():
        assert await say(app, request, typed) == [expected], typed
        kept = await draft(sessionmaker)
        assert kept.step == "schedule" and "send_at" not in kept.data, typed

    moment = wib(2026, 12, 8, 9, 0)
    request.clear()
    await app.process_update(message_update(app, HR_CHAT, "08/12/2026 09.00"))
    (question,) = request.sent()
    assert question["text"] == escape(
        ID.ngettext(
            "Send on {when} to {n} recipient?",
            "Send on {when} to {n} recipients?",
            3,
            when=ID.datetime(moment),
        )
    )
    assert buttons(question) == ["umum:sched_ok", "umum:sched", "umum:stop"]
    saved = await draft(sessionmaker)
    assert saved.step == "schedule_confirm"
    assert dt.datetime.fromisoformat(saved.data["send_at"]) == moment

    # Confirmed too late (the clock moved past the time): refused, the draft kept.
    app.bot_data.extras["clock"] = lambda: moment + dt.timedelta(minutes=1)
    assert await press(app, request, "umum:sched_ok") == []
    assert alert(request) == ID("That time has passed. Press Change the time and choose another.")
    assert await count(sessionmaker, Announcement) == 0
    app.bot_data.extras["clock"] = lambda: NOW

    (done,) = await press(app, request, "umum:sched_ok")
    (announcement,) = await stored(sessionmaker)
    assert (announcement.status, announcement.send_at) == ("scheduled", moment)
    assert escape(ID("To cancel it before then: /hr_siaran.")) in done["text"]
    assert escape(ID.datetime(moment)) in done["text"]
    rows = await outbox(sessionmaker)
    assert len(rows) == 3 and all(r.not_before == moment for r in rows)
    assert await draft(sessionmaker) is None
    assert await audit_actions(sessionmaker) == ["announcement_scheduled"]
    assert await press(app, request, "umum:sched_ok") == []
    assert alert(request) == STALE
    assert await count(sessionmaker, Announcement) == 1


# --------------------------------------------------------------------------- content step
@pytest.mark.parametrize("content", [STICKER, VOICE], ids=["sticker", "voice"])
async def test_a_sticker_or_voice_is_not_an_announcement(captured, sessionmaker, office, content):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    replies = [sent["text"] for sent in await send(app, request, content)]
    # One polite answer, nothing stored.
    assert len(replies) == 1
    assert replies[0] in {
        ID("Please send a text, a photo or a document."),
        ID("Sorry, I did not understand that. Send /help to see what you can do."),
    }
    assert (await draft(sessionmaker)).step == "content"
    assert await count(sessionmaker, Announcement) == 0
    # The conversation goes on.
    assert await say(app, request, TEXT) == [escape(ID("Who should get this announcement?"))]


@pytest.mark.parametrize("content", [STICKER, VOICE], ids=["sticker", "voice"])
async def test_a_sticker_or_voice_gets_the_content_steps_answer(
    captured, sessionmaker, office, content
):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    replies = [sent["text"] for sent in await send(app, request, content)]
    assert replies == [ID("Please send a text, a photo or a document.")]


async def test_a_photo_with_caption_is_the_announcement(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    photo = [
        {"file_id": f"AgAC-{w}", "file_unique_id": f"u{w}", "width": w, "height": w}
        for w in (90, 320, 1280)
    ]
    caption_entities = [{"type": "italic", "offset": 0, "length": 4}]
    (choose,) = await send(
        app,
        request,
        {"photo": photo, "caption": "Apel Senin", "caption_entities": caption_entities},
    )
    assert buttons(choose)[0] == "umum:aud:all"
    assert (await draft(sessionmaker)).data["content"] == {
        "photo": {"file_id": "AgAC-1280"},
        "caption": "Apel Senin",
        "caption_entities": caption_entities,
    }
    await press(app, request, "umum:aud:all")
    (preview_photo,) = request.sent("sendPhoto")
    assert preview_photo["photo"] == "AgAC-1280" and preview_photo["caption"] == "Apel Senin"


# --------------------------------------------------------------------------- NIP list
async def test_a_csv_nip_list_reports_known_unknown_and_invalid(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    (asked,) = await press(app, request, "umum:aud:nips")
    assert buttons(asked) == ["umum:stop"]
    assert (await draft(sessionmaker)).step == "nips"

    known, unknown, invalid = pns_nip(4), pns_nip(60), "12345"  # Rina; nobody; too short
    csv = f"No,NIP Pegawai,Nama\n1,{known},Rina\n2,{unknown},Siapa\n3,{invalid},Salah\n"
    file_id = request.add_file(csv.encode())
    request.clear()
    await app.process_update(
        document_update(app, HR_CHAT, file_id, "daftar-nip.csv", len(csv.encode()))
    )
    assert [c.method for c in request.calls if c.method in ("getFile", "download")] == [
        "getFile",
        "download",
    ]
    report, shown, preview = request.sent()
    (problem,) = parse_nips(invalid).invalid
    assert report["text"].split("\n") == [
        escape(
            ID.ngettext("{n} employee found in the list.", "{n} employees found in the list.", 1)
        ),
        escape(
            ID.ngettext(
                "{n} NIP is not in the employee data: {nips}",
                "{n} NIPs are not in the employee data: {nips}",
                1,
                nips=unknown,
            )
        ),
        escape(f"{invalid}: {nip_problem_text(*problem, ID)}"),
    ]
    assert shown["text"] == TEXT
    assert escape(ID.ngettext("{n} recipient", "{n} recipients", 1)) in preview["text"]
    assert escape(ID("NIP list ({file})", file="daftar-nip.csv")) in preview["text"]
    assert buttons(preview)[0] == "umum:send"
    saved = await draft(sessionmaker)
    assert saved.step == "preview"
    assert saved.data["audience"] == {
        "kind": "nips",
        "employee_ids": [office.staff],
        "file_name": "daftar-nip.csv",
    }

    await press(app, request, "umum:send")
    (row,) = await outbox(sessionmaker)
    assert (row.chat_id, row.employee_id) == (STAFF_CHAT, office.staff)


async def send_list(app, request, content: bytes, name: str, mime: str) -> list[dict]:
    file_id = request.add_file(content)
    request.clear()
    await app.process_update(document_update(app, HR_CHAT, file_id, name, len(content), mime))
    return request.sent()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_an_xlsx_nip_list(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    await press(app, request, "umum:aud:nips")
    # The NIP column (typed as Text, as HR does) is not the first; one NIP has spaces.
    rina = pns_nip(4)
    spaced = f"{rina[:8]} {rina[8:14]} {rina[14]} {rina[15:]}"
    content = xlsx_bytes(
        [["Nama", "NIP", "Unit"], ["Doni", pns_nip(5), "Dishub"], ["Rina", spaced, "Dishub"]],
        text_columns=[2],
    )
    report, _, preview = await send_list(app, request, content, "penerima.xlsx", XLSX)
    assert report["text"] == escape(
        ID.ngettext("{n} employee found in the list.", "{n} employees found in the list.", 2)
    )
    assert escape(ID.ngettext("{n} recipient", "{n} recipients", 2)) in preview["text"]
    saved = await draft(sessionmaker)
    assert saved.data["audience"] == {
        "kind": "nips",
        "employee_ids": sorted([office.staff, office.staff2]),
        "file_name": "penerima.xlsx",
    }


async def test_a_nip_stored_as_a_number_is_explained(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    await press(app, request, "umum:aud:nips")
    content = xlsx_bytes([["NIP"], [int(pns_nip(5))], [pns_nip(4)]])
    report, *_ = await send_list(app, request, content, "penerima.xlsx", XLSX)
    lost = ID(NIP_LOST_DIGITS, value="1.98801012012012E+17")
    assert escape(lost) in report["text"]


async def test_a_file_without_a_nip_column_is_refused(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    await press(app, request, "umum:aud:nips")
    content = csv_bytes([["Nama", "Unit"], ["Rina", "Dishub"]])
    (reply,) = await send_list(app, request, content, "nama.csv", "text/csv")
    assert reply["text"] == ID("The file has no column headed NIP.")
    assert (await draft(sessionmaker)).step == "nips"


async def test_a_list_without_anyone_known_asks_again(captured, sessionmaker, office):
    app, request = captured
    await say(app, request, "/hr_umumkan")
    await say(app, request, TEXT)
    await press(app, request, "umum:aud:nips")
    (reply,) = await say(app, request, pns_nip(60))
    assert escape(ID("Please send another list, or /batal to stop.")) in reply
    assert (await draft(sessionmaker)).step == "nips"


# --------------------------------------------------------------------------- /hr_siaran
async def test_hr_lists_and_cancels_a_scheduled_announcement(captured, sessionmaker, office):
    app, request = captured
    async with sessionmaker() as session, session.begin():
        announcement_id, _ = await AnnouncementRepository(session).create(
            created_by_id=office.hr,
            chat_id=HR_CHAT,
            content={"text": "Apel Senin"},
            audience={"kind": "all"},
            send_at=NOW + dt.timedelta(days=1),
            scheduled=True,
            now=NOW,
        )
    (listing,) = await say(app, request, "/hr_siaran")
    assert "Apel Senin" in listing
    asked = await press(app, request, f"siaran:cancel:{announcement_id}")
    assert buttons(asked[-1]) == [
        f"siaran:stop:{announcement_id}",
        f"siaran:show:{announcement_id}",
    ]
    assert (await stored(sessionmaker))[0].status == "scheduled"
    await press(app, request, f"siaran:stop:{announcement_id}")
    assert (await stored(sessionmaker))[0].status == "cancelled"
    rows = await outbox(sessionmaker)
    messages = [r for r in rows if r.kind == "announcement"]
    assert len(messages) == 6 and {r.status for r in messages} == {"cancelled"}
    # Cancelled before its time: finished quietly (the cancel answer told HR), no report.
    assert (await stored(sessionmaker))[0].finished_at is not None
    assert [r for r in rows if r.kind == "announcement_report"] == []
    # Pressed again: refused, nothing else changes.
    before = [(r.id, r.status) for r in rows]
    assert await press(app, request, f"siaran:stop:{announcement_id}") == []
    assert alert(request) == ID("This announcement can no longer be cancelled.")
    assert await audit_actions(sessionmaker) == ["announcement_cancelled"]
    assert [(r.id, r.status) for r in await outbox(sessionmaker)] == before


async def finished_with_failures(sessionmaker: Maker, office: Office) -> int:
    """An announcement to the supervisors, finished: the head got it, the two others failed."""
    async with sessionmaker() as session, session.begin():
        repository = AnnouncementRepository(session)
        announcement_id, _ = await repository.create(
            created_by_id=office.hr,
            chat_id=HR_CHAT,
            content={"text": "Rapat pimpinan"},
            audience={"kind": "supervisors"},
            send_at=NOW,
            scheduled=False,
            now=NOW,
        )
        for row in await session.scalars(select(OutboxMessage)):
            if row.employee_id == office.head:
                row.status, row.sent_at = "sent", NOW
            else:
                row.status, row.last_error = "failed", "Bad Request: chat not found"
        await session.flush()
        assert await repository.finish(announcement_id, NOW)
    return announcement_id


async def test_hr_downloads_the_recipients(captured, sessionmaker, office):
    app, request = captured
    announcement_id = await finished_with_failures(sessionmaker, office)
    await press(app, request, f"siaran:xlsx:{announcement_id}")
    (document,) = request.sent("sendDocument")
    assert document["chat_id"] == HR_CHAT
    assert document["caption"] == ID(
        "Recipients of announcement #{id} and their delivery.", id=announcement_id
    )
    ((name, content),) = request.uploaded
    assert name == ID("announcement-{id}.xlsx", id=announcement_id)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[4]) for r in rows] == [
        ("Hendra Putra", ID("failed")),
        ("Ir. Yusuf Datuak", ID("sent")),
        ("Sari Dewi, S.T.", ID("failed")),
    ]
    assert await press(app, request, "siaran:xlsx:999999") == []
    assert alert(request) == STALE


async def test_hr_resends_the_failed_once(captured, sessionmaker, office):
    app, request = captured
    announcement_id = await finished_with_failures(sessionmaker, office)
    shown = await press(app, request, f"siaran:resend:{announcement_id}")
    assert shown[0]["text"] == escape(
        ID.ngettext(
            "Announcement #{id}: {n} failed message is being sent again.",
            "Announcement #{id}: {n} failed messages are being sent again.",
            2,
            id=announcement_id,
        )
    )
    keys = [r.idempotency_key for r in await outbox(sessionmaker) if r.status == "pending"]
    assert sorted(keys) == sorted(
        f"announcement:{announcement_id}:{e}:ulang" for e in (office.boss, office.boss2)
    )
    assert await press(app, request, f"siaran:resend:{announcement_id}") == []
    assert alert(request) == ID("The failed messages can be resent once, after sending finished.")
    assert await count(sessionmaker, OutboxMessage) == 5
    assert await audit_actions(sessionmaker) == ["announcement_resent"]


async def test_the_time_left_after_a_resend_is_measured_from_the_resend(
    captured, sessionmaker, office
):
    app, request = captured
    announcement_id = await finished_with_failures(sessionmaker, office)
    app.bot_data.extras["clock"] = lambda: NOW + dt.timedelta(hours=5)
    _, progress = await press(app, request, f"siaran:resend:{announcement_id}")
    assert buttons(progress) == [f"siaran:cancel:{announcement_id}"]
    # Nothing of the resend has gone out yet: 2 messages at the configured 25 per second.
    one_second = format_timedelta(dt.timedelta(seconds=1), locale="id", threshold=1.1)
    assert progress["text"].split("\n")[-1] == escape(
        ID("About {duration} left", duration=one_second)
    )
