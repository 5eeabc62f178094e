"""Who is due for rotation (``/hr_rotasi``): the active employees more than five years in
their post (``bot.rules.talent.eligibility`` is DUE), longest first, each with their box in
the talent map and the units where the same post is under-filled according to the formasi.

* Years and eligibility are counted on the local ``today`` the caller passes.
* The box needs the performance level (the submitted predicates of the last 12 months,
  ``performance_level``) and the potential; without either it says which is missing.
* A suggestion is a unit other than the employee's own whose formasi for the same position
  (compared case-insensitively) asks for more posts than the active employees holding it
  there; the largest gap first, then by unit name.
* The counts cover every active employee in scope: not yet / eligible / due / TMT unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.rules.talent import (
    LEVEL_LABELS,
    Eligibility,
    Level,
    eligibility,
    full_years,
    parse_potential,
    performance_level,
    talent_box,
)
from bot.talent import since_month
from storage.repositories.rotation import (
    Formation,
    PostHolder,
    RotationRepository,
    UnitRef,
    position_key,
)


@dataclass(frozen=True, slots=True)
class Opening:
    """An under-filled post: ``filled`` of ``required`` in ``unit``."""

    unit: str
    position: str
    filled: int
    required: int

    @property
    def gap(self) -> int:
        return self.required - self.filled


@dataclass(frozen=True, slots=True)
class Candidate:
    """Someone due for rotation."""

    employee_id: int
    nip: str
    name: str
    unit: str
    position: str
    post_since: dt.date
    years: int
    performance: Level | None
    potential: Level | None
    openings: tuple[Opening, ...] = ()

    @property
    def box(self) -> int | None:
        if self.performance is None or self.potential is None:
            return None
        return talent_box(self.performance, self.potential)


@dataclass(frozen=True, slots=True)
class RotationReport:
    today: dt.date
    candidates: list[Candidate]
    counts: dict[Eligibility | None, int]  # None: TMT jabatan unknown
    has_formations: bool
    units: list[UnitRef] = field(default_factory=list)  # the unit filter's matches ([]: all)


def openings_for(
    holder: PostHolder,
    formations: Sequence[Formation],
    filled: Mapping[tuple[int, str], int],
) -> tuple[Opening, ...]:
    """The other units where ``holder``'s position is under-filled, largest gap first."""
    key = position_key(holder.position)
    if not key:
        return ()
    found = []
    for formation in formations:
        if formation.unit_id == holder.unit_id or position_key(formation.position) != key:
            continue
        count = filled.get((formation.unit_id, key), 0)
        if formation.required - count > 0:
            found.append(Opening(formation.unit, formation.position, count, formation.required))
    found.sort(key=lambda o: (-o.gap, o.unit.casefold()))
    return tuple(found)


def build_report(
    holders: Iterable[PostHolder],
    predicates: Mapping[int, Sequence[str]],
    formations: Sequence[Formation],
    filled: Mapping[tuple[int, str], int],
    today: dt.date,
    units: Sequence[UnitRef] = (),
) -> RotationReport:
    """The report from plain rows (pure)."""
    counts: dict[Eligibility | None, int] = {kind: 0 for kind in Eligibility}
    counts[None] = 0
    candidates: list[Candidate] = []
    for holder in holders:
        if holder.post_since is None:
            counts[None] += 1
            continue
        standing = eligibility(holder.post_since, today)
        counts[standing] += 1
        if standing is not Eligibility.DUE:
            continue
        candidates.append(
            Candidate(
                employee_id=holder.id,
                nip=holder.nip,
                name=holder.name,
                unit=holder.unit,
                position=holder.position,
                post_since=holder.post_since,
                years=full_years(holder.post_since, today),
                performance=performance_level(predicates.get(holder.id, ())),
                potential=parse_potential(holder.potential) if holder.potential else None,
                openings=openings_for(holder, formations, filled),
            )
        )
    candidates.sort(key=lambda c: (c.post_since, c.name.casefold(), c.employee_id))
    return RotationReport(
        today=today,
        candidates=candidates,
        counts=counts,
        has_formations=bool(formations),
        units=list(units),
    )


async def rotation_report(
    session: AsyncSession, today: dt.date, unit_ids: Sequence[int] | None = None
) -> RotationReport:
    """The report for every active employee, or for those in ``unit_ids``."""
    repository = RotationRepository(session)
    units = await repository.units(unit_ids) if unit_ids is not None else []
    holders = await repository.holders(unit_ids)
    due = [
        h.id
        for h in holders
        if h.post_since is not None and eligibility(h.post_since, today) is Eligibility.DUE
    ]
    predicates = await repository.recent_predicates(due, since_month(today))
    formations = await repository.formations()
    filled = await repository.filled() if formations else {}
    return build_report(holders, predicates, formations, filled, today, units)


# --------------------------------------------------------------------------- wording
def box_text(candidate: Candidate, t: Translator) -> str:
    """``Box 7 (performance High, potential Medium)``, or what is missing."""
    if candidate.performance is None and candidate.potential is None:
        return t("talent box: not enough data, potential not filled in")
    if candidate.performance is None:
        return t("talent box: not enough data")
    if candidate.potential is None:
        return t("talent box: potential not filled in")
    return t(
        "talent box {box} (performance {performance}, potential {potential})",
        box=t.number(talent_box(candidate.performance, candidate.potential)),
        performance=t(LEVEL_LABELS[candidate.performance]),
        potential=t(LEVEL_LABELS[candidate.potential]),
    )


def opening_text(opening: Opening, t: Translator) -> str:
    """``Open post: Analis Kebijakan in Bappeda (2 of 3)``."""
    return t(
        "Open post: {position} in {unit} ({filled} of {required})",
        position=opening.position,
        unit=opening.unit,
        filled=t.number(opening.filled),
        required=t.number(opening.required),
    )
