"""The printable sheet of activation codes HR cuts up and hands out (XLSX, openpyxl)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.i18n import N_, Translator
from storage.repositories.codes import IssuedCode, deep_link, format_code

SHEET_TITLE = N_("Activation codes")
TITLE_FOR_UNIT = N_("Activation codes for {unit}, issued {date}")
TITLE_GENERAL = N_("Activation codes, issued {date}")
INSTRUCTION_WITH_BOT = N_(
    "Open the link, or send /start CODE to the bot @{bot} in Telegram. Each code works once, "
    "until the date shown."
)
INSTRUCTION_WITHOUT_BOT = N_(
    "Send /start CODE to the bot in Telegram. Each code works once, until the date shown."
)
# (msgid, column width in characters)
COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("No."), 5),
    (N_("Name"), 32),
    (N_("NIP"), 21),
    (N_("Position"), 30),
    (N_("Work unit"), 26),
    (N_("Activation code"), 18),
    (N_("Valid until"), 19),
)
LINK_COLUMN = (N_("Link"), 44)
TITLE_ROW, INSTRUCTION_ROW, HEADER_ROW = 1, 2, 3
FIRST_DATA_ROW = HEADER_ROW + 1

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_CODE_FONT = Font(name="Courier New", size=16, bold=True)
_WRAP = Alignment(vertical="center", wrap_text=True)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def valid_until_text(t: Translator, expires_at: dt.datetime) -> str:
    """``12 Januari 2026`` when the code runs to the end of that local day, else date and time."""
    local = t.local(expires_at)
    if local.time() == dt.time(0, 0):
        return t.date(local.date() - dt.timedelta(days=1), "long")
    return t.datetime(expires_at)


def _text(cell: Cell, value: str) -> None:
    """Write text as text, even if it starts with ``=`` (never a formula from the data)."""
    cell.value = value
    cell.data_type = "s"


def _title(codes: Sequence[IssuedCode], t: Translator, today: dt.date) -> str:
    units = {code.unit for code in codes}
    date = t.date(today, "long")
    if len(units) == 1:
        return t(TITLE_FOR_UNIT, unit=units.pop(), date=date)
    return t(TITLE_GENERAL, date=date)


def _page_setup(sheet: Worksheet, last_column: str) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.print_area = f"A1:{last_column}{sheet.max_row}"
    sheet.oddFooter.center.text = "&P / &N"
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"


def activation_codes_xlsx(
    codes: list[IssuedCode],
    *,
    translator: Translator,
    bot_username: str | None,
    today: dt.date | None = None,
) -> bytes:
    """A one-sheet workbook: title, how to use a code, then one row per employee.

    ``today`` (the issue date in the title) defaults to the current date in the
    translator's time zone. The link column appears only when the bot's username is known.
    """
    t = translator
    today = today or t.local(dt.datetime.now(dt.UTC)).date()
    bot = bot_username.strip().lstrip("@") if bot_username else None
    columns = (*COLUMNS, LINK_COLUMN) if bot else COLUMNS
    last_column = get_column_letter(len(columns))

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = t(SHEET_TITLE)[:31]

    for row, text, font, height in (
        (TITLE_ROW, _title(codes, t, today), Font(size=14, bold=True), 24),
        (
            INSTRUCTION_ROW,
            t(INSTRUCTION_WITH_BOT, bot=bot) if bot else t(INSTRUCTION_WITHOUT_BOT),
            Font(size=11, italic=True),
            34,
        ),
    ):
        sheet.merge_cells(f"A{row}:{last_column}{row}")
        cell = sheet.cell(row=row, column=1)
        _text(cell, text)
        cell.font = font
        cell.alignment = _WRAP
        sheet.row_dimensions[row].height = height

    for index, (msgid, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=index)
        _text(cell, t(msgid))
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = _CENTER
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.row_dimensions[HEADER_ROW].height = 30

    for number, issued in enumerate(codes, start=1):
        row = HEADER_ROW + number
        values: list[Any] = [
            number,
            issued.name,
            issued.nip,
            issued.position,
            issued.unit,
            format_code(issued.code),
            valid_until_text(t, issued.expires_at),
        ]
        if bot:
            values.append(deep_link(bot, issued.code))
        for index, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=index)
            if isinstance(value, str):
                _text(cell, value)
            else:
                cell.value = value
            cell.border = _BORDER
            cell.alignment = _WRAP
        sheet.cell(row=row, column=1).alignment = _CENTER
        sheet.cell(row=row, column=3).number_format = "@"
        code_cell = sheet.cell(row=row, column=6)
        code_cell.font = _CODE_FONT
        code_cell.alignment = _CENTER
        if bot:
            link_cell = sheet.cell(row=row, column=len(columns))
            link_cell.hyperlink = values[-1]
            link_cell.font = Font(color="0563C1", underline="single")
        sheet.row_dimensions[row].height = 32

    _page_setup(sheet, last_column)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
