"""A hand-made organisation for the talent map and /tim, with its map computed by hand.

Months are counted back from today's month (WIB): offset 0 is this month, -11 the oldest
month of the 12-month window, -12 is outside it.

Dinas Perhubungan (Boss A supervises boss_b, a1, a2, a3, a4, a5):
    boss_a  potential tinggi; Sangat Baik ×3                   → Tinggi × Tinggi = box 9
    a1      menengah; Baik ×4 (+ a draft this month)           → Menengah × Menengah = box 5
            post since 3 years ago (eligible); attended "Pelatihan Kepemimpinan" (ended);
            declined one ended training, attended one cancelled; upcoming "Diklat Manajemen"
    a2      rendah; Kurang, Kurang, Baik                       → Rendah × Rendah = box 1
            post since 6 years ago (due)
    a3      tinggi; 2 months only                              → belum cukup data
    a4      inactive (tinggi; Sangat Baik ×3)                  → not on the map
    a5      rendah; Sangat Baik at -1, -2 and -12 (outside)   → belum cukup data
Bappeda (Boss B, rated by Boss A, supervises b1, b2, b3):
    boss_b  no potential; Baik ×3                              → belum dinilai potensinya
    b1      tinggi; Sangat Baik ×2, Baik ×2                    → Tinggi × Tinggi = box 9
            upcoming "Bimtek Perencanaan"
    b2      rendah; Sangat Baik ×3                             → Tinggi × Rendah = box 4
    b3      menengah; nothing                                  → belum cukup data
BKPSDM:
    hr      HR admin, no potential, nothing                    → belum dinilai potensinya

All units: box 9: 2, box 5: 1, box 4: 1, box 1: 1, others 0; no potential 2; not enough
data 3; total 10. Perhubungan: 9→1, 5→1, 1→1, not enough data 2, total 5. Bappeda:
9→1, 4→1, no potential 1, not enough data 1, total 4.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.rules.periods import add_months
from storage.models import (
    Employee,
    Evaluation,
    EvaluationPeriod,
    Training,
    TrainingParticipant,
    Unit,
    utcnow,
)
from tests.evaluations.reports_support import wib_today
from tests.storage.importing import pns_nip

Maker = async_sessionmaker[AsyncSession]

HR_CHAT = 8820001
BOSS_A_CHAT = 8820002
A1_CHAT = 8820003
B1_CHAT = 8820004

ALL_COUNTS = {1: 1, 2: 0, 3: 0, 4: 1, 5: 1, 6: 0, 7: 0, 8: 0, 9: 2}
DISHUB_COUNTS = {1: 1, 2: 0, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0, 8: 0, 9: 1}
BAPPEDA_COUNTS = {1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 1}


@dataclass(frozen=True)
class TalentOrg:
    ids: dict[str, int]  # short name -> employee id
    names: dict[str, str]  # short name -> full name
    dishub: int
    bappeda: int
    today: dt.date


async def add_talent_org(sessionmaker: Maker, *, today: dt.date | None = None) -> TalentOrg:
    today = today or wib_today()
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        dishub, bappeda, bkpsdm = (
            Unit(name="Dinas Perhubungan"),
            Unit(name="Bappeda"),
            Unit(name="BKPSDM"),
        )
        session.add_all([dishub, bappeda, bkpsdm])
        people: dict[str, Employee] = {}

        def person(key: str, name: str, unit: Unit, **kw: object) -> Employee:
            employee = Employee(
                nip=pns_nip(len(people)), name=name, position=f"Jabatan {key}", unit=unit, **kw
            )
            people[key] = employee
            session.add(employee)
            return employee

        person("hr", "Hj. Nurhayati", bkpsdm, role="hr_admin", telegram_user_id=HR_CHAT)
        boss_a = person(
            "boss_a", "Ir. Yusuf", dishub, potential="tinggi", telegram_user_id=BOSS_A_CHAT
        )
        boss_b = person("boss_b", "Dra. Fitri <Yanti>", bappeda, supervisor=boss_a)
        person(
            "a1",
            "Rina Marlina",
            dishub,
            supervisor=boss_a,
            potential="menengah",
            telegram_user_id=A1_CHAT,
            post_since=dt.date(today.year - 3, 1, 1),
        )
        person(
            "a2",
            "Andi Saputra",
            dishub,
            supervisor=boss_a,
            potential="rendah",
            post_since=dt.date(today.year - 6, 1, 1),
        )
        person("a3", "Budi Santoso", dishub, supervisor=boss_a, potential="tinggi")
        person("a4", "Cici Purnama", dishub, supervisor=boss_a, potential="tinggi", active=False)
        person("a5", "Eka Putri", dishub, supervisor=boss_a, potential="rendah")
        person(
            "b1",
            "Dedi Kurniawan",
            bappeda,
            supervisor=boss_b,
            potential="tinggi",
            telegram_user_id=B1_CHAT,
        )
        person("b2", "Euis Sartika", bappeda, supervisor=boss_b, potential="rendah")
        person("b3", "Fajar Hidayat", bappeda, supervisor=boss_b, potential="menengah")

        periods: dict[int, EvaluationPeriod] = {}
        for offset in range(0, -13, -1):
            year, month = add_months(today.year, today.month, offset)
            periods[offset] = EvaluationPeriod(
                year=year,
                month=month,
                opens_on=dt.date(year, month, 1),
                closes_on=dt.date(year, month, 28),
                status="open" if offset == 0 else "locked",
            )
        session.add_all(periods.values())
        await session.flush()

        def rated(key: str, by: str, predicates: dict[int, str]) -> None:
            for offset, predicate in predicates.items():
                session.add(
                    Evaluation(
                        period_id=periods[offset].id,
                        employee_id=people[key].id,
                        evaluator_id=people[by].id,
                        status="submitted",
                        work_result="sesuai",
                        behaviour="sesuai",
                        predicate=predicate,
                        submitted_at=now,
                    )
                )

        rated("boss_a", "hr", {-1: "sangat_baik", -2: "sangat_baik", -3: "sangat_baik"})
        rated("a1", "boss_a", {-1: "baik", -2: "baik", -4: "baik", -11: "baik"})
        session.add(  # a draft is no result
            Evaluation(
                period_id=periods[0].id,
                employee_id=people["a1"].id,
                evaluator_id=boss_a.id,
                status="draft",
                predicate="sangat_kurang",
            )
        )
        rated("a2", "boss_a", {-1: "kurang", -2: "kurang", -3: "baik"})
        rated("a3", "boss_a", {-1: "sangat_baik", -2: "sangat_baik"})
        rated("a4", "boss_a", {-1: "sangat_baik", -2: "sangat_baik", -3: "sangat_baik"})
        rated("a5", "boss_a", {-1: "sangat_baik", -2: "sangat_baik", -12: "sangat_baik"})
        rated("boss_b", "boss_a", {-1: "baik", -2: "baik", -3: "baik"})
        rated("b1", "boss_b", {0: "sangat_baik", -1: "sangat_baik", -2: "baik", -5: "baik"})
        rated("b2", "boss_b", {-1: "sangat_baik", -2: "sangat_baik", -3: "sangat_baik"})

        def training(code: str, title: str, days: int, **kw: object) -> Training:
            starts = now + dt.timedelta(days=days)
            item = Training(
                code=code, title=title, starts_at=starts, ends_at=starts + dt.timedelta(hours=4)
            )
            for key, value in kw.items():
                setattr(item, key, value)
            session.add(item)
            return item

        done = training("PLT-1", "Pelatihan Kepemimpinan", -40)
        declined = training("PLT-2", "Pelatihan Arsip", -20)
        cancelled = training("PLT-3", "Pelatihan Batal", -10, cancelled_at=now)
        upcoming = training("PLT-4", "Diklat Manajemen", 10)
        elsewhere = training("PLT-5", "Bimtek Perencanaan", 12)
        await session.flush()
        for item, key, attendance in (
            (done, "a1", "hadir"),
            (declined, "a1", "tidak_hadir"),
            (cancelled, "a1", "hadir"),
            (upcoming, "a1", "unknown"),
            (elsewhere, "b1", "hadir"),
        ):
            session.add(
                TrainingParticipant(
                    training_id=item.id, employee_id=people[key].id, attendance=attendance
                )
            )
        await session.flush()
        return TalentOrg(
            ids={key: e.id for key, e in people.items()},
            names={key: e.name for key, e in people.items()},
            dishub=dishub.id,
            bappeda=bappeda.id,
            today=today,
        )
