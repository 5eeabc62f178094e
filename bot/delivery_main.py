"""``python -m bot.delivery_main``: run only the outbox sender, until SIGTERM or SIGINT.

The bot process starts its own sender (``bot.delivery.start_sender``); this entry runs the
same :class:`bot.delivery.Sender` on its own, for an operator who wants sending in a separate
process (several of them on one PostgreSQL: each claims with ``FOR UPDATE SKIP LOCKED``, and
all of them and the bots share one ``SEND_RATE_GLOBAL``, see ``bot.send_budget``) and for
the fault tests, which kill it with SIGKILL. On SQLite keep to one sender in all: either the
bot's or this one.

Settings come from the environment (or ``.env``) like the bot's: ``DATABASE_URL``,
``BOT_TOKEN``, ``TELEGRAM_BASE_URL``, ``TELEGRAM_BASE_FILE_URL``, ``SEND_RATE_GLOBAL``,
``SEND_RATE_PER_CHAT``. The options below override the rates and tune the claim (batch
size, lease, idle poll). It does not migrate the database: the bot (``run_bot.py run``) or
``run_bot.py db upgrade`` does. SIGTERM/SIGINT stop it gracefully: the sends in flight finish,
claimed rows not yet sent go back to ``pending``. Exit status 0 after a clean stop, 2 for a
bad configuration, 1 if the database cannot be used.

Logs carry outbox ids, chat ids and statuses only (``bot.delivery``): no message text, names,
NIPs or phone numbers, and neither the token nor the database password.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.cli import load_settings, token_present
from bot.config import Settings
from bot.delivery import Sender, delivery_bot, options_from_settings, uses_shared_budget
from bot.i18n import get_translator
from bot.logging_setup import configure_logging
from bot.send_budget import SharedSendBudget
from storage.db import create_engine, create_sessionmaker

log = logging.getLogger("bot.delivery_main")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {value}")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.delivery_main",
        description="Run only the outbox sender (settings from the environment or .env).",
    )
    parser.add_argument(
        "--global-rate",
        type=_positive,
        help="sends per second overall (default: SEND_RATE_GLOBAL, 25)",
    )
    parser.add_argument(
        "--per-chat-rate",
        type=_positive,
        help="sends per second to one chat (default: SEND_RATE_PER_CHAT, 1)",
    )
    parser.add_argument("--batch-size", type=_count, help="rows per claim (default 50)")
    parser.add_argument(
        "--lease-seconds",
        type=_positive,
        help="how long a claim holds its rows before a crashed sender's rows come back "
        "(default 60)",
    )
    parser.add_argument(
        "--poll-interval", type=_positive, help="idle wait between rounds, s (default 1)"
    )
    parser.add_argument(
        "--read-timeout",
        type=_positive,
        help="seconds to wait for Telegram's answer before a send counts as uncertain (default 15)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def sender_options(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """:class:`Sender` keyword arguments from the settings and the command line."""
    options = options_from_settings(settings)  # rates, quiet hours, time zone
    for name in ("global_rate", "per_chat_rate", "batch_size", "lease_seconds", "poll_interval",
                 "read_timeout"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def _load_settings() -> Settings | None:
    settings = load_settings()
    if settings is None:
        return None
    t = get_translator(settings.default_language, settings.timezone)
    return settings if token_present(settings, t) else None


async def serve(settings: Settings, options: dict[str, Any]) -> int:
    """Run the sender until SIGTERM/SIGINT; the exit status."""
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    engine = create_engine(settings.database_url)
    try:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1 FROM outbox WHERE 1 = 0"))
        except Exception as exc:
            log.error(
                "cannot use the outbox in %s (%s): is the database migrated? "
                "Run `python run_bot.py db upgrade`.",
                where,
                type(exc).__name__,
            )
            return EXIT_FAILED
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        bot = delivery_bot(
            settings.bot_token.strip(),
            base_url=settings.telegram_base_url,
            base_file_url=settings.base_file_url,
            read_timeout=options.get("read_timeout") or 15.0,
        )
        # As in the bot: no ``bot.initialize()`` (getMe is not needed to send).
        await bot.request.initialize()
        # On PostgreSQL the global rate is one budget with the bots' own senders.
        shared = (
            SharedSendBudget(engine, float(options["global_rate"]))
            if uses_shared_budget(settings, engine, several=True)
            else None
        )
        sender = Sender(create_sessionmaker(engine), **options, shared_budget=shared)
        log.info(
            "sending from %s at %g/s overall, %g/s per chat, batches of %d, lease %g s",
            where,
            options["global_rate"],
            options["per_chat_rate"],
            sender.batch_size,
            sender.lease_seconds,
        )
        sender.start(bot, owns_bot=True)
        await stop.wait()
        log.info("stopping: finishing the sends in flight")
        await sender.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        return EXIT_OK
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    configure_logging(level)  # privacy-filtered (bot.log_privacy), until LOG_FORMAT is read
    # httpx logs every request URL at INFO, and the URL carries the bot token.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    settings = _load_settings()
    if settings is None:
        return EXIT_USAGE
    configure_logging(level, settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(settings, sender_options(args, settings)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
