"""The rotation list as XLSX (openpyxl): everyone due for rotation with their talent box and
the units where their post is under-filled. Text from the data is always written as text,
never as a formula; the TMT is a real date cell."""

from __future__ import annotations

import datetime as dt

from bot.i18n import N_, Translator
from bot.rotation import RotationReport, box_text, opening_text
from bot.rules.talent import LEVEL_LABELS

SHEET = N_("Due for rotation")
# (msgid, column width in characters)
COLUMNS: tuple[tuple[str, float], ...] = (
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
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(t(SHEET)[:31])

    def text(value: str, *, bold: bool = False) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        if bold:
            cell.font = Font(bold=True)
        return cell

    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([text(t(name), bold=True) for name, _ in COLUMNS])
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
