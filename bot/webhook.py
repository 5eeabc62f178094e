"""Webhook mode: ``run_bot.py run --webhook``, for several processes behind a load balancer.

Telegram posts each update to ``WEBHOOK_URL`` (public HTTPS, the load balancer); every
process listens on ``WEBHOOK_LISTEN:WEBHOOK_PORT`` and serves, on one aiohttp server:

- ``POST <the URL's path>``: one update. A request without the secret token Telegram was
  given (header ``X-Telegram-Bot-Api-Secret-Token``) is refused with 403 before its body is
  read. The answer (200) comes only once the update's handlers have finished: a process
  that dies half-way never answers, Telegram sends the update again (to another process
  through the load balancer), and the copy is handled once (``handlers.dedupe``: a copy of
  an update another process is still on gets 503, so Telegram tries again later; one left
  unfinished by a dead process is taken over after a minute). While the process is stopping
  it answers 503, so the load balancer tries another.
- ``GET /healthz``: 200 when the database answers and no due outbox message has waited
  longer than ``HEALTH_MAX_OUTBOX_LAG_SECONDS``, else 503; JSON
  ``{"status", "database", "outbox_lag_seconds", "leader"}``.
- ``GET /metrics``: Prometheus text format (:mod:`bot.metrics`).

Every process calls ``setWebhook`` with the same URL when it starts (the repetition is
harmless) and leaves it set when it stops: the others still serve it. ``run`` without
``--webhook`` (polling) deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot import metrics
from bot.config import Settings
from bot.delivery import EXTRAS_SEVERAL, application_now
from bot.leader import is_leader
from bot.rules.quiet import in_quiet_hours, last_quiet_end
from handlers import dedupe

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_TIMEOUT = 5.0
MAX_UPDATE_BYTES = 1024 * 1024  # an update is a few kilobytes; documents come by file_id
# On stop, updates being handled get this long; one cut short is sent again by Telegram
# and taken over after handlers.dedupe.STALE (its claim never finished).
STOP_GRACE = 15.0


class WebhookConfigError(ValueError):
    """The webhook settings cannot work (said before anything starts)."""


def webhook_path(url: str) -> str:
    """The path Telegram posts to: the public URL's path (``/`` when it has none)."""
    return urlsplit(url).path or "/"


def check_settings(settings: Settings) -> None:
    """Raise :class:`WebhookConfigError` for settings webhook mode cannot run with."""
    parts = urlsplit(settings.webhook_url)
    if parts.scheme != "https" or not parts.hostname:
        raise WebhookConfigError("WEBHOOK_URL must be the public https:// address")
    if not settings.webhook_secret:
        raise WebhookConfigError("WEBHOOK_SECRET must be set in webhook mode")
    if webhook_path(settings.webhook_url) in ("/healthz", "/metrics"):
        raise WebhookConfigError("WEBHOOK_URL's path must not be /healthz or /metrics")


class WebhookServer:
    """The aiohttp server of one process (see the module docstring)."""

    def __init__(self, application: Application, settings: Settings) -> None:
        self.application = application
        self.settings = settings
        self.path = webhook_path(settings.webhook_url)
        self._secret = settings.webhook_secret.encode()
        self._runner: web.AppRunner | None = None
        self._accepting = True
        self.port: int | None = None

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_post(self.path, self.handle_update)
        app.router.add_get("/healthz", self.handle_health)
        app.router.add_get("/metrics", self.handle_metrics)
        return app

    async def start(self, host: str, port: int) -> None:
        # Access logs would hold nothing useful and one line per update.
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=STOP_GRACE)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        """Refuse new updates (503), let the ones being handled finish, close."""
        self._accepting = False
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ------------------------------------------------------------------ handlers
    async def handle_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="forbidden")
        if not self._accepting or not self.application.running:
            return web.Response(status=503, text="stopping")
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        if update is None:
            return web.Response(status=400, text="not an update")
        try:
            verdict = await dedupe.take_on(self.application, update.update_id)
        except Exception:
            log.warning("update %s: the database cannot be reached, 503", update.update_id)
            return web.Response(status=503, text="database unavailable")
        if verdict == dedupe.BUSY:  # another process is on it; should it die, a copy comes
            return web.Response(status=503, text="being handled")
        if verdict == dedupe.NEW:
            await self.application.process_update(update)
        return web.Response(text="ok")

    async def health(self) -> tuple[int, dict[str, Any]]:
        application = self.application
        settings = self.settings
        body: dict[str, Any] = {
            "status": "ok",
            "database": "ok",
            "outbox_lag_seconds": 0.0,
            "leader": is_leader(application),
        }
        sessionmaker = application.bot_data.sessionmaker
        now = application_now(application)
        window = (settings.timezone, settings.quiet_hours_start, settings.quiet_hours_end)
        quiet = in_quiet_hours(now, *window)  # never without quiet hours (start == end)
        try:
            if sessionmaker is None:
                raise RuntimeError("the database is not open")
            lag = await asyncio.wait_for(
                metrics.refresh_outbox(
                    sessionmaker, now, quiet=quiet, held_until=last_quiet_end(now, *window)
                ),
                HEALTH_TIMEOUT,
            )
        except Exception as exc:
            body["status"] = "unhealthy"
            body["database"] = f"error: {type(exc).__name__}"
            return 503, body
        body["outbox_lag_seconds"] = round(lag, 1)
        if lag > settings.health_max_outbox_lag_seconds:
            body["status"] = "unhealthy"
            return 503, body
        return 200, body

    async def handle_health(self, request: web.Request) -> web.Response:
        status, body = await self.health()
        return web.json_response(body, status=status, dumps=json.dumps)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        # Refreshes the outbox gauges (kept as they were on failure); the leader gauge
        # follows bot.leader's changes itself.
        await self.health()
        body, content_type = metrics.exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the bot in webhook mode until SIGTERM/SIGINT (or ``stop`` is set)."""
    from bot.app import build_application

    check_settings(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    application = build_application(settings, updater=False)
    application.bot_data.extras[EXTRAS_SEVERAL] = True  # one send rate for all processes
    server = WebhookServer(application, settings)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        await server.start(settings.webhook_listen, settings.webhook_port)
        await application.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=settings.webhook_max_connections,
        )
        log.info(
            "webhook: listening on %s:%s%s",
            settings.webhook_listen,
            server.port,
            server.path,
        )
        await stop.wait()
        log.info("webhook: stopping")
    finally:
        await server.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:  # the order run_polling keeps
            await application.post_shutdown(application)


def run_webhook(settings: Settings) -> None:
    asyncio.run(serve(settings))
