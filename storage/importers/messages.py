"""Every message the importers report: English gettext msgids with ``{placeholders}``.

The row number and the column are fields of :class:`~storage.importers.base.ImportIssue`,
so a message only states the reason (short, and telling HR what to fix).
"""

from __future__ import annotations

from bot.i18n import N_

# --- whole file -----------------------------------------------------------------------------
FILE_TOO_LARGE = N_(
    "The file is too large ({size} MB; the limit is {limit} MB). Split it into smaller files."
)
FILE_EMPTY = N_("The file is empty.")
FILE_NO_DATA = N_("The file has a header row but no data rows.")
FILE_PDF = N_("This is a PDF file. Please upload the data as an Excel (.xlsx) or CSV file.")
FILE_OLD_XLS = N_(
    "This is an old Excel 97-2003 (.xls) file. Open it in Excel, save it as .xlsx and upload "
    "it again."
)
FILE_ZIP_NOT_XLSX = N_(
    "This is a ZIP archive, not an Excel workbook (.xlsx). Please upload an .xlsx or CSV file."
)
FILE_BAD_XLSX = N_(
    "The Excel file could not be read; it may be damaged. Open it in Excel, save it again as "
    ".xlsx and retry."
)
FILE_UNPACKED_TOO_LARGE = N_(
    "The Excel file is too large once unpacked. Split it into smaller files."
)
FILE_NOT_TABLE = N_(
    "This file is neither an Excel workbook (.xlsx) nor a CSV text file. Please upload one of "
    "those."
)
FILE_NOT_UTF8 = N_(
    'The CSV file is not in UTF-8. In Excel use Save As \u2192 "CSV UTF-8 (Comma delimited)", '
    "or upload the .xlsx file instead."
)
FILE_BAD_CSV = N_(
    'The CSV file is malformed near row {row}. Check for a quote (") that is not closed.'
)
FILE_UNKNOWN_HEADERS = N_(
    "The column headers in the first row were not recognised. For employees use: {employees}. "
    "For mutations: {mutations}. For trainings: {trainings}. For competencies: "
    "{competencies}. For unit formations: {formations}."
)
FILE_MISSING_COLUMNS = N_("Missing column(s): {missing}. The first row must be: {expected}")
FILE_DUPLICATE_COLUMN = N_('The column "{column}" appears more than once in the first row.')
FILE_CHANGED_MEANWHILE = N_(
    "The data changed while the file was being imported, so nothing was saved. Please upload "
    "it again."
)

# --- any column -----------------------------------------------------------------------------
REQUIRED = N_("This cell is empty; a value is required.")
TOO_LONG = N_("Too long: at most {max} characters.")
INVALID_NIP = N_('Invalid NIP "{value}": {reason}')
NIP_LOST_DIGITS = N_(
    "The NIP was stored as a number and Excel dropped its last digits ({value}). Format the "
    "NIP column as Text and type the NIPs again."
)
EMPLOYEE_NOT_FOUND = N_("No employee with NIP {nip}. Import the employee data first.")
BAD_DATE = N_(
    '"{value}" is not a valid date. Use DD/MM/YYYY (day first), DD-MM-YYYY, DD.MM.YYYY or '
    "YYYY-MM-DD."
)
BAD_DATETIME = N_(
    '"{value}" is not a valid date and time. Use DD/MM/YYYY HH:MM or YYYY-MM-DD HH:MM '
    "(time in {zone})."
)

# --- employees ------------------------------------------------------------------------------
BAD_EMPLOYEE_TYPE = N_('Unknown employee type "{value}". Use PNS or PPPK.')
DUPLICATE_NIP = N_("NIP {nip} appears more than once in the file (rows {rows}).")
SELF_SUPERVISOR = N_("An employee cannot be their own supervisor.")
SUPERVISOR_NOT_FOUND = N_("Supervisor NIP {nip} is neither in this file nor in the database.")
SUPERVISOR_CYCLE = N_(
    "Supervisors form a loop: {chain}. Every chain of supervisors must end at someone without "
    "a supervisor."
)
BAD_PHONE = N_(
    '"{value}" is not an Indonesian mobile number (for example 0812xxxxxxxx or +62812xxxxxxxx).'
)
DUPLICATE_PHONE = N_(
    "Phone number {phone} appears on more than one row (rows {rows}); every employee needs "
    "their own."
)
PHONE_TAKEN = N_("Phone number {phone} already belongs to another employee (NIP {nip}).")
POST_SINCE_IN_FUTURE = N_("The date {date} is in the future (today is {today}).")
BAD_POTENTIAL = N_('Unknown potential "{value}". Use one of: {choices}.')

# --- mutations ------------------------------------------------------------------------------
UNKNOWN_MUTATION_TYPE = N_('Unknown mutation type "{value}". Use one of: {choices}.')
UNKNOWN_STAGE = N_('Unknown stage "{value}". Use one of: {choices}.')
REQUIRED_AT_STAGE = N_("Required when the stage is {stage}.")
DUPLICATE_MUTATION = N_(
    "The same mutation (NIP, type, target unit and position) appears more than once (rows {rows})."
)
STAGE_NOT_ALLOWED = N_(
    "The mutation is at stage {current}; a file cannot move it to {target}. A file may move a "
    "mutation forward along its path (skipping steps), return it from verifikasi "
    "(dikembalikan) or cancel it before pelantikan, but never move it back."
)
STAGE_FINAL = N_(
    "The mutation is already at stage {current}, which is final; it cannot move to {target}."
)
STAGE_NOT_FOR_TYPE = N_(
    "Stage {stage} is only for a transfer between agencies (Jenis Mutasi: Mutasi antar-instansi)."
)
SK_DATE_IN_FUTURE = N_("The SK date {date} is in the future (today is {today}).")
TMT_BEFORE_SK_DATE = N_("The TMT {tmt} is before the SK date {sk_date}.")
TOO_MANY_DOCUMENTS = N_(
    "Too many documents ({count}): list at most {max}, one per line or separated by semicolons."
)
DOCUMENT_TOO_LONG = N_("Each document may have at most {max} characters.")
NEW_SUPERVISOR_IS_EMPLOYEE = N_("The new supervisor cannot be the employee being transferred.")

# --- trainings ------------------------------------------------------------------------------
END_NOT_AFTER_START = N_("The end must be after the start.")
TRAINING_MISMATCH = N_(
    "Differs from row {first_row} of training {code}: all rows of one training must have the "
    "same {columns}."
)
DUPLICATE_PARTICIPANT = N_("NIP {nip} is already listed for training {code} (row {first_row}).")

# --- competencies --------------------------------------------------------------------------
DUPLICATE_COMPETENCY = N_(
    "Competency {competency} of NIP {nip} appears more than once in the file (rows {rows})."
)

# --- unit formations ------------------------------------------------------------------------
UNIT_NOT_FOUND = N_(
    'No unit named "{unit}". Units come from the employee data: check the spelling or import '
    "the employees first."
)
BAD_FORMATION = N_('"{value}" is not a whole number from 0 to {max}.')
DUPLICATE_FORMATION = N_(
    "Position {position} of unit {unit} appears more than once in the file (rows {rows})."
)

# --- presenting an issue --------------------------------------------------------------------
LINE_ROW_COLUMN = N_("Row {row}, column {column}: {reason}")
LINE_ROW = N_("Row {row}: {reason}")
