"""Trainings: WIB times stored in UTC, one session per Kode, participants added."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from storage.importers import ImportKind
from storage.importers import messages as m
from storage.models import Training, TrainingParticipant
from tests.storage.importing import (
    BOSS,
    PPPK,
    STAFF,
    STAFF2,
    TRAINING_HEADERS,
    count,
    csv_bytes,
    employee,
    employees_by_nip,
    lines,
    only,
    run,
    seed_employees,
    xlsx_bytes,
)

UTC = dt.UTC


def training(
    nip: str = STAFF,
    code: str = "DIKLAT-01",
    title: str = "Orientasi Jabatan Baru",
    start: object = "05/03/2026 08:00",
    end: object = "05/03/2026 12.30",
    place: str = "Aula BKPSDM",
) -> list[object]:
    return [code, title, start, end, place, nip]


def trainings_file(*rows: list[object]) -> bytes:
    return csv_bytes([TRAINING_HEADERS, *rows], delimiter=";")


@pytest.fixture
async def people(sessionmaker):
    await seed_employees(
        sessionmaker,
        employee(BOSS, "Yusuf"),
        employee(STAFF, "Rina", supervisor=BOSS),
        employee(PPPK, "Andi", kind="PPPK", supervisor=BOSS),
    )
    return await employees_by_nip(sessionmaker)


async def sessions(sessionmaker) -> list[Training]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Training).order_by(Training.id))).all())


async def participants(sessionmaker) -> set[tuple[int, int, str]]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(TrainingParticipant))
        return {(p.training_id, p.employee_id, p.attendance) for p in rows}


async def test_times_are_read_in_wib_and_stored_in_utc(sessionmaker, people):
    result = await run(sessionmaker, trainings_file(training(), training(PPPK)))
    assert result.ok, lines(result)
    assert (result.kind, result.rows, result.created) == (ImportKind.TRAININGS, 2, 2)
    (stored,) = await sessions(sessionmaker)
    assert stored.starts_at == dt.datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    assert stored.ends_at == dt.datetime(2026, 3, 5, 5, 30, tzinfo=UTC)
    assert (stored.code, stored.place, stored.online_link) == ("DIKLAT-01", "Aula BKPSDM", None)
    assert await participants(sessionmaker) == {
        (stored.id, people[STAFF].id, "unknown"),
        (stored.id, people[PPPK].id, "unknown"),
    }


async def test_xlsx_datetime_cells_and_other_zone(sessionmaker, people):
    row = training(start=dt.datetime(2026, 3, 5, 8, 0), end="2026-03-05 16:00")
    data = xlsx_bytes([TRAINING_HEADERS, row], text_columns=(6,))
    result = await run(sessionmaker, data, filename="t.xlsx", timezone="Asia/Makassar")
    assert result.ok, lines(result)
    (stored,) = await sessions(sessionmaker)
    assert stored.starts_at == dt.datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # WITA = UTC+8
    assert stored.ends_at == dt.datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


async def test_online_place_is_also_the_link(sessionmaker, people):
    link = "https://zoom.us/j/123456789"
    assert (await run(sessionmaker, trainings_file(training(place=link)))).ok
    (stored,) = await sessions(sessionmaker)
    assert (stored.place, stored.online_link) == (link, link)


async def test_reimport_is_idempotent_and_adds_missing_participants(sessionmaker, people):
    first = trainings_file(training(), training(PPPK))
    await run(sessionmaker, first)
    again = await run(sessionmaker, first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    more = await run(sessionmaker, trainings_file(training(BOSS)))  # others stay enrolled
    assert (more.created, more.unchanged) == (1, 0)
    assert len(await participants(sessionmaker)) == 3
    assert await count(sessionmaker, Training) == 1


async def test_changed_session_is_updated(sessionmaker, people):
    await run(sessionmaker, trainings_file(training(), training(PPPK)))
    moved = [
        training(start="06/03/2026 09:00", end="06/03/2026 11:00"),
        training(PPPK, start="06/03/2026 09:00", end="06/03/2026 11:00"),
    ]
    result = await run(sessionmaker, trainings_file(*moved))
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    (stored,) = await sessions(sessionmaker)
    assert stored.starts_at == dt.datetime(2026, 3, 6, 2, 0, tzinfo=UTC)


async def test_bad_datetime(sessionmaker, people):
    issue = only(await run(sessionmaker, trainings_file(training(start="05/03/2026"))))
    assert (issue.row, issue.column, issue.message) == (2, "Mulai", m.BAD_DATETIME)
    assert issue.params == {"value": "05/03/2026", "zone": "WIB"}
    issue = only(await run(sessionmaker, trainings_file(training(end="30/02/2026 10:00"))))
    assert (issue.column, issue.message) == ("Selesai", m.BAD_DATETIME)
    issue = only(await run(sessionmaker, trainings_file(training(end="05/03/2026 25:00"))))
    assert issue.column == "Selesai"


async def test_end_must_be_after_start(sessionmaker, people):
    issue = only(await run(sessionmaker, trainings_file(training(end="05/03/2026 08:00"))))
    assert (issue.row, issue.column, issue.message) == (2, "Selesai", m.END_NOT_AFTER_START)


async def test_code_and_title_required(sessionmaker, people):
    result = await run(sessionmaker, trainings_file(training(code="", title=" ")))
    assert [(i.row, i.column, i.message) for i in result.issues] == [
        (2, "Kode", m.REQUIRED),
        (2, "Judul", m.REQUIRED),
    ]


async def test_rows_of_one_code_must_agree(sessionmaker, people):
    result = await run(
        sessionmaker,
        trainings_file(
            training(),
            training(PPPK, title="Orientasi Jabatan", place="Aula Balai Kota"),
            training(BOSS),
        ),
    )
    assert [(i.row, i.column, i.message) for i in result.issues] == [
        (3, "Judul", m.TRAINING_MISMATCH),
        (3, "Tempat", m.TRAINING_MISMATCH),
    ]
    assert result.issues[0].params == {
        "first_row": 2,
        "code": "DIKLAT-01",
        "columns": "Judul, Mulai, Selesai, Tempat",
    }
    assert await count(sessionmaker, Training) == 0


async def test_same_participant_twice(sessionmaker, people):
    result = await run(
        sessionmaker, trainings_file(training(), training(STAFF, code="X"), training())
    )
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (4, "NIP", m.DUPLICATE_PARTICIPANT)
    assert issue.params == {"nip": STAFF, "code": "DIKLAT-01", "first_row": 2}


async def test_participant_must_be_an_employee(sessionmaker, people):
    result = await run(sessionmaker, trainings_file(training(), training(STAFF2)))
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (3, "NIP", m.EMPLOYEE_NOT_FOUND)
    assert await count(sessionmaker, Training) == 0
    assert await count(sessionmaker, TrainingParticipant) == 0
