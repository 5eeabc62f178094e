"""Layer 2: /hr_pelatihan — list, guided creation, moving, cancelling, attendance list."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.models import AuditLog, OutboxMessage, Training, TrainingParticipant, utcnow
from storage.repositories.outbox import OutboxRepository
from tests.support.factories import NIP_STAFF, NIP_SUPERVISOR
from tests.support.telegram import callback_update, message_update
from tests.trainings.support import (
    ASN_CHAT,
    HR_CHAT,
    OTHER_NIP,
    UNLINKED_NIP,
    add_people,
    add_training,
    answers,
    buttons,
    drafts,
    outbox,
)

ID = get_translator("id")
WIB = ZoneInfo("Asia/Jakarta")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))


def wib(days: int, hour: int, minute: int = 0) -> dt.datetime:
    day = (utcnow().astimezone(WIB) + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=WIB)


def typed(moment: dt.datetime) -> str:
    return f"{moment:%d/%m/%Y %H.%M}"


async def say(app, request, text: str, user: int = HR_CHAT) -> dict:
    request.clear()
    await app.process_update(message_update(app, user, text))
    sent = request.sent()
    assert len(sent) == 1, sent
    return sent[0]


async def press(app, request, data: str, user: int = HR_CHAT) -> list:
    request.clear()
    await app.process_update(callback_update(app, user, data))
    return request.calls


def last(request, method: str = "editMessageText") -> dict:
    return request.sent(method)[-1]


async def count(sessionmaker, model) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def audit_actions(sessionmaker) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# --------------------------------------------------------------------------- guards
async def test_hr_pelatihan_and_every_button_are_for_hr_only(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    reply = await say(app, request, "/hr_pelatihan", user=ASN_CHAT)
    assert reply["text"] == HR_ONLY
    for data in (
        "hrl:list",
        "hrl:new",
        f"hrl:open:{training}",
        f"hrl:xlsx:{training}",
        f"hrl:move:{training}",
        f"hrl:cancel:{training}",
        f"hrl:move!:{training}",
        f"hrl:cancel!:{training}",
        "hrl:save",
        "hrl:units:0",
    ):
        await press(app, request, data, user=ASN_CHAT)
        (alert,) = request.sent("answerCallbackQuery")
        assert alert["text"] == HR_ONLY and alert["show_alert"] is True, data
        assert not request.sent() and not request.sent("sendDocument")
    assert await drafts(sessionmaker) == []


async def test_a_withdrawn_role_stops_the_conversation(captured, sessionmaker):
    app, request = captured
    await add_people(sessionmaker)
    await press(app, request, "hrl:new")
    async with sessionmaker() as session, session.begin():
        from storage.models import Employee

        boss = await session.scalar(select(Employee).where(Employee.nip == NIP_SUPERVISOR))
        boss.role = "asn"
    reply = await say(app, request, "Pelatihan Baru")
    assert reply["text"] == HR_ONLY
    assert await drafts(sessionmaker) == []


# --------------------------------------------------------------------------- list and card
async def test_list_shows_upcoming_trainings_with_answer_counts(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    first = await add_training(
        sessionmaker,
        [people.staff, people.other, people.unlinked],
        code="A",
        title="Bimtek <SIASN>",
        attendance={people.staff: "hadir", people.other: "tidak_hadir"},
    )
    await add_training(sessionmaker, [people.staff], code="OLD", starts_in=dt.timedelta(days=-3))
    await add_training(sessionmaker, [people.staff], code="GONE", cancelled=True)
    reply = await say(app, request, "/hr_pelatihan")
    assert "Bimtek &lt;SIASN&gt;" in reply["text"]
    assert (
        ID(
            "✅ {hadir} · ❌ {absent} · ❔ {unknown} of {total}",
            hadir="1",
            absent="1",
            unknown="1",
            total="3",
        )
        in reply["text"]
    )
    assert "OLD" not in reply["text"] and "GONE" not in reply["text"]
    assert buttons(reply) == [f"hrl:open:{first}", "hrl:new"]

    await press(app, request, f"hrl:open:{first}")
    card = last(request)
    assert ID("❌ Not attending: {n}", n="1") in card["text"]
    assert "Andi Saputra — Sakit" in card["text"]
    assert buttons(card) == [
        f"hrl:xlsx:{first}",
        f"hrl:move:{first}",
        f"hrl:cancel:{first}",
        "hrl:list",
    ]
    # By code, any training (a cancelled one has no change buttons).
    reply = await say(app, request, "/hr_pelatihan gone")
    assert "hrl:move:" not in str(buttons(reply)) and "Narasumber berhalangan" in reply["text"]
    reply = await say(app, request, "/hr_pelatihan NOPE")
    assert reply["text"] == ID("No training has the code {code}.", code="NOPE")


async def test_stale_training_buttons_get_an_alert(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    cancelled = await add_training(sessionmaker, [people.staff], cancelled=True)
    for data in (
        f"hrl:move:{cancelled}",
        f"hrl:cancel:{cancelled}",
        f"hrl:move!:{cancelled}",
        f"hrl:cancel!:{cancelled}",
        "hrl:open:999",
        "hrl:xlsx:999",
        "hrl:save",
        "hrl:back:n:start",
        "hrl:stop:n",
        "hrl:bogus",
    ):
        await press(app, request, data)
        (alert,) = request.sent("answerCallbackQuery")
        assert alert["text"] == ID("This button is no longer valid."), data
    assert await drafts(sessionmaker) == []


# --------------------------------------------------------------------------- creation
async def test_guided_creation_by_nips_validates_every_step_and_notifies_once(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    await press(app, request, "hrl:new")
    prompt = request.sent()[0]
    assert buttons(prompt) == ["hrl:stop:n"]
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "title")]

    reply = await say(app, request, "ab")
    assert ID("The title needs 3 to 300 characters.") in reply["text"]
    reply = await say(app, request, "Bimtek <Aplikasi> & SIASN")
    assert buttons(reply) == ["hrl:back:n:start", "hrl:stop:n"]

    reply = await say(app, request, "besok pagi")
    assert ID("I could not read “{text}” as a date and time.", text="besok pagi") in reply["text"]
    reply = await say(app, request, typed(wib(-1, 8)))
    assert ID("The start must be in the future.") in reply["text"]
    start = wib(7, 8)
    reply = await say(app, request, f"{start:%Y-%m-%d} pukul 08:00 WIB")
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "end")]

    reply = await say(app, request, "07.30")
    assert (
        ID("The end must be after the start ({start}).", start=ID.datetime(start)) in reply["text"]
    )
    reply = await say(app, request, typed(wib(6, 16)))
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "end")]
    reply = await say(app, request, "16.00")  # the same day
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "place")]

    reply = await say(app, request, "Aula Bappeda https://zoom.us/j/987")
    assert "hrl:units:0" in buttons(reply)

    reply = await say(app, request, f"{NIP_STAFF}, 1986092620150510, 19900101 201501 1 999")
    assert "1986092620150510" in reply["text"]
    assert (
        ID("No active employee has these NIPs: {nips}", nips="199001012015011999") in reply["text"]
    )
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "people")]

    summary = await say(app, request, f"{NIP_STAFF}\n{OTHER_NIP} ; {UNLINKED_NIP}, {NIP_STAFF}")
    assert "Bimtek &lt;Aplikasi&gt; &amp; SIASN" in summary["text"]
    assert "🔗 https://zoom.us/j/987" in summary["text"] and "📍 Aula Bappeda" in summary["text"]
    assert ID("Participants: {n}", n="3") in summary["text"]
    assert buttons(summary) == ["hrl:save", "hrl:edit", "hrl:stop:n"]
    assert await count(sessionmaker, Training) == 0

    await press(app, request, "hrl:save")
    saved = last(request)
    async with sessionmaker() as session:
        training = await session.scalar(select(Training))
        participants = set(
            await session.scalars(
                select(TrainingParticipant.employee_id).where(
                    TrainingParticipant.training_id == training.id
                )
            )
        )
    year = utcnow().astimezone(WIB).year
    assert training.code == f"PLT-{year}-0001" and training.code in saved["text"]
    assert training.title == "Bimtek <Aplikasi> & SIASN"
    assert training.starts_at == start.astimezone(dt.UTC)
    assert training.ends_at == wib(7, 16).astimezone(dt.UTC)
    assert (training.place, training.online_link) == ("Aula Bappeda", "https://zoom.us/j/987")
    assert training.created_by_id == people.hr
    assert participants == {people.staff, people.other, people.unlinked}
    assert await audit_actions(sessionmaker) == ["training_created"]
    rows = await outbox(sessionmaker)
    assert set(rows) == {
        f"training_new:{training.id}:{people.staff}",
        f"training_new:{training.id}:{people.other}",
    }  # the unlinked employee cannot be told
    notice = rows[f"training_new:{training.id}:{people.staff}"]
    assert notice.chat_id == ASN_CHAT and notice.payload["parse_mode"] == "HTML"
    assert "Bimtek &lt;Aplikasi&gt;" in notice.payload["text"]
    keyboard = notice.payload["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == [
        f"latih:{training.id}:hadir",
        f"latih:{training.id}:absen",
    ]
    assert await drafts(sessionmaker) == []

    # A second press of Save (or a stale summary) creates nothing and tells nobody again.
    await press(app, request, "hrl:save")
    (alert,) = request.sent("answerCallbackQuery")
    assert alert["show_alert"] is True
    assert await count(sessionmaker, Training) == 1
    assert await count(sessionmaker, OutboxMessage) == 2


async def test_creation_for_a_unit_by_typed_name_and_by_the_unit_buttons(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    await press(app, request, "hrl:new")
    await say(app, request, "Sosialisasi Disiplin ASN")
    await say(app, request, typed(wib(3, 9)))
    await say(app, request, typed(wib(4, 12)))
    await say(app, request, "Ruang Rapat Dinkes")
    reply = await say(app, request, "zzz")
    assert (
        ID("No unit matches “{text}”. Type another part of the name.", text="zzz") in reply["text"]
    )
    reply = await say(app, request, "dinas")  # both units match: choose
    assert buttons(reply)[0] == f"hrl:unit:{people.other_unit}"  # Dinas Kesehatan first
    assert len([b for b in buttons(reply) if b.startswith("hrl:unit:")]) == 2
    summary = await say(app, request, "kesehatan")
    assert ID("Participants: {n} (all of {unit})", n="2", unit="Dinas Kesehatan") in summary["text"]

    # Change the participants through the buttons: the unit page, then a unit.
    await press(app, request, "hrl:edit")
    assert "hrl:field:people" in buttons(last(request))
    await press(app, request, "hrl:field:people")
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "people")]
    await press(app, request, "hrl:units:0")
    page = last(request)
    assert f"hrl:unit:{people.other_unit}" in buttons(page)
    await press(app, request, "hrl:unit:999999")
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True
    async with sessionmaker() as session:
        from storage.models import Unit

        transport = await session.scalar(select(Unit.id).where(Unit.name == "Dinas Perhubungan"))
    await press(app, request, f"hrl:unit:{transport}")
    summary = last(request)
    assert (
        ID("Participants: {n} (all of {unit})", n="2", unit="Dinas Perhubungan") in summary["text"]
    )
    await press(app, request, "hrl:save")
    async with sessionmaker() as session:
        participants = set(await session.scalars(select(TrainingParticipant.employee_id)))
    assert participants == {people.hr, people.staff}
    keys = set(await outbox(sessionmaker))
    assert {k.rsplit(":", 1)[1] for k in keys} == {str(people.hr), str(people.staff)}


async def test_back_and_cancel_buttons_follow_the_current_step(captured, sessionmaker):
    app, request = captured
    await add_people(sessionmaker)
    await press(app, request, "hrl:new")
    await say(app, request, "Pelatihan Arsip")
    await say(app, request, typed(wib(2, 8)))
    # A Back button of an earlier prompt is stale.
    await press(app, request, "hrl:back:n:start")
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True
    await press(app, request, "hrl:back:n:end")
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "start")]
    assert "Pelatihan Arsip" not in last(request)["text"]  # the start prompt, with its value
    await press(app, request, "hrl:stop:n")
    assert last(request)["text"] == ID("Cancelled. Nothing was changed.")
    assert await drafts(sessionmaker) == []
    # /batal does the same from any step.
    await press(app, request, "hrl:new")
    reply = await say(app, request, "/batal")
    assert reply["text"] == ID("Cancelled. Nothing was changed.")
    assert await drafts(sessionmaker) == [] and await count(sessionmaker, Training) == 0


async def test_a_start_that_passed_before_saving_goes_back_to_the_start_step(
    captured, sessionmaker
):
    app, request = captured
    await add_people(sessionmaker)
    await press(app, request, "hrl:new")
    await say(app, request, "Pelatihan Kilat")
    await say(app, request, typed(wib(1, 8)))
    await say(app, request, "10.00")
    await say(app, request, "Aula")
    await say(app, request, NIP_STAFF)
    async with sessionmaker() as session, session.begin():
        from storage.models import Draft

        draft = await session.scalar(select(Draft))
        draft.data = {**draft.data, "start": (utcnow() - dt.timedelta(minutes=1)).isoformat()}
    await press(app, request, "hrl:save")
    assert ID("The start must be in the future.") in last(request)["text"]
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_new", "start")]
    assert await count(sessionmaker, Training) == 0


# --------------------------------------------------------------------------- move and cancel
async def add_reminders(sessionmaker, training: int, employee_id: int) -> None:
    async with sessionmaker() as session, session.begin():
        repository = OutboxRepository(session)
        for offset in ("7d", "1d", "2h"):
            await repository.enqueue(
                f"reminder:{training}:{employee_id}:{offset}",
                ASN_CHAT,
                {"text": "Pengingat"},
                kind="reminder",
                employee_id=employee_id,
            )
        await repository.enqueue(
            f"reminder:{training}9:{employee_id}:7d", ASN_CHAT, {"text": "x"}, kind="reminder"
        )  # another training whose id starts with the same digits
    async with sessionmaker() as session, session.begin():
        sent = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"reminder:{training}:{employee_id}:7d"
            )
        )
        sent.status = "sent"


async def test_move_tells_participants_once_cancels_old_reminders_and_resets_answers(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(
        sessionmaker,
        [people.staff, people.other, people.unlinked],
        attendance={people.staff: "hadir", people.other: "tidak_hadir"},
    )
    await add_reminders(sessionmaker, training, people.staff)

    await press(app, request, f"hrl:move:{training}")
    assert await drafts(sessionmaker) == [(HR_CHAT, "training_move", "start")]
    reply = await say(app, request, typed(wib(-2, 8)))
    assert ID("The start must be in the future.") in reply["text"]
    new_start = wib(10, 13)
    await say(app, request, typed(new_start))
    reply = await say(app, request, "12.00")
    assert (
        ID("The end must be after the start ({start}).", start=ID.datetime(new_start))
        in reply["text"]
    )
    confirm = await say(app, request, "15.30")
    assert buttons(confirm) == [f"hrl:move!:{training}", "hrl:stop:m"]
    assert (await answers(sessionmaker, training))[people.staff][0] == "hadir"  # not yet

    await press(app, request, f"hrl:move!:{training}")
    async with sessionmaker() as session:
        moved = await session.get(Training, training)
    assert moved.starts_at == new_start.astimezone(dt.UTC)
    assert moved.ends_at == wib(10, 15, 30).astimezone(dt.UTC)
    assert set((await answers(sessionmaker, training)).values()) == {("unknown", None)}
    epoch = int(new_start.timestamp())
    told = await outbox(sessionmaker, "training_moved:")
    assert set(told) == {
        f"training_moved:{training}:{people.staff}:{epoch}",
        f"training_moved:{training}:{people.other}:{epoch}",
    }
    assert "latih:" in str(told[f"training_moved:{training}:{people.staff}:{epoch}"].payload)
    reminders = {k: r.status for k, r in (await outbox(sessionmaker, "reminder:")).items()}
    assert reminders == {
        f"reminder:{training}:{people.staff}:7d": "sent",
        f"reminder:{training}:{people.staff}:1d": "cancelled",
        f"reminder:{training}:{people.staff}:2h": "cancelled",
        f"reminder:{training}9:{people.staff}:7d": "pending",
    }
    assert await audit_actions(sessionmaker) == ["training_moved"]
    assert await drafts(sessionmaker) == []

    # The confirmation again: stale, nobody told twice.
    await press(app, request, f"hrl:move!:{training}")
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True
    assert len(await outbox(sessionmaker, "training_moved:")) == 2


async def test_cancel_tells_participants_once_and_cancels_reminders(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff, people.other])
    await add_reminders(sessionmaker, training, people.staff)
    await press(app, request, f"hrl:cancel:{training}")
    reply = await say(app, request, "no")
    assert reply["text"] == ID("The reason needs 3 to 300 characters.")
    confirm = await say(app, request, "Narasumber <sakit>")
    assert "Narasumber &lt;sakit&gt;" in confirm["text"]
    assert buttons(confirm) == [f"hrl:cancel!:{training}", "hrl:stop:c"]
    await press(app, request, f"hrl:cancel!:{training}")
    async with sessionmaker() as session:
        cancelled = await session.get(Training, training)
    assert cancelled.cancelled_at is not None and cancelled.cancel_reason == "Narasumber <sakit>"
    told = await outbox(sessionmaker, "training_cancelled:")
    assert set(told) == {
        f"training_cancelled:{training}:{people.staff}",
        f"training_cancelled:{training}:{people.other}",
    }
    assert (
        "Narasumber &lt;sakit&gt;"
        in told[f"training_cancelled:{training}:{people.staff}"].payload["text"]
    )
    statuses = {
        k: r.status for k, r in (await outbox(sessionmaker, f"reminder:{training}:")).items()
    }
    assert sorted(statuses.values()) == ["cancelled", "cancelled", "sent"]
    assert await audit_actions(sessionmaker) == ["training_cancelled"]
    await press(app, request, f"hrl:cancel!:{training}")
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True
    assert len(await outbox(sessionmaker, "training_cancelled:")) == 2
    # A cancelled training no longer takes answers from its old buttons.
    await press(app, request, f"latih:{training}:hadir", user=ASN_CHAT)
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True


async def test_a_training_cancelled_during_a_move_is_not_moved(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await press(app, request, f"hrl:move:{training}")
    await say(app, request, typed(wib(5, 8)))
    await say(app, request, "12.00")
    async with sessionmaker() as session, session.begin():
        row = await session.get(Training, training)
        row.cancelled_at = utcnow()
    await press(app, request, f"hrl:move!:{training}")
    assert request.sent("answerCallbackQuery")[0]["show_alert"] is True
    assert await outbox(sessionmaker) == {}


# --------------------------------------------------------------------------- attendance list
async def test_attendance_list_is_an_xlsx_with_every_participant(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker, staff_name='=HYPERLINK("x")')
    training = await add_training(
        sessionmaker,
        [people.staff, people.other, people.unlinked],
        code="PLT-2026-0007",
        attendance={people.staff: "hadir", people.other: "tidak_hadir"},
    )
    await press(app, request, f"hrl:xlsx:{training}")
    (sent,) = request.sent("sendDocument")
    assert sent["chat_id"] == HR_CHAT
    ((name, content),) = request.uploaded
    assert name == ID("attendance-{code}.xlsx", code="PLT-2026-0007")
    sheet = load_workbook(io.BytesIO(content)).active
    rows = [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
    assert rows[0] == tuple(
        ID(m) for m in ("No.", "Name", "NIP", "Unit", "Answer", "Reason", "Answered at")
    )
    # By unit, then name: Dinas Kesehatan (Andi, Budi), then Dinas Perhubungan.
    assert [row[:5] for row in rows[1:]] == [
        (1, "Andi Saputra", OTHER_NIP, "Dinas Kesehatan", ID("Not attending")),
        (2, "Budi Santoso", UNLINKED_NIP, "Dinas Kesehatan", ID("not answered yet")),
        (3, '=HYPERLINK("x")', NIP_STAFF, "Dinas Perhubungan", ID("Attending")),
    ]
    assert sheet.cell(row=4, column=2).data_type == "s"  # text, never a formula
    assert rows[1][5] == "Sakit" and isinstance(rows[1][6], dt.datetime)
    assert rows[2][5:] == (None, None)
    assert rows[3][5] is None and isinstance(rows[3][6], dt.datetime)
