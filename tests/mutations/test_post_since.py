"""The post's date (TMT Jabatan, ``Employee.post_since``) after a mutation is applied.

The move is applied when the mutation first reaches ``pelantikan`` or ``selesai``, whichever
comes first; ``post_since`` becomes the mutation's TMT if known, else the local day (WIB) of
that stage change. A later stage does not move the employee again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from bot.mutations import change_stage, post_since
from storage.models import Employee, Mutation, Unit
from storage.repositories.mutations import MutationRepository, MutationView
from tests.mutations.test_notices import imported, people, process, row, settings
from tests.support.factories import NIP_STAFF

TMT = dt.date(2026, 3, 1)  # the TMT of test_notices.DECREE


async def _staff(sessionmaker) -> Employee:
    async with sessionmaker() as session:
        staff = await session.scalar(select(Employee).where(Employee.nip == NIP_STAFF))
        assert staff is not None
        return staff


async def _unit_name(sessionmaker, unit_id: int) -> str:
    async with sessionmaker() as session:
        unit = await session.get(Unit, unit_id)
        assert unit is not None
        return unit.name


async def test_selesai_with_a_tmt_sets_post_since_to_the_tmt(sessionmaker, database_url):
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"))
    await process(sessionmaker, config)
    assert (await _staff(sessionmaker)).post_since is None

    await imported(sessionmaker, row("Selesai", decree=True))
    await process(sessionmaker, config)
    staff = await _staff(sessionmaker)
    assert await _unit_name(sessionmaker, staff.unit_id) == "Bappeda"
    assert staff.position == "Perencana Ahli Pertama"
    assert staff.post_since == TMT


async def test_without_a_tmt_the_local_day_of_the_change_is_taken(sessionmaker, database_url):
    """Every path asks for the TMT at SK Terbit; a mutation without one (older data) still
    gets a date: the day, in WIB, the move was applied (here in chat, at pelantikan)."""
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("SK Terbit", decree=True))
    await process(sessionmaker, config)
    async with sessionmaker() as session, session.begin():
        mutation_id = await session.scalar(select(Mutation.id))
        await session.execute(update(Mutation).values(tmt_date=None))
    moment = dt.datetime(2026, 3, 1, 18, 30, tzinfo=dt.UTC)  # 2 March, 01:30 WIB
    async with sessionmaker() as session, session.begin():
        outcome = await change_stage(
            session,
            config,
            mutation_id,
            expected="sk_terbit",
            target="pelantikan",
            actor_id=None,
            now=moment,
        )
    assert outcome.event_id is not None
    await process(sessionmaker, config)
    staff = await _staff(sessionmaker)
    assert await _unit_name(sessionmaker, staff.unit_id) == "Bappeda"
    assert staff.post_since == dt.date(2026, 3, 2)


async def test_pelantikan_applies_the_move_and_selesai_keeps_hrs_correction(
    sessionmaker, database_url
):
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("Diusulkan"))
    await process(sessionmaker, config)
    await imported(sessionmaker, row("Pelantikan", decree=True))
    await process(sessionmaker, config)
    staff = await _staff(sessionmaker)
    assert await _unit_name(sessionmaker, staff.unit_id) == "Bappeda"
    assert staff.post_since == TMT

    # HR corrects the date by hand; reaching selesai later does not move the employee again.
    corrected = dt.date(2026, 3, 2)
    async with sessionmaker() as session, session.begin():
        employee = await session.get(Employee, staff.id)
        assert employee is not None
        employee.post_since = corrected
    await imported(sessionmaker, row("Selesai", decree=True))
    await process(sessionmaker, config)
    assert (await _staff(sessionmaker)).post_since == corrected


async def test_a_mutation_imported_as_history_changes_nothing(sessionmaker, database_url):
    config = settings(database_url)
    await people(sessionmaker)
    await imported(sessionmaker, row("Selesai", decree=True))
    await process(sessionmaker, config)
    staff = await _staff(sessionmaker)
    assert staff.post_since is None
    assert await _unit_name(sessionmaker, staff.unit_id) == "Dinas Perhubungan"


async def test_move_employee_keeps_post_since_when_not_given(sessionmaker):
    await people(sessionmaker)
    staff = await _staff(sessionmaker)
    async with sessionmaker() as session, session.begin():
        repository = MutationRepository(session)
        await repository.move_employee(
            staff.id,
            unit_id=staff.unit_id,
            position="",
            supervisor_id=staff.supervisor_id,
            post_since=dt.date(2025, 1, 2),
        )
    async with sessionmaker() as session, session.begin():
        await MutationRepository(session).move_employee(
            staff.id, unit_id=staff.unit_id, position="", supervisor_id=staff.supervisor_id
        )
    after = await _staff(sessionmaker)
    assert (after.post_since, after.position) == (dt.date(2025, 1, 2), staff.position)


def _view(tmt: dt.date | None) -> MutationView:
    return MutationView(
        id=1,
        employee_id=1,
        employee_name="Rina",
        employee_nip=NIP_STAFF,
        mutation_type="rotasi",
        from_unit="A",
        from_position="a",
        to_unit="B",
        to_position="b",
        external=False,
        stage="selesai",
        stage_changed_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        sk_number=None,
        sk_date=None,
        tmt_date=tmt,
        note=None,
        missing_documents=(),
        inauguration_at=None,
        to_supervisor_id=None,
        to_supervisor_name=None,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def test_post_since_is_the_tmt_else_the_local_day():
    late_evening_utc = dt.datetime(2026, 3, 1, 18, 30, tzinfo=dt.UTC)  # 2 March, 01:30 WIB
    assert post_since(_view(None), late_evening_utc, "Asia/Jakarta") == dt.date(2026, 3, 2)
    assert post_since(_view(None), late_evening_utc.replace(tzinfo=None), "Asia/Jakarta") == (
        dt.date(2026, 3, 2)
    )
    assert post_since(_view(None), late_evening_utc, "UTC") == dt.date(2026, 3, 1)
    assert post_since(_view(TMT), late_evening_utc, "Asia/Jakarta") == TMT
