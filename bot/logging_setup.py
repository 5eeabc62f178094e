"""Logging for the command line and the bot: one handler on the root logger, privacy-filtered.

Two formats (``LOG_FORMAT``):

* ``text``: ``2026-01-12 09:00:00,123 4242 INFO bot.delivery: outbox sender … started``
  (:data:`TEXT_FORMAT`: local time, process id, level, logger, message; a traceback follows
  on the next lines);
* ``json``: one JSON object per line, for a log collector: ``time`` (UTC, ISO 8601 with
  milliseconds and ``Z``), ``level``, ``logger``, ``pid``, ``message``, and ``exc`` (the
  traceback text) only when there is one.

The handler carries :class:`bot.log_privacy.PrivacyFilter`, so every record that reaches it,
from any logger (python-telegram-bot, httpx, SQLAlchemy …), is masked first.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any

from bot.log_privacy import PrivacyFilter

TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")
# httpx logs every request URL at INFO (the URL carries the bot token); Alembic's plugin
# loader is chatty at INFO.
QUIET_LOGGERS = ("httpx", "alembic.runtime.plugins")
_OURS = "_bot_logging_setup"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": f"{created:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        exc = record.exc_text or ""
        if record.stack_info:
            exc = f"{exc}\n{self.formatStack(record.stack_info)}" if exc else record.stack_info
        if exc:
            entry["exc"] = exc
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(log_format: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) in ``log_format`` with the privacy filter."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(PrivacyFilter())
    return handler


def configure_logging(
    level: int, log_format: str = "text", *, stream: IO[str] | None = None
) -> None:
    """Log at ``level`` and above to stderr (or ``stream``) in ``log_format``.

    Calling it again replaces the handler it installed before (e.g. once the settings, and
    with them ``LOG_FORMAT``, are known); handlers installed by others are left alone.
    """
    handler = make_handler(log_format, stream)
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for previous in list(root.handlers):
        if getattr(previous, _OURS, False):
            root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
