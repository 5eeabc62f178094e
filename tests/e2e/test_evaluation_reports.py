"""HR's evaluation recap and the employee's /kinerja over real HTTP through the emulator:
Unduh delivers an XLSX and a PNG that download and open; Ingatkan reaches the supervisor
once through the outbox; /kinerja sends the results and a chart.

The outbox sender runs inside the live bot; quiet hours are off in the live bot's settings.
"""

from __future__ import annotations

import asyncio
import io

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.evaluations import month_name
from bot.i18n import get_translator
from storage.exports.evaluations import evaluation_headers
from tests.e2e.conftest import LiveBot
from tests.evaluations.reports_support import (
    A1_CHAT,
    BOSS_A_CHAT,
    HR_CHAT,
    INJECTION,
    add_org,
    outbox,
)

pytestmark = pytest.mark.e2e

ID = get_translator("id")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def with_button(data: str):
    def matches(message: dict) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(b.get("callback_data") == data for row in rows for b in row)

    return matches


def of_kind(kind: str):
    return lambda m: m["kind"] == kind


def has_text(text: str):
    return lambda m: text in (m.get("plain_text") or "")


async def answers(client, chat_id: int, count: int, timeout: float = 10.0) -> list[dict]:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [i["answer"] for i in await client.callback_answers(chat_id) if i.get("answer")]
        if len(found) >= count:
            return found
        assert asyncio.get_running_loop().time() < deadline, "no answer in time"
        await asyncio.sleep(0.05)


async def test_hr_downloads_the_workbook_and_the_chart(live_bot: LiveBot, sessionmaker):
    org = await add_org(sessionmaker)
    client = live_bot.client
    await client.create_user(HR_CHAT, "Nurhayati")
    await client.send_text(HR_CHAT, f"/hr_rekap {org.locked_key}")
    download = f"rkp:dl:{org.locked}"
    head = await client.wait_for_bot_message(HR_CHAT, with_button(download))
    year, month = map(int, org.locked_key.split("-"))
    assert month_name(ID, year, month) in head["plain_text"]
    await client.wait_for_bot_message(HR_CHAT, with_button(f"rkp:ro:{org.locked}:{org.boss_a}"))

    await client.press_button(HR_CHAT, head["message_id"], download)
    document = await client.wait_for_bot_message(HR_CHAT, of_kind("document"), timeout=20)
    photo = await client.wait_for_bot_message(HR_CHAT, of_kind("photo"), timeout=20)
    name = ID("evaluations-{period}.xlsx", period=org.locked_key)
    assert document["document"]["file_name"] == name

    workbook = load_workbook(
        io.BytesIO(await client.download_file(document["document"]["file_id"]))
    )
    evaluations = workbook.worksheets[0]
    table = list(evaluations.iter_rows(values_only=True))
    assert list(table[0]) == evaluation_headers(ID)
    assert sorted(row[3] for row in table[1:]) == [
        "Andi Saputra",
        "Budi Santoso",
        "Cici Purnama",
        "Dedi Kurniawan",
        "Dra. Fitri <Yanti>",
        "Rina Marlina, S.E.",
    ]
    assert INJECTION in [row[-2] for row in table[1:]]
    assert {row[0] for row in table[1:]} == {org.locked_key}

    (size,) = photo["photo"]
    content = await client.download_file(size["file_id"])
    assert content.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(content))
    image.load()
    assert image.format == "PNG" and (image.width, image.height) == (size["width"], size["height"])
    assert 400 <= image.width <= 2000 and 200 <= image.height <= 2000


async def test_ingatkan_reaches_the_supervisor_once(live_bot: LiveBot, sessionmaker):
    org = await add_org(sessionmaker)
    client = live_bot.client
    await client.create_user(HR_CHAT, "Nurhayati")
    await client.create_user(BOSS_A_CHAT, "Yusuf")
    await client.send_text(HR_CHAT, "/hr_rekap")
    remind = f"rkp:nd:{org.open}:{org.boss_a}"
    listed = await client.wait_for_bot_message(HR_CHAT, with_button(remind))
    await client.press_button(HR_CHAT, listed["message_id"], remind)
    reminder = await client.wait_for_bot_message(BOSS_A_CHAT, has_text("/nilai"), timeout=15)
    assert "🔔" in reminder["plain_text"]
    await client.press_button(HR_CHAT, listed["message_id"], remind)
    first, second = await answers(client, HR_CHAT, 2)
    assert first["text"] == ID("Reminder queued for {name}.", name="Ir. Yusuf Datuak Rajo Mudo")
    assert second["text"] == ID(
        "{name} was already reminded today.", name="Ir. Yusuf Datuak Rajo Mudo"
    )
    assert second["show_alert"] is True
    deadline = asyncio.get_running_loop().time() + 10
    while (rows := await outbox(sessionmaker))[0].status != "sent":
        assert asyncio.get_running_loop().time() < deadline, rows[0].status
        await asyncio.sleep(0.05)
    assert len(rows) == 1
    assert len(await client.bot_messages(BOSS_A_CHAT)) == 1


async def test_kinerja_sends_the_results_and_a_chart(live_bot: LiveBot, sessionmaker):
    await add_org(sessionmaker)
    client = live_bot.client
    await client.create_user(A1_CHAT, "Rina")
    await client.send_text(A1_CHAT, "/kinerja")
    text = await client.wait_for_bot_message(A1_CHAT, of_kind("text"))
    assert "Pertahankan & tingkatkan <kinerja>." in text["plain_text"]
    photo = await client.wait_for_bot_message(A1_CHAT, of_kind("photo"), timeout=20)
    (size,) = photo["photo"]
    content = await client.download_file(size["file_id"])
    assert content.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(content)).format == "PNG"
