"""Keep personal data out of the logs (UU 27/2022): a filter for every log handler.

:class:`PrivacyFilter` renders each record once, safely, and replaces its message with the
result; the traceback text (``exc_text``) and the stack are masked too. Attached to a handler
(``bot.logging_setup``), it sees every record that reaches it, whichever logger wrote it,
python-telegram-bot, httpx, SQLAlchemy and aiosqlite included.

What it does to a record:

* **Containers and objects in the arguments are not rendered.** A ``dict``, ``list``, Telegram
  ``Update`` or request, a ``functools.partial`` (aiosqlite's statements) … becomes a short
  placeholder (``<dict, 3 keys>``, ``<Update 812>``): python-telegram-bot logs whole updates
  and Bot API parameters at DEBUG (message texts, shared phone numbers, names), aiosqlite its
  statements with their parameters. Only scalars (strings, numbers, dates, enums,
  exceptions, paths) are rendered. A few third-party messages known to carry raw request
  bodies as a string are redacted whole (:data:`REDACTED_TEMPLATES`).
* **NIPs** (exactly 18 digits, also typed in groups as ``19860926 201505 1 001`` or with dots
  or dashes) become ``1986…001``.
* **Indonesian mobile numbers** become ``+62…890``: ``+62 8…`` (10 to 14 digits with the 62),
  ``08…`` (9 to 13 digits) and a bare ``62 8…`` of 11 to 14 digits. Nothing else is taken
  for a phone number: Telegram chat and user ids, update ids and outbox ids are left as they
  are (they never start with 0 or +; a user id is at most 10 digits today, shorter than a
  bare 62… number; a group's id starts with ``-``, which the pattern refuses).
* **Bot tokens** (``123456789:AAH…``, e.g. in a Bot API URL) keep their bot id only.

Message texts cannot be recognised by a pattern: the code logs ids, never texts, and the
first rule keeps third-party libraries from logging them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

ELLIPSIS = "…"
_SEP = r"[ .\-\u00a0]?"
# 8 digits of birth date, 6 of appointment, gender, sequence; optional separators between.
NIP_PATTERN = re.compile(rf"(?<!\d)\d{{8}}{_SEP}\d{{6}}{_SEP}\d{_SEP}\d{{3}}(?!\d)")
PHONE_PATTERN = re.compile(
    r"(?<![\w+\-])"  # not inside a word or a longer number, not a negative (group) chat id
    r"(?:"
    rf"\+62{_SEP}8(?:{_SEP}\d){{7,11}}"  # +62 8xx…
    rf"|62{_SEP}8(?:{_SEP}\d){{8,11}}"  # 62 8xx…, 11 digits or more (not a Telegram id)
    rf"|0{_SEP}8(?:{_SEP}\d){{7,11}}"  # 08xx…
    r")"
    r"(?!\d)"
)
TOKEN_PATTERN = re.compile(r"(?<!\d)(\d{5,12}):[A-Za-z0-9_-]{30,}")
# Third-party messages whose string arguments are raw Telegram data.
REDACTED_TEMPLATES = frozenset(
    {
        "Webhook received data: %s",  # python-telegram-bot's webhook server, at DEBUG
        'Can not load invalid JSON data: "%s"',  # python-telegram-bot's request layer
    }
)
REDACTED = "<redacted>"
_SCALARS = (
    str,
    int,
    float,
    type(None),
    enum.Enum,
    dt.date,
    dt.time,
    dt.timedelta,
    decimal.Decimal,
    uuid.UUID,
    PurePath,
    BaseException,
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _mask_nip(match: re.Match[str]) -> str:
    digits = _digits(match.group())
    return f"{digits[:4]}{ELLIPSIS}{digits[-3:]}"


def _mask_phone(match: re.Match[str]) -> str:
    return f"+62{ELLIPSIS}{_digits(match.group())[-3:]}"


def mask_text(text: str) -> str:
    """``text`` with NIPs, Indonesian mobile numbers and bot tokens masked."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = NIP_PATTERN.sub(_mask_nip, text)
    text = PHONE_PATTERN.sub(_mask_phone, text)
    return TOKEN_PATTERN.sub(lambda m: f"{m.group(1)}:***", text)


def placeholder(value: Any) -> str:
    """What a non-scalar log argument is shown as: its kind, never its content."""
    if isinstance(value, Mapping):
        return f"<{type(value).__name__}, {len(value)} keys>"
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return f"<{type(value).__name__}, {len(value)} items>"
    if isinstance(value, type):
        return f"<{value.__qualname__}>"
    update_id = getattr(value, "update_id", None)
    if isinstance(update_id, int):
        return f"<{type(value).__name__} {update_id}>"
    return f"<{type(value).__name__}>"


def _safe(value: Any) -> Any:
    return value if isinstance(value, _SCALARS) else placeholder(value)


def _safe_args(args: Any) -> Any:
    if isinstance(args, Mapping):
        return {key: _safe(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(_safe(value) for value in args)
    return _safe(args)


def render(record: logging.LogRecord) -> str:
    """The record's message with only scalar arguments, unmasked yet."""
    message = record.msg if isinstance(record.msg, str) else placeholder(record.msg)
    if not record.args:
        return message
    args: Any = record.args
    if isinstance(args, Mapping) and "%(" not in message:
        # ``log.debug("%s", some_dict)``: logging passes the dict itself as the arguments.
        args = (args,)
    if message in REDACTED_TEMPLATES:
        args = (
            dict.fromkeys(args, REDACTED)
            if isinstance(args, Mapping)
            else tuple(REDACTED for _ in args)
        )
    else:
        args = _safe_args(args)
    try:
        return message % args
    except (TypeError, ValueError, KeyError):
        return f"{message} (log arguments not shown)"


class PrivacyFilter(logging.Filter):
    """Masks a record in place (message, traceback, stack); never drops one."""

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = mask_text(render(record))
            record.args = ()
            if record.exc_info and not record.exc_text:
                record.exc_text = self._exceptions.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask_text(record.exc_text)
            if record.stack_info:
                record.stack_info = mask_text(record.stack_info)
        except Exception:  # a filter must never break logging
            record.msg, record.args = "<log record not shown: it could not be rendered>", ()
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True
