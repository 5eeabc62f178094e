"""Webhook mode (``run_bot.py run --webhook``): the secret, the answer after the handlers,
``/healthz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert

from bot import metrics
from bot.config import Settings
from bot.emulator import RunningEmulator
from bot.webhook import SECRET_HEADER, WebhookConfigError, WebhookServer, check_settings, serve
from storage.models import ProcessedUpdate, utcnow
from storage.repositories.outbox import OutboxRepository
from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import live_settings, start_live_bot, stop_live_bot
from tests.support.telegram import message_update

pytestmark = pytest.mark.e2e

SECRET = "rahasia-Bukittinggi_2026"
PUBLIC_URL = "https://bot.bukittinggi.example/telegram"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(emulator: RunningEmulator, database_url: str, **overrides: Any) -> Settings:
    values = {
        "webhook_url": PUBLIC_URL,
        "webhook_secret": SECRET,
        "webhook_listen": "127.0.0.1",
        "webhook_port": free_port(),
    }
    return live_settings(emulator, database_url, **{**values, **overrides})


async def _listening(port: int, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


@pytest.fixture
async def webhook_bot(
    emulator: RunningEmulator, database_url: str
) -> AsyncIterator[tuple[Settings, str]]:
    settings = webhook_settings(emulator, database_url)
    # The public URL is never contacted: should anything be queued, it comes here.
    await emulator.client.set_webhook_backends(
        [f"http://127.0.0.1:{settings.webhook_port}/telegram"]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    try:
        await _listening(settings.webhook_port)
        yield settings, f"http://127.0.0.1:{settings.webhook_port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def test_settings_webhook_mode_cannot_run_with(tmp_path: Any) -> None:
    base = {"bot_token": "123456:" + "A" * 35, "database_url": "sqlite://"}
    with pytest.raises(WebhookConfigError, match="https"):
        check_settings(Settings(**base, webhook_url="http://x.example/t", webhook_secret="s"))
    with pytest.raises(WebhookConfigError, match="WEBHOOK_SECRET"):
        check_settings(Settings(**base, webhook_url=PUBLIC_URL))
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        Settings(**base, webhook_secret="no spaces allowed")
    check_settings(Settings(**base, webhook_url=PUBLIC_URL, webhook_secret=SECRET))


async def test_updates_need_the_secret_and_are_answered_after_their_handlers(
    emulator: RunningEmulator, webhook_bot: tuple[Settings, str]
) -> None:
    settings, root = webhook_bot
    client = emulator.client
    user_id = 5_100_001
    await client.create_user(user_id, first_name="Rina")
    handled_before = metrics.sample("bot_updates_total", {"type": "message"})
    replies_before = metrics.sample("bot_messages_sent_total", {"source": "reply"})
    update = update_json(user_id, "/start")
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "salah"}):
            async with http.post(f"{root}/telegram", json=update, headers=headers) as answer:
                assert answer.status == 403
        assert await client.bot_messages(user_id) == []  # refused before any handler ran

        headers = {SECRET_HEADER: SECRET}
        async with http.post(f"{root}/telegram", json=update, headers=headers) as answer:
            assert answer.status == 200
        # The answer came after the handlers: the reply is already at "Telegram".
        replies = await client.bot_messages(user_id)
        assert len(replies) == 1

        # Telegram sends it again (the answer was lost): handled once.
        async with http.post(f"{root}/telegram", json=update, headers=headers) as answer:
            assert answer.status == 200
        assert len(await client.bot_messages(user_id)) == 1

        async with http.post(f"{root}/telegram", data=b"{not json", headers=headers) as answer:
            assert answer.status == 400

        async with http.get(f"{root}/healthz") as answer:
            assert answer.status == 200
            assert await answer.json() == {
                "status": "ok",
                "database": "ok",
                "outbox_lag_seconds": 0.0,
                "leader": True,
            }
        async with http.get(f"{root}/metrics") as answer:
            assert answer.status == 200
            exposition = await answer.text()
    # The copy never reached the handlers.
    assert metrics.sample("bot_updates_total", {"type": "message"}) == handled_before + 1
    assert metrics.sample("bot_messages_sent_total", {"source": "reply"}) == replies_before + 1
    for name in (
        "bot_updates_total",
        "bot_update_duration_seconds_bucket",
        'bot_outbox_messages{status="pending"}',
        "bot_outbox_lag_seconds",
        "bot_scheduler_leader 1.0",
    ):
        assert name in exposition
    webhook = emulator.state.webhook
    assert webhook["url"] == settings.webhook_url
    assert webhook.get("secret_token") == SECRET


def update_json(user_id: int, text: str) -> dict[str, Any]:
    """What Telegram would post for ``text`` typed by ``user_id``."""

    class _NoBot:
        bot = None

    return message_update(_NoBot(), user_id, text).to_dict()  # type: ignore[arg-type]


async def test_health_reports_a_waiting_outbox_and_an_unreachable_database(
    emulator: RunningEmulator, database_url: str, sessionmaker: Any
) -> None:
    settings = webhook_settings(emulator, database_url, health_max_outbox_lag_seconds=600)
    live = await start_live_bot(emulator, settings, delivery={"enabled": False})
    server = WebhookServer(live.app, settings)
    try:
        async with sessionmaker() as session, session.begin():
            await OutboxRepository(session).enqueue(
                "test:waiting",
                chat_id=4242,
                kind="test",
                payload={"text": "halo"},
                not_before=utcnow() - dt.timedelta(minutes=20),
            )
        status, body = await server.health()
        assert status == 503 and body["status"] == "unhealthy"
        assert 1150 < body["outbox_lag_seconds"] < 1300
        assert metrics.sample("bot_outbox_messages", {"status": "pending"}) == 1

        engine = live.app.bot_data.engine
        live.app.bot_data.sessionmaker = None  # as if the database had gone
        status, body = await server.health()
        assert status == 503 and body["database"].startswith("error")
        live.app.bot_data.sessionmaker = sessionmaker
        assert engine is not None
    finally:
        await stop_live_bot(live)


@pytest.mark.skipif(not ON_POSTGRES, reason="several processes share updates on PostgreSQL")
async def test_a_copy_waits_for_another_process_and_is_taken_over_when_it_died(
    emulator: RunningEmulator, webhook_bot: tuple[Settings, str], sessionmaker: Any
) -> None:
    _, root = webhook_bot
    client = emulator.client
    user_id = 5_100_002
    await client.create_user(user_id, first_name="Rina")
    headers = {SECRET_HEADER: SECRET}
    busy, dead, done = (update_json(user_id, "/start") for _ in range(3))
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        # Another process took these on: one now (still at it), one two minutes ago and
        # never finished (it died), one that finished.
        for update, taken, finished in (
            (busy, now, None),
            (dead, now - dt.timedelta(minutes=2), None),
            (done, now - dt.timedelta(seconds=5), now - dt.timedelta(seconds=4)),
        ):
            await session.execute(
                insert(ProcessedUpdate).values(
                    update_id=update["update_id"], handled_at=taken, finished_at=finished
                )
            )
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{root}/telegram", json=busy, headers=headers) as answer:
            assert answer.status == 503  # Telegram sends it again later
        async with http.post(f"{root}/telegram", json=done, headers=headers) as answer:
            assert answer.status == 200
        assert await client.bot_messages(user_id) == []
        async with http.post(f"{root}/telegram", json=dead, headers=headers) as answer:
            assert answer.status == 200
        assert len(await client.bot_messages(user_id)) == 1  # handled here, at last
    async with sessionmaker() as session:
        row = await session.get(ProcessedUpdate, dead["update_id"])
    assert row is not None and row.finished_at is not None and row.handled_at > now


async def test_a_stop_finishes_the_update_being_handled_and_refuses_new_ones(
    emulator: RunningEmulator, database_url: str
) -> None:
    """SIGTERM (here: ``stop``) while a reply is on its way: that update is answered and
    its reply sent; afterwards the port is closed, so the load balancer goes elsewhere."""
    settings = webhook_settings(emulator, database_url)
    client = emulator.client
    await client.set_webhook_backends([f"http://127.0.0.1:{settings.webhook_port}/telegram"])
    user_id = 5_100_003
    await client.create_user(user_id, first_name="Rina")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    root = f"http://127.0.0.1:{settings.webhook_port}"
    try:
        await _listening(settings.webhook_port)
        # Telegram is slow to take the reply: the update is still being handled at the stop.
        await client.add_fault("slow", methods=["sendMessage"], chat_id=user_id, delay=3.0)
        async with aiohttp.ClientSession() as http:
            posted = asyncio.ensure_future(
                http.post(
                    f"{root}/telegram",
                    json=update_json(user_id, "/start"),
                    headers={SECRET_HEADER: SECRET},
                )
            )
            # The answer cannot come before the slow reply: after a second it is in progress.
            done, _ = await asyncio.wait({posted}, timeout=1.0)
            assert not done
            stop.set()
            async with await posted as answer:  # answered, not cut short
                assert answer.status == 200
        assert len(await client.bot_messages(user_id)) == 1
        await asyncio.wait_for(task, 60)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", settings.webhook_port)
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 60)
