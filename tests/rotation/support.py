"""A hand-made organisation for the rotation tests, dated relative to a given ``today``.

Bappeda: Dewi (Analis Kebijakan, exactly 5 years in the post: eligible, not due), Eko
(Analis Kebijakan, 5 years and a day: due; Sangat Baik ×3, potential tinggi → box 9), Fajar
(Pengadministrasi, 3 years), Gita (TMT unknown). Dinas Perhubungan: Hadi (analis kebijakan,
10 years: due, two predicates → not enough data), Intan (1 year), and Joko (inactive, 20
years). Formasi: Analis Kebijakan ×3 in Dinas Perhubungan (1 held: Hadi), ×2 in Bappeda
(2 held: full), ×4 in Dinas Kesehatan (none held).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.periods import add_months
from bot.rules.talent import anniversary
from storage.models import Employee, Evaluation, EvaluationPeriod, Unit, UnitFormation

Maker = async_sessionmaker[AsyncSession]


def years_ago(today: dt.date, years: int, days: int = 0) -> dt.date:
    """The day that is ``years`` calendar years and ``days`` more days before ``today``."""
    return anniversary(today, -years) - dt.timedelta(days=days)


@dataclass(frozen=True)
class Org:
    bappeda: int
    dishub: int
    dinkes: int
    dewi: int
    eko: int
    hadi: int


def _nip(n: int) -> str:
    return f"19800101200501{n:04d}"


async def add_org(
    sessionmaker: Maker, today: dt.date, *, formations: bool = True, hr_chat: int | None = None
) -> Org:
    async with sessionmaker() as session, session.begin():
        bappeda, dishub, dinkes = (
            Unit(name="Bappeda"),
            Unit(name="Dinas Perhubungan"),
            Unit(name="Dinas Kesehatan"),
        )
        session.add_all([bappeda, dishub, dinkes])
        await session.flush()

        def person(n: int, name: str, unit: Unit, position: str, since: dt.date | None, **kw):
            employee = Employee(
                nip=_nip(n), name=name, unit=unit, position=position, post_since=since, **kw
            )
            session.add(employee)
            return employee

        dewi = person(1, "Dewi", bappeda, "Analis Kebijakan", years_ago(today, 5))
        eko = person(
            2, "Eko", bappeda, "Analis Kebijakan", years_ago(today, 5, 1), potential="tinggi"
        )
        person(3, "Fajar", bappeda, "Pengadministrasi", years_ago(today, 3))
        person(4, "Gita", bappeda, "Pengadministrasi", None)
        hadi = person(
            5, "Hadi", dishub, "analis kebijakan", years_ago(today, 10), potential="menengah"
        )
        person(6, "Intan", dishub, "Pengadministrasi", years_ago(today, 1))
        person(7, "Joko", dishub, "Analis Kebijakan", years_ago(today, 20), active=False)
        if hr_chat is not None:
            person(
                8,
                "Kepala BKPSDM",
                dishub,
                "Kepala Badan",
                years_ago(today, 1),
                telegram_user_id=hr_chat,
                role="hr_admin",
            )
        if formations:
            session.add_all(
                [
                    UnitFormation(unit_id=dishub.id, position="Analis Kebijakan", required=3),
                    UnitFormation(unit_id=bappeda.id, position="Analis Kebijakan", required=2),
                    UnitFormation(unit_id=dinkes.id, position="ANALIS KEBIJAKAN", required=4),
                ]
            )
        await session.flush()
        # The three months before today's (the performance window is the last 12 months).
        months = [add_months(today.year, today.month, -back) for back in (3, 2, 1)]
        periods = [
            EvaluationPeriod(
                year=year,
                month=month,
                opens_on=dt.date(year, month, 1),
                closes_on=dt.date(*add_months(year, month, 1), 7),
            )
            for year, month in months
        ]
        session.add_all(periods)
        await session.flush()
        for period in periods:  # Eko: three Sangat Baik
            session.add(
                Evaluation(
                    period_id=period.id,
                    employee_id=eko.id,
                    evaluator_id=dewi.id,
                    status="submitted",
                    predicate="sangat_baik",
                )
            )
        for period in periods[:2]:  # Hadi: two only
            session.add(
                Evaluation(
                    period_id=period.id,
                    employee_id=hadi.id,
                    evaluator_id=dewi.id,
                    status="submitted",
                    predicate="baik",
                )
            )
        await session.flush()
        return Org(bappeda.id, dishub.id, dinkes.id, dewi.id, eko.id, hadi.id)
