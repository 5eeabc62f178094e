"""Translations (gettext catalogs under ``locales/``) and locale-aware formatting (Babel).

Message ids are English; every catalog, English included, must translate every
message (a test checks it). Dates and numbers are formatted in the reader's locale
and shown in the configured time zone (Asia/Jakarta by default).
"""

from __future__ import annotations

import datetime as dt
import gettext
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"
DOMAIN = "messages"
LOCALES_DIR = Path(
    os.environ.get("LOCALES_DIR") or Path(__file__).resolve().parent.parent / "locales"
)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the reader is known."""
    return message


def normalize_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map a Telegram ``language_code`` ("en-US", "id") to a supported language."""
    if code:
        short = code.split("-")[0].split("_")[0].lower()
        if short in SUPPORTED_LANGUAGES:
            return short
    return default


@lru_cache(maxsize=8)
def _catalog(language: str) -> gettext.NullTranslations:
    try:
        return gettext.translation(DOMAIN, LOCALES_DIR, languages=[language])
    except FileNotFoundError:
        # The install and test steps compile the catalogs; without them, speak the msgids
        # (English) rather than fail, and say why once.
        log.warning("no compiled catalog for %r in %s: run `make compile`", language, LOCALES_DIR)
        return gettext.NullTranslations()


@dataclass(frozen=True)
class Translator:
    """Everything a reply needs to speak the reader's language."""

    language: str = DEFAULT_LANGUAGE
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))

    def gettext(self, message: str, /, **params: object) -> str:
        text = _catalog(self.language).gettext(message)
        return text.format(**params) if params else text

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = _catalog(self.language).ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.language)

    def date(self, value: dt.date, style: str = "full") -> str:
        """``Senin, 12 Januari 2026`` in Indonesian, ``Monday, January 12, 2026`` in English."""
        if style == "full" and self.language == "id":
            # CLDR pads the day ("Senin, 05 Januari 2026"); Indonesian writes "5 Januari".
            style = "EEEE, d MMMM y"
        return format_date(value, format=style, locale=self.language)

    def time(self, value: dt.datetime) -> str:
        """``09.00 WIB`` (a moment, shown in the local time zone)."""
        local = self.local(value)
        return f"{format_time(local, format='short', locale=self.language)} {self._zone(local)}"

    def _zone(self, local: dt.datetime) -> str:
        if self.timezone.key == "Asia/Jakarta":
            return "WIB"
        return format_datetime(local, "zzz", tzinfo=self.timezone, locale=self.language)

    def local(self, value: dt.datetime) -> dt.datetime:
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(self.timezone)

    def datetime(self, value: dt.datetime) -> str:
        """A moment in the local time zone: ``Senin, 12 Januari 2026 pukul 09.00 WIB``."""
        local = self.local(value)
        return self.gettext(
            "{date} at {time} {zone}",
            date=self.date(local.date()),
            time=format_time(local, format="short", locale=self.language),
            zone=self._zone(local),
        )


@lru_cache(maxsize=16)
def get_translator(language: str | None, timezone: str = "Asia/Jakarta") -> Translator:
    return Translator(normalize_language(language), ZoneInfo(timezone))
