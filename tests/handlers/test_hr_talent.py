"""Layer 2: /hr_talenta — the map (counts, PNG), the lists per box, Unduh, and who may use it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from PIL import Image
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.menus import Audience
from bot.talent import BOX_NAMES
from handlers.access import refusal
from tests.evaluations.reports_support import MediaCapturingRequest
from tests.handlers.conftest import running_app
from tests.support.telegram import TOKEN, callback_update, message_update
from tests.talent.support import A1_CHAT, BOSS_A_CHAT, HR_CHAT, add_talent_org

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
    request.uploaded.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def press(app, request, data: str, user: int = HR_CHAT) -> list[dict]:
    assert len(data.encode()) <= 64, data
    request.clear()
    request.uploaded.clear()
    await app.process_update(callback_update(app, user, data))
    return request.sent()


def alert(request) -> str | None:
    (found,) = request.sent("answerCallbackQuery")
    return found.get("text") if found.get("show_alert") else None


def buttons(params: dict | None) -> list[str]:
    keyboard = (params or {}).get("reply_markup") or {}
    if not isinstance(keyboard, dict):
        keyboard = keyboard.to_dict()
    return [b["callback_data"] for row in keyboard.get("inline_keyboard", []) for b in row]


def count_line(box: int, count: int) -> str:
    return ID("{box}. {name}: {count}", box=box, name=ID(BOX_NAMES[box]), count=str(count))


def photos(request) -> list[bytes]:
    return [content for method, _, content in request.uploaded if method == "sendPhoto"]


def documents(request) -> list[bytes]:
    return [content for method, _, content in request.uploaded if method == "sendDocument"]


# --------------------------------------------------------------------------- guards
async def test_an_asn_or_a_supervisor_cannot_open_the_talent_map(captured, sessionmaker):
    app, request = captured
    org = await add_talent_org(sessionmaker)
    for user in (A1_CHAT, BOSS_A_CHAT):  # an ASN, and a supervisor who is not HR
        for command in ("/hr_talenta", "/hr_talenta perhub"):
            (reply,) = await say(app, request, command, user=user)
            assert reply["text"] == HR_ONLY
        for data in ("tal:b:9:0", f"tal:b:5:{org.dishub}", "tal:dl:0", f"tal:m:{org.dishub}"):
            assert await press(app, request, data, user=user) == [], data
            assert alert(request) == HR_ONLY, data
        assert request.uploaded == []


async def test_forged_or_stale_buttons_are_refused(captured, sessionmaker):
    app, request = captured
    await add_talent_org(sessionmaker)
    for data in ("tal:b:12:0", "tal:b:9:999999", "tal:dl:999999", "tal:m:999999", "tal:zz:1",
                 "tal:b:9", "tal:b:x:0"):  # fmt: skip
        assert await press(app, request, data) == [], data
        assert alert(request) == STALE, data
    assert request.uploaded == []


# --------------------------------------------------------------------------- the map
async def test_the_map_of_all_units(captured, sessionmaker):
    app, request = captured
    await add_talent_org(sessionmaker)
    (head,) = await say(app, request, "/hr_talenta")
    text = head["text"]
    for box, count in {9: 2, 5: 1, 4: 1, 1: 1, 8: 0, 2: 0}.items():
        assert count_line(box, count) in text, box
    assert ID("Potential not yet assessed: {count}", count="2") in text
    assert ID("Not enough data (fewer than 3 months rated): {count}", count="3") in text
    assert ID("Active employees: {count}", count="10") in text
    assert buttons(head) == [
        "tal:b:9:0",
        "tal:b:5:0",
        "tal:b:4:0",
        "tal:b:1:0",
        "tal:b:10:0",
        "tal:b:11:0",
        "tal:dl:0",
    ]
    (png,) = photos(request)
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert Image.open(io.BytesIO(png)).format == "PNG"


async def test_a_unit_by_part_of_its_name(captured, sessionmaker):
    app, request = captured
    org = await add_talent_org(sessionmaker)
    (head,) = await say(app, request, "/hr_talenta perhub")
    assert "Dinas Perhubungan" in head["text"]
    assert ID("Active employees: {count}", count="5") in head["text"]
    assert count_line(9, 1) in head["text"]
    assert f"tal:dl:{org.dishub}" in buttons(head)
    assert len(photos(request)) == 1

    (choice,) = await say(app, request, "/hr_talenta b")  # three units contain "b"
    assert ID("Several units match “{text}”. Choose one:", text="b") in choice["text"]
    assert len(buttons(choice)) == 3 and f"tal:m:{org.bappeda}" in buttons(choice)
    assert photos(request) == []
    (head,) = await press(app, request, f"tal:m:{org.bappeda}")
    assert ID("Active employees: {count}", count="4") in head["text"]
    assert len(photos(request)) == 1

    (none,) = await say(app, request, "/hr_talenta xyz")
    assert none["text"] == ID("No unit name contains “{text}”.", text="xyz")


async def test_a_box_lists_its_people_with_their_card(captured, sessionmaker):
    app, request = captured
    await add_talent_org(sessionmaker)
    (listed,) = await press(app, request, "tal:b:5:0")
    text = listed["text"]
    assert "Rina Marlina" in text and "Ir. Yusuf" not in text
    assert "Dinas Perhubungan" in text and "Jabatan a1" in text
    assert ID.ngettext("{n} full year in post", "{n} full years in post", 3) in text
    assert ID("eligible for transfer") in text
    assert ID("Good") in text
    assert "Pelatihan Kepemimpinan" in text and "Pelatihan Arsip" not in text

    (listed,) = await press(app, request, "tal:b:10:0")  # no potential
    assert "Dra. Fitri &lt;Yanti&gt;" in listed["text"]  # escaped
    assert ID("post start date (TMT jabatan) not filled in") in listed["text"]
    (listed,) = await press(app, request, "tal:b:7:0")  # empty now
    assert ID("Nobody is in this group any more.") in listed["text"]


async def test_download_is_an_xlsx_of_everyone(captured, sessionmaker):
    app, request = captured
    await add_talent_org(sessionmaker)
    await press(app, request, "tal:dl:0")
    (content,) = documents(request)
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert len(rows) == 11  # header + 10 active employees
    assert sorted(r[0] for r in rows[1:] if r[0]) == [1, 4, 5, 9, 9]
