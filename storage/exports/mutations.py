"""HR's mutation overview as XLSX (openpyxl): the counts per stage and every stuck mutation.

Two sheets: *Stages* (every stage in the order of the timeline, then the totals of active,
completed and cancelled mutations) and *Stuck* (the active mutations whose stage has not
changed for more than the configured number of days, longest first: NIP, name, unit, type,
target unit, stage, since, days). Dates are real date cells in local time (WIB); text from
the data is always written as text, never as a formula. The pure helpers here (stage order,
totals, days in a stage) are shared with the chat overview (``handlers.hr_mutations``).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.i18n import N_, Translator
from bot.rules.stages import (
    FINAL_STAGES,
    MUTATION_TYPE_LABELS,
    STAGE_LABELS,
    STAGE_ORDER,
    MutationType,
    Stage,
)
from storage.exports.cells import Columns, start_sheet, text_cell
from storage.repositories.mutations import StuckMutation

COUNTS_SHEET = N_("Stages")
STUCK_SHEET = N_("Stuck")
# (msgid, column width in characters)
COUNT_COLUMNS: Columns = ((N_("Stage"), 50), (N_("Mutations"), 12))
STUCK_COLUMNS: Columns = (
    (N_("No."), 5),
    (N_("NIP"), 21),
    (N_("Name"), 32),
    (N_("Unit"), 30),
    (N_("Type"), 24),
    (N_("Target unit"), 30),
    (N_("Stage"), 36),
    (N_("Since"), 12),
    (N_("Days"), 8),
)
TOTAL_ACTIVE = N_("Active")
TOTAL_FINISHED = N_("Completed")
TOTAL_CANCELLED = N_("Cancelled")
TOTAL_ALL = N_("Total")
FILE_NAME = N_("mutations-{date}.xlsx")


@dataclass(frozen=True, slots=True)
class Totals:
    active: int
    finished: int
    cancelled: int

    @property
    def all(self) -> int:
        return self.active + self.finished + self.cancelled


def ordered_counts(counts: Mapping[str, int]) -> list[tuple[Stage, int]]:
    """Every stage (zero when none is there) in :data:`STAGE_ORDER`."""
    return [(stage, int(counts.get(stage.value, 0))) for stage in STAGE_ORDER]


def totals(counts: Mapping[str, int]) -> Totals:
    """Active (any stage but the final ones), completed and cancelled mutations."""
    final = {stage.value for stage in FINAL_STAGES}
    active = sum(int(n) for stage, n in counts.items() if stage not in final)
    return Totals(
        active=active,
        finished=int(counts.get(Stage.SELESAI.value, 0)),
        cancelled=int(counts.get(Stage.DIBATALKAN.value, 0)),
    )


def days_in_stage(since: dt.datetime, now: dt.datetime) -> int:
    """Whole days between ``since`` and ``now`` (both UTC; naive values are taken as UTC)."""
    start = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    end = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return max(0, (end - start).days)


def stage_text(stage: str, t: Translator) -> str:
    try:
        return t(STAGE_LABELS[Stage(stage)])
    except ValueError:
        return stage


def type_text(mutation_type: str, t: Translator) -> str:
    try:
        return t(MUTATION_TYPE_LABELS[MutationType(mutation_type)])
    except ValueError:
        return mutation_type


def overview_file_name(t: Translator, today: dt.date) -> str:
    return t(FILE_NAME, date=today.isoformat())


def overview_workbook(
    counts: Mapping[str, int],
    stuck: Sequence[StuckMutation],
    t: Translator,
    *,
    now: dt.datetime,
) -> bytes:
    """The overview: sheet *Stages* (stage, count; then the totals) and sheet *Stuck*."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    counts_sheet = start_sheet(workbook, t(COUNTS_SHEET), COUNT_COLUMNS, t)
    for stage, count in ordered_counts(counts):
        counts_sheet.append([text_cell(counts_sheet, stage_text(stage, t)), count])
    summary = totals(counts)
    counts_sheet.append([])
    for label, value in (
        (TOTAL_ACTIVE, summary.active),
        (TOTAL_FINISHED, summary.finished),
        (TOTAL_CANCELLED, summary.cancelled),
        (TOTAL_ALL, summary.all),
    ):
        counts_sheet.append([text_cell(counts_sheet, t(label), bold=True), value])

    stuck_sheet = start_sheet(workbook, t(STUCK_SHEET), STUCK_COLUMNS, t)
    for number, item in enumerate(stuck, start=1):
        since = WriteOnlyCell(stuck_sheet, value=t.local(item.since).date())
        since.number_format = "DD/MM/YYYY"
        stuck_sheet.append(
            [
                number,
                text_cell(stuck_sheet, item.employee_nip),
                text_cell(stuck_sheet, item.employee_name),
                text_cell(stuck_sheet, item.unit),
                text_cell(stuck_sheet, type_text(item.mutation_type, t)),
                text_cell(stuck_sheet, item.to_unit),
                text_cell(stuck_sheet, stage_text(item.stage, t)),
                since,
                days_in_stage(item.since, now),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
