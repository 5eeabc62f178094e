"""Layer 2: HR data upload in chat (/hr_impor, documents, kind buttons), requests captured.

Downloads are served by the request object too: ``getFile`` answers with a ``File`` and the
file URL returns the bytes the test registered, as Telegram's file server would.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from telegram.ext import Application

from bot.config import Settings
from bot.i18n import get_translator
from bot.menus import Audience
from handlers.access import refusal
from storage.importers import MAX_FILE_BYTES, ImportKind, expected_header_line
from storage.models import AuditLog, Employee, Upload
from storage.repositories import Account
from storage.repositories.uploads import UploadRepository
from tests.handlers.conftest import running_app
from tests.storage.importing import (
    EMPLOYEE_HEADERS,
    csv_bytes,
    employee,
    pns_nip,
    xlsx_bytes,
)
from tests.support.factories import NIP_SUPERVISOR, add_unit_with_staff
from tests.support.telegram import (
    Call,
    FileServingRequest,
    callback_update,
    document_update,
    message_update,
)

HR = 5560001
HR2 = 5560002
ASN = 5560003
STRANGER = 5560004

ID = get_translator("id")


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Application, FileServingRequest]]:
    async with running_app(settings, FileServingRequest()) as (application, request):
        request.clear()
        yield application, request


async def send_file(
    app: Application,
    request: FileServingRequest,
    user_id: int,
    content: bytes,
    file_name: str = "pegawai.csv",
    mime_type: str = "text/csv",
) -> None:
    file_id = request.add_file(content)
    await app.process_update(
        document_update(app, user_id, file_id, file_name, len(content), mime_type)
    )


async def add_people(sessionmaker) -> None:
    """The unit head is an HR admin (HR); the staff member is a plain ASN (ASN)."""
    await add_unit_with_staff(
        sessionmaker, staff_telegram_id=ASN, supervisor_telegram_id=HR, supervisor_is_hr_admin=True
    )


async def add_second_hr(sessionmaker) -> None:
    async with sessionmaker() as session, session.begin():
        unit_id = await session.scalar(
            select(Employee.unit_id).where(Employee.nip == NIP_SUPERVISOR)
        )
        session.add(
            Employee(
                nip=pns_nip(90),
                name="Dewi Kartika",
                position="Analis SDM Aparatur",
                unit_id=unit_id,
                role="hr_admin",
                telegram_user_id=HR2,
            )
        )


async def count(sessionmaker, model) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def uploads_of(sessionmaker) -> list[Upload]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Upload).order_by(Upload.id))).all())


def new_people(n: int = 2) -> list[list[str]]:
    return [employee(pns_nip(i), f"Pegawai Baru {i}", supervisor=NIP_SUPERVISOR) for i in range(n)]


def employees_csv(*rows: list[str]) -> bytes:
    return csv_bytes([EMPLOYEE_HEADERS, *rows])


def downloads(request: FileServingRequest) -> list[Call]:
    return [call for call in request.calls if call.method in {"getFile", "download"}]


# --------------------------------------------------------------------------- /hr_impor
async def test_hr_impor_explains_with_the_three_header_lines(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    await app.process_update(message_update(app, HR, "/hr_impor"))
    (reply,) = request.sent()
    assert reply["parse_mode"] == "HTML"
    for kind in ImportKind:
        assert expected_header_line(kind) in reply["text"]
    assert "20" in reply["text"]


@pytest.mark.parametrize("user", [ASN, STRANGER])
async def test_hr_impor_is_refused_to_others(served, sessionmaker, user):
    app, request = served
    await add_people(sessionmaker)
    await app.process_update(message_update(app, user, "/hr_impor"))
    (reply,) = request.sent()
    assert "NIP, Nama" not in reply["text"]


# --------------------------------------------------------------------------- documents
@pytest.mark.parametrize("user", [ASN, STRANGER])
async def test_document_from_someone_else_is_refused_without_download(served, sessionmaker, user):
    app, request = served
    await add_people(sessionmaker)
    await send_file(app, request, user, employees_csv(*new_people()))
    (reply,) = request.sent()
    assert reply["text"] == expected_refusal(user)
    assert not downloads(request)
    assert await count(sessionmaker, Upload) == 0
    assert await count(sessionmaker, Employee) == 2


def expected_refusal(user: int) -> str:
    """What ``handlers.access`` says to a plain ASN or to someone not linked, in Indonesian."""
    account = Account(user, "id", employee_id=2) if user == ASN else None
    return refusal(Audience.HR_ADMIN, SimpleNamespace(account=account, t=ID))  # type: ignore[arg-type]


async def test_valid_employees_csv_is_imported_with_counts(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    await send_file(app, request, HR, employees_csv(*new_people(3)))
    (reply,) = request.sent()
    assert reply["text"] == (
        "Impor pegawai berhasil: 3 baris (3 baru, 0 diperbarui, 0 tidak berubah)."
    )
    assert reply["parse_mode"] == "HTML"
    assert [call.method for call in downloads(request)] == ["getFile", "download"]
    assert any(c["action"] == "typing" for c in request.sent("sendChatAction"))
    assert await count(sessionmaker, Employee) == 5
    (upload,) = await uploads_of(sessionmaker)
    assert (upload.status, upload.kind, upload.telegram_user_id) == ("imported", "employees", HR)
    assert upload.finished_at is not None and upload.file_name == "pegawai.csv"
    assert upload.result == {
        "kind": "employees",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    async with sessionmaker() as session:
        audit = await session.scalar(select(AuditLog).where(AuditLog.action == "import"))
        hr_id = await session.scalar(select(Employee.id).where(Employee.nip == NIP_SUPERVISOR))
    assert audit is not None and audit.actor_id == hr_id and audit.actor_label == "telegram"


async def test_big_numbers_follow_the_readers_locale(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    nips = [f"198801{1 + i // 999:02d}2012011{i % 999 + 1:03d}" for i in range(1200)]
    rows = [employee(nip, f"Pegawai {i}") for i, nip in enumerate(nips)]
    await send_file(app, request, HR, employees_csv(*rows))
    (reply,) = request.sent()
    assert reply["text"].startswith("Impor pegawai berhasil: 1.200 baris (1.200 baru,")


async def test_one_bad_row_writes_nothing_and_names_row_column_and_reason(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    good = new_people(2)
    bad = employee("12345<b>", "Nama <i>Salah</i> & Co")
    await send_file(app, request, HR, employees_csv(good[0], bad, good[1]))
    (reply,) = request.sent()
    text = reply["text"]
    assert text.startswith("Tidak ada data yang diimpor: ditemukan 1 masalah.")
    assert 'Baris 3, kolom NIP: NIP "12345&lt;b&gt;" tidak valid' in text
    assert "<b>" not in text
    assert await count(sessionmaker, Employee) == 2
    (upload,) = await uploads_of(sessionmaker)
    assert upload.status == "rejected"
    assert upload.result == {"kind": "employees", "rows": 3, "issues": 1}
    assert not request.sent("sendDocument")


async def test_unreadable_file_is_rejected_with_the_reason(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    await send_file(app, request, HR, b"%PDF-1.7 ...", "surat <1>.pdf", "application/pdf")
    (reply,) = request.sent()
    assert "surat &lt;1&gt;.pdf" in reply["text"]
    assert "PDF" in reply["text"]
    (upload,) = await uploads_of(sessionmaker)
    assert upload.status == "rejected" and upload.kind is None


async def test_file_telegram_cannot_give_is_reported(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    await app.process_update(document_update(app, HR, "BQAC-gone", "pegawai.csv", 100))
    (reply,) = request.sent()
    assert reply["text"] == ID(
        "Telegram could not give me the file {file}. Please send it again.",
        file="<b>pegawai.csv</b>",
    )
    (upload,) = await uploads_of(sessionmaker)
    assert upload.status == "rejected" and upload.result == {
        "issues": 0,
        "reason": "download failed",
    }


async def test_over_size_file_is_refused_without_download(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    update_ = document_update(app, HR, "BQAC-huge", "besar.xlsx", MAX_FILE_BYTES + 1)
    await app.process_update(update_)
    (reply,) = request.sent()
    assert "Berkas terlalu besar" in reply["text"]
    assert "20" in reply["text"]
    assert not downloads(request)
    assert await count(sessionmaker, Upload) == 0


async def test_long_report_comes_as_an_xlsx_file(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    bad_rows = [employee(f"99{i}", '=HYPERLINK("x")') for i in range(40)]
    await send_file(app, request, HR, employees_csv(*bad_rows), "data pegawai.csv")
    (summary,) = request.sent()
    assert summary["text"].startswith("Tidak ada data yang diimpor: ditemukan 40 masalah.")
    assert len(summary["text"]) <= 4096
    assert "Baris 2, kolom NIP" in summary["text"]
    assert "Baris 41" not in summary["text"]
    (sent,) = request.sent("sendDocument")
    assert sent["chat_id"] == HR
    assert any(c["action"] == "upload_document" for c in request.sent("sendChatAction"))
    ((name, content),) = request.uploaded
    assert name == ID("import-report-{name}.xlsx", name="data-pegawai")
    sheet = load_workbook(io.BytesIO(content)).active
    rows = [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
    assert rows[0] == (ID("Row"), ID("Column"), ID("Problem"))
    assert len(rows) == 41
    assert [row[0] for row in rows[1:]] == list(range(2, 42))
    assert all(row[1] == "NIP" for row in rows[1:])
    assert 'NIP "990" tidak valid' in rows[1][2]
    assert await count(sessionmaker, Employee) == 2


async def test_valid_xlsx_is_imported(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    content = xlsx_bytes([EMPLOYEE_HEADERS, *new_people(2)], text_columns=(1, 7))
    await send_file(
        app,
        request,
        HR,
        content,
        "pegawai.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    (reply,) = request.sent()
    assert reply["text"].startswith("Impor pegawai berhasil: 2 baris (2 baru,")
    assert await count(sessionmaker, Employee) == 4


# --------------------------------------------------------------------------- kind buttons
UNKNOWN_HEADERS = csv_bytes([["NIP", "Nama", "Keterangan"], [pns_nip(1), "Andi", "x"]])


async def ask_kind(app, request, sessionmaker) -> tuple[int, int]:
    """Send a file whose headers match no kind; returns (upload id, question message id)."""
    await send_file(app, request, HR, UNKNOWN_HEADERS, "campur.csv")
    (question,) = request.sent()
    (upload,) = await uploads_of(sessionmaker)
    keyboard = question["reply_markup"]["inline_keyboard"]
    data = [button["callback_data"] for row in keyboard for button in row]
    assert data == [
        f"impor:{upload.id}:employees",
        f"impor:{upload.id}:mutations",
        f"impor:{upload.id}:trainings",
        f"impor:{upload.id}:competencies",
        f"impor:{upload.id}:formations",
        f"impor:{upload.id}:batal",
    ]
    assert all(len(d.encode()) <= 64 for d in data)
    assert "campur.csv" in question["text"]
    assert (upload.status, upload.kind) == ("pending", None)
    request.clear()
    return upload.id, 777


async def test_undetectable_headers_ask_and_the_chosen_kind_is_imported(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    upload_id, message_id = await ask_kind(app, request, sessionmaker)
    await app.process_update(callback_update(app, HR, f"impor:{upload_id}:employees", message_id))
    assert request.sent("answerCallbackQuery")
    edits = request.sent("editMessageText")
    assert all(edit["message_id"] == message_id for edit in edits)
    assert not request.sent("sendMessage")
    final = edits[-1]["text"]
    # The importer ran as employees: it says which employee columns are missing.
    assert (
        "campur.csv" in final and "Kolom belum ada: Jenis (PNS/PPPK), Jabatan, Unit Kerja" in final
    )
    assert [call.method for call in downloads(request)] == ["getFile", "download"]
    (upload,) = await uploads_of(sessionmaker)
    assert (upload.status, upload.kind) == ("rejected", "employees")
    assert upload.finished_at is not None
    assert await count(sessionmaker, Employee) == 2


async def test_chosen_kind_imports_a_valid_file(served, sessionmaker):
    """A pending upload of a valid file (e.g. a kind asked earlier) imports on the button."""
    app, request = served
    await add_people(sessionmaker)
    content = employees_csv(*new_people(2))
    file_id = request.add_file(content)
    async with sessionmaker() as session, session.begin():
        hr_id = await session.scalar(select(Employee.id).where(Employee.nip == NIP_SUPERVISOR))
        upload = await UploadRepository(session).create(
            telegram_user_id=HR,
            employee_id=hr_id,
            file_id=file_id,
            file_name="pegawai.csv",
            file_size=len(content),
        )
    await app.process_update(callback_update(app, HR, f"impor:{upload.id}:employees", 778))
    final = request.sent("editMessageText")[-1]
    assert (
        final["text"] == "Impor pegawai berhasil: 2 baris (2 baru, 0 diperbarui, 0 tidak berubah)."
    )
    assert await count(sessionmaker, Employee) == 4
    (stored,) = await uploads_of(sessionmaker)
    assert (stored.status, stored.kind, stored.result["created"]) == ("imported", "employees", 2)


async def test_cancel_button_drops_the_upload(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    upload_id, message_id = await ask_kind(app, request, sessionmaker)
    await app.process_update(callback_update(app, HR, f"impor:{upload_id}:batal", message_id))
    (edit,) = request.sent("editMessageText")
    assert "campur.csv" in edit["text"]
    assert not downloads(request)
    (upload,) = await uploads_of(sessionmaker)
    assert upload.status == "cancelled" and upload.finished_at is not None


async def _alert(request: FileServingRequest) -> str:
    (answer,) = request.sent("answerCallbackQuery")
    assert answer["show_alert"] is True
    return answer["text"]


async def test_used_button_is_no_longer_valid(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    upload_id, message_id = await ask_kind(app, request, sessionmaker)
    await app.process_update(callback_update(app, HR, f"impor:{upload_id}:employees", message_id))
    request.clear()
    for choice in ("trainings", "batal"):
        await app.process_update(
            callback_update(app, HR, f"impor:{upload_id}:{choice}", message_id)
        )
        assert await _alert(request) == "Tombol ini sudah tidak berlaku."
        assert not request.sent("editMessageText") and not downloads(request)
        request.clear()
    (upload,) = await uploads_of(sessionmaker)
    assert (upload.status, upload.kind) == ("rejected", "employees")


async def test_another_hr_admins_upload_cannot_be_pressed(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    await add_second_hr(sessionmaker)
    upload_id, message_id = await ask_kind(app, request, sessionmaker)
    for data in (f"impor:{upload_id}:employees", f"impor:{upload_id}:batal"):
        await app.process_update(callback_update(app, HR2, data, message_id))
        assert await _alert(request) == "Tombol ini sudah tidak berlaku."
        request.clear()
    assert not downloads(request)
    (upload,) = await uploads_of(sessionmaker)
    assert (upload.status, upload.kind) == ("pending", None)


@pytest.mark.parametrize(
    "data", ["impor:999999:employees", "impor:1:gaji", "impor:x:employees", "impor:1"]
)
async def test_forged_button_data_is_refused(served, sessionmaker, data):
    app, request = served
    await add_people(sessionmaker)
    await app.process_update(callback_update(app, HR, data, 5))
    assert await _alert(request) == "Tombol ini sudah tidak berlaku."
    assert not request.sent("editMessageText")


async def test_non_hr_pressing_a_kind_button_is_refused(served, sessionmaker):
    app, request = served
    await add_people(sessionmaker)
    upload_id, message_id = await ask_kind(app, request, sessionmaker)
    # The admin lost the role meanwhile: the role is read again for the press.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee).where(Employee.nip == NIP_SUPERVISOR).values(role="asn")
        )
    for user in (HR, ASN):
        await app.process_update(
            callback_update(app, user, f"impor:{upload_id}:employees", message_id)
        )
        assert await _alert(request) == expected_refusal(ASN)
        request.clear()
    assert not downloads(request)
    (upload,) = await uploads_of(sessionmaker)
    assert (upload.status, upload.kind) == ("pending", None)
