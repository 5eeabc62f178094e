"""The demo data set (``storage/demo.py``), on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

import storage.demo
from bot.rules.nip import check_nip
from bot.rules.phone import normalize_phone
from bot.rules.skp import BERAKHLAK, NEEDS_COACHING, Predicate, predicate, summarise_behaviour
from bot.rules.stages import FINAL_STAGES, MutationType, Stage, timeline
from storage.demo import DEMO_PEOPLE, DemoSummary, load_demo
from storage.models import (
    AuditLog,
    Base,
    Employee,
    Evaluation,
    EvaluationPeriod,
    Mutation,
    Training,
    Unit,
)

WIB = dt.timezone(dt.timedelta(hours=7))
SAMPLE_UNITS = {
    "Sekretariat Daerah",
    "Inspektorat",
    "Bappeda",
    "BKPSDM",
    "Badan Keuangan Daerah",
    "Dinas Pendidikan dan Kebudayaan",
    "Dinas Kesehatan",
    "Dinas Pekerjaan Umum dan Penataan Ruang",
    "Dinas Perhubungan",
    "Dinas Lingkungan Hidup",
    "Dinas Sosial",
    "Dinas Kependudukan dan Pencatatan Sipil",
    "Dinas Komunikasi dan Informatika",
    "Dinas Pariwisata",
    "Satpol PP dan Damkar",
    "RSUD Kota Bukittinggi",
    "Kecamatan Guguk Panjang",
    "Kecamatan Mandiangin Koto Selayan",
    "Kecamatan Aur Birugo Tigo Baleh",
}
COACHING = {p.value for p in NEEDS_COACHING}


def wib_today() -> dt.date:
    return dt.datetime.now(WIB).date()


@dataclass
class Demo:
    summary: DemoSummary
    today: dt.date
    units: dict[int, str]
    employees: list[Employee]
    mutations: list[Mutation]
    trainings: list[Training]
    periods: list[EvaluationPeriod]
    evaluations: list[Evaluation]
    audit: list[AuditLog]

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.employees}
        self.by_nip = {e.nip: e for e in self.employees}

    def unit_of(self, employee: Employee) -> str:
        return self.units[employee.unit_id]

    def reports(self, employee: Employee) -> list[Employee]:
        return [e for e in self.employees if e.supervisor_id == employee.id]


async def read_demo(
    sessionmaker: async_sessionmaker[AsyncSession], summary: DemoSummary, today: dt.date
) -> Demo:
    async with sessionmaker() as session:
        return Demo(
            summary=summary,
            today=today,
            units={u.id: u.name for u in await session.scalars(select(Unit))},
            employees=list(await session.scalars(select(Employee).order_by(Employee.id))),
            mutations=list(
                await session.scalars(
                    select(Mutation).options(selectinload(Mutation.events)).order_by(Mutation.id)
                )
            ),
            trainings=list(
                await session.scalars(
                    select(Training)
                    .options(selectinload(Training.participants))
                    .order_by(Training.starts_at)
                )
            ),
            periods=list(
                await session.scalars(
                    select(EvaluationPeriod).order_by(EvaluationPeriod.year, EvaluationPeriod.month)
                )
            ),
            evaluations=list(await session.scalars(select(Evaluation).order_by(Evaluation.id))),
            audit=list(await session.scalars(select(AuditLog))),
        )


@pytest.fixture
async def demo(sessionmaker: async_sessionmaker[AsyncSession]) -> Demo:
    today = wib_today()
    summary = await load_demo(sessionmaker)
    return await read_demo(sessionmaker, summary, today)


async def table_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def wipe(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(table.delete())


# --------------------------------------------------------------------------- contents


async def test_counts_units_and_roles(demo: Demo) -> None:
    summary = demo.summary
    assert summary.created is True
    assert summary.employees == len(demo.employees) >= 320
    assert summary.units == len(demo.units) == 19
    assert set(demo.units.values()) == SAMPLE_UNITS
    assert {demo.unit_of(e) for e in demo.employees} == SAMPLE_UNITS
    assert 30 <= summary.mutations == len(demo.mutations) <= 40
    assert summary.trainings == len(demo.trainings) == 8
    assert summary.participants == sum(len(t.participants) for t in demo.trainings)
    assert summary.evaluations == len(demo.evaluations)
    assert summary.supervisors == len({e.supervisor_id for e in demo.employees} - {None})

    types = Counter(e.employee_type for e in demo.employees)
    assert set(types) == {"PNS", "PPPK"}
    assert 0.10 <= types["PPPK"] / len(demo.employees) <= 0.20
    pns_rank = re.compile(r"^(II|III|IV)/[a-d]$")
    for employee in demo.employees:
        assert employee.name and employee.position
        if employee.employee_type == "PNS":
            assert pns_rank.match(employee.rank or ""), employee.rank
        else:
            assert employee.rank in {"V", "VII", "IX", "X"}
        assert employee.telegram_user_id is None and employee.linked_at is None
        assert employee.active
    roles = Counter(e.role for e in demo.employees)
    assert roles == {"asn": len(demo.employees) - 1, "hr_admin": 1}
    assert demo.by_nip[DEMO_PEOPLE["hr_admin"]].role == "hr_admin"
    assert demo.unit_of(demo.by_nip[DEMO_PEOPLE["hr_admin"]]) == "BKPSDM"

    assert [a.action for a in demo.audit] == ["demo_load"]
    assert demo.audit[0].details["employees"] == summary.employees


async def test_nips_and_phones_are_valid_and_unique(demo: Demo) -> None:
    nips = [e.nip for e in demo.employees]
    assert len(set(nips)) == len(nips)
    for employee in demo.employees:
        nip, problem = check_nip(employee.nip, employee.employee_type)
        assert problem is None and nip == employee.nip, (employee.nip, employee.employee_type)
        if employee.employee_type == "PNS":
            born = dt.date(int(nip[:4]), int(nip[4:6]), int(nip[6:8]))
            appointed = dt.date(int(nip[8:12]), int(nip[12:14]), 1)
            assert appointed > born.replace(year=born.year + 18)
        else:
            assert 2019 <= int(nip[8:12]) <= 2024
    phones = [e.phone for e in demo.employees]
    assert len(set(phones)) == len(phones)
    for phone in phones:
        assert phone is not None and phone.startswith("62812")
        assert normalize_phone(phone) == phone


async def test_supervisor_tree(demo: Demo) -> None:
    roots = [e for e in demo.employees if e.supervisor_id is None]
    assert [e.nip for e in roots] == [DEMO_PEOPLE["sekda"]]
    sekda = roots[0]
    assert sekda.position == "Sekretaris Daerah"
    assert demo.unit_of(sekda) == "Sekretariat Daerah"
    depth = {}
    for employee in demo.employees:
        seen, node = set(), employee
        while node.supervisor_id is not None:
            assert node.id not in seen, "cycle"
            seen.add(node.id)
            node = demo.by_id[node.supervisor_id]
        assert node is sekda
        depth[employee.id] = len(seen)
    assert max(depth.values()) == 3
    for employee in demo.employees:
        if employee.supervisor_id is None:
            continue
        boss = demo.by_id[employee.supervisor_id]
        if demo.unit_of(boss) != demo.unit_of(employee):
            assert boss is sekda, employee.name  # only unit heads report across units
    heads = [e for e in demo.employees if e.supervisor_id == sekda.id]
    by_unit = Counter(demo.unit_of(e) for e in heads if demo.unit_of(e) != "Sekretariat Daerah")
    assert by_unit == dict.fromkeys(SAMPLE_UNITS - {"Sekretariat Daerah"}, 1)
    for head in [*heads, sekda]:
        if head is sekda or demo.unit_of(head) != "Sekretariat Daerah":
            mids = [e for e in demo.reports(head) if demo.unit_of(e) == demo.unit_of(head)]
            assert 2 <= len(mids) <= 4, head.position
            assert all(demo.reports(m) for m in mids), head.position
    assert any(e.position.startswith("Camat ") for e in heads)
    assert any(e.position.startswith("Lurah ") for e in demo.employees)


async def test_evaluations_follow_the_rules(demo: Demo) -> None:
    now = dt.datetime.now(dt.UTC)
    periods = demo.periods
    assert [p.status for p in periods] == ["locked", "locked", "locked", "open"]
    assert (periods[-1].year, periods[-1].month) == (demo.today.year, demo.today.month)
    for period in periods:
        assert period.opens_on == dt.date(period.year, period.month, 1)
        assert period.closes_on > period.opens_on + dt.timedelta(days=27)
        assert period.closes_on.day <= 9 and period.closes_on.weekday() < 5
    locked = {p.id for p in periods if p.status == "locked"}
    current = periods[-1].id
    predicates = Counter()
    for evaluation in demo.evaluations:
        employee = demo.by_id[evaluation.employee_id]
        assert evaluation.evaluator_id == employee.supervisor_id
        if evaluation.status == "submitted":
            assert evaluation.period_id in locked
            assert set(evaluation.behaviour_ratings) == set(BERAKHLAK)
            behaviour = summarise_behaviour(evaluation.behaviour_ratings.values())
            assert evaluation.behaviour == behaviour.value
            assert evaluation.predicate == predicate(evaluation.work_result, behaviour).value
            assert evaluation.submitted_at is not None and evaluation.submitted_at < now
            if evaluation.predicate in COACHING:
                assert evaluation.feedback
            predicates[evaluation.predicate] += 1
        else:
            assert evaluation.status == "draft"
            assert evaluation.period_id == current
            assert evaluation.predicate is None and evaluation.submitted_at is None
            assert set(evaluation.behaviour_ratings) < set(BERAKHLAK)
    evaluated = len([e for e in demo.employees if e.supervisor_id is not None])
    for period_id in locked:
        done = sum(1 for e in demo.evaluations if e.period_id == period_id)
        assert 0.8 * evaluated <= done < evaluated
    drafts = [e for e in demo.evaluations if e.period_id == current]
    assert 3 <= len(drafts) <= 15
    total = sum(predicates.values())
    assert predicates.most_common(1)[0][0] == Predicate.BAIK
    assert predicates[Predicate.BAIK] / total > 0.7
    assert 0.03 < predicates[Predicate.SANGAT_BAIK] / total < 0.2
    assert 0 < sum(predicates[p] for p in COACHING) / total < 0.15
    assert any(e.feedback for e in demo.evaluations if e.predicate == Predicate.BAIK)


def allowed(previous: str, stage: str, external: bool) -> bool:
    """The timeline's next step, the returned-documents loop, or a cancellation."""
    if stage == Stage.DIBATALKAN:
        return previous not in FINAL_STAGES
    loop = {(Stage.VERIFIKASI, Stage.DIKEMBALIKAN), (Stage.DIKEMBALIKAN, Stage.VERIFIKASI)}
    return (previous, stage) in loop or (previous, stage) in set(pairwise(timeline(external)))


async def test_mutations_and_their_histories(demo: Demo) -> None:
    now = dt.datetime.now(dt.UTC)
    admin = demo.by_nip[DEMO_PEOPLE["hr_admin"]]
    assert {m.stage for m in demo.mutations} == {s.value for s in Stage}
    assert {m.mutation_type for m in demo.mutations} == {t.value for t in MutationType}
    assert len({m.employee_id for m in demo.mutations}) == len(demo.mutations)
    sk = re.compile(r"^800\.1\.3\.3/\d+/BKPSDM-\d{4}$")
    for mutation in demo.mutations:
        events = mutation.events
        assert events[0].from_stage is None and events[0].to_stage == Stage.DIUSULKAN
        for before, after in pairwise(events):
            assert after.from_stage == before.to_stage
            assert after.changed_at > before.changed_at
            assert allowed(before.to_stage, after.to_stage, mutation.external), mutation.id
        assert events[-1].to_stage == mutation.stage
        assert events[-1].changed_at == mutation.stage_changed_at < now
        assert all(e.changed_by_id == admin.id and e.note for e in events)
        assert mutation.external == (mutation.mutation_type == MutationType.ANTAR_INSTANSI)
        reached_sk = Stage.SK_TERBIT in {e.to_stage for e in events}
        assert (mutation.sk_number is not None) == reached_sk
        assert (mutation.sk_date is not None) == reached_sk == (mutation.tmt_date is not None)
        if reached_sk:
            assert sk.match(mutation.sk_number), mutation.sk_number
            assert mutation.sk_date <= mutation.tmt_date
        employee = demo.by_id[mutation.employee_id]
        if mutation.stage == Stage.SELESAI:
            assert (demo.unit_of(employee), employee.position) == (
                mutation.to_unit,
                mutation.to_position,
            )
        else:
            assert (demo.unit_of(employee), employee.position) == (
                mutation.from_unit,
                mutation.from_position,
            )
        if mutation.stage == Stage.DIKEMBALIKAN:
            assert "Dokumen yang belum lengkap" in (mutation.note or "")
        if mutation.stage == Stage.DIBATALKAN:
            assert mutation.note
    assert any(
        m.stage == Stage.PERTEK_BKN and m.external and m.mutation_type == "antar_instansi"
        for m in demo.mutations
    )
    recent = [
        m
        for m in demo.mutations
        if m.stage == Stage.SELESAI and m.tmt_date >= demo.today - dt.timedelta(days=90)
    ]
    assert len(recent) >= 3


async def test_trainings(demo: Demo) -> None:
    now = dt.datetime.now(dt.UTC)
    past = [t for t in demo.trainings if t.ends_at < now]
    upcoming = [t for t in demo.trainings if t.starts_at > now]
    assert len(past) >= 3 and len(upcoming) >= 3
    assert len({t.code for t in demo.trainings}) == len(demo.trainings)
    for training in demo.trainings:
        start, end = training.starts_at.astimezone(WIB), training.ends_at.astimezone(WIB)
        assert start < end and start.hour >= 8 and (end.hour, end.minute) <= (16, 0)
        assert start.weekday() < 5
        assert training.place or training.online_link
        assert 5 <= len(training.participants) <= 30
        assert len({p.employee_id for p in training.participants}) == len(training.participants)
        if training in past:
            assert {p.attendance for p in training.participants} <= {"hadir", "tidak_hadir"}
        for participant in training.participants:
            if participant.responded_at is not None:
                assert participant.responded_at < now
    assert any(t.online_link for t in demo.trainings)
    assert any("Bukittinggi" in t.place for t in demo.trainings)
    assert sum(t.mutation_id is not None for t in demo.trainings) >= 2
    assert upcoming[-1].starts_at < now + dt.timedelta(days=35)
    moved = {m.employee_id for m in demo.mutations if m.stage == Stage.SELESAI}
    invited = {p.employee_id for t in demo.trainings for p in t.participants}
    assert len(moved & invited) >= len(moved) // 2


async def test_demo_people(demo: Demo) -> None:
    now = dt.datetime.now(dt.UTC)
    assert {"hr_admin", "supervisor", "asn_in_mutation", "asn_new_in_unit"} <= set(DEMO_PEOPLE)
    people = {role: demo.by_nip[nip] for role, nip in DEMO_PEOPLE.items()}
    assert people["sekda"].supervisor_id is None

    supervisor = people["supervisor"]
    current = demo.periods[-1]
    reports = demo.reports(supervisor)
    assert len(reports) >= 5
    submitted_now = {
        e.employee_id
        for e in demo.evaluations
        if e.period_id == current.id and e.status == "submitted"
    }
    assert not {r.id for r in reports} & submitted_now  # all pending this month

    new = people["asn_new_in_unit"]
    assert new.supervisor_id == supervisor.id
    (move,) = [m for m in demo.mutations if m.employee_id == new.id]
    assert move.stage == Stage.SELESAI and move.to_unit == demo.unit_of(supervisor)
    assert move.from_unit != move.to_unit
    assert move.tmt_date >= demo.today - dt.timedelta(days=90)

    in_mutation = people["asn_in_mutation"]
    (move,) = [m for m in demo.mutations if m.employee_id == in_mutation.id]
    assert move.stage in {Stage.PERTIMBANGAN_TPK, Stage.SK_TERBIT}
    tied = [t for t in demo.trainings if t.mutation_id == move.id]
    assert tied and tied[0].starts_at > now
    assert in_mutation.id in {p.employee_id for p in tied[0].participants}

    weak = people["asn_needs_coaching"]
    last_locked = demo.periods[-2]
    (rating,) = [
        e for e in demo.evaluations if e.employee_id == weak.id and e.period_id == last_locked.id
    ]
    assert rating.predicate in COACHING


# --------------------------------------------------------------------------- loading


async def test_second_load_writes_nothing(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    first = await load_demo(sessionmaker)
    before = await table_counts(sessionmaker)
    second = await load_demo(sessionmaker)
    assert second.created is False
    assert await table_counts(sessionmaker) == before
    assert (second.employees, second.units, second.mutations, second.evaluations) == (
        first.employees,
        first.units,
        first.mutations,
        first.evaluations,
    )


async def test_same_seed_same_data(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    today = wib_today()

    async def fingerprint(seed: int) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
        await wipe(sessionmaker)
        summary = await load_demo(sessionmaker, seed=seed, today=today)
        demo = await read_demo(sessionmaker, summary, today)
        people = [
            (
                e.nip,
                e.name,
                demo.unit_of(e),
                e.position,
                demo.by_id[e.supervisor_id].nip if e.supervisor_id else "",
            )
            for e in demo.employees
        ]
        moves = [
            (demo.by_id[m.employee_id].nip, m.stage, m.to_unit, str(m.tmt_date))
            for m in demo.mutations
        ]
        return people, moves

    first = await fingerprint(2026)
    assert await fingerprint(2026) == first
    other = await fingerprint(7)
    first_nips, other_nips = {p[0] for p in first[0]}, {p[0] for p in other[0]}
    assert other_nips != first_nips
    assert set(DEMO_PEOPLE.values()) <= first_nips & other_nips  # fixed whatever the seed
    assert len(first_nips & other_nips) < len(first_nips) // 2


async def test_all_or_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage.demo, "_write_evaluations", broken)
    with pytest.raises(RuntimeError):
        await load_demo(sessionmaker)
    assert set((await table_counts(sessionmaker)).values()) == {0}


async def test_existing_units_are_reused(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(Unit(name="BKPSDM"))
    summary = await load_demo(sessionmaker, employees=150)
    assert summary.created and summary.units == 19 and summary.employees >= 150
    counts = await table_counts(sessionmaker)
    assert counts["units"] == 19 and counts["employees"] == summary.employees


async def test_too_few_employees_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(ValueError):
        await load_demo(sessionmaker, employees=10)
