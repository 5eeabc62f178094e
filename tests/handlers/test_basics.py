"""Layer 2: the real handlers through Application.process_update, requests captured."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Employee, TelegramUser
from tests.support.factories import add_unit_with_staff
from tests.support.telegram import callback_update, message_update

STRANGER = 5550001
STAFF = 5550002


async def test_default_menus_published_in_both_languages(captured):
    _, request = captured
    menus = {call.get("language_code"): call for call in request.sent("setMyCommands")}
    assert set(menus) == {None, "en"}
    assert [c["command"] for c in menus[None]["commands"]] == ["start", "help", "bahasa"]
    assert menus[None]["commands"][2]["description"].startswith("Pilih bahasa")
    assert menus["en"]["commands"][2]["description"].startswith("Choose the language")


async def test_start_from_unknown_user_greets_in_indonesian(captured, sessionmaker):
    app, request = captured
    await app.process_update(message_update(app, STRANGER, "/start", language_code="en"))
    (reply,) = request.sent()
    assert reply["chat_id"] == STRANGER
    assert reply["parse_mode"] == "HTML"
    assert "Selamat datang" in reply["text"]
    assert "Bagikan nomor HP" in reply["text"]
    button = reply["reply_markup"]["keyboard"][0][0]
    assert button["request_contact"] is True
    async with sessionmaker() as session:
        user = await session.get(TelegramUser, STRANGER)
    assert user is not None and user.first_name == "Rina"


async def test_start_from_linked_employee_greets_by_name_with_escaped_html(captured, sessionmaker):
    app, request = captured
    await add_unit_with_staff(sessionmaker, staff_name="Rina <b>&", staff_telegram_id=STAFF)
    await app.process_update(message_update(app, STAFF, "/start"))
    (reply,) = request.sent()
    assert "Rina &lt;b&gt;&amp;" in reply["text"]
    assert reply["reply_markup"] == {"remove_keyboard": True}
    assert "Analis Transportasi, Dinas Perhubungan" in reply["text"]
    (menu,) = [c for c in request.sent("setMyCommands") if c["scope"]["type"] == "chat"]
    assert menu["scope"]["chat_id"] == STAFF
    assert [c["command"] for c in menu["commands"]] == [
        "start",
        "help",
        "bahasa",
        "status",
        "kinerja",
        "saya",
        "pelatihan",
    ]


async def test_language_choice_is_stored_and_followed(captured, sessionmaker):
    app, request = captured
    await add_unit_with_staff(sessionmaker, staff_telegram_id=STAFF)
    await app.process_update(message_update(app, STAFF, "/bahasa"))
    (question,) = request.sent()
    buttons = [row[0]["callback_data"] for row in question["reply_markup"]["inline_keyboard"]]
    assert buttons == ["bahasa:id", "bahasa:en"]
    request.clear()

    await app.process_update(callback_update(app, STAFF, "bahasa:en"))
    (edit,) = request.sent("editMessageText")
    assert edit["text"] == "Language set to English."
    assert request.sent("answerCallbackQuery")
    async with sessionmaker() as session:
        employee = await session.scalar(select(Employee).where(Employee.telegram_user_id == STAFF))
    assert employee is not None and employee.language == "en"
    request.clear()

    await app.process_update(message_update(app, STAFF, "/help"))
    (reply,) = request.sent()
    assert reply["text"].startswith("What you can do:")


async def test_unlinked_user_language_is_kept_too(captured, sessionmaker):
    app, request = captured
    await app.process_update(message_update(app, STRANGER, "/start"))
    await app.process_update(callback_update(app, STRANGER, "bahasa:en"))
    request.clear()
    await app.process_update(message_update(app, STRANGER, "/start"))
    assert "Share my phone number" in request.sent()[0]["text"]


async def test_forged_language_button_changes_nothing(captured, sessionmaker):
    app, request = captured
    await app.process_update(message_update(app, STRANGER, "/start"))
    request.clear()
    await app.process_update(callback_update(app, STRANGER, "bahasa:xx"))
    (answer,) = request.sent("answerCallbackQuery")
    assert answer["show_alert"] is True
    assert not request.sent("editMessageText")
    async with sessionmaker() as session:
        user = await session.get(TelegramUser, STRANGER)
    assert user is not None and user.language is None


async def test_unknown_command_and_stale_button_get_polite_answers(captured):
    app, request = captured
    await app.process_update(message_update(app, STRANGER, "/tidakada"))
    assert "perintah itu tidak dikenal" in request.sent()[0]["text"]
    await app.process_update(callback_update(app, STRANGER, "something:old"))
    (answer,) = request.sent("answerCallbackQuery")
    assert answer["text"] == "Tombol ini sudah tidak berlaku."


async def test_plain_text_points_to_help(captured):
    app, request = captured
    await app.process_update(message_update(app, STRANGER, "halo <b>"))
    assert "/help" in request.sent()[0]["text"]
