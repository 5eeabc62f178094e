"""Reading files: formats, headers, kind detection and whole-file problems."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from storage.importers import (
    MAX_FILE_BYTES,
    ImportFileError,
    ImportIssue,
    ImportKind,
    Msgid,
    detect_kind,
    read_table,
)
from storage.importers import messages as m
from storage.models import AuditLog, Employee
from tests.storage.importing import (
    EMPLOYEE_HEADERS,
    MUTATION_HEADERS,
    STAFF,
    STAFF2,
    TRAINING_HEADERS,
    count,
    csv_bytes,
    employee,
    run,
    xlsx_bytes,
)

ROWS = [EMPLOYEE_HEADERS, employee(), employee(STAFF2, name="Dewi Sartika", phone="0812-3456-7891")]


def file_error(data: bytes, filename: str = "data.csv") -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        read_table(data, filename)
    issue = caught.value.issue
    assert issue.row is None and issue.column is None
    return caught.value


# --- formats --------------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_delimiter_is_taken_from_the_header_line(delimiter):
    table = read_table(csv_bytes(ROWS, delimiter=delimiter), "pegawai.csv")
    assert table.headers == EMPLOYEE_HEADERS
    assert [number for number, _row in table.rows] == [2, 3]
    assert table.rows[1][1][0] == STAFF2


def test_csv_with_byte_order_mark_and_quoted_fields():
    rows = [EMPLOYEE_HEADERS, employee(name="Marlina, S.E.; M.Si", position='Kepala "Seksi"')]
    table = read_table(csv_bytes(rows, delimiter=";", bom=True), "pegawai.csv")
    assert table.headers[0] == "NIP"  # no BOM glued to the first header
    assert table.rows[0][1][1] == "Marlina, S.E.; M.Si"
    assert table.rows[0][1][3] == 'Kepala "Seksi"'


def test_xlsx_is_recognised_by_content_not_by_name():
    table = read_table(xlsx_bytes(ROWS), "pegawai.csv")
    assert table.headers == EMPLOYEE_HEADERS
    assert [row[0] for _number, row in table.rows] == [STAFF, STAFF2]


def test_blank_rows_are_skipped_and_row_numbers_kept():
    rows = [EMPLOYEE_HEADERS, employee(), [""] * 8, employee(STAFF2), [], ["", " "], []]
    for data in (csv_bytes(rows), xlsx_bytes(rows)):
        table = read_table(data, "x")
        assert [number for number, _row in table.rows] == [2, 4]


def test_xlsx_cells_keep_their_types():
    day = dt.datetime(2026, 3, 5, 8, 30)
    table = read_table(xlsx_bytes([["Kode", "Mulai", "Angka"], ["A", day, 12]]), "x.xlsx")
    assert table.rows[0][1] == ("A", day, 12)


# --- whole-file problems --------------------------------------------------------------------
def test_empty_file():
    for data in (b"", b"   \r\n", "\ufeff".encode()):
        assert file_error(data).issue.message == m.FILE_EMPTY


def test_header_only():
    for data in (csv_bytes([EMPLOYEE_HEADERS]), xlsx_bytes([EMPLOYEE_HEADERS, [None] * 8])):
        assert file_error(data).issue.message == m.FILE_NO_DATA


def test_pdf_is_refused_with_a_hint():
    error = file_error(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "pegawai.pdf")
    assert error.issue.message == m.FILE_PDF
    assert "Excel (.xlsx) or CSV" in str(error)


def test_binary_junk_is_refused():
    junk = bytes(range(256)) * 40
    assert file_error(junk).issue.message == m.FILE_NOT_TABLE


def test_old_xls_is_refused_with_a_hint():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert file_error(data, "pegawai.xls").issue.message == m.FILE_OLD_XLS


def test_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("foto.txt", "bukan excel")
    assert file_error(buffer.getvalue(), "data.xlsx").issue.message == m.FILE_ZIP_NOT_XLSX


def test_damaged_xlsx():
    data = xlsx_bytes(ROWS)
    assert file_error(data[: len(data) // 2], "data.xlsx").issue.message == m.FILE_BAD_XLSX


def test_csv_with_a_quote_never_closed():
    data = b'NIP,Nama,Jenis,Jabatan,Unit Kerja\n1,"Rina,PNS,Analis,BKPSDM\n2,Dewi,PNS,Guru,BKPSDM\n'
    error = file_error(data)
    assert (error.issue.message, error.issue.params) == (m.FILE_BAD_CSV, {"row": 2})


def test_csv_not_in_utf8():
    data = "NIP;Nama\n198609262015051001;Müller Françoise\n".encode("cp1252")
    error = file_error(data)
    assert error.issue.message == m.FILE_NOT_UTF8
    assert "CSV UTF-8" in str(error)
    assert file_error("NIP".encode("utf-16")).issue.message == m.FILE_NOT_UTF8


def test_file_over_the_limit_is_refused_before_parsing():
    huge = b"\x00" * (50 * 1024 * 1024)
    error = file_error(huge)
    assert error.issue.message == m.FILE_TOO_LARGE
    assert error.issue.params == {"size": "50.0", "limit": 20}
    assert file_error(b"PK\x03\x04" + b"\x00" * MAX_FILE_BYTES).issue.message == m.FILE_TOO_LARGE


async def test_file_errors_come_out_of_import_file_and_write_nothing(sessionmaker):
    for data in (b"", b"%PDF-1.4 junk", csv_bytes([EMPLOYEE_HEADERS])):
        with pytest.raises(ImportFileError):
            await run(sessionmaker, data)
    assert await count(sessionmaker, AuditLog) == 0


# --- headers and kinds ----------------------------------------------------------------------
def test_headers_ignore_case_spaces_and_punctuation():
    variants = [
        "nip",
        " NAMA ",
        "Jenis",
        "jabatan",
        "GOLONGAN",
        "unit_kerja",
        "Nip. Atasan",
        "No. HP",
    ]
    assert detect_kind(variants) is ImportKind.EMPLOYEES
    assert detect_kind(["NIP", "Nama", "JENIS (pns/pppk)", "Jabatan", "UNIT-KERJA", "NO_HP"]) is (
        ImportKind.EMPLOYEES
    )


def test_detect_each_kind():
    assert detect_kind(EMPLOYEE_HEADERS) is ImportKind.EMPLOYEES
    assert detect_kind(MUTATION_HEADERS) is ImportKind.MUTATIONS
    assert detect_kind(TRAINING_HEADERS) is ImportKind.TRAININGS
    # Optional columns may be absent.
    assert detect_kind(["NIP", "Nama", "Jenis", "Jabatan", "Unit Kerja"]) is ImportKind.EMPLOYEES
    assert detect_kind(["Kode", "Judul", "Mulai", "Selesai", "NIP"]) is ImportKind.TRAININGS
    assert detect_kind(["Nomor", "Keterangan"]) is None


async def test_missing_required_columns_are_named_with_the_expected_line(sessionmaker):
    data = csv_bytes([["NIP", "Nama", "Jabatan", "No HP"], employee()[:4]])
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, data)
    issue = caught.value.issue
    assert issue.message == m.FILE_MISSING_COLUMNS
    assert issue.params["missing"] == "Jenis (PNS/PPPK), Unit Kerja"
    assert issue.params["expected"] == ", ".join([*EMPLOYEE_HEADERS, "TMT Jabatan", "Potensi"])


async def test_missing_columns_for_an_explicit_kind(sessionmaker):
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, csv_bytes(ROWS), ImportKind.TRAININGS)
    assert caught.value.issue.params["missing"] == "Kode, Judul, Mulai, Selesai"


async def test_unrecognised_headers_show_every_expected_line(sessionmaker):
    data = csv_bytes([["Nomor", "Keterangan"], ["1", "x"]])
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, data)
    issue = caught.value.issue
    assert issue.message == m.FILE_UNKNOWN_HEADERS
    assert issue.params["trainings"] == "Kode, Judul, Mulai, Selesai, Tempat, NIP"


async def test_a_column_given_twice_is_refused(sessionmaker):
    data = csv_bytes([[*EMPLOYEE_HEADERS, "NO. HP"], [*employee(), "0812"]])
    with pytest.raises(ImportFileError) as caught:
        await run(sessionmaker, data)
    assert caught.value.issue.message == m.FILE_DUPLICATE_COLUMN
    assert caught.value.issue.params == {"column": "NO. HP"}


async def test_extra_columns_are_ignored(sessionmaker):
    data = csv_bytes([["No", *EMPLOYEE_HEADERS, "Keterangan"], ["1", *employee(), "-"]])
    result = await run(sessionmaker, data)
    assert result.ok and result.created == 1
    assert await count(sessionmaker, Employee) == 1


# --- issues ---------------------------------------------------------------------------------
def test_issue_renders_in_the_readers_language_including_nested_msgids():
    catalog = {
        m.INVALID_NIP: 'NIP "{value}" tidak valid: {reason}',
        "NIP must have 18 digits (it has {length}).": "NIP harus 18 digit (ada {length}).",
        m.LINE_ROW_COLUMN: "Baris {row}, kolom {column}: {reason}",
    }
    issue = ImportIssue(
        7,
        "NIP",
        m.INVALID_NIP,
        {
            "value": "1986",
            "reason": Msgid("NIP must have 18 digits (it has {length})."),
            "length": 4,
        },
    )
    assert issue.render() == 'Invalid NIP "1986": NIP must have 18 digits (it has 4).'
    translated = issue.render_line(lambda text: catalog.get(text, text))
    assert translated == 'Baris 7, kolom NIP: NIP "1986" tidak valid: NIP harus 18 digit (ada 4).'


def test_file_error_message_is_readable():
    error = ImportFileError(m.FILE_TOO_LARGE, size="25.0", limit=20)
    assert str(error) == (
        "The file is too large (25.0 MB; the limit is 20 MB). Split it into smaller files."
    )
