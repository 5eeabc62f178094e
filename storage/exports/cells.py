"""Pieces every XLSX export shares (openpyxl write-only workbooks).

Text from people (names, units, reasons) is always written as a text cell: a value such as
``=HYPERLINK(…)`` never becomes a formula, and the control characters openpyxl refuses are
dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from bot.i18n import Translator

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Columns = tuple[tuple[str, float], ...]  # (msgid of the heading, width in characters)


def text_cell(sheet: WriteOnlyWorksheet, value: str, *, bold: bool = False) -> WriteOnlyCell:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def local_time_cell(
    sheet: WriteOnlyWorksheet, value: dt.datetime | None, t: Translator
) -> WriteOnlyCell | None:
    """A moment as a real date-time cell in the reader's local time (WIB), to the second."""
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=t.local(value).replace(tzinfo=None, microsecond=0))
    cell.number_format = "DD/MM/YYYY HH:MM"
    return cell


def start_sheet(workbook: Any, title: str, columns: Columns, t: Translator) -> WriteOnlyWorksheet:
    """A new sheet of a write-only ``workbook`` with its column widths and bold headings."""
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title[:31])
    for index, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([text_cell(sheet, t(name), bold=True) for name, _ in columns])
    return sheet
