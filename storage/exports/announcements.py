"""An announcement's recipients as XLSX (openpyxl): every employee it was meant for and what
happened to their message. Text from the data is always written as text, never as a
formula; the time it was sent is a real date-time cell in local time (WIB)."""

from __future__ import annotations

import io

from bot.i18n import N_, Translator
from storage.exports.cells import Columns, local_time_cell, start_sheet, text_cell
from storage.repositories.announcements import RecipientRow

SHEET = N_("Recipients")
# (msgid, column width in characters)
COLUMNS: Columns = (
    (N_("No."), 5),
    (N_("NIP"), 21),
    (N_("Name"), 32),
    (N_("Unit"), 34),
    (N_("Delivery"), 26),
    (N_("Sent at (local time)"), 18),
    (N_("Resent"), 9),
    (N_("Telegram's answer"), 40),
)
FILE_NAME = N_("announcement-{id}.xlsx")


def file_name(t: Translator, announcement_id: int) -> str:
    return t(FILE_NAME, id=announcement_id)


def recipients_workbook(
    rows: list[RecipientRow], t: Translator, state_labels: dict[str, str]
) -> bytes:
    """One sheet: a row per recipient; ``state_labels`` maps a delivery state to its msgid."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = start_sheet(workbook, t(SHEET), COLUMNS, t)
    yes = t("yes")
    for number, row in enumerate(rows, start=1):
        label = state_labels.get(row.state)
        sheet.append(
            [
                number,
                text_cell(sheet, row.nip),
                text_cell(sheet, row.name),
                text_cell(sheet, row.unit),
                text_cell(sheet, t(label) if label else row.state),
                local_time_cell(sheet, row.sent_at, t),
                text_cell(sheet, yes if row.resent else ""),
                text_cell(sheet, row.error or ""),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
