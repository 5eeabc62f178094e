"""HR's evaluation report as XLSX (openpyxl, write-only: fast for tens of thousands of rows).

Three sheets:

* *Evaluations*: every evaluation of the period, one row each — period (``YYYY-MM``), unit,
  NIP, name, position, evaluator and their NIP, status, Hasil Kerja, the seven BerAKHLAK
  ratings, Perilaku Kerja, predicate, feedback, submitted at (local time, a real date cell).
* *Units*: per unit, submitted / expected (and the share), then how many submitted
  evaluations have each predicate.
* *Pending*: every supervisor with reports still to be rated, most pending first.

Text from people (names, units, feedback) is always a text cell, never a formula, and
characters XLSX cannot hold are dropped. Labels are translated once per file, not per cell.
The pure helpers (:func:`predicates_by_unit`, :func:`share`) are shared with the chat report
and the chart.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.i18n import N_, Translator
from bot.rules.skp import BERAKHLAK, BERAKHLAK_LABELS, PREDICATE_LABELS, RATING_LABELS, Predicate
from storage.repositories.evaluation_reports import EvaluationRow, PendingSupervisor, UnitProgress

EVALUATIONS_SHEET = N_("Evaluations")
UNITS_SHEET = N_("Units")
PENDING_SHEET = N_("Pending")
STATUS_LABELS: dict[str, str] = {"submitted": N_("Submitted"), "draft": N_("Draft")}
# (msgid, column width in characters); the BerAKHLAK columns sit after Hasil Kerja.
_HEAD_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Period"), 9),
    (N_("Unit"), 30),
    (N_("NIP"), 21),
    (N_("Name"), 30),
    (N_("Position"), 30),
    (N_("Evaluator"), 30),
    (N_("Evaluator NIP"), 21),
    (N_("Status"), 11),
    (N_("Work results"), 20),
)
_TAIL_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Work behaviour"), 20),
    (N_("Predicate"), 18),
    (N_("Feedback"), 60),
    (N_("Submitted at ({zone})"), 17),
)
UNIT_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Unit"), 40),
    (N_("Submitted"), 11),
    (N_("Staff to rate"), 13),
    (N_("Share"), 8),
)
PENDING_COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Supervisor"), 34),
    (N_("NIP"), 21),
    (N_("Unit"), 34),
    (N_("Pending"), 10),
    (N_("Staff to rate"), 13),
    (N_("Telegram linked"), 10),
)
PREDICATE_ORDER: tuple[Predicate, ...] = tuple(Predicate)  # best first
FILE_NAME = N_("evaluations-{period}.xlsx")
DATE_FORMAT = "DD/MM/YYYY HH:MM"

# openpyxl refuses these control characters in a cell (ILLEGAL_CHARACTERS_RE).
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def share(part: int, whole: int) -> float:
    """``part / whole`` (0 when there is nothing to share)."""
    return part / whole if whole else 0.0


def predicates_by_unit(rows: Iterable[EvaluationRow]) -> dict[str, Counter[str]]:
    """Per unit, how many *submitted* evaluations have each predicate (units by name)."""
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        if row.status == "submitted" and row.predicate:
            counts.setdefault(row.unit, Counter())[row.predicate] += 1
    return dict(sorted(counts.items()))


def file_name(t: Translator, year: int, month: int) -> str:
    return t(FILE_NAME, period=f"{year:04d}-{month:02d}")


def zone_name(t: Translator) -> str:
    return "WIB" if t.timezone.key == "Asia/Jakarta" else t.timezone.key


def evaluation_headers(t: Translator) -> list[str]:
    """The header row of the *Evaluations* sheet, in ``t``'s language."""
    head = [t(name) for name, _ in _HEAD_COLUMNS]
    values = [t(BERAKHLAK_LABELS[value]) for value in BERAKHLAK]
    tail = [
        t(name, zone=zone_name(t)) if "{zone}" in name else t(name) for name, _ in _TAIL_COLUMNS
    ]
    return head + values + tail


def _labels(t: Translator) -> dict[str | None, str | None]:
    """Stored value → label, for every enumerated value a cell may hold (none: empty)."""
    labels: dict[str | None, str | None] = {None: None}
    labels.update({rating.value: t(label) for rating, label in RATING_LABELS.items()})
    labels.update({p.value: t(label) for p, label in PREDICATE_LABELS.items()})
    return labels


def evaluations_workbook(
    rows: Sequence[EvaluationRow],
    t: Translator,
    *,
    progress: Sequence[UnitProgress] = (),
    pending: Sequence[PendingSupervisor] = (),
) -> bytes:
    """The report as XLSX bytes (see the module's docstring for the sheets)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet_with(title: str, headers: list[str], widths: Iterable[float]) -> Any:
        sheet = workbook.create_sheet(title[:31])
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        cells = []
        for header in headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        return sheet

    def text(sheet: Any, value: str | None) -> Any:
        """A text cell: a value starting with "=" would be taken for a formula."""
        if not value:
            return None
        if _ILLEGAL.search(value):
            value = _ILLEGAL.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    # ------------------------------------------------------------ every evaluation
    labels = _labels(t)
    statuses = {key: t(label) for key, label in STATUS_LABELS.items()}
    widths = [w for _, w in _HEAD_COLUMNS] + [20.0] * len(BERAKHLAK) + [w for _, w in _TAIL_COLUMNS]
    sheet = sheet_with(t(EVALUATIONS_SHEET), evaluation_headers(t), widths)
    zone = t.timezone
    for row in rows:
        ratings = row.ratings
        submitted: Any = None
        if row.submitted_at is not None:
            submitted = WriteOnlyCell(
                sheet, value=row.submitted_at.astimezone(zone).replace(tzinfo=None)
            )
            submitted.number_format = DATE_FORMAT
        sheet.append(
            [
                f"{row.year:04d}-{row.month:02d}",
                text(sheet, row.unit),
                text(sheet, row.nip),
                text(sheet, row.name),
                text(sheet, row.position),
                text(sheet, row.evaluator_name),
                text(sheet, row.evaluator_nip),
                statuses.get(row.status, row.status),
                labels.get(row.work_result, row.work_result),
                *[labels.get(ratings.get(value)) for value in BERAKHLAK],
                labels.get(row.behaviour, row.behaviour),
                labels.get(row.predicate, row.predicate),
                text(sheet, row.feedback),
                submitted,
            ]
        )

    # ------------------------------------------------------------ per unit
    by_unit = predicates_by_unit(rows)
    predicate_names = [t(PREDICATE_LABELS[p]) for p in PREDICATE_ORDER]
    units_sheet = sheet_with(
        t(UNITS_SHEET),
        [t(name) for name, _ in UNIT_COLUMNS] + predicate_names,
        [w for _, w in UNIT_COLUMNS] + [14.0] * len(PREDICATE_ORDER),
    )
    seen: set[str] = set()

    def unit_row(name: str, submitted: int | None, total: int | None) -> list[Any]:
        counts = by_unit.get(name, Counter())
        ratio: Any = None
        if total:
            ratio = WriteOnlyCell(units_sheet, value=share(submitted or 0, total))
            ratio.number_format = "0%"
        return [
            text(units_sheet, name),
            submitted,
            total,
            ratio,
            *[counts.get(p.value, 0) for p in PREDICATE_ORDER],
        ]

    for item in progress:
        seen.add(item.unit)
        units_sheet.append(unit_row(item.unit, item.submitted, item.total))
    for name in by_unit:  # evaluated people whose unit has nobody left to rate
        if name not in seen:
            units_sheet.append(unit_row(name, None, None))

    # ------------------------------------------------------------ pending supervisors
    pending_sheet = sheet_with(
        t(PENDING_SHEET),
        [t(name) for name, _ in PENDING_COLUMNS],
        [w for _, w in PENDING_COLUMNS],
    )
    yes, no = t("Yes"), t("No")
    for supervisor in pending:
        pending_sheet.append(
            [
                text(pending_sheet, supervisor.name),
                text(pending_sheet, supervisor.nip),
                text(pending_sheet, supervisor.unit),
                supervisor.pending,
                supervisor.total,
                yes if supervisor.can_be_told else no,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def predicate_totals(counts: Mapping[str, int]) -> list[tuple[Predicate, int]]:
    """Every predicate (zero when none), best first."""
    return [(p, int(counts.get(p.value, 0))) for p in PREDICATE_ORDER]
