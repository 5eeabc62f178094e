"""The emulator over real HTTP, driven by PTB's own ``telegram.Bot``."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import warnings

import httpx
import pytest
import telegram
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.emulator import RunningEmulator

from ._backends import closed_port_url
from ._support import BOT_ID, BOT_USERNAME, PNG_2X3, TOKEN


def _seconds(err: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int type of retry_after
        value = err.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


async def test_get_me(bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID and me.is_bot and me.username == BOT_USERNAME
    assert me.first_name == "ASN Bukittinggi"
    assert me.can_join_groups is True and me.supports_inline_queries is False


async def test_invalid_token_and_unknown_method(emu: RunningEmulator) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.post(f"{emu.base_url}123:short/getMe")
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        r = await http.post(f"{emu.base_url}{TOKEN}/fooBar")
        assert r.status_code == 404
        assert r.json()["description"] == "Not Found: method not found"
        # Method names are case-insensitive; JSON bodies and query strings work too.
        r = await http.get(f"{emu.base_url}{TOKEN}/GETME")
        assert r.json()["result"]["id"] == BOT_ID
        await emu.client.create_user(5, "Q")
        r = await http.post(f"{emu.base_url}{TOKEN}/sendMessage", json={"chat_id": 5, "text": "j"})
        assert r.json()["result"]["text"] == "j"
        r = await http.get(f"{emu.base_url}{TOKEN}/sendMessage?chat_id=5&text=q")
        assert r.json()["result"]["message_id"] == 2
    with pytest.raises(telegram.error.InvalidToken):
        async with telegram.Bot("1:bad", base_url=emu.base_url) as b:
            await b.get_me()


async def test_send_edit_delete(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Ya", callback_data="yes")],
            [InlineKeyboardButton("Situs", url="https://example.org")],
        ]
    )
    sent = await bot.send_message(
        user, "<b>Halo</b> &amp; selamat", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.message_id == 1 and sent.text == "Halo & selamat"
    assert sent.entities[0].type == "bold" and sent.from_user.id == BOT_ID
    assert sent.reply_markup == keyboard and sent.chat.id == user

    edited = await bot.edit_message_text("Diperbarui", chat_id=user, message_id=sent.message_id)
    assert edited.text == "Diperbarui" and edited.edit_date is not None
    assert edited.reply_markup is None  # omitted reply_markup removes the keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Diperbarui", chat_id=user, message_id=sent.message_id)
    again = await bot.edit_message_reply_markup(user, sent.message_id, reply_markup=keyboard)
    assert again.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=user, message_id=42)

    assert await bot.delete_message(user, sent.message_id) is True
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(user, sent.message_id)

    (view,) = await emu.client.messages(user)
    assert view["deleted"] and view["original"]["text"] == "<b>Halo</b> &amp; selamat"
    assert view["original"]["parse_mode"] == "HTML" and view["text"] == "Diperbarui"
    assert view["plain_text"] == "Diperbarui" and view["parse_mode"] is None
    assert [e["method"] for e in view["edits"]] == ["editMessageText", "editMessageReplyMarkup"]
    assert await emu.client.last_bot_message(user) is None


async def test_reply_keyboard_and_reply_parameters(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("Bagikan nomor", request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        is_persistent=True,
    )
    first = await bot.send_message(user, "Kirim nomor Anda", reply_markup=markup)
    assert first.reply_markup is None  # only inline keyboards are echoed in Message
    chat = await emu.client.chat(user)
    assert chat["reply_keyboard"]["keyboard"][0][0]["request_contact"] is True
    reply = await bot.send_message(user, "balasan", reply_to_message_id=first.message_id)
    assert reply.reply_to_message.message_id == first.message_id
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(user, "x", reply_to_message_id=99)
    await bot.send_message(user, "hapus", reply_markup=telegram.ReplyKeyboardRemove())
    assert (await emu.client.chat(user))["reply_keyboard"] is None


async def test_validation_errors(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(user, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(user, "Gaji <foo>", parse_mode="HTML")
    # PTB re-capitalises descriptions; the call log keeps Telegram's exact wording.
    (failed,) = [c for c in await emu.client.calls("sendMessage") if "<foo>" in c["params"]["text"]]
    assert failed["description"] == (
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 5'
    )
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "hi")
    bad = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(user, "x", reply_markup=bad)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fault_429_retry_after(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    await emu.client.add_fault("429", retry_after=17, count=1)
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(user, "hi")
    assert _seconds(exc.value) == 17
    await bot.send_message(user, "now ok")
    (log,) = [c for c in await emu.client.calls("sendMessage") if c["fault"]]
    assert log["status"] == 429 and not log["ok"]


async def test_fault_403_and_blocked_user(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    await emu.client.add_fault("403", chat_id=user, count=1)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(user, "hi")
    await bot.send_message(user, "ok again")
    await emu.client.block_user(user)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(user, "hi")
    assert [m["plain_text"] for m in await emu.client.bot_messages(user)] == ["ok again"]


async def test_fault_500_and_network(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    await emu.client.add_fault("500", count=1)
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(user, "a")
    await emu.client.add_fault("network", methods=["sendMessage"], count=1)
    with pytest.raises(NetworkError):
        await bot.send_message(user, "b")
    assert await emu.client.bot_messages(user) == []
    await bot.send_message(user, "c")
    assert [m["plain_text"] for m in await emu.client.bot_messages(user)] == ["c"]


async def test_fault_timeout_is_processed_but_answer_is_late(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    await emu.client.add_fault("timeout", delay=3.0, count=1)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(user, "uncertain", read_timeout=0.3)
    assert time.monotonic() - started < 2
    # The message was delivered even though the bot never got the answer.
    assert [m["plain_text"] for m in await emu.client.bot_messages(user)] == ["uncertain"]


async def test_fault_slow(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    await emu.client.add_fault("slow", delay=0.3, count=1)
    started = time.monotonic()
    msg = await bot.send_message(user, "lambat")
    assert time.monotonic() - started >= 0.3
    assert msg.text == "lambat"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    await emu.client.set_rate_limit(per_chat_per_second=2)
    await bot.send_message(user, "1")
    await bot.send_message(user, "2")
    with pytest.raises(RetryAfter) as exc:
        await bot.send_message(user, "3")
    assert _seconds(exc.value) >= 1
    await emu.client.set_rate_limit(None, None)
    await bot.send_message(user, "3")


async def test_send_document_and_photo_then_download(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    payload = b"nip;nama\n1987;Ani\n" * 50
    msg = await bot.send_document(
        user, payload, filename="rekap.csv", caption="<i>Rekap</i>", parse_mode="HTML"
    )
    doc = msg.document
    assert doc.file_name == "rekap.csv" and doc.file_size == len(payload)
    assert msg.caption == "Rekap" and msg.caption_entities[0].type == "italic"
    tg_file = await bot.get_file(doc.file_id)
    assert tg_file.file_size == len(payload)
    assert bytes(await tg_file.download_as_bytearray()) == payload

    photo_msg = await bot.send_photo(user, PNG_2X3)
    largest = photo_msg.photo[-1]
    assert (largest.width, largest.height) == (2, 3)
    data = await (await bot.get_file(largest.file_id)).download_as_bytearray()
    assert bytes(data) == PNG_2X3

    # Re-sending by file_id does not upload again.
    resent = await bot.send_document(user, doc.file_id)
    assert resent.document.file_unique_id == doc.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(user, "nope")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(user, b"x", filename="a.txt", caption="c" * 1025)

    # A file uploaded by the user is downloadable by the bot.
    sent = await emu.client.send_document(user, "sk.pdf", b"%PDF-1.4 test", "application/pdf")
    user_file = await bot.get_file(sent["file_id"])
    assert bytes(await user_file.download_as_bytearray()) == b"%PDF-1.4 test"


async def test_commands_with_scope_and_language(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    scope = BotCommandScopeChat(user)
    await bot.set_my_commands([BotCommand("start", "Mulai")])
    await bot.set_my_commands(
        [BotCommand("status", "Status usulan"), BotCommand("batal", "Batalkan")],
        scope=scope,
        language_code="id",
    )
    got = await bot.get_my_commands(scope=scope, language_code="id")
    assert [c.command for c in got] == ["status", "batal"]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.get_my_commands(scope=scope) == ()
    stored = await emu.client.commands(scope={"type": "chat", "chat_id": user})
    assert stored == [
        {
            "scope": {"type": "chat", "chat_id": user},
            "language_code": "id",
            "commands": [
                {"command": "status", "description": "Status usulan"},
                {"command": "batal", "description": "Batalkan"},
            ],
        }
    ]
    assert [c["command"] for c in (await emu.client.chat(user))["commands"]] == ["status", "batal"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Status", "x")])
    await bot.delete_my_commands(scope=scope, language_code="id")
    assert await bot.get_my_commands(scope=scope, language_code="id") == ()


async def test_get_updates_long_poll_and_offset(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    assert await bot.get_updates(timeout=0) == ()
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    sent = await emu.client.send_text(user, "/start ref_abc")
    (update,) = await poll
    assert time.monotonic() - started < 2
    assert update.update_id == sent["update_id"]
    assert update.message.text == "/start ref_abc" and update.message.from_user.id == user
    assert update.message.entities[0].type == "bot_command"
    # Not confirmed yet: delivered again.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update.update_id]
    # Confirmed by offset: gone.
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert await emu.client.updates() == []


async def test_webhook_conflict(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    # The emulator pushes to the webhook: send it to a closed local port, not example.org.
    await emu.client.set_webhook_backends([closed_port_url()])
    await emu.client.send_text(user, "hi")
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret") is True
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook" and info.pending_update_count == 1
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
        await bot.set_webhook("http://example.org/hook")
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == ()


async def test_call_log(bot: telegram.Bot, emu: RunningEmulator, user: int) -> None:
    await emu.client.clear_calls()
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    await bot.send_message(user, "x", reply_markup=markup)
    with pytest.raises(BadRequest):
        await bot.send_message(user, "")
    calls = await emu.client.calls("sendmessage")
    assert [c["status"] for c in calls] == [200, 400]
    assert calls[0]["params"]["reply_markup"] == markup.to_dict()
    assert calls[0]["params"]["chat_id"] == str(user)  # PTB sends form fields
    assert calls[1]["description"] == "Bad Request: message text is empty"


async def test_concurrent_get_updates_conflict(bot: telegram.Bot, emu: RunningEmulator) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
        await first
