"""HR data import from CSV and XLSX files (employees, mutations, trainings, competencies,
unit formations).

Files
    XLSX (recognised by content, not by name; the first worksheet) or CSV in UTF-8, with or
    without a byte-order mark, separated by commas or semicolons (taken from the header
    line). At most :data:`MAX_FILE_BYTES` (Telegram's limit for a bot's downloads).

Headers
    Row 1 holds the column names, in Indonesian, matched ignoring case, spaces and
    punctuation ("No. HP" = "no hp" = "NO_HP"); the kind of file is recognised from them:

    - employees: ``NIP, Nama, Jenis (PNS/PPPK), Jabatan, Golongan, Unit Kerja, NIP Atasan,
      No HP, TMT Jabatan, Potensi`` (Golongan, NIP Atasan, No HP, TMT Jabatan and Potensi
      optional)
    - mutations: ``NIP, Jenis Mutasi, Unit Asal, Jabatan Asal, Unit Tujuan, Jabatan Tujuan,
      Tahap, No SK, Tanggal SK, TMT, Catatan, Dokumen Kurang, Jadwal Pelantikan, NIP Atasan
      Baru`` (a changed stage is checked by the stage machine: see ``mutations``)
    - trainings (one row per participant): ``Kode, Judul, Mulai, Selesai, Tempat, NIP``
    - competencies (optional data): ``NIP, Kompetensi, Tingkat`` (see ``competencies``)
    - unit formations (optional data): ``Unit, Jabatan, Formasi`` (see ``formations``)

Dates and times
    Day first, as written in Indonesia: ``DD/MM/YYYY``, ``DD-MM-YYYY``, ``DD.MM.YYYY``, or
    ``YYYY-MM-DD``; date cells of a workbook as they are. Times follow the date after a
    space as ``HH:MM`` or ``HH.MM`` (e.g. ``05/03/2026 08.30``), in the import's time zone
    (WIB by default), and are stored in UTC.

NIP
    Type the NIP column as Text in Excel: as a number, Excel keeps only 15 significant digits
    of the 18 and the import refuses such cells rather than guess.

Behaviour
    Every row is checked, against the file and the database, and every problem is reported
    (:class:`ImportIssue`: row, column as headed in the file, a gettext message). If there is
    any problem nothing is written; otherwise everything is written in one transaction.
    Importing the same file again changes nothing and reports every row as unchanged.
"""

from storage.importers.base import ImportFileError, ImportIssue, ImportKind, ImportResult, Msgid
from storage.importers.columns import detect_kind, expected_header_line
from storage.importers.service import import_file
from storage.importers.table import MAX_FILE_BYTES, Table, read_table

__all__ = [
    "MAX_FILE_BYTES",
    "ImportFileError",
    "ImportIssue",
    "ImportKind",
    "ImportResult",
    "Msgid",
    "Table",
    "detect_kind",
    "expected_header_line",
    "import_file",
    "read_table",
]
