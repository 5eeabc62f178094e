"""Mutation-planning data: TMT Jabatan and Potensi on employees, the competencies file and
the unit formations file (all-or-nothing, idempotent, detected from the headers)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.cli import KIND_NAMES
from storage.importers import ImportFileError, ImportKind, detect_kind
from storage.importers import messages as m
from storage.importers.columns import expected_header_line
from storage.models import Competency, Employee, UnitFormation
from tests.cli.test_cli import ROOT, run_cli
from tests.storage.importing import (
    BOSS,
    EMPLOYEE_HEADERS,
    HEAD,
    STAFF,
    STAFF2,
    TODAY,
    count,
    csv_bytes,
    employee,
    employees_by_nip,
    employees_file,
    lines,
    only,
    run,
    seed_employees,
    xlsx_bytes,
)

PLANNING_HEADERS = [*EMPLOYEE_HEADERS, "TMT Jabatan", "Potensi"]
COMPETENCY_HEADERS = ["NIP", "Kompetensi", "Tingkat"]
FORMATION_HEADERS = ["Unit", "Jabatan", "Formasi"]


def planned(*rows: list[object]) -> bytes:
    return csv_bytes([PLANNING_HEADERS, *rows])


# --------------------------------------------------------------------------- employees
async def test_post_since_and_potential_are_stored(sessionmaker):
    data = planned(
        [*employee(HEAD, "Hendra", position="Kepala Dinas"), "01/02/2020", "Tinggi"],
        [*employee(BOSS, "Yusuf", supervisor=HEAD), "2019-07-15", " menengah "],
        [*employee(STAFF, supervisor=BOSS), "", ""],
    )
    result = await run(sessionmaker, data)
    assert result.ok, lines(result)
    people = await employees_by_nip(sessionmaker)
    assert people[HEAD].post_since == dt.date(2020, 2, 1)
    assert people[HEAD].potential == "tinggi"
    assert (people[BOSS].post_since, people[BOSS].potential) == (dt.date(2019, 7, 15), "menengah")
    assert (people[STAFF].post_since, people[STAFF].potential) == (None, None)

    again = await run(sessionmaker, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


async def test_xlsx_date_cells_and_english_potential(sessionmaker):
    data = xlsx_bytes(
        [PLANNING_HEADERS, [*employee(STAFF), dt.datetime(2021, 3, 1), "High"]],
        text_columns=(1,),
    )
    result = await run(sessionmaker, data, filename="pegawai.xlsx")
    assert result.ok, lines(result)
    staff = (await employees_by_nip(sessionmaker))[STAFF]
    assert (staff.post_since, staff.potential) == (dt.date(2021, 3, 1), "tinggi")


async def test_absent_columns_keep_and_empty_cells_clear(sessionmaker):
    await run(sessionmaker, planned([*employee(STAFF), "01/02/2020", "Rendah"]))
    # Without the two columns the stored values stay, even when another field changes.
    result = await run(sessionmaker, employees_file(employee(STAFF, position="Analis Kebijakan")))
    assert (result.updated, result.unchanged) == (1, 0)
    staff = (await employees_by_nip(sessionmaker))[STAFF]
    assert (staff.post_since, staff.potential) == (dt.date(2020, 2, 1), "rendah")
    # Present but empty: cleared, as for the other optional columns.
    result = await run(
        sessionmaker, planned([*employee(STAFF, position="Analis Kebijakan"), "", ""])
    )
    assert result.updated == 1
    staff = (await employees_by_nip(sessionmaker))[STAFF]
    assert (staff.post_since, staff.potential) == (None, None)


async def test_only_one_planning_column_may_be_given(sessionmaker):
    await run(sessionmaker, planned([*employee(STAFF), "01/02/2020", "Rendah"]))
    data = csv_bytes([[*EMPLOYEE_HEADERS, "Potensi"], [*employee(STAFF), "Tinggi"]])
    assert (await run(sessionmaker, data)).updated == 1
    staff = (await employees_by_nip(sessionmaker))[STAFF]
    assert (staff.post_since, staff.potential) == (dt.date(2020, 2, 1), "tinggi")


@pytest.mark.parametrize(
    ("post_since", "potential", "column", "message", "params"),
    [
        ("31/02/2020", "Tinggi", "TMT Jabatan", m.BAD_DATE, {"value": "31/02/2020"}),
        ("kemarin", "Tinggi", "TMT Jabatan", m.BAD_DATE, {"value": "kemarin"}),
        (
            "03/03/2026",
            "Tinggi",
            "TMT Jabatan",
            m.POST_SINCE_IN_FUTURE,
            {"date": "03/03/2026", "today": "02/03/2026"},
        ),
        (
            "01/02/2020",
            "Sangat tinggi",
            "Potensi",
            m.BAD_POTENTIAL,
            {"value": "Sangat tinggi", "choices": "Rendah, Menengah, Tinggi"},
        ),
        ("01/02/2020", "2", "Potensi", m.BAD_POTENTIAL, None),
    ],
)
async def test_bad_planning_cells_are_reported_and_nothing_is_written(
    sessionmaker, post_since, potential, column, message, params
):
    data = planned(
        [*employee(BOSS, "Yusuf"), "01/01/2019", "Rendah"],
        [*employee(STAFF, supervisor=BOSS), post_since, potential],
    )
    result = await run(sessionmaker, data)
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (3, column, message)
    if params is not None:
        assert issue.params == params
    assert await count(sessionmaker, Employee) == 0


async def test_today_is_a_valid_post_since(sessionmaker):
    result = await run(sessionmaker, planned([*employee(STAFF), TODAY.strftime("%d/%m/%Y"), ""]))
    assert result.ok, lines(result)


# --------------------------------------------------------------------------- competencies
async def _competencies(sessionmaker) -> dict[tuple[str, str], str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Employee.nip, Competency.name, Competency.level).join(
                Employee, Employee.id == Competency.employee_id
            )
        )
        return {(nip, name): level for nip, name, level in rows}


async def test_competencies_are_upserted_and_others_kept(sessionmaker):
    await seed_employees(sessionmaker, employee(BOSS, "Yusuf"), employee(STAFF, supervisor=BOSS))
    first = csv_bytes(
        [
            COMPETENCY_HEADERS,
            [STAFF, "Integritas", "3"],
            [STAFF, "Manajemen Transportasi", "Mahir"],
            [BOSS, "Kepemimpinan", "4"],
        ]
    )
    result = await run(sessionmaker, first)
    assert result.ok, lines(result)
    assert (result.kind, result.created, result.updated, result.unchanged) == (
        ImportKind.COMPETENCIES,
        3,
        0,
        0,
    )
    again = await run(sessionmaker, first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    # A later file: a changed level (the name matched ignoring case), a new competency;
    # competencies it does not list are kept.
    later = csv_bytes([COMPETENCY_HEADERS, [STAFF, "INTEGRITAS", "4"], [STAFF, "Komunikasi", "2"]])
    result = await run(sessionmaker, later)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert await _competencies(sessionmaker) == {
        (STAFF, "INTEGRITAS"): "4",
        (STAFF, "Manajemen Transportasi"): "Mahir",
        (STAFF, "Komunikasi"): "2",
        (BOSS, "Kepemimpinan"): "4",
    }


async def test_competency_xlsx_number_level(sessionmaker):
    await seed_employees(sessionmaker, employee(STAFF))
    data = xlsx_bytes([COMPETENCY_HEADERS, [STAFF, "Integritas", 3]], text_columns=(1,))
    result = await run(sessionmaker, data, filename="kompetensi.xlsx")
    assert result.ok, lines(result)
    assert await _competencies(sessionmaker) == {(STAFF, "Integritas"): "3"}


async def test_bad_competency_rows_are_all_reported(sessionmaker):
    await seed_employees(sessionmaker, employee(STAFF))
    data = csv_bytes(
        [
            COMPETENCY_HEADERS,
            [STAFF, "Integritas", "3"],  # row 2: fine
            [STAFF2, "Integritas", "3"],  # 3: unknown employee
            ["123", "Integritas", "3"],  # 4: malformed NIP
            [STAFF, "", "3"],  # 5: no competency
            [STAFF, "Komunikasi", ""],  # 6: no level
            [STAFF, "Kerja sama", "x" * 51],  # 7: level too long
            ["", "Integritas", "3"],  # 8: no NIP
            [STAFF, " integritas ", "4"],  # 9: same as row 2
        ]
    )
    result = await run(sessionmaker, data)
    found = [(issue.row, issue.column, issue.message) for issue in result.issues]
    assert found == [
        (2, "Kompetensi", m.DUPLICATE_COMPETENCY),
        (3, "NIP", m.EMPLOYEE_NOT_FOUND),
        (4, "NIP", m.INVALID_NIP),
        (5, "Kompetensi", m.REQUIRED),
        (6, "Tingkat", m.REQUIRED),
        (7, "Tingkat", m.TOO_LONG),
        (8, "NIP", m.REQUIRED),
        (9, "Kompetensi", m.DUPLICATE_COMPETENCY),
    ]
    assert result.issues[0].params == {"competency": "Integritas", "nip": STAFF, "rows": "2, 9"}
    assert await count(sessionmaker, Competency) == 0


# --------------------------------------------------------------------------- formations
async def _formations(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(UnitFormation.position, UnitFormation.required))
        return dict(rows.all())


async def test_formations_are_upserted_per_unit_and_position(sessionmaker):
    await seed_employees(sessionmaker, employee(STAFF, unit="Dinas Perhubungan"))
    first = csv_bytes(
        [
            FORMATION_HEADERS,
            ["Dinas Perhubungan", "Analis Transportasi", "3"],
            ["dinas  perhubungan", "Pranata Komputer", "0"],
        ]
    )
    result = await run(sessionmaker, first)
    assert result.ok, lines(result)
    assert (result.kind, result.created) == (ImportKind.FORMATIONS, 2)
    again = await run(sessionmaker, first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    later = xlsx_bytes(
        [["Unit Kerja", "Jabatan", "Formasi"], ["Dinas Perhubungan", "analis transportasi", 4.0]]
    )
    result = await run(sessionmaker, later, filename="formasi.xlsx")
    assert result.ok, lines(result)
    assert (result.created, result.updated) == (0, 1)
    assert await _formations(sessionmaker) == {"analis transportasi": 4, "Pranata Komputer": 0}


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        (["Dinas Pariwisata", "Analis", "1"], "Unit", m.UNIT_NOT_FOUND),
        (["", "Analis", "1"], "Unit", m.REQUIRED),
        (["Dinas Perhubungan", "", "1"], "Jabatan", m.REQUIRED),
        (["Dinas Perhubungan", "Analis", ""], "Formasi", m.REQUIRED),
        (["Dinas Perhubungan", "Analis", "-1"], "Formasi", m.BAD_FORMATION),
        (["Dinas Perhubungan", "Analis", "2,5"], "Formasi", m.BAD_FORMATION),
        (["Dinas Perhubungan", "Analis", "dua"], "Formasi", m.BAD_FORMATION),
        (["Dinas Perhubungan", "Analis", "100001"], "Formasi", m.BAD_FORMATION),
    ],
)
async def test_bad_formation_rows_are_reported(sessionmaker, cells, column, message):
    await seed_employees(sessionmaker, employee(STAFF, unit="Dinas Perhubungan"))
    data = csv_bytes([FORMATION_HEADERS, ["Dinas Perhubungan", "Perencana", "2"], cells])
    result = await run(sessionmaker, data)
    issue = only(result)
    assert (issue.row, issue.column, issue.message) == (3, column, message)
    assert issue.render()  # every placeholder is filled
    assert "{" not in issue.render()
    assert await count(sessionmaker, UnitFormation) == 0


async def test_a_formation_given_twice_is_reported(sessionmaker):
    await seed_employees(sessionmaker, employee(STAFF, unit="Dinas Perhubungan"))
    data = csv_bytes(
        [
            FORMATION_HEADERS,
            ["Dinas Perhubungan", "Perencana", "2"],
            ["DINAS PERHUBUNGAN", "perencana", "3"],
        ]
    )
    result = await run(sessionmaker, data)
    assert [(i.row, i.message) for i in result.issues] == [
        (2, m.DUPLICATE_FORMATION),
        (3, m.DUPLICATE_FORMATION),
    ]
    assert result.issues[0].params["rows"] == "2, 3"


# --------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        (PLANNING_HEADERS, ImportKind.EMPLOYEES),
        (COMPETENCY_HEADERS, ImportKind.COMPETENCIES),
        (["nip", "KOMPETENSI", "Tingkat Kompetensi"], ImportKind.COMPETENCIES),
        (FORMATION_HEADERS, ImportKind.FORMATIONS),
        (["Unit Kerja", "Jabatan", "Jumlah Formasi"], ImportKind.FORMATIONS),
        (["Unit Kerja", "Jabatan"], None),
        (["NIP", "Kompetensi"], None),
    ],
)
def test_kind_is_detected_from_the_headers(headers, kind):
    assert detect_kind(headers) is kind


async def test_unknown_headers_list_the_new_kinds_too(sessionmaker):
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, csv_bytes([["Nomor", "Keterangan"], ["1", "x"]]))
    params = caught.value.issue.params
    assert params["competencies"] == "NIP, Kompetensi, Tingkat"
    assert params["formations"] == "Unit, Jabatan, Formasi"
    assert "{" not in caught.value.issue.render()


async def test_explicit_kind_names_the_missing_columns(sessionmaker):
    with pytest.raises(ImportFileError) as caught:
        await run(
            sessionmaker, csv_bytes([["NIP", "Kompetensi"], [STAFF, "x"]]), ImportKind.COMPETENCIES
        )
    assert caught.value.issue.params["missing"] == "Tingkat"
    assert caught.value.issue.params["expected"] == expected_header_line(ImportKind.COMPETENCIES)


def test_every_kind_has_a_name_for_the_reports():
    assert set(KIND_NAMES) == {kind.value for kind in ImportKind}


# --------------------------------------------------------------------------- command line
def test_cli_imports_the_examples_and_forces_a_kind(database_url, tmp_path):
    examples = ROOT / "examples"
    for name, kind in (("pegawai", None), ("kompetensi", None), ("formasi", "formations")):
        args = ["import", str(examples / f"{name}.csv")]
        if kind:
            args += ["--kind", kind]
        result = run_cli(*args, database_url=database_url)
        assert result.returncode == 0, result.stderr
    again = run_cli("import", str(examples / "kompetensi.csv"), database_url=database_url)
    assert "0 baru, 0 diperbarui, 3 tidak berubah" in again.stdout, again.stdout
    # Forced to a kind whose columns the file lacks: the missing ones are named.
    wrong = run_cli(
        "import", str(examples / "formasi.csv"), "--kind", "competencies", database_url=database_url
    )
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "NIP" in wrong.stderr and "Kompetensi" in wrong.stderr


def test_cli_kind_choices_include_the_new_kinds():
    result = run_cli("import", "--help")
    assert "competencies" in result.stdout and "formations" in result.stdout


def test_chat_kind_buttons_cover_every_kind():
    from handlers.uploads import _CALLBACK, KIND_LABELS, kind_keyboard

    assert set(KIND_LABELS) == set(ImportKind)
    keyboard = kind_keyboard(7, lambda text, **_: text)  # type: ignore[arg-type]
    data = [button.callback_data for row in keyboard.inline_keyboard for button in row]
    assert data[-1] == "impor:7:batal"
    assert [_CALLBACK.match(d)[2] for d in data] == [*(k.value for k in ImportKind), "batal"]
    assert all(len(row) <= 3 for row in keyboard.inline_keyboard)
