"""Turn cell values (str from CSV; str, int, float, datetime or None from XLSX) into data.

Dates are day first, as written in Indonesia: ``DD/MM/YYYY``, ``DD-MM-YYYY`` and
``DD.MM.YYYY``, or ISO ``YYYY-MM-DD``; XLSX date cells are taken as they are.
Date-times add ``HH:MM`` (or ``HH.MM``, seconds optional) after the date, separated by a
space, and are wall-clock times in the import's time zone (WIB by default); naive XLSX
date-time cells are read the same way. All are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

_ISO_DATE = r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
_DMY_DATE = r"(?P<d2>\d{1,2})(?P<sep>[/.\-])(?P<m2>\d{1,2})(?P=sep)(?P<y2>\d{4})"
_TIME = r"(?P<hh>\d{1,2})[:.](?P<mm>\d{2})(?:[:.](?P<ss>\d{2}))?"
_DATE_RE = re.compile(rf"(?:{_ISO_DATE}|{_DMY_DATE})(?:[ T]+0?0[:.]00(?:[:.]00)?)?")
_DATETIME_RE = re.compile(rf"(?:{_ISO_DATE}|{_DMY_DATE})(?:\s*,)?[ T]+{_TIME}")
# "1.98609E+17": a number Excel already rounded, saved as text in a CSV.
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?\d+")
# Beyond 15 significant digits Excel keeps no precision: such a float has lost digits.
_EXACT_FLOAT_LIMIT = 10**15


def text(value: object) -> str:
    """A cell as trimmed text; whole numbers lose the ``.0`` Excel gives them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def number_text(value: object) -> tuple[str, bool]:
    """Text of a cell holding digits (NIP, phone); ``True`` when Excel dropped digits."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return str(int(value)), False
        return f"{value:.15g}".replace("e+", "E+"), True
    raw = text(value)
    return raw, bool(_SCIENTIFIC.fullmatch(raw))


def _date_from(match: re.Match[str]) -> dt.date | None:
    groups = match.groupdict()
    if groups["y"] is not None:
        year, month, day = groups["y"], groups["m"], groups["d"]
    else:
        year, month, day = groups["y2"], groups["m2"], groups["d2"]
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_date(value: object) -> dt.date | None:
    """A date from a date cell or day-first text; ``None`` if it is not a real date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    match = _DATE_RE.fullmatch(value.strip())
    return _date_from(match) if match else None


def parse_datetime(value: object, zone: ZoneInfo) -> dt.datetime | None:
    """A wall-clock time in ``zone`` (cell or text) as an aware UTC datetime, or ``None``."""
    if isinstance(value, dt.datetime):
        local = value if value.tzinfo else value.replace(tzinfo=zone)
        return local.astimezone(dt.UTC)
    if not isinstance(value, str):
        return None
    match = _DATETIME_RE.fullmatch(value.strip())
    if not match:
        return None
    day = _date_from(match)
    hour, minute, second = int(match["hh"]), int(match["mm"]), int(match["ss"] or 0)
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    local = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
    return local.astimezone(dt.UTC)
