"""Application factory: PTB ``Application`` wired to the database, handlers and menus."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest

from bot import metrics
from bot.announcements import start_progress_job, stop_progress_job
from bot.config import Settings
from bot.context import CONTEXT_TYPES, BotData
from bot.delivery import (
    EXTRAS_SETTINGS,
    SharedBudgetRateLimiter,
    options_from_settings,
    start_sender,
    stop_sender,
)
from bot.leader import EXTRAS_LEADERSHIP, Leadership, get_leadership
from bot.menus import publish_default_menu
from bot.scheduler import start_scheduler, stop_scheduler
from handlers import dedupe, register_all
from storage.db import create_engine, create_sessionmaker

log = logging.getLogger(__name__)


async def _open_database(application: Application) -> None:
    data: BotData = application.bot_data
    assert data.settings is not None
    data.engine = create_engine(data.settings.database_url)
    data.sessionmaker = create_sessionmaker(data.engine)


class BotApplication(Application):
    """PTB's ``Application``, counting each update and how long its handlers took, and
    recording their end (``handlers.dedupe.finish``: a copy is then known to be done)."""

    async def process_update(self, update: object) -> None:
        started = time.monotonic()
        try:
            await super().process_update(update)
        finally:
            if isinstance(update, Update):
                await dedupe.finish(self, update.update_id)
            metrics.UPDATE_SECONDS.observe(time.monotonic() - started)
            metrics.UPDATES.labels(metrics.update_type(update)).inc()


async def _start_leadership(application: Application) -> None:
    """Seek the scheduler's lock now (a single process leads from its first tick), then keep
    seeking or checking it in the background (:mod:`bot.leader`)."""
    data: BotData = application.bot_data
    assert data.settings is not None and data.engine is not None
    leadership = Leadership(
        data.engine,
        data.settings.leader_retry_seconds,
        on_change=lambda leader: metrics.LEADER.set(1 if leader else 0),
    )
    data.extras[EXTRAS_LEADERSHIP] = leadership
    await leadership.step()
    leadership.start()


async def _post_init(application: Application) -> None:
    data: BotData = application.bot_data
    assert data.settings is not None
    await _open_database(application)
    if data.settings.send_rate_global > 30:
        log.warning(
            "SEND_RATE_GLOBAL=%g is above Telegram's ~30 messages/s: only for a local Bot API"
            " emulator",
            data.settings.send_rate_global,
        )
    await _start_leadership(application)
    # Settings first; what a caller put in extras["delivery"] before (tests) wins.
    given = data.extras.get(EXTRAS_SETTINGS)
    data.extras[EXTRAS_SETTINGS] = {
        **options_from_settings(data.settings),
        **(given if isinstance(given, dict) else {}),
    }
    await start_sender(application)
    start_scheduler(application)
    start_progress_job(application)
    await publish_default_menu(
        application.bot, data.settings.timezone, data.settings.default_language
    )
    log.info("bot @%s ready", application.bot.username)


async def _post_shutdown(application: Application) -> None:
    data: BotData = application.bot_data
    stop_scheduler(application)
    stop_progress_job(application)
    await stop_sender(application)
    leadership = get_leadership(application)
    if leadership is not None:
        await leadership.stop()
        data.extras.pop(EXTRAS_LEADERSHIP, None)
    if data.engine is not None:
        await data.engine.dispose()
        data.engine = data.sessionmaker = None


def build_application(
    settings: Settings, request: BaseRequest | None = None, *, updater: bool = True
) -> Application:
    """The bot, ready for ``run_polling`` (``updater=False``: for webhook mode, where
    :mod:`bot.webhook` hands the updates over).

    ``request`` replaces the HTTP layer (handler tests capture what would be sent).
    Outside ``run_polling``, call ``initialize()`` then ``post_init`` yourself.
    """
    builder = Application.builder().application_class(BotApplication)
    if not updater:
        builder = builder.updater(None)
    holder: dict[str, Application] = {}  # the limiter is made before the application
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = (
        builder.token(settings.bot_token.strip())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.base_file_url)
        .context_types(CONTEXT_TYPES)
        # Replies honour Telegram's limits together with the outbox's pushes: one budget.
        .rate_limiter(
            SharedBudgetRateLimiter(
                lambda: holder.get("application"),
                max_retries=3,
                # PTB's own overall limit (all calls, per process) stays Telegram's 30/s;
                # the messages' budget is SEND_RATE_GLOBAL, above 30 only on an emulator.
                overall_max_rate=max(30.0, settings.send_rate_global),
            )
        )
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    holder["application"] = application
    application.bot_data.settings = settings
    register_all(application)
    return application


def run_polling(settings: Settings) -> None:
    application = build_application(settings)
    application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
