"""Formatted messages: entities a simulated user types, and entities the bot sends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import telegram
from telegram import MessageEntity

from bot.emulator import EmulatorControlError, RunningEmulator

from ._support import PNG_2X3

# "Halo 👋 Ani, lihat situs ini /cek": the emoji is two UTF-16 code units.
TEXT = "Halo 👋 Ani, lihat situs ini /cek"
BOLD = {"type": "bold", "offset": 0, "length": 4}
LINK = {"type": "text_link", "offset": 8, "length": 3, "url": "https://example.org/ani"}


async def _updates(bot: telegram.Bot) -> list[telegram.Update]:
    updates = list(await bot.get_updates(timeout=0))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


async def test_user_bold_and_link_reach_the_bot(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    sent = await emu.client.send_text(user, TEXT, entities=[LINK, BOLD])
    (update,) = await _updates(bot)
    message = update.message
    assert message.message_id == sent["message_id"]
    # Given entities sorted by offset, the detected /cek kept (it overlaps none of them).
    command = {"type": "bot_command", "offset": 29, "length": 4}
    assert TEXT.encode("utf-16-le")[2 * 29 :].decode("utf-16-le") == "/cek"
    assert [e.to_dict() for e in message.entities] == [BOLD, LINK, command]
    assert message.parse_entity(message.entities[1]) == "Ani"
    assert message.text_html == (
        '<b>Halo</b> 👋 <a href="https://example.org/ani">Ani</a>, lihat situs ini /cek'
    )
    stored = await emu.client.message(user, sent["message_id"])
    assert stored["entities"] == [BOLD, LINK, command]
    assert stored["plain_text"] == TEXT


async def test_given_entities_replace_overlapping_bot_commands(
    emu: RunningEmulator, user: int
) -> None:
    code = {"type": "code", "offset": 0, "length": 6}
    sent = await emu.client.send_text(user, "/start and /help", entities=[code])
    (update,) = await emu.client.updates()
    assert update["update_id"] == sent["update_id"]
    assert update["message"]["entities"] == [
        code,
        {"type": "bot_command", "offset": 11, "length": 5},
    ]
    # An empty list is "no formatting": only the bot commands, as without entities.
    await emu.client.send_text(user, "/start", entities=[])
    await emu.client.send_text(user, "tanpa format")
    *_, empty, plain = await emu.client.messages(user)
    assert empty["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert plain["entities"] == []
    assert "entities" not in (await emu.client.updates())[-1]["message"]


async def test_a_slash_inside_html_looking_text_is_no_command(
    emu: RunningEmulator, user: int
) -> None:
    await emu.client.send_text(user, "<b>x</b> & <script>alert(1)</script> /help")
    (message,) = await emu.client.messages(user)
    assert message["entities"] == [{"type": "bot_command", "offset": 37, "length": 5}]


@pytest.mark.parametrize(
    ("entity", "reason"),
    [
        ({"type": "bold", "offset": 3, "length": 10}, "exceeds the text length"),
        ({"type": "bold", "offset": 40, "length": 1}, "exceeds the text length"),
        ({"type": "sparkle", "offset": 0, "length": 1}, "unsupported type 'sparkle'"),
        ({"type": "text_link", "offset": 0, "length": 4}, 'text_link needs a non-empty "url"'),
        ({"type": "bold", "offset": -1, "length": 2}, "offset must be non-negative"),
        ({"type": "italic", "offset": 0, "length": 0}, "length must be positive"),
        ({"type": "bold", "offset": "0", "length": 2}, 'field "offset" must be an Integer'),
        ({"type": "text_mention", "offset": 0, "length": 2}, "text_mention needs a"),
        ("bold", "MessageEntity must be an Object"),
    ],
)
async def test_invalid_user_entities_are_refused(
    emu: RunningEmulator, user: int, entity: Any, reason: str
) -> None:
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.send_text(user, "Halo 👋", entities=[entity])
    assert exc.value.status == 400
    assert exc.value.error.startswith("Bad Request: can't parse entities: entity 0: ")
    assert reason in exc.value.error
    assert await emu.client.messages(user) == []
    assert await emu.client.updates() == []


async def test_entities_must_be_a_list(emu: RunningEmulator, user: int) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        r = await http.post(
            f"{emu.control_url}/messages",
            json={"user_id": user, "text": "Halo", "entities": {"type": "bold"}},
        )
    assert r.status_code == 400
    assert r.json()["error"] == (
        "Bad Request: can't parse entities: must be an Array of MessageEntity objects"
    )


async def test_user_caption_entities_on_photo_and_document(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    italic = {"type": "italic", "offset": 0, "length": 4}
    pre = {"type": "pre", "offset": 5, "length": 5, "language": "python"}
    photo = await emu.client.send_photo(
        user, PNG_2X3, caption="Foto KTP", caption_entities=[italic]
    )
    doc = await emu.client.send_document(
        user, "sk.pdf", b"%PDF", caption="SK 1 print", caption_entities=[pre]
    )
    photo_u, doc_u = await _updates(bot)
    assert photo_u.message.photo[-1].file_id == photo["file_id"]
    assert [e.to_dict() for e in photo_u.message.caption_entities] == [italic]
    assert photo_u.message.caption_html == "<i>Foto</i> KTP"
    assert doc_u.message.document.file_id == doc["file_id"]
    assert [e.to_dict() for e in doc_u.message.caption_entities] == [pre]
    stored = await emu.client.messages(user)
    assert [m["caption_entities"] for m in stored] == [[italic], [pre]]

    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.send_photo(
            user, PNG_2X3, caption="KTP", caption_entities=[{**italic, "length": 9}]
        )
    assert exc.value.status == 400
    assert "can't parse caption_entities: entity 0: " in exc.value.error
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.send_photo(user, PNG_2X3, caption_entities=[italic])
    assert exc.value.status == 400 and "there is no caption" in exc.value.error
    # Refused uploads store neither a message nor a file.
    assert len(await emu.client.messages(user)) == 2
    assert len(emu.state.files) == 2


async def test_bot_entities_and_resent_user_file_are_stored(
    bot: telegram.Bot, emu: RunningEmulator, user: int
) -> None:
    bold = MessageEntity(MessageEntity.BOLD, 0, 7)
    link = MessageEntity(MessageEntity.TEXT_LINK, 9, 5, url="https://example.org/sk")
    sent = await bot.send_message(user, "Selamat, unduh SK", entities=[bold, link])
    assert sent.text_html == '<b>Selamat</b>, <a href="https://example.org/sk">unduh</a> SK'
    view = await emu.client.message(user, sent.message_id)
    assert view["entities"] == [bold.to_dict(), link.to_dict()]

    # A bot may send again a file it received from a user, by its file_id.
    photo = await emu.client.send_photo(user, PNG_2X3)
    doc = await emu.client.send_document(user, "sk.pdf", b"%PDF-1.4", "application/pdf")
    italic = MessageEntity(MessageEntity.ITALIC, 0, 4)
    resent_photo = await bot.send_photo(
        user, photo["file_id"], caption="Foto Anda", caption_entities=[italic]
    )
    resent_doc = await bot.send_document(
        user, doc["file_id"], caption="SK Anda", caption_entities=[MessageEntity("bold", 0, 2)]
    )
    assert resent_photo.photo[-1].file_id == photo["file_id"]
    assert resent_photo.caption_html == "<i>Foto</i> Anda"
    assert resent_doc.document.file_id == doc["file_id"]
    assert resent_doc.document.file_name == "sk.pdf"
    photo_view = await emu.client.message(user, resent_photo.message_id)
    doc_view = await emu.client.message(user, resent_doc.message_id)
    assert photo_view["from_bot"] and photo_view["photo"][0]["file_id"] == photo["file_id"]
    assert photo_view["caption_entities"] == [italic.to_dict()]
    assert doc_view["caption_entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert await emu.client.download_file(doc_view["document"]["file_id"]) == b"%PDF-1.4"
