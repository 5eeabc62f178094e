"""Employees: every validation rule, all-or-nothing, idempotent upsert."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select, update

from bot.rules.nip import BAD_TMT_MONTH, WRONG_LENGTH, ZERO_SEQUENCE
from storage.importers import ImportFileError, ImportKind, read_table
from storage.importers import messages as m
from storage.models import AuditLog, Employee, Unit
from tests.storage.importing import (
    BOSS,
    EMPLOYEE_HEADERS,
    HEAD,
    PPPK,
    STAFF,
    STAFF2,
    count,
    csv_bytes,
    employee,
    employees_by_nip,
    employees_file,
    lines,
    only,
    pns_nip,
    run,
    seed_employees,
    unit_names,
    xlsx_bytes,
)

TEAM = [
    employee(HEAD, "Drs. Hendra Putra", position="Kepala Dinas", unit="Dinas Perhubungan"),
    employee(BOSS, "Yusuf Datuak", position="Sekretaris", supervisor=HEAD, phone="0812 7000 0001"),
    employee(STAFF, "Rina Marlina", supervisor=BOSS, phone="+62 812-7000-0002"),
    employee(PPPK, "Andi Saputra", kind="pppk", rank="", supervisor=BOSS, phone="81270000003"),
]


async def test_import_creates_employees_units_and_the_hierarchy(sessionmaker):
    result = await run(sessionmaker, employees_file(*TEAM), actor_label="hr:budi")
    assert result.ok, lines(result)
    assert (result.kind, result.rows, result.created, result.updated, result.unchanged) == (
        ImportKind.EMPLOYEES,
        4,
        4,
        0,
        0,
    )
    people = await employees_by_nip(sessionmaker)
    assert people[HEAD].supervisor_id is None
    assert people[BOSS].supervisor_id == people[HEAD].id
    assert people[STAFF].supervisor_id == people[BOSS].id
    assert people[PPPK].supervisor_id == people[BOSS].id
    assert people[PPPK].employee_type == "PPPK" and people[PPPK].rank is None
    assert people[STAFF].phone == "6281270000002"
    assert people[PPPK].phone == "6281270000003"
    assert people[STAFF].role == "asn" and people[STAFF].reachable is True
    assert await unit_names(sessionmaker) == ["Dinas Perhubungan"]
    async with sessionmaker() as session:
        log = (await session.scalars(select(AuditLog))).one()
    assert (log.action, log.entity_type, log.actor_label) == ("import", "employees", "hr:budi")
    assert log.details["filename"] == "data.csv"
    assert log.details["created"] == 4 and log.details["rows"] == 4


async def test_reimport_is_idempotent_and_reports_unchanged(sessionmaker):
    data = xlsx_bytes([EMPLOYEE_HEADERS, *TEAM], text_columns=(1, 7))
    first = await run(sessionmaker, data, filename="pegawai.xlsx")
    assert first.ok and first.created == 4
    before = {
        nip: (e.id, e.updated_at, e.supervisor_id)
        for nip, e in (await employees_by_nip(sessionmaker)).items()
    }
    second = await run(sessionmaker, data, filename="pegawai.xlsx")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    after = {
        nip: (e.id, e.updated_at, e.supervisor_id)
        for nip, e in (await employees_by_nip(sessionmaker)).items()
    }
    assert after == before
    assert await count(sessionmaker, Employee) == 4
    assert await count(sessionmaker, Unit) == 1
    assert await count(sessionmaker, AuditLog) == 2


async def test_update_changes_data_but_never_role_or_telegram_link(sessionmaker):
    await seed_employees(sessionmaker, *TEAM)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Employee)
            .where(Employee.nip == STAFF)
            .values(role="hr_admin", telegram_user_id=555, language="en", reachable=False)
        )
    moved = employee(
        STAFF,
        "Rina Marlina, S.E.",
        position="Analis SDM",
        unit="BKPSDM",
        supervisor=HEAD,
        phone="0812 7000 0002",
    )
    result = await run(sessionmaker, employees_file(TEAM[0], TEAM[1], moved, TEAM[3]))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    people = await employees_by_nip(sessionmaker)
    staff = people[STAFF]
    assert (staff.name, staff.position, staff.supervisor_id) == (
        "Rina Marlina, S.E.",
        "Analis SDM",
        people[HEAD].id,
    )
    assert (staff.role, staff.telegram_user_id, staff.language, staff.reachable) == (
        "hr_admin",
        555,
        "en",
        False,
    )
    assert await unit_names(sessionmaker) == ["BKPSDM", "Dinas Perhubungan"]


async def test_optional_columns_left_out_keep_stored_values(sessionmaker):
    await seed_employees(sessionmaker, *TEAM)
    headers = ["NIP", "Nama", "Jenis", "Jabatan", "Unit Kerja"]
    data = csv_bytes(
        [headers, [STAFF, "Rina M.", "PNS", "Analis Transportasi", "Dinas Perhubungan"]]
    )
    result = await run(sessionmaker, data)
    assert (result.updated, result.unchanged) == (1, 0)
    people = await employees_by_nip(sessionmaker)
    assert people[STAFF].name == "Rina M."
    assert (people[STAFF].rank, people[STAFF].phone) == ("III/b", "6281270000002")
    assert people[STAFF].supervisor_id == people[BOSS].id


async def test_units_match_ignoring_case_and_spaces(sessionmaker):
    result = await run(
        sessionmaker,
        employees_file(
            employee(STAFF, unit="Dinas  Kesehatan"), employee(STAFF2, unit="dinas kesehatan")
        ),
    )
    assert result.ok
    assert await unit_names(sessionmaker) == ["Dinas Kesehatan"]


# --- all or nothing -------------------------------------------------------------------------
async def test_one_bad_row_among_good_ones_writes_nothing(sessionmaker):
    good = [employee(pns_nip(i), f"Pegawai {i}") for i in range(30)]
    bad = employee("19860926201505100", "Salah Ketik")
    result = await run(sessionmaker, employees_file(*good[:12], bad, *good[12:]))
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (14, "NIP", m.INVALID_NIP)
    assert issue.params["reason"] == WRONG_LENGTH.message and issue.params["length"] == 17
    assert not result.ok and result.created == 0 and result.rows == 31
    assert await count(sessionmaker, Employee) == 0
    assert await count(sessionmaker, Unit) == 0
    assert await count(sessionmaker, AuditLog) == 0


async def test_every_row_is_checked_and_issues_are_sorted(sessionmaker):
    result = await run(
        sessionmaker,
        employees_file(
            employee(STAFF, name=""),
            employee(STAFF2),
            employee("abc", kind="Honorer", position="", unit=""),
        ),
    )
    assert [(i.row, i.column, i.message) for i in result.issues] == [
        (2, "Nama", m.REQUIRED),
        (4, "Jenis (PNS/PPPK)", m.BAD_EMPLOYEE_TYPE),
        (4, "NIP", m.INVALID_NIP),
        (4, "Jabatan", m.REQUIRED),
        (4, "Unit Kerja", m.REQUIRED),
    ]
    assert result.issues[1].params == {"value": "Honorer"}


# --- NIP ------------------------------------------------------------------------------------
async def test_nip_rules_follow_the_employee_type(sessionmaker):
    # A real NI PPPK passes as PPPK, and the PNS month rule rejects it as PNS.
    ok = await run(sessionmaker, employees_file(employee(PPPK, kind="PPPK")))
    assert ok.ok
    wrong = await run(sessionmaker, employees_file(employee(PPPK, kind="PNS")))
    issue = only(wrong)
    assert (issue.row, issue.column) == (2, "NIP")
    assert issue.params["reason"] == BAD_TMT_MONTH.message
    assert "01 to 12" in issue.render()


async def test_nip_with_spaces_and_dots_is_normalised(sessionmaker):
    result = await run(sessionmaker, employees_file(employee("19860926 201505 1 001")))
    assert result.ok
    assert list(await employees_by_nip(sessionmaker)) == [STAFF]


async def test_nip_zero_sequence(sessionmaker):
    issue = only(await run(sessionmaker, employees_file(employee("198609262015051000"))))
    assert issue.params["reason"] == ZERO_SEQUENCE.message


async def test_nip_typed_as_excel_number(sessionmaker):
    rounded = float(STAFF)  # what Excel keeps: 15 significant digits
    data = xlsx_bytes([EMPLOYEE_HEADERS, [rounded, "Rina", "PNS", "Analis", "", "BKPSDM", "", ""]])
    issue = only(await run(sessionmaker, data, filename="pegawai.xlsx"))
    assert (issue.row, issue.column, issue.message) == (2, "NIP", m.NIP_LOST_DIGITS)
    assert issue.params == {"value": "1.98609262015051E+17"}
    assert "Format the NIP column as Text" in issue.render()
    # The same number saved from Excel as CSV text.
    issue = only(await run(sessionmaker, employees_file(employee("1.98609E+17"))))
    assert issue.message == m.NIP_LOST_DIGITS


def with_exact_integer(data: bytes, rounded: str, exact: str) -> bytes:
    """openpyxl, like Excel, writes big numbers as doubles; other writers keep integers."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                content = content.replace(rounded.encode(), exact.encode())
            target.writestr(name, content)
    return buffer.getvalue()


async def test_nip_as_exact_integer_cell_is_fine(sessionmaker):
    data = xlsx_bytes(
        [EMPLOYEE_HEADERS, [int(STAFF), "Rina", "PNS", "Analis", None, "BKPSDM", None, 81234567890]]
    )
    data = with_exact_integer(data, "1.98609262015051e+17", STAFF)
    assert read_table(data, "x").rows[0][1][0] == int(STAFF)
    result = await run(sessionmaker, data, filename="pegawai.xlsx")
    assert result.ok, lines(result)
    assert (await employees_by_nip(sessionmaker))[STAFF].phone == "6281234567890"


async def test_duplicate_nip_in_the_file_reports_both_rows(sessionmaker):
    result = await run(
        sessionmaker, employees_file(employee(STAFF), employee(STAFF2), employee(STAFF, "Rina 2"))
    )
    assert [(i.row, i.column, i.message, i.params) for i in result.issues] == [
        (2, "NIP", m.DUPLICATE_NIP, {"nip": STAFF, "rows": "2, 4"}),
        (4, "NIP", m.DUPLICATE_NIP, {"nip": STAFF, "rows": "2, 4"}),
    ]


# --- supervisor -----------------------------------------------------------------------------
async def test_supervisor_present_only_in_the_database(sessionmaker):
    await seed_employees(sessionmaker, TEAM[0])
    result = await run(sessionmaker, employees_file(employee(STAFF, supervisor=HEAD)))
    assert result.ok, lines(result)
    people = await employees_by_nip(sessionmaker)
    assert people[STAFF].supervisor_id == people[HEAD].id


async def test_supervisor_must_exist(sessionmaker):
    issue = only(await run(sessionmaker, employees_file(employee(STAFF, supervisor=BOSS))))
    assert (issue.row, issue.column, issue.message) == (2, "NIP Atasan", m.SUPERVISOR_NOT_FOUND)
    assert issue.params == {"nip": BOSS}


async def test_supervisor_nip_must_be_valid(sessionmaker):
    issue = only(await run(sessionmaker, employees_file(employee(STAFF, supervisor="12345"))))
    assert (issue.column, issue.message, issue.params["reason"]) == (
        "NIP Atasan",
        m.INVALID_NIP,
        WRONG_LENGTH.message,
    )


async def test_employee_cannot_supervise_themself(sessionmaker):
    issue = only(await run(sessionmaker, employees_file(employee(STAFF, supervisor=STAFF))))
    assert (issue.row, issue.column, issue.message) == (2, "NIP Atasan", m.SELF_SUPERVISOR)


async def test_supervisor_cycle_is_an_error(sessionmaker):
    result = await run(
        sessionmaker,
        employees_file(
            employee(HEAD),
            employee(BOSS, supervisor=STAFF),
            employee(STAFF, supervisor=BOSS),
        ),
    )
    assert [(i.row, i.column, i.message) for i in result.issues] == [
        (3, "NIP Atasan", m.SUPERVISOR_CYCLE),
        (4, "NIP Atasan", m.SUPERVISOR_CYCLE),
    ]
    assert result.issues[0].params["chain"] == f"{BOSS} → {STAFF} → {BOSS}"
    assert await count(sessionmaker, Employee) == 0


async def test_supervisor_cycle_through_the_database(sessionmaker):
    await seed_employees(sessionmaker, employee(HEAD), employee(BOSS, supervisor=HEAD))
    # HEAD now reports to BOSS, who (in the database) reports to HEAD.
    issue = only(await run(sessionmaker, employees_file(employee(HEAD, supervisor=BOSS))))
    assert (issue.row, issue.message) == (2, m.SUPERVISOR_CYCLE)


async def test_deep_hierarchy_is_linked(sessionmaker):
    chain = [employee(pns_nip(0), "Pegawai 0")]
    chain += [employee(pns_nip(i), f"Pegawai {i}", supervisor=pns_nip(i - 1)) for i in range(1, 45)]
    result = await run(sessionmaker, employees_file(*reversed(chain)))
    assert result.ok and result.created == 45
    people = await employees_by_nip(sessionmaker)
    for i in range(1, 45):
        assert people[pns_nip(i)].supervisor_id == people[pns_nip(i - 1)].id
    assert (await run(sessionmaker, employees_file(*chain))).unchanged == 45


# --- phone ----------------------------------------------------------------------------------
async def test_phone_must_be_a_mobile_number(sessionmaker):
    issue = only(await run(sessionmaker, employees_file(employee(phone="0751-12345"))))
    assert (issue.row, issue.column, issue.message) == (2, "No HP", m.BAD_PHONE)
    assert issue.params == {"value": "0751-12345"}


async def test_same_phone_twice_in_the_file(sessionmaker):
    result = await run(
        sessionmaker,
        employees_file(
            employee(STAFF, phone="081270000002"), employee(STAFF2, phone="+6281270000002")
        ),
    )
    assert [(i.row, i.column, i.message) for i in result.issues] == [
        (2, "No HP", m.DUPLICATE_PHONE),
        (3, "No HP", m.DUPLICATE_PHONE),
    ]
    assert result.issues[0].params == {"phone": "6281270000002", "rows": "2, 3"}


async def test_phone_of_another_employee_in_the_database(sessionmaker):
    await seed_employees(sessionmaker, *TEAM)
    issue = only(await run(sessionmaker, employees_file(employee(STAFF2, phone="0812 7000 0002"))))
    assert (issue.row, issue.column, issue.message) == (2, "No HP", m.PHONE_TAKEN)
    assert issue.params == {"phone": "6281270000002", "nip": STAFF}


async def test_phone_moved_between_employees_in_one_file(sessionmaker):
    await seed_employees(sessionmaker, *TEAM)
    swapped = [
        TEAM[0],
        TEAM[1],
        employee(STAFF, supervisor=BOSS, phone="081270000009"),
        employee(STAFF2, supervisor=BOSS, phone="081270000002"),
    ]
    result = await run(sessionmaker, employees_file(*swapped))
    assert result.ok, lines(result)
    people = await employees_by_nip(sessionmaker)
    assert people[STAFF2].phone == "6281270000002"


async def test_headers_in_other_spellings(sessionmaker):
    headers = ["nip", "NAMA", "jenis", "Jabatan", "golongan", "UNIT KERJA", "nip_atasan", "No. HP"]
    result = await run(sessionmaker, employees_file(*TEAM, headers=headers))
    assert result.ok and result.created == 4
    issue = only(
        await run(sessionmaker, employees_file(employee(STAFF2, phone="12"), headers=headers))
    )
    assert issue.column == "No. HP"  # as headed in the file


# --- failures while writing -----------------------------------------------------------------
async def test_failure_during_the_write_rolls_everything_back(sessionmaker, monkeypatch):
    from storage.importers import employees as importer

    real = importer.insert_rows
    calls = []

    async def insert_then_fail(connection, table, rows, returning=None):
        found = await real(connection, table, rows, returning)
        calls.append(table.name)
        if table.name == "employees":
            raise RuntimeError("disk full")
        return found

    monkeypatch.setattr(importer, "insert_rows", insert_then_fail)
    with pytest.raises(RuntimeError):
        await run(sessionmaker, employees_file(*TEAM))
    assert calls == ["units", "employees"]  # units and a first level were written...
    assert await count(sessionmaker, Unit) == 0  # ...and rolled back
    assert await count(sessionmaker, Employee) == 0
    assert await count(sessionmaker, AuditLog) == 0


async def test_data_changed_by_someone_else_meanwhile(sessionmaker, monkeypatch):
    from storage.importers import employees as importer

    real = importer.insert_rows

    async def racing(connection, table, rows, returning=None):
        if table.name == "employees":  # another import slipped the same NIP in
            await real(connection, table, [dict(rows[0], name="Other")], returning)
        return await real(connection, table, rows, returning)

    monkeypatch.setattr(importer, "insert_rows", racing)
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, employees_file(*TEAM))
    assert caught.value.issue.message == m.FILE_CHANGED_MEANWHILE
    assert await count(sessionmaker, Employee) == 0


async def test_portable_core_path_writes_the_same(sessionmaker, monkeypatch):
    from storage.importers import bulk

    monkeypatch.setattr(bulk, "FAST_PATHS", frozenset())
    assert (await run(sessionmaker, employees_file(*TEAM))).created == 4
    moved = employee(STAFF, "Rina M.", unit="BKPSDM", supervisor=HEAD, phone="081270000002")
    result = await run(sessionmaker, employees_file(TEAM[0], TEAM[1], moved, TEAM[3]))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    people = await employees_by_nip(sessionmaker)
    assert people[STAFF].supervisor_id == people[HEAD].id
    assert people[PPPK].supervisor_id == people[BOSS].id
    assert people[STAFF].role == "asn" and people[STAFF].reachable is True
