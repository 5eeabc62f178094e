"""HR data upload in chat, over real HTTP through the emulator (getFile + file download)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.models import Employee, Upload
from storage.repositories import Account
from tests.e2e.conftest import LiveBot
from tests.storage.importing import EMPLOYEE_HEADERS, csv_bytes, employee, pns_nip, xlsx_bytes
from tests.support.factories import NIP_SUPERVISOR, add_unit_with_staff

pytestmark = pytest.mark.e2e

HR = 8880001
ASN = 8880002
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def add_people(sessionmaker) -> None:
    """The unit head is an HR admin (HR); the staff member is a plain ASN (ASN)."""
    await add_unit_with_staff(
        sessionmaker, staff_telegram_id=ASN, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )


async def count(sessionmaker, model) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def upload_status(sessionmaker) -> list[tuple[str, str | None]]:
    async with sessionmaker() as session:
        return [tuple(row) for row in (await session.execute(select(Upload.status, Upload.kind)))]


def new_people(n: int) -> list[list[str]]:
    return [employee(pns_nip(i), f"Pegawai Baru {i}", supervisor=NIP_SUPERVISOR) for i in range(n)]


async def test_csv_with_one_bad_row_reports_it_and_writes_nothing(live_bot: LiveBot, sessionmaker):
    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR, "Yusuf")
    good = new_people(2)
    content = csv_bytes(
        [EMPLOYEE_HEADERS, good[0], employee("1986<0926>", "Salah & Co"), good[1]], delimiter=";"
    )
    await client.send_document(HR, "pegawai.csv", content, "text/csv")
    reply = await client.wait_for_bot_message(HR)
    text = reply["plain_text"]
    assert text.startswith("Tidak ada data yang diimpor: ditemukan 1 masalah.")
    assert 'Baris 3, kolom NIP: NIP "1986<0926>" tidak valid' in text
    assert reply["parse_mode"] == "HTML"
    assert await count(sessionmaker, Employee) == 2
    assert await upload_status(sessionmaker) == [("rejected", "employees")]
    assert [c["method"] for c in await client.calls("getFile")] == ["getFile"]


async def test_valid_xlsx_is_imported(live_bot: LiveBot, sessionmaker):
    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR, "Yusuf")
    content = xlsx_bytes([EMPLOYEE_HEADERS, *new_people(3)], text_columns=(1, 7))
    await client.send_document(HR, "pegawai.xlsx", content, XLSX_MIME)
    reply = await client.wait_for_bot_message(HR)
    assert reply["plain_text"] == (
        "Impor pegawai berhasil: 3 baris (3 baru, 0 diperbarui, 0 tidak berubah)."
    )
    assert await count(sessionmaker, Employee) == 5
    assert await upload_status(sessionmaker) == [("imported", "employees")]


async def test_long_report_arrives_as_an_xlsx_document(live_bot: LiveBot, sessionmaker):
    from io import BytesIO

    from openpyxl import load_workbook

    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR, "Yusuf")
    rows = [employee(f"12{i}", f"Orang {i}") for i in range(35)]
    await client.send_document(HR, "rusak.csv", csv_bytes([EMPLOYEE_HEADERS, *rows]))
    summary = await client.wait_for_bot_message(HR, lambda m: m["kind"] == "text")
    assert summary["plain_text"].startswith("Tidak ada data yang diimpor: ditemukan 35 masalah.")
    attached = await client.wait_for_bot_message(HR, lambda m: m["kind"] == "document")
    id_ = get_translator("id")
    assert attached["document"]["file_name"] == id_("import-report-{name}.xlsx", name="rusak")
    sheet = load_workbook(BytesIO(await client.download_file(attached["document"]["file_id"])))
    values = [tuple(c.value for c in row) for row in sheet.active.iter_rows()]
    assert len(values) == 36 and values[1][:2] == (2, "NIP")
    assert await count(sessionmaker, Employee) == 2


async def test_unknown_headers_ask_for_the_kind_and_the_answer_edits_the_question(
    live_bot: LiveBot, sessionmaker
):
    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(HR, "Yusuf")
    content = csv_bytes([["NIP", "Nama", "Keterangan"], [pns_nip(1), "Andi", "-"]])
    await client.send_document(HR, "campur.csv", content)
    question = await client.wait_for_bot_message(HR)
    buttons = [
        b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert [b.rsplit(":", 1)[1] for b in buttons] == [
        "employees",
        "mutations",
        "trainings",
        "competencies",
        "formations",
        "batal",
    ]
    await client.press_button(HR, question["message_id"], buttons[1])
    edited = await client.wait_for_bot_message(
        HR, lambda m: m["message_id"] == question["message_id"] and "Kolom" in m["plain_text"]
    )
    assert "Kolom belum ada: Jenis Mutasi" in edited["plain_text"]
    assert not edited.get("reply_markup")
    assert await upload_status(sessionmaker) == [("rejected", "mutations")]
    # Pressing again (a stale button) changes nothing.
    await client.press_button(HR, question["message_id"], buttons[0], forge=True)
    for _ in range(100):
        answers = await client.callback_answers(HR)
        if answers and answers[-1]["answered"]:
            break
        await asyncio.sleep(0.05)
    assert answers[-1]["answer"]["text"] == "Tombol ini sudah tidak berlaku."
    assert await upload_status(sessionmaker) == [("rejected", "mutations")]


async def test_document_from_a_plain_asn_is_refused(live_bot: LiveBot, sessionmaker):
    await add_people(sessionmaker)
    client = live_bot.client
    await client.create_user(ASN, "Rina")
    await client.send_document(ASN, "pegawai.csv", csv_bytes([EMPLOYEE_HEADERS, *new_people(1)]))
    reply = await client.wait_for_bot_message(ASN)
    context = SimpleNamespace(account=Account(ASN, "id", employee_id=2), t=get_translator("id"))
    assert reply["plain_text"] == refusal(Audience.HR_ADMIN, context)  # type: ignore[arg-type]
    assert await client.calls("getFile") == []
    assert await count(sessionmaker, Upload) == 0
    assert await count(sessionmaker, Employee) == 2
