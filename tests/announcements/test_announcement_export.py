"""Layer 1: HR's XLSX of an announcement's recipients (``storage.exports.announcements``)."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from bot.announcements import STATE_LABELS
from bot.i18n import get_translator
from storage.exports.announcements import COLUMNS, file_name, recipients_workbook
from storage.repositories.announcements import RecipientRow

EN = get_translator("en")
ID = get_translator("id")
SENT_AT = dt.datetime(2026, 12, 7, 3, 4, 5, tzinfo=dt.UTC)  # 10.04.05 WIB
FORMULA = '=HYPERLINK("http://phish.example/","Klik di sini")'

ROWS = [
    RecipientRow(
        "198801012012011002", "Rina Marlina", "Dinas Perhubungan", "sent", SENT_AT, None, True
    ),
    RecipientRow(
        "198801012012012003",
        FORMULA,
        "Dinas Perhubungan",
        "failed",
        None,
        "Forbidden: bot was blocked",
        False,
    ),
    RecipientRow("198801012012011004", "Wati", "=1+1", "not_linked", None, None, False),
    RecipientRow("198801012012012005", "Doni\x07 Saputra", "BKPSDM", "mystery", None, None, False),
]


def open_sheet(data: bytes):
    workbook = load_workbook(io.BytesIO(data))
    assert len(workbook.worksheets) == 1
    return workbook.worksheets[0]


def test_one_row_per_recipient_under_the_header():
    sheet = open_sheet(recipients_workbook(ROWS, EN, STATE_LABELS))
    assert sheet.title == "Recipients"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == [
        "No.",
        "NIP",
        "Name",
        "Unit",
        "Delivery",
        "Sent at (local time)",
        "Resent",
        "Telegram's answer",
    ]
    assert len(values) == 1 + len(ROWS)
    assert values[1] == [
        1,
        "198801012012011002",
        "Rina Marlina",
        "Dinas Perhubungan",
        "sent",
        dt.datetime(2026, 12, 7, 10, 4, 5),  # local time (WIB), as a real date-time
        "yes",
        None,  # an empty string is no cell value
    ]
    assert values[2][4:] == ["failed", None, None, "Forbidden: bot was blocked"]
    assert values[3][4] == "account not linked"
    assert values[4][4] == "mystery"  # an unknown state is shown as it is
    assert [row[0] for row in values[1:]] == [1, 2, 3, 4]
    assert all(cell.font.b for cell in sheet[1])


def test_nip_is_text_and_formulas_stay_strings():
    sheet = open_sheet(recipients_workbook(ROWS, EN, STATE_LABELS))
    for index, row in enumerate(ROWS, start=2):
        nip = sheet.cell(index, 2)
        assert nip.data_type == "s" and nip.value == row.nip  # not 1.98801E+17
    name = sheet.cell(3, 3)
    assert name.data_type == "s"
    assert name.value == FORMULA
    unit = sheet.cell(4, 4)
    assert unit.data_type == "s" and unit.value == "=1+1"
    assert sheet.cell(5, 3).value == "Doni Saputra"  # control characters dropped
    assert sheet.cell(2, 6).is_date


def test_indonesian_headers_and_labels():
    sheet = open_sheet(recipients_workbook(ROWS[:1], ID, STATE_LABELS))
    assert sheet.title == ID("Recipients")[:31]
    header = [cell.value for cell in sheet[1]]
    assert header == [ID(name) for name, _ in COLUMNS]
    assert sheet.cell(2, 5).value == ID("sent")
    assert sheet.cell(2, 7).value == ID("yes")
    assert file_name(ID, 12) == ID("announcement-{id}.xlsx", id=12)
    assert file_name(EN, 12) == "announcement-12.xlsx"


def test_no_recipients_gives_just_the_header():
    sheet = open_sheet(recipients_workbook([], EN, STATE_LABELS))
    assert sheet.max_row == 1
    assert sheet.cell(1, 2).value == "NIP"
