"""Layer 2: /pelatihan and the attendance answers of participants (requests captured)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.models import Training
from tests.handlers.conftest import running_app
from tests.support.telegram import callback_update, message_update
from tests.trainings.support import (
    ASN_CHAT,
    OTHER_CHAT,
    add_people,
    add_training,
    answers,
    buttons,
    drafts,
)

ID = get_translator("id")
STRANGER = 7719999


async def test_no_trainings_gets_a_polite_sentence(captured, sessionmaker):
    app, request = captured
    await add_people(sessionmaker)
    await app.process_update(message_update(app, ASN_CHAT, "/pelatihan"))
    (reply,) = request.sent()
    assert reply["text"] == ID("You have no upcoming trainings at the moment.")
    assert buttons(reply) == ["latih:riwayat"]


async def test_upcoming_trainings_show_wib_time_place_link_answer_and_buttons(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    soon = await add_training(
        sessionmaker,
        [people.staff],
        code="A",
        title="Diklat <Kepemimpinan> & Etika",
        online_link="https://zoom.us/j/123?a=1&b=2",
        attendance={people.staff: "tidak_hadir"},
    )
    later = await add_training(
        sessionmaker, [people.staff], code="B", starts_in=dt.timedelta(days=10)
    )
    await add_training(sessionmaker, [people.staff], code="C", cancelled=True)
    await add_training(sessionmaker, [people.staff], code="D", starts_in=dt.timedelta(days=-2))
    await add_training(sessionmaker, [people.other], code="E")
    await app.process_update(message_update(app, ASN_CHAT, "/pelatihan"))
    header, first, second = request.sent()
    assert header["text"] == ID.ngettext(
        "Your upcoming training:", "Your {n} upcoming trainings:", 2
    )
    assert buttons(header) == ["latih:riwayat"]
    assert first["parse_mode"] == "HTML"
    assert "<b>Diklat &lt;Kepemimpinan&gt; &amp; Etika</b>" in first["text"]
    assert "https://zoom.us/j/123?a=1&amp;b=2" in first["text"]
    assert "📍 Aula Balai Kota" in first["text"]
    assert "WIB" in first["text"] and any(
        day in first["text"]
        for day in ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
    )
    assert ID("Not attending") in first["text"] and "Sakit" in first["text"]
    assert buttons(first) == [f"latih:{soon}:hadir", f"latih:{soon}:absen"]
    assert ID("not answered yet") in second["text"]
    assert buttons(second) == [f"latih:{later}:hadir", f"latih:{later}:absen"]


async def test_history_lists_past_and_cancelled_trainings_with_the_answer(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    await add_training(
        sessionmaker,
        [people.staff],
        code="PAST",
        title="Bimtek Arsip",
        starts_in=dt.timedelta(days=-5),
        attendance={people.staff: "hadir"},
    )
    await add_training(sessionmaker, [people.staff], code="X", title="Diklat Batal", cancelled=True)
    await add_training(sessionmaker, [people.staff], code="NEXT", title="Yang Akan Datang")
    await app.process_update(callback_update(app, ASN_CHAT, "latih:riwayat"))
    (reply,) = request.sent()
    text = reply["text"]
    assert "Bimtek Arsip" in text and "Diklat Batal" in text
    assert "Yang Akan Datang" not in text
    assert ID("Attending") in text
    assert "Narasumber berhalangan" in text


async def test_hadir_is_recorded_and_the_message_shows_it_with_buttons_kept(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:hadir"))
    assert (await answers(sessionmaker, training))[people.staff] == ("hadir", None)
    (edit,) = request.sent("editMessageText")
    assert ID("Attending") in edit["text"]
    assert buttons(edit) == [f"latih:{training}:hadir", f"latih:{training}:absen"]
    (answer,) = request.sent("answerCallbackQuery")
    assert answer["text"] == ID("Thank you. Your answer is saved: attending.")


async def test_a_forged_button_from_a_non_participant_changes_nothing(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    for data in (f"latih:{training}:hadir", f"latih:{training}:absen", "latih:999:hadir"):
        await app.process_update(callback_update(app, OTHER_CHAT, data))
    alerts = request.sent("answerCallbackQuery")
    assert [a["text"] for a in alerts] == [ID("This button is no longer valid.")] * 3
    assert all(a["show_alert"] for a in alerts)
    assert not request.sent("editMessageText") and not request.sent()
    assert (await answers(sessionmaker, training))[people.staff] == ("unknown", None)
    assert await drafts(sessionmaker) == []


async def test_an_unlinked_person_is_asked_to_link_first(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, STRANGER, f"latih:{training}:hadir"))
    (alert,) = request.sent("answerCallbackQuery")
    assert alert["text"] == refusal(Audience.LINKED, _context_for(None))
    await app.process_update(message_update(app, STRANGER, "/pelatihan"))
    (reply,) = request.sent()
    assert reply["text"] == alert["text"]


def _context_for(account):
    from types import SimpleNamespace

    return SimpleNamespace(account=account, t=ID)


async def test_cancelled_or_ended_training_no_longer_takes_answers(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    cancelled = await add_training(sessionmaker, [people.staff], code="C", cancelled=True)
    ended = await add_training(
        sessionmaker, [people.staff], code="E", starts_in=dt.timedelta(hours=-3), hours=2
    )
    running = await add_training(
        sessionmaker, [people.staff], code="R", starts_in=dt.timedelta(hours=-1), hours=3
    )
    for training in (cancelled, ended):
        for choice in ("hadir", "absen"):
            await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:{choice}"))
    alerts = request.sent("answerCallbackQuery")
    assert [a["text"] for a in alerts] == [ID("This button is no longer valid.")] * 4
    assert (await answers(sessionmaker, cancelled))[people.staff][0] == "unknown"
    assert (await answers(sessionmaker, ended))[people.staff][0] == "unknown"
    assert await drafts(sessionmaker) == []
    # Still running (not ended): an answer is taken.
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{running}:hadir"))
    assert (await answers(sessionmaker, running))[people.staff][0] == "hadir"


async def test_absence_reason_survives_a_restart(settings, sessionmaker):
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff], attendance={people.staff: "hadir"})
    from tests.trainings.support import DocumentCapturingRequest

    async with running_app(settings, DocumentCapturingRequest()) as (app, request):
        await app.process_update(
            callback_update(app, ASN_CHAT, f"latih:{training}:absen", message_id=77)
        )
        (prompt,) = request.sent()
        assert buttons(prompt) == [f"latih:{training}:lewati"]
        assert "/batal" in prompt["text"]
    assert await drafts(sessionmaker) == [(ASN_CHAT, "absence", "reason")]
    # Nothing recorded before the reason comes.
    assert (await answers(sessionmaker, training))[people.staff][0] == "hadir"

    async with running_app(settings, DocumentCapturingRequest()) as (app, request):
        request.clear()
        await app.process_update(message_update(app, ASN_CHAT, "Anak <sakit> & dirawat"))
        reply = request.sent()[0]
        assert ID("Thank you. Your answer is saved: not attending.") in reply["text"]
        assert "Anak &lt;sakit&gt; &amp; dirawat" in reply["text"]
        assert buttons(reply) == [f"latih:{training}:hadir", f"latih:{training}:absen"]
        (edit,) = request.sent("editMessageText")  # the card the button was on
        assert edit["message_id"] == 77
    assert (await answers(sessionmaker, training))[people.staff] == (
        "tidak_hadir",
        "Anak <sakit> & dirawat",
    )
    assert await drafts(sessionmaker) == []


async def test_too_long_reason_is_asked_again_then_skip_records_without_reason(
    captured, sessionmaker
):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:absen"))
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "x" * 301))
    (reply,) = request.sent()
    assert reply["text"] == ID(
        "That is {n} characters; please keep the reason to {max}.", n="301", max="300"
    )
    assert await drafts(sessionmaker) == [(ASN_CHAT, "absence", "reason")]
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:lewati"))
    assert (await answers(sessionmaker, training))[people.staff] == ("tidak_hadir", None)
    assert await drafts(sessionmaker) == []
    # The skip button is spent.
    request.clear()
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:lewati"))
    (alert,) = request.sent("answerCallbackQuery")
    assert alert["show_alert"] is True


async def test_batal_cancels_the_reason_and_keeps_the_old_answer(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff], attendance={people.staff: "hadir"})
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:absen"))
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "/batal"))
    (reply,) = request.sent()
    assert reply["text"] == ID("Cancelled. Your answer was not changed.")
    assert (await answers(sessionmaker, training))[people.staff][0] == "hadir"
    assert await drafts(sessionmaker) == []
    # Without a conversation, text goes to the fallback and /batal has nothing to cancel.
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "halo"))
    await app.process_update(message_update(app, ASN_CHAT, "/batal"))
    fallback, nothing = request.sent()
    assert fallback["text"] == ID(
        "Sorry, I did not understand that. Send /help to see what you can do."
    )
    assert nothing["text"] == ID("There is nothing to cancel.")


async def test_other_commands_pass_through_while_a_reason_is_awaited(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:absen"))
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "/help"))
    (help_reply,) = request.sent()
    assert "/pelatihan" in help_reply["text"] or help_reply["text"].startswith(
        ID("What you can do:")
    )
    await app.process_update(message_update(app, ASN_CHAT, "Dinas luar"))
    assert (await answers(sessionmaker, training))[people.staff] == ("tidak_hadir", "Dinas luar")


async def test_a_reason_for_a_training_moved_meanwhile_is_not_taken(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:absen"))
    async with sessionmaker() as session, session.begin():
        moved = await session.get(Training, training)
        moved.starts_at += dt.timedelta(days=1)
        moved.ends_at += dt.timedelta(days=1)
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "Sakit"))
    (reply,) = request.sent()
    assert ID("The time of this training has changed. Please answer again:") in reply["text"]
    assert buttons(reply) == [f"latih:{training}:hadir", f"latih:{training}:absen"]
    assert (await answers(sessionmaker, training))[people.staff][0] == "unknown"


async def test_a_reason_after_the_training_was_cancelled_is_refused(captured, sessionmaker):
    app, request = captured
    people = await add_people(sessionmaker)
    training = await add_training(sessionmaker, [people.staff])
    await app.process_update(callback_update(app, ASN_CHAT, f"latih:{training}:absen"))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Training)
            .where(Training.id == training)
            .values(cancelled_at=dt.datetime.now(dt.UTC))
        )
    request.clear()
    await app.process_update(message_update(app, ASN_CHAT, "Sakit"))
    (reply,) = request.sent()
    assert reply["text"] == ID(
        "This training can no longer be answered (it was cancelled or has ended). "
        "Send /pelatihan to see your trainings."
    )
    assert (await answers(sessionmaker, training))[people.staff][0] == "unknown"
    assert await drafts(sessionmaker) == []
