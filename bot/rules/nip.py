"""NIP (Nomor Induk Pegawai) and NI PPPK checks.

PNS NIP, 18 digits: ``YYYYMMDD`` birth date, ``YYYYMM`` CPNS appointment (TMT),
gender digit (1 male, 2 female), 3-digit sequence (>= 001).
NI PPPK, also 18 digits: digits 9-14 are the appointment year ``YYYY`` plus a
2-digit code (not a month), so the PNS month rule must not be applied to them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import N_

NIP_LENGTH = 18
_SEPARATORS = re.compile(r"[\s.\-]+")
# Nobody still in service was born before this, and appointments before it are not in use.
EARLIEST_BIRTH_YEAR = 1940
EARLIEST_APPOINTMENT_YEAR = 1960


class EmployeeType(StrEnum):
    PNS = "PNS"
    PPPK = "PPPK"


@dataclass(frozen=True, slots=True)
class NipProblem:
    """Why a NIP was rejected; ``message`` is a gettext msgid with ``{placeholders}``."""

    code: str
    message: str


WRONG_LENGTH = NipProblem("wrong_length", N_("NIP must have 18 digits (it has {length})."))
NOT_DIGITS = NipProblem("not_digits", N_("NIP may contain digits only."))
BAD_BIRTH_DATE = NipProblem(
    "bad_birth_date", N_("Digits 1-8 of the NIP must be a real birth date (YYYYMMDD).")
)
BAD_TMT_MONTH = NipProblem(
    "bad_tmt_month", N_("Digits 13-14 of a PNS NIP are the appointment month: 01 to 12.")
)
BAD_TMT_YEAR = NipProblem(
    "bad_tmt_year", N_("Digits 9-12 of the NIP must be a plausible appointment year.")
)
BAD_GENDER = NipProblem(
    "bad_gender", N_("Digit 15 of the NIP is the gender: 1 (male) or 2 (female).")
)
ZERO_SEQUENCE = NipProblem("zero_sequence", N_("The last 3 digits of the NIP cannot be 000."))


def normalize_nip(raw: str) -> str:
    """Strip the spaces, dots and dashes people type inside a NIP."""
    return _SEPARATORS.sub("", raw.strip())


def _birth_date(nip: str) -> dt.date | None:
    try:
        born = dt.date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
    except ValueError:
        return None
    return born if born.year >= EARLIEST_BIRTH_YEAR else None


def check_nip(
    raw: str, employee_type: EmployeeType | str = EmployeeType.PNS, today: dt.date | None = None
) -> tuple[str, NipProblem | None]:
    """Return the normalised NIP and the first problem found (``None`` when valid)."""
    nip = normalize_nip(raw)
    if not nip.isascii() or not nip.isdigit():
        return nip, NOT_DIGITS
    if len(nip) != NIP_LENGTH:
        return nip, WRONG_LENGTH
    today = today or dt.date.today()
    born = _birth_date(nip)
    if born is None or born > today:
        return nip, BAD_BIRTH_DATE
    appointment_year = int(nip[8:12])
    if not (max(EARLIEST_APPOINTMENT_YEAR, born.year + 15) <= appointment_year <= today.year + 1):
        return nip, BAD_TMT_YEAR
    if EmployeeType(employee_type) is EmployeeType.PNS and not 1 <= int(nip[12:14]) <= 12:
        return nip, BAD_TMT_MONTH
    if nip[14] not in "12":
        return nip, BAD_GENDER
    if nip[15:18] == "000":
        return nip, ZERO_SEQUENCE
    return nip, None


def problem_params(nip: str, problem: NipProblem) -> dict[str, object]:
    """Placeholder values for ``problem.message``."""
    return {"length": len(nip)} if problem is WRONG_LENGTH else {}
