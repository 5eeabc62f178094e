"""Drafts and trainings repositories, on both databases."""

from __future__ import annotations

import datetime as dt

from storage.models import utcnow
from storage.repositories.drafts import DRAFT_TTL, DraftRepository
from storage.repositories.trainings import TrainingRepository
from tests.trainings.support import add_people, add_training, answers


async def test_a_draft_is_put_replaced_taken_and_forgotten_after_a_day(sessionmaker):
    async with sessionmaker() as session, session.begin():
        drafts = DraftRepository(session)
        await drafts.put(1, "absence", "reason", {"training_id": 5})
        await drafts.put(1, "absence", "reason", {"training_id": 6})
        await drafts.put(1, "training_new", "title", {})
        await drafts.put(2, "absence", "reason", {"training_id": 7})
    async with sessionmaker() as session, session.begin():
        drafts = DraftRepository(session)
        assert (await drafts.get(1, "absence")).data == {"training_id": 6}
        latest = await drafts.latest(1, ["absence", "training_new"])
        assert latest is not None and latest.flow == "training_new"
        taken = await drafts.take(1, "absence")
        assert taken is not None and taken.data == {"training_id": 6}
        assert await drafts.take(1, "absence") is None
        assert await drafts.clear(1, "training_new", "other") == 1
    later = utcnow() + DRAFT_TTL + dt.timedelta(minutes=1)
    async with sessionmaker() as session, session.begin():
        drafts = DraftRepository(session)
        assert await drafts.get(2, "absence", now=later) is None  # expired: absent
        assert await drafts.take(2, "absence", now=later) is None
        assert await drafts.get(2, "absence") is None  # and it was removed


async def test_codes_count_up_per_year_and_skip_foreign_codes(sessionmaker):
    people = await add_people(sessionmaker)
    await add_training(sessionmaker, [people.staff], code="PLT-2026-0041")
    await add_training(sessionmaker, [people.staff], code="PLT-2026-X")
    start = utcnow() + dt.timedelta(days=2)
    codes = []
    for year in (2026, 2026, 2027):
        async with sessionmaker() as session, session.begin():
            made = await TrainingRepository(session).create(
                title="T",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=2),
                place="Aula",
                online_link=None,
                employee_ids=[people.staff, people.staff, people.other],
                created_by_id=people.hr,
                year=year,
            )
            codes.append(made.code)
    assert codes == ["PLT-2026-0042", "PLT-2026-0043", "PLT-2027-0001"]


async def test_answers_only_from_participants_of_open_trainings(sessionmaker):
    people = await add_people(sessionmaker)
    open_ = await add_training(sessionmaker, [people.staff], code="O")
    cancelled = await add_training(sessionmaker, [people.staff], code="C", cancelled=True)
    ended = await add_training(
        sessionmaker, [people.staff], code="E", starts_in=dt.timedelta(hours=-5), hours=1
    )
    async with sessionmaker() as session, session.begin():
        repository = TrainingRepository(session)
        assert await repository.set_attendance(open_, people.staff, "tidak_hadir", reason="Cuti")
        assert not await repository.set_attendance(open_, people.other, "hadir")
        assert not await repository.set_attendance(cancelled, people.staff, "hadir")
        assert not await repository.set_attendance(ended, people.staff, "hadir")
        assert await repository.move(cancelled, utcnow(), utcnow()) is None
        assert await repository.cancel(ended, "x") is None
    assert (await answers(sessionmaker, open_))[people.staff] == ("tidak_hadir", "Cuti")
    async with sessionmaker() as session, session.begin():
        repository = TrainingRepository(session)
        assert await repository.set_attendance(open_, people.staff, "hadir", reason="ignored")
    assert (await answers(sessionmaker, open_))[people.staff] == ("hadir", None)


async def test_units_are_paged_and_searched_with_member_counts(sessionmaker):
    await add_people(sessionmaker)
    async with sessionmaker() as session:
        repository = TrainingRepository(session)
        page, total = await repository.units(limit=1)
        assert total == 2 and [u.name for u in page] == ["Dinas Kesehatan"]
        page, _ = await repository.units(offset=1, limit=1)
        assert [(u.name, u.members) for u in page] == [("Dinas Perhubungan", 2)]
        assert [u.name for u in await repository.search_units("HUB")] == ["Dinas Perhubungan"]
        assert await repository.search_units("100%") == []
        assert len(await repository.search_units("dinas")) == 2
