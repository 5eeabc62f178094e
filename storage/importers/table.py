"""Read an uploaded CSV or XLSX file into a header row and data rows.

- XLSX is recognised by its content (a ZIP holding ``xl/workbook.xml``), not by the file
  name; only the first worksheet is read, once, with openpyxl in read-only, values-only mode.
- CSV must be UTF-8 (with or without a byte-order mark); the delimiter, comma or semicolon
  (Excel's choice in Indonesian locales), is taken from the header line.
- The header is row 1 (blank rows above it are tolerated); data rows keep their spreadsheet
  numbers; blank rows, trailing ones included, are skipped.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from storage.importers import messages as m
from storage.importers.base import ImportFileError

MAX_FILE_BYTES = 20 * 1024 * 1024  # Telegram's limit for files a bot may download
# An XLSX is compressed about 5-10 times; more than this unpacked is not an HR table.
MAX_UNPACKED_BYTES = 25 * MAX_FILE_BYTES

Row = tuple[object, ...]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = "\ufeff"
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}


@dataclass(frozen=True, slots=True)
class Table:
    """The header row and the non-blank data rows, each with its spreadsheet row number."""

    headers: list[str]
    rows: list[tuple[int, Row]]


def _collect(rows: Iterable[Row]) -> Table:
    """The first non-blank row is the header (normally row 1); blank rows are skipped."""
    headers: list[str] | None = None
    data: list[tuple[int, Row]] = []
    append = data.append
    for number, row in enumerate(rows, start=1):
        for value in row:
            if value is not None and value != "" and (type(value) is not str or value.strip()):
                break
        else:
            continue
        if headers is None:
            headers = ["" if v is None else str(v).strip() for v in row]
        else:
            append((number, row))
    if headers is None:
        raise ImportFileError(m.FILE_EMPTY)
    while headers and not headers[-1]:
        headers.pop()
    if not data:
        raise ImportFileError(m.FILE_NO_DATA)
    return Table(headers, data)


def _read_xlsx(data: bytes) -> Table:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError(m.FILE_BAD_XLSX) from exc
    if "xl/workbook.xml" not in names:
        raise ImportFileError(m.FILE_ZIP_NOT_XLSX)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportFileError(m.FILE_UNPACKED_TOO_LARGE)

    from openpyxl import load_workbook  # heavy; only when an XLSX comes

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Workbook contains no default style"
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not workbook.worksheets:
                    raise ImportFileError(m.FILE_EMPTY)
                sheet = workbook.worksheets[0]
                # Some writers record a wrong size; read whatever rows are really there.
                sheet.reset_dimensions()
                return _collect(sheet.iter_rows(min_row=1, values_only=True))
            finally:
                workbook.close()
    except ImportFileError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise ImportFileError(m.FILE_BAD_XLSX) from exc


def _sniff_delimiter(header_line: str) -> str:
    """Comma or semicolon, whichever separates more fields of the header (outside quotes)."""
    counts = {",": 0, ";": 0}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def _read_csv(data: bytes) -> Table:
    if data.startswith(_UTF16_BOMS):
        raise ImportFileError(m.FILE_NOT_UTF8)
    if b"\x00" in data[:4096]:
        raise ImportFileError(m.FILE_NOT_TABLE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[:4096]
        controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
        junk = controls > len(head) // 50
        raise ImportFileError(m.FILE_NOT_TABLE if junk else m.FILE_NOT_UTF8) from exc
    text = text.removeprefix(_UTF8_BOM)
    if not text.strip():
        raise ImportFileError(m.FILE_EMPTY)
    header_line = text.lstrip("\r\n").split("\n", 1)[0]
    if any(char in _CONTROL for char in header_line):
        raise ImportFileError(m.FILE_NOT_TABLE)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_sniff_delimiter(header_line), strict=True
    )
    rows: list[Row] = []
    try:
        rows.extend(tuple(row) for row in reader)
    except csv.Error as exc:  # e.g. a quote never closed: the rest would be one cell
        raise ImportFileError(m.FILE_BAD_CSV, row=len(rows) + 1) from exc
    return _collect(rows)


def read_table(data: bytes, filename: str = "") -> Table:
    """Parse ``data`` (CSV or XLSX, told apart by content) or raise :class:`ImportFileError`.

    ``filename`` is only a hint for messages; the content decides the format.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(
            m.FILE_TOO_LARGE,
            size=f"{len(data) / 1024 / 1024:.1f}",
            limit=MAX_FILE_BYTES // 1024 // 1024,
        )
    if not data.strip():
        raise ImportFileError(m.FILE_EMPTY)
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data)
    if data.startswith(b"%PDF"):
        raise ImportFileError(m.FILE_PDF)
    if data.startswith(_OLE2_MAGIC):
        raise ImportFileError(m.FILE_OLD_XLS)
    return _read_csv(data)
