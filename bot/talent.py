"""The talent map (PermenPAN-RB 3/2020): everyone's box from performance × potential.

* **Performance** (``bot.rules.talent.performance_level``): from the submitted monthly
  predicates of the last :data:`MONTHS` months (this month and the 11 before it); fewer
  than 3: *belum cukup data*.
* **Potential**: ``Employee.potential`` (``rendah`` / ``menengah`` / ``tinggi``, from a
  competency assessment, loaded by HR); empty: *belum dinilai potensinya*.
* **Box** 1–9 (``bot.rules.talent.talent_box``), named as the regulation's nine boxes
  (:data:`BOX_NAMES`). Someone without a potential is counted apart as *belum dinilai
  potensinya* (whatever their data); someone with a potential but fewer than 3 months as
  *belum cukup data*. Every box count plus those two equals the number of active employees.

:func:`build_map` is pure (people in, counts and lists out); :func:`talent_map` reads the
database; :func:`talent_workbook` makes HR's XLSX (everyone, their box or why none).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, Translator
from bot.rules.periods import add_months
from bot.rules.skp import PREDICATE_LABELS, Predicate
from bot.rules.talent import (
    ELIGIBILITY_LABELS,
    LEVEL_LABELS,
    Eligibility,
    Level,
    eligibility,
    full_years,
    parse_potential,
    performance_level,
    talent_box,
)
from storage.repositories.talent import TalentPerson, TalentRepository

MONTHS = 12
BOXES = tuple(range(1, 10))

# The nine boxes as PermenPAN-RB 3/2020 names them (kinerja × potensial).
BOX_NAMES: dict[int, str] = {
    1: N_("Performance below expectations, low potential"),
    2: N_("Performance as expected, low potential"),
    3: N_("Performance below expectations, medium potential"),
    4: N_("Performance above expectations, low potential"),
    5: N_("Performance as expected, medium potential"),
    6: N_("Performance below expectations, high potential"),
    7: N_("Performance above expectations, medium potential"),
    8: N_("Performance as expected, high potential"),
    9: N_("Performance above expectations, high potential"),
}
NO_POTENTIAL = N_("potential not yet assessed")
NOT_ENOUGH_DATA = N_("not enough data")
NO_POST_SINCE = N_("post start date (TMT jabatan) not filled in")

SHEET = N_("Talent map")
FILE_NAME = N_("talent-map-{date}.xlsx")
COLUMNS: tuple[tuple[str, float], ...] = (
    (N_("Box"), 6),
    (N_("Box name"), 44),
    (N_("Unit"), 30),
    (N_("NIP"), 21),
    (N_("Name"), 30),
    (N_("Position"), 30),
    (N_("In post since"), 13),
    (N_("Full years in post"), 10),
    (N_("Transfer"), 26),
    (N_("Performance"), 16),
    (N_("Potential"), 16),
    (N_("Months with a predicate"), 10),
    (N_("Last predicates"), 50),
    (N_("Trainings done"), 50),
)
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def since_month(today: dt.date, months: int = MONTHS) -> tuple[int, int]:
    """The first month of the window: ``today``'s month and the ``months - 1`` before it."""
    return add_months(today.year, today.month, -(months - 1))


@dataclass(frozen=True, slots=True)
class TalentEntry:
    person: TalentPerson
    performance: Level | None  # None: not enough data
    potential: Level | None  # None: not assessed
    box: int | None
    years: int | None  # full years in the post; None: no TMT jabatan
    eligibility: Eligibility | None


@dataclass(frozen=True)
class TalentMap:
    today: dt.date
    entries: tuple[TalentEntry, ...]
    boxes: dict[int, list[TalentEntry]] = field(default_factory=dict)
    no_potential: list[TalentEntry] = field(default_factory=list)
    not_enough_data: list[TalentEntry] = field(default_factory=list)

    @property
    def counts(self) -> dict[int, int]:
        return {box: len(self.boxes.get(box, ())) for box in BOXES}

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def placed(self) -> int:
        return sum(self.counts.values())


def entry_of(person: TalentPerson, today: dt.date) -> TalentEntry:
    performance = performance_level(p.predicate for p in person.predicates)
    potential = parse_potential(person.potential) if person.potential else None
    box = (
        talent_box(performance, potential)
        if performance is not None and potential is not None
        else None
    )
    since = person.post_since
    return TalentEntry(
        person=person,
        performance=performance,
        potential=potential,
        box=box,
        years=full_years(since, today) if since else None,
        eligibility=eligibility(since, today) if since else None,
    )


def build_map(people: Sequence[TalentPerson], today: dt.date) -> TalentMap:
    """Everyone's box (see the module's docstring); the people keep their order."""
    result = TalentMap(today=today, entries=tuple(entry_of(p, today) for p in people))
    for box in BOXES:
        result.boxes[box] = []
    for entry in result.entries:
        if entry.potential is None:
            result.no_potential.append(entry)
        elif entry.box is None:
            result.not_enough_data.append(entry)
        else:
            result.boxes[entry.box].append(entry)
    return result


async def talent_map(
    session: AsyncSession, today: dt.date, *, unit_id: int | None = None
) -> TalentMap:
    people = await TalentRepository(session).people(since=since_month(today), unit_id=unit_id)
    return build_map(people, today)


# --------------------------------------------------------------------------- labels
def box_label(t: Translator, box: int) -> str:
    return t(BOX_NAMES[box])


def status_label(t: Translator, entry: TalentEntry) -> str:
    """The box's name, or why the person has none."""
    if entry.box is not None:
        return box_label(t, entry.box)
    return t(NO_POTENTIAL) if entry.potential is None else t(NOT_ENOUGH_DATA)


def level_label(t: Translator, level: Level | None, missing: str) -> str:
    return t(LEVEL_LABELS[level]) if level is not None else t(missing)


def eligibility_label(t: Translator, entry: TalentEntry) -> str:
    if entry.eligibility is None:
        return t(NO_POST_SINCE)
    return t(ELIGIBILITY_LABELS[entry.eligibility])


def predicate_label(t: Translator, value: str) -> str:
    try:
        return t(PREDICATE_LABELS[Predicate(value)])
    except ValueError:
        return value


def file_name(t: Translator, today: dt.date) -> str:
    return t(FILE_NAME, date=today.isoformat())


# --------------------------------------------------------------------------- XLSX
def talent_workbook(data: TalentMap, t: Translator) -> bytes:
    """Everyone as XLSX: boxed people by box (9 first), then those without a box."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(t(SHEET)[:31])
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name, _ in COLUMNS:
        cell = WriteOnlyCell(sheet, value=t(name))
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    def text(value: str | None) -> Any:
        if not value:
            return None
        value = _ILLEGAL.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    predicates = {p.value: t(label) for p, label in PREDICATE_LABELS.items()}
    ordered = [e for box in reversed(BOXES) for e in data.boxes.get(box, ())]
    ordered += data.not_enough_data + data.no_potential
    for entry in ordered:
        person = entry.person
        since: Any = None
        if person.post_since is not None:
            since = WriteOnlyCell(sheet, value=person.post_since)
            since.number_format = "DD/MM/YYYY"
        last = "; ".join(
            f"{p.year:04d}-{p.month:02d} {predicates.get(p.predicate, p.predicate)}"
            for p in person.predicates
        )
        trainings = "; ".join(
            f"{training.title} ({t.local(training.ended_at).date():%d/%m/%Y})"
            for training in person.trainings
        )
        sheet.append(
            [
                entry.box,
                status_label(t, entry),
                text(person.unit),
                text(person.nip),
                text(person.name),
                text(person.position),
                since,
                entry.years,
                eligibility_label(t, entry),
                level_label(t, entry.performance, NOT_ENOUGH_DATA),
                level_label(t, entry.potential, NO_POTENTIAL),
                len(person.predicates),
                text(last),
                text(trainings),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
