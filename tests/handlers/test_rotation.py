"""Layer 2: /hr_rotasi — the list, the unit filter, the XLSX, and who may use them."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.menus import Audience
from bot.mutations import MESSAGE_MAX
from bot.rotation import build_report
from handlers.access import refusal
from handlers.rotation import rotation_html
from storage.models import Employee, UnitFormation, utcnow
from storage.repositories.rotation import PostHolder
from tests.handlers.conftest import running_app
from tests.rotation.support import add_org, years_ago
from tests.support.telegram import TOKEN, callback_update, message_update
from tests.trainings.support import DocumentCapturingRequest

ID = get_translator("id")
HR_ONLY = refusal(Audience.HR_ADMIN, SimpleNamespace(account=SimpleNamespace(linked=True), t=ID))
STALE = ID("This button is no longer valid.")
HR_CHAT, ASN_CHAT, BOSS_CHAT = 7730001, 7730002, 7730003


def wib_today() -> dt.date:
    return utcnow().astimezone(ZoneInfo("Asia/Jakarta")).date()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, _env_file=None)


@pytest.fixture
async def captured(
    settings: Settings,
) -> AsyncIterator[tuple[Application, DocumentCapturingRequest]]:
    async with running_app(settings, DocumentCapturingRequest()) as (application, request):
        request.clear()
        yield application, request


async def org_with_people(sessionmaker):
    """The rotation organisation, HR, a linked ASN (Dewi) and her linked supervisor (Eko)."""
    org = await add_org(sessionmaker, wib_today(), hr_chat=HR_CHAT)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee)
            .where(Employee.id == org.dewi)
            .values(telegram_user_id=ASN_CHAT, supervisor_id=org.eko)
        )
        await session.execute(
            update(Employee).where(Employee.id == org.eko).values(telegram_user_id=BOSS_CHAT)
        )
    return org


async def say(app, request, text: str, user: int = HR_CHAT) -> list[dict]:
    request.clear()
    await app.process_update(message_update(app, user, text))
    return request.sent()


async def press(app, request, data: str, user: int = HR_CHAT) -> None:
    assert len(data.encode()) <= 64, data
    request.clear()
    await app.process_update(callback_update(app, user, data))


def alert(request) -> str | None:
    (answer,) = request.sent("answerCallbackQuery")
    return answer.get("text") if answer.get("show_alert") else None


def buttons(params: dict) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def workbook_rows(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content)).active
    return list(sheet.iter_rows(values_only=True))


# --------------------------------------------------------------------------- guards
async def test_an_asn_or_a_supervisor_cannot_use_hr_rotasi_nor_its_button(captured, sessionmaker):
    app, request = captured
    org = await org_with_people(sessionmaker)
    for user in (ASN_CHAT, BOSS_CHAT):
        for command in ("/hr_rotasi", "/hr_rotasi bappeda"):
            (reply,) = await say(app, request, command, user=user)
            assert reply["text"] == HR_ONLY
        for data in ("rot:dl", f"rot:dl:{org.bappeda}", "rot:xx"):
            await press(app, request, data, user=user)
            assert alert(request) == HR_ONLY, data
            assert request.sent("sendDocument") == [] and request.uploaded == []


# --------------------------------------------------------------------------- the list
async def test_hr_sees_who_is_due_with_box_and_open_posts(captured, sessionmaker):
    app, request = captured
    await org_with_people(sessionmaker)
    (reply,) = await say(app, request, "/hr_rotasi")
    text = reply["text"]
    assert text.index("Hadi") < text.index("Eko")  # longest first
    assert "Dewi" not in text and "Joko" not in text  # exactly 5 years; inactive
    assert "Formasi kosong: ANALIS KEBIJAKAN di Dinas Kesehatan (0 dari 4)" in text
    assert "Formasi kosong: Analis Kebijakan di Dinas Perhubungan (1 dari 3)" in text
    assert "kotak talenta 9 (kinerja Tinggi, potensi Tinggi)" in text
    assert "kotak talenta: belum cukup data" in text  # Hadi: two predicates
    assert "TMT jabatan belum diisi: <b>1</b>" in text  # Gita
    assert buttons(reply) == ["rot:dl"]

    await press(app, request, "rot:dl")
    assert request.sent("sendDocument") and len(request.uploaded) == 1
    name, content = request.uploaded[0]
    assert name == f"rotasi-{wib_today().isoformat()}.xlsx"
    header, *rows = workbook_rows(content)
    assert header[:3] == ("No.", "NIP", "Nama")
    assert [(r[0], r[2], r[3], r[6]) for r in rows] == [
        (1, "Hadi", "Dinas Perhubungan", 10),
        (2, "Eko", "Bappeda", 5),
    ]
    assert rows[1][5].date() == years_ago(wib_today(), 5, 1)


async def test_the_unit_filter_and_its_button(captured, sessionmaker):
    app, request = captured
    org = await org_with_people(sessionmaker)
    (reply,) = await say(app, request, "/hr_rotasi bappe")
    assert "Eko" in reply["text"] and "Hadi" not in reply["text"]
    assert buttons(reply) == [f"rot:dl:{org.bappeda}"]
    await press(app, request, f"rot:dl:{org.bappeda}")
    (_, content) = request.uploaded[0]
    assert [r[2] for r in workbook_rows(content)[1:]] == ["Eko"]

    await press(app, request, "rot:dl:999999")  # a unit that does not exist
    assert alert(request) == STALE and len(request.uploaded) == 1

    (reply,) = await say(app, request, "/hr_rotasi Dinas Pariwisata")
    assert reply["text"] == ID("No unit matches “{text}”.", text="Dinas Pariwisata")


async def test_without_formations_it_says_so_once(captured, sessionmaker):
    app, request = captured
    await org_with_people(sessionmaker)
    async with sessionmaker() as session, session.begin():
        from sqlalchemy import delete

        await session.execute(delete(UnitFormation))
    (reply,) = await say(app, request, "/hr_rotasi")
    notice = ID(
        "No formasi has been imported (a file with the columns Unit, Jabatan, Formasi), so no "
        "under-filled posts are suggested."
    )
    assert reply["text"].count(notice) == 1
    assert "Formasi kosong" not in reply["text"]


def test_a_long_list_stays_within_one_message():
    today = dt.date(2026, 3, 15)
    people = [
        PostHolder(
            n,
            f"{n:018d}",
            "Nama Sangat Panjang " * 5,
            1,
            "Unit " * 20,
            "Jabatan " * 15,
            years_ago(today, 6, n),
            None,
        )
        for n in range(200)
    ]
    text = rotation_html(build_report(people, {}, [], {}, today), ID)
    assert len(text) <= MESSAGE_MAX
    assert "…dan" in text or "…and" in text
