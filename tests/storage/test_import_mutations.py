"""Mutations: validation, stage changes recorded as events, idempotent upsert."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.rules.nip import BAD_TMT_MONTH
from storage.importers import ImportKind
from storage.importers import messages as m
from storage.models import AuditLog, Mutation, MutationEvent
from tests.storage.importing import (
    BOSS,
    MUTATION_HEADERS,
    PPPK,
    STAFF,
    STAFF2,
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


def mutation(
    nip: str = STAFF,
    kind: str = "Rotasi",
    from_unit: str = "Dinas Perhubungan",
    from_position: str = "Analis Transportasi",
    to_unit: str = "BKPSDM",
    to_position: str = "Analis SDM",
    stage: str = "Diusulkan",
    sk_number: object = "",
    sk_date: object = "",
    tmt: object = "",
    note: str = "",
) -> list[object]:
    return [
        nip,
        kind,
        from_unit,
        from_position,
        to_unit,
        to_position,
        stage,
        sk_number,
        sk_date,
        tmt,
        note,
    ]


def mutations_file(*rows: list[object]) -> bytes:
    return csv_bytes([MUTATION_HEADERS, *rows])


@pytest.fixture
async def people(sessionmaker):
    await seed_employees(
        sessionmaker,
        employee(BOSS, "Yusuf"),
        employee(STAFF, "Rina", supervisor=BOSS),
        employee(PPPK, "Andi", kind="PPPK", supervisor=BOSS),
    )
    return await employees_by_nip(sessionmaker)


async def mutations(sessionmaker) -> list[Mutation]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Mutation).order_by(Mutation.id))).all())


async def events(sessionmaker) -> list[tuple[int, str | None, str, int | None, str, str | None]]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(MutationEvent).order_by(MutationEvent.id))
        return [
            (e.mutation_id, e.from_stage, e.to_stage, e.changed_by_id, e.changed_by_label, e.note)
            for e in rows
        ]


async def test_new_mutation_with_its_first_event(sessionmaker, people):
    result = await run(
        sessionmaker,
        mutations_file(mutation(note="Usulan kepala dinas")),
        actor_id=people[BOSS].id,
        actor_label="hr:yusuf",
    )
    assert result.ok, lines(result)
    assert (result.kind, result.created, result.updated, result.unchanged) == (
        ImportKind.MUTATIONS,
        1,
        0,
        0,
    )
    (row,) = await mutations(sessionmaker)
    assert (row.employee_id, row.mutation_type, row.to_unit, row.stage, row.external) == (
        people[STAFF].id,
        "rotasi",
        "BKPSDM",
        "diusulkan",
        False,
    )
    assert row.note == "Usulan kepala dinas"
    assert await events(sessionmaker) == [
        (row.id, None, "diusulkan", people[BOSS].id, "hr:yusuf", "Usulan kepala dinas")
    ]
    async with sessionmaker() as session:
        log = (await session.scalars(select(AuditLog).order_by(AuditLog.id.desc()))).first()
    assert log is not None
    assert (log.entity_type, log.actor_id, log.details["created"]) == (
        "mutations",
        people[BOSS].id,
        1,
    )


async def test_stage_change_updates_and_records_an_event(sessionmaker, people):
    await run(sessionmaker, mutations_file(mutation()))
    (before,) = await mutations(sessionmaker)
    later = mutation(
        stage="SK Terbit",
        sk_number="800/123/BKPSDM-2026",
        sk_date="25/02/2026",  # not after TODAY (2026-03-02): a decree is not dated ahead
        tmt="2026-04-01",
        note="SK ditandatangani",
    )
    result = await run(sessionmaker, mutations_file(later), actor_label="hr:rina")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    (after,) = await mutations(sessionmaker)
    assert after.id == before.id
    assert (after.stage, after.sk_number, after.sk_date, after.tmt_date) == (
        "sk_terbit",
        "800/123/BKPSDM-2026",
        dt.date(2026, 2, 25),
        dt.date(2026, 4, 1),
    )
    assert after.stage_changed_at > before.stage_changed_at
    assert (await events(sessionmaker))[1] == (
        after.id,
        "diusulkan",
        "sk_terbit",
        None,
        "hr:rina",
        "SK ditandatangani",
    )
    again = await run(sessionmaker, mutations_file(later))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert len(await events(sessionmaker)) == 2
    assert await count(sessionmaker, Mutation) == 1


async def test_change_without_new_stage_adds_no_event(sessionmaker, people):
    await run(sessionmaker, mutations_file(mutation()))
    result = await run(sessionmaker, mutations_file(mutation(from_position="Staf")))
    assert result.updated == 1
    assert len(await events(sessionmaker)) == 1


async def test_other_target_is_another_mutation(sessionmaker, people):
    await run(sessionmaker, mutations_file(mutation()))
    result = await run(
        sessionmaker,
        mutations_file(mutation(), mutation(to_unit="Inspektorat"), mutation(PPPK, kind="promosi")),
    )
    assert (result.created, result.updated, result.unchanged) == (2, 0, 1)
    assert await count(sessionmaker, Mutation) == 3


async def test_antar_instansi_is_external(sessionmaker, people):
    result = await run(
        sessionmaker,
        mutations_file(
            mutation(kind="Mutasi antar-instansi", to_unit="Pemkab Agam", stage="Pertek BKN")
        ),
    )
    assert result.ok, lines(result)
    (row,) = await mutations(sessionmaker)
    assert (row.mutation_type, row.external, row.stage) == ("antar_instansi", True, "pertek_bkn")


async def test_xlsx_date_cells(sessionmaker, people):
    row = mutation(
        stage="pelantikan",
        sk_number="800/9",
        sk_date=dt.datetime(2026, 2, 5),
        tmt=dt.date(2026, 4, 1),
    )
    result = await run(sessionmaker, xlsx_bytes([MUTATION_HEADERS, row]), filename="m.xlsx")
    assert result.ok, lines(result)
    (stored,) = await mutations(sessionmaker)
    assert (stored.sk_date, stored.tmt_date) == (dt.date(2026, 2, 5), dt.date(2026, 4, 1))


@pytest.mark.parametrize(
    "text", ["2026-03-05", "05/03/2026", "5/3/2026", "05-03-2026", "05.03.2026"]
)
async def test_date_formats_are_day_first(sessionmaker, people, text):
    result = await run(sessionmaker, mutations_file(mutation(sk_date=text)))
    assert result.ok, lines(result)
    assert (await mutations(sessionmaker))[0].sk_date == dt.date(2026, 3, 5)


async def test_impossible_date(sessionmaker, people):
    issue = only(await run(sessionmaker, mutations_file(mutation(sk_date="31/02/2026"))))
    assert (issue.row, issue.column, issue.message) == (2, "Tanggal SK", m.BAD_DATE)
    assert issue.params == {"value": "31/02/2026"}
    assert "DD/MM/YYYY" in issue.render() and "YYYY-MM-DD" in issue.render()
    issue = only(await run(sessionmaker, mutations_file(mutation(tmt="next month"))))
    assert (issue.column, issue.message) == ("TMT", m.BAD_DATE)


async def test_decree_details_required_from_sk_terbit(sessionmaker, people):
    result = await run(
        sessionmaker, mutations_file(mutation(stage="selesai", sk_date="05/02/2026"))
    )
    assert [(i.row, i.column, i.message, i.params) for i in result.issues] == [
        (2, "No SK", m.REQUIRED_AT_STAGE, {"stage": "selesai"}),
        (2, "TMT", m.REQUIRED_AT_STAGE, {"stage": "selesai"}),
    ]


async def test_unknown_stage_lists_the_valid_ones(sessionmaker, people):
    issue = only(await run(sessionmaker, mutations_file(mutation(stage="Disetujui"))))
    assert (issue.row, issue.column, issue.message) == (2, "Tahap", m.UNKNOWN_STAGE)
    assert issue.params["value"] == "Disetujui"
    assert "pertimbangan_tpk" in issue.params["choices"]
    assert issue.render().startswith('Unknown stage "Disetujui". Use one of: diusulkan, ')


async def test_unknown_mutation_type(sessionmaker, people):
    issue = only(await run(sessionmaker, mutations_file(mutation(kind="Demosi"))))
    assert (issue.column, issue.message) == ("Jenis Mutasi", m.UNKNOWN_MUTATION_TYPE)
    assert issue.params == {"value": "Demosi", "choices": "rotasi, promosi, antar_instansi"}


async def test_units_are_required(sessionmaker, people):
    result = await run(sessionmaker, mutations_file(mutation(from_unit=" ", to_unit="")))
    assert [(i.column, i.message) for i in result.issues] == [
        ("Unit Asal", m.REQUIRED),
        ("Unit Tujuan", m.REQUIRED),
    ]


async def test_employee_must_be_in_the_database(sessionmaker, people):
    issue = only(await run(sessionmaker, mutations_file(mutation(STAFF2))))
    assert (issue.row, issue.column, issue.message, issue.params) == (
        2,
        "NIP",
        m.EMPLOYEE_NOT_FOUND,
        {"nip": STAFF2},
    )


async def test_nip_checked_by_the_employees_type(sessionmaker, people):
    assert (await run(sessionmaker, mutations_file(mutation(PPPK)))).ok
    issue = only(await run(sessionmaker, mutations_file(mutation("199105052021131002"))))
    # Unknown person: a PPPK-shaped number is not rejected by the PNS month rule.
    assert issue.message == m.EMPLOYEE_NOT_FOUND
    issue = only(await run(sessionmaker, mutations_file(mutation("19910505202113100"))))
    assert issue.message == m.INVALID_NIP
    assert issue.params["reason"] != BAD_TMT_MONTH.message


async def test_same_mutation_twice_in_one_file(sessionmaker, people):
    result = await run(sessionmaker, mutations_file(mutation(), mutation(stage="verifikasi")))
    assert [(i.row, i.message, i.params) for i in result.issues] == [
        (2, m.DUPLICATE_MUTATION, {"rows": "2, 3"}),
        (3, m.DUPLICATE_MUTATION, {"rows": "2, 3"}),
    ]


async def test_one_bad_row_writes_nothing(sessionmaker, people):
    result = await run(
        sessionmaker, mutations_file(mutation(), mutation(PPPK, stage="??"), mutation(BOSS))
    )
    assert len(result.issues) == 1 and result.issues[0].row == 3
    assert await count(sessionmaker, Mutation) == 0
    assert await count(sessionmaker, MutationEvent) == 0
    assert await count(sessionmaker, AuditLog) == 1  # the seeding import only
