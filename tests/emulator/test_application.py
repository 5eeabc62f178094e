"""A real PTB ``Application`` polling the emulator end to end."""

from __future__ import annotations

import asyncio

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.emulator import RunningEmulator

from ._support import TOKEN


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Lanjut ▶", callback_data="next")]])
    payload = " ".join(context.args or [])
    await update.effective_message.reply_html(
        f"<b>Selamat datang</b>, {payload or 'ASN'}!", reply_markup=keyboard
    )


async def _next(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Oke")
    await query.edit_message_text(f"Langkah 2 (data={query.data})")


@pytest.mark.e2e
async def test_application_start_button_edit(emu: RunningEmulator, user: int) -> None:
    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CallbackQueryHandler(_next))
    errors: list[object] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        await emu.client.send_text(user, "/start nip_1987")
        reply = await emu.client.wait_for_bot_message(user, timeout=5)
        assert reply["plain_text"] == "Selamat datang, nip_1987!"
        assert reply["parse_mode"] == "HTML"
        assert reply["reply_to_message_id"] is None
        button = reply["reply_markup"]["inline_keyboard"][0][0]
        assert button == {"text": "Lanjut ▶", "callback_data": "next"}

        pressed = await emu.client.press_button(user, reply["message_id"], "next")
        edited = await emu.client.wait_for_bot_message(user, timeout=5)
        assert edited["message_id"] == reply["message_id"]
        assert edited["plain_text"] == "Langkah 2 (data=next)"
        assert edited["reply_markup"] is None and len(edited["edits"]) == 1

        for _ in range(50):
            answers = await emu.client.callback_answers(user)
            if answers and answers[0]["answered"]:
                break
            await asyncio.sleep(0.02)
        assert answers[0]["callback_query_id"] == pressed["callback_query_id"]
        assert answers[0]["answer"]["text"] == "Oke"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert errors == []
    # Every update was confirmed by the poller's offset.
    assert await emu.client.updates() == []
    methods = {c["method"] for c in await emu.client.calls()}
    assert {"getMe", "getUpdates", "sendMessage", "answerCallbackQuery"} <= methods
    assert "editMessageText" in methods
