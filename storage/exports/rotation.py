"""The rotation list as XLSX (openpyxl): everyone due for rotation with their talent box and
the units where their post is under-filled. Text from the data is always written as text,
never as a formula; the TMT is a real date cell."""

from __future__ import annotations

import datetime as dt

from bot.i18n import N_, Translator
from bot.rotation import RotationReport, box_text, opening_text
from bot.rules.talent import LEVEL_LABELS
from storage.exports.cells import Columns, start_sheet, text_cell

SHEET = N_("Due for rotation")
# (msgid, column width in characters)
COLUMNS: Columns = (
    (N_("No."), 5),
    (N_("NIP"), 21),
    (N_("Name"), 32),
    (N_("Unit"), 30),
    (N_("Position"), 30),
    (N_("TMT jabatan"), 12),
    (N_("Years in post"), 10),
    (N_("Performance"), 14),
    (N_("Potential"), 14),
    (N_("Talent box"), 40),
    (N_("Under-filled posts elsewhere"), 60),
)
FILE_NAME = N_("rotation-{date}.xlsx")


def file_name(t: Translator, today: dt.date) -> str:
    return t(FILE_NAME, date=today.isoformat())


def rotation_workbook(report: RotationReport, t: Translator) -> bytes:
    """One sheet: a row per employee due for rotation, longest in the post first."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = start_sheet(workbook, t(SHEET), COLUMNS, t)

    def text(value: str) -> WriteOnlyCell:
        return text_cell(sheet, value)

    for number, item in enumerate(report.candidates, start=1):
        since = WriteOnlyCell(sheet, value=item.post_since)
        since.number_format = "DD/MM/YYYY"
        sheet.append(
            [
                number,
                text(item.nip),
                text(item.name),
                text(item.unit),
                text(item.position),
                since,
                item.years,
                text(t(LEVEL_LABELS[item.performance]) if item.performance else ""),
                text(t(LEVEL_LABELS[item.potential]) if item.potential else ""),
                text(box_text(item, t)),
                text("; ".join(opening_text(o, t) for o in item.openings)),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
