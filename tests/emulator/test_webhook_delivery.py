"""Webhook delivery: the emulator pushes queued updates to the webhook, as Telegram does, or
round-robin to several bot processes, as Telegram plus a load balancer do.

The bot processes are :class:`FakeBackend` servers on 127.0.0.1. Waits are on conditions
with generous deadlines, never on how fast something happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import EmulatorControlError, RunningEmulator, run_emulator
from bot.emulator.__main__ import build_parser
from bot.emulator.state import EmulatorState, WebhookJob
from bot.emulator.webhook import SECRET_HEADER

from ._backends import DROP, HANG, FakeBackend, Tracker, closed_port_url, eventually, update_chat
from ._support import BOT_ID, BOT_USERNAME, TOKEN

PUBLIC_URL = "https://bot.example.go.id/telegram"  # what Telegram knows; never contacted


@pytest.fixture
async def emu() -> AsyncIterator[RunningEmulator]:
    # http:// webhooks on 127.0.0.1; failed deliveries retried soon.
    async with run_emulator(
        bot_username=BOT_USERNAME,
        webhook_require_https=False,
        webhook_timeout=10.0,
        webhook_retry_initial=0.02,
        webhook_retry_max=0.2,
    ) as e:
        yield e


@pytest.fixture
async def backends() -> AsyncIterator[list[FakeBackend]]:
    """Three bot processes sharing one tracker (started on first use)."""
    tracker = Tracker()
    started = [await FakeBackend(f"b{i}", tracker, jitter=0.003).start() for i in range(3)]
    yield started
    for backend in started:
        await backend.stop()


async def _users(emu: RunningEmulator, *ids: int) -> None:
    for user_id in ids:
        await emu.client.create_user(user_id, f"U{user_id}")


async def _queue_empty(emu: RunningEmulator) -> bool:
    return await emu.client.updates() == []


# ---------------------------------------------------------------------- one webhook
async def test_updates_are_pushed_with_the_secret_header(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    early = await emu.client.send_text(user, "queued before the webhook")
    assert await bot.set_webhook(hook.url, secret_token="s3cret-Token_1") is True
    late = await emu.client.send_text(user, "/status")
    await eventually(lambda: len(hook.received) == 2, "both updates arrive")
    await eventually(lambda: _queue_empty(emu), "both are confirmed")
    assert hook.update_ids == [early["update_id"], late["update_id"]]
    for received in hook.received:
        assert received.headers[SECRET_HEADER] == "s3cret-Token_1"
        assert received.headers["Content-Type"] == "application/json"
    update = telegram.Update.de_json(hook.received[1].update, bot)
    assert update.message.text == "/status" and update.message.chat.id == user
    info = await bot.get_webhook_info()
    assert info.url == hook.url and info.pending_update_count == 0
    assert info.last_error_date is None and info.last_error_message is None
    log = await emu.client.deliveries()
    assert [(d["update_id"], d["url"], d["status"], d["error"]) for d in log] == [
        (early["update_id"], hook.url, 200, None),
        (late["update_id"], hook.url, 200, None),
    ]
    assert all(d["duration"] >= 0 and d["started"] > 0 for d in log)
    assert await emu.client.deliveries(since=log[0]["seq"]) == log[1:]
    assert await emu.client.deliveries(update_id=early["update_id"]) == log[:1]


async def test_no_secret_no_header(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    await bot.set_webhook(hook.url)
    await emu.client.send_text(user, "hi")
    await eventually(lambda: len(hook.received) == 1, "the update arrives")
    assert SECRET_HEADER not in hook.received[0].headers


async def test_a_failing_webhook_is_retried_and_reported(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    hook.status = 500
    await bot.set_webhook(hook.url)
    sent = await emu.client.send_text(user, "hi")
    await eventually(lambda: len(hook.received) >= 3, "the update is tried again")
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    hook.status = 200
    await eventually(lambda: _queue_empty(emu), "the update is confirmed at last")
    assert set(hook.update_ids) == {sent["update_id"]}
    statuses = [d["status"] for d in await emu.client.deliveries(update_id=sent["update_id"])]
    assert statuses[-1] == 200 and set(statuses[:-1]) == {500} and len(statuses) >= 3
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_a_timeout_is_a_failure_and_retried(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    hook.answers.append(HANG)
    settings = await emu.client.set_webhook_settings(timeout=0.3)
    assert settings == {"timeout": 0.3, "retry_initial": 0.02, "retry_max": 0.2}
    await bot.set_webhook(hook.url)
    sent = await emu.client.send_text(user, "hi")
    await eventually(lambda: _queue_empty(emu), "the update is confirmed after the timeout")
    first, *rest = await emu.client.deliveries(update_id=sent["update_id"])
    assert first["status"] is None and first["error"] == "Read timeout expired"
    assert rest[-1]["status"] == 200
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Read timeout expired"
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.set_webhook_settings(timeout=0)
    assert exc.value.status == 400
    assert (await emu.client.webhook_settings())["timeout"] == 0.3


async def test_one_update_per_chat_in_flight(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend]
) -> None:
    hook = backends[0]
    hook.hold = asyncio.Event()
    await _users(emu, 1, 2)
    await bot.set_webhook(hook.url)  # 40 connections: the chats are the limit
    await emu.client.send_texts([(u, f"m{i}") for i in range(3) for u in (1, 2)])
    await eventually(lambda: len(hook.received) == 2, "one request per chat is in flight")
    await asyncio.sleep(0.3)  # give a second request of a chat (a bug) the time to show up
    assert sorted(update_chat(r.update) for r in hook.received) == [1, 2]
    hook.hold.set()
    await eventually(lambda: _queue_empty(emu), "all are confirmed")
    assert len(hook.received) == 6 and len(set(hook.update_ids)) == 6
    assert hook.tracker.max_per_chat == 1
    for chat in (1, 2):
        ids = [r.update["update_id"] for r in hook.received if update_chat(r.update) == chat]
        assert len(ids) == 3 and ids == sorted(ids)


async def test_at_most_max_connections_in_flight(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend]
) -> None:
    hook = backends[0]
    hook.hold = asyncio.Event()
    await _users(emu, 1, 2, 3, 4, 5)
    await bot.set_webhook(hook.url, max_connections=2)
    assert (await bot.get_webhook_info()).max_connections == 2
    await emu.client.send_texts([(u, "hi") for u in (1, 2, 3, 4, 5)])
    await eventually(lambda: len(hook.received) == 2, "two requests are in flight")
    await asyncio.sleep(0.3)  # give a third request (a bug) the time to show up
    assert len(hook.received) == 2
    hook.hold.set()
    await eventually(lambda: _queue_empty(emu), "all are confirmed")
    assert sorted(update_chat(r.update) for r in hook.received) == [1, 2, 3, 4, 5]
    assert hook.tracker.max_in_flight == 2


async def test_redeliver_pushes_the_copy_again(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    await bot.set_webhook(hook.url)
    sent = await emu.client.send_text(user, "/status")
    await eventually(lambda: len(hook.received) == 1, "the update arrives")
    await eventually(lambda: _queue_empty(emu), "it is confirmed")
    again = await emu.client.redeliver_update(sent["update_id"])
    await eventually(lambda: len(hook.received) == 2, "the copy arrives")
    assert hook.received[1].update == hook.received[0].update == again
    await eventually(lambda: _queue_empty(emu), "the copy is confirmed")


async def test_allowed_updates_apply_to_the_webhook(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="ya")]])
    message = await bot.send_message(user, "Lanjut?", reply_markup=markup)
    await bot.set_webhook(hook.url, allowed_updates=["callback_query"])
    await emu.client.send_text(user, "not wanted")
    pressed = await emu.client.press_button(user, message.message_id, "ya")
    await eventually(lambda: _queue_empty(emu), "the text is dropped, the press confirmed")
    assert hook.update_ids == [pressed["update_id"]]
    assert hook.received[0].update["callback_query"]["data"] == "ya"


async def test_delete_webhook_stops_pushing(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    await bot.set_webhook(hook.url)
    await emu.client.send_text(user, "first")
    await eventually(lambda: _queue_empty(emu), "the first update is confirmed")
    assert await bot.delete_webhook() is True
    second = await emu.client.send_text(user, "second")
    await asyncio.sleep(0.3)  # give a push (a bug) the time to happen
    assert len(hook.received) == 1
    (update,) = await bot.get_updates(timeout=0)
    assert update.update_id == second["update_id"] and update.message.text == "second"


async def test_delete_webhook_while_failing_keeps_the_update_for_get_updates(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    hook = backends[0]
    hook.status = 502
    await bot.set_webhook(hook.url)
    sent = await emu.client.send_text(user, "hi")
    await eventually(lambda: len(hook.received) >= 2, "the update is retried")
    await bot.delete_webhook()
    tried = len(hook.received)
    await asyncio.sleep(0.5)  # several backoffs: no retry may follow
    assert len(hook.received) <= tried + 1  # at most the request already under way
    (update,) = await bot.get_updates(timeout=0)
    assert update.update_id == sent["update_id"]
    # A webhook set again delivers it (the poll above did not confirm it).
    hook.status = 200
    await bot.set_webhook(hook.url)
    await eventually(lambda: _queue_empty(emu), "it is delivered to the new webhook")
    assert hook.received[-1].update["update_id"] == sent["update_id"]


# ---------------------------------------------------------------------- load balancer
async def test_round_robin_over_three_backends_keeps_each_chat_in_order(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend]
) -> None:
    urls = [b.url for b in backends]
    view = await emu.client.set_webhook_backends(urls)
    assert view["urls"] == urls
    users = list(range(1, 7))
    await _users(emu, *users)
    # More connections than chats: only the one-per-chat rule keeps a chat's order.
    await bot.set_webhook(PUBLIC_URL, secret_token="lb", max_connections=10)
    batch = await emu.client.send_texts([(u, f"m{i}") for i in range(10) for u in users])
    sent = {s["update_id"] for s in batch["sent"]}
    await eventually(lambda: _queue_empty(emu), "all 60 updates are confirmed")
    tracker = backends[0].tracker
    assert sorted(uid for _, uid, _ in tracker.arrivals) == sorted(sent)  # each exactly once
    for backend in backends:
        assert abs(len(backend.received) - 20) <= 1, [len(b.received) for b in backends]
        assert all(r.headers[SECRET_HEADER] == "lb" for r in backend.received)
    counts = (await emu.client.webhook_backends())["backends"]
    assert [c["delivered"] for c in counts] == [len(b.received) for b in backends]
    assert all(c["failed"] == c["refused"] == 0 for c in counts)
    assert tracker.max_per_chat == 1 and tracker.max_in_flight <= 6
    # Each chat's updates came in the order they were sent, whichever backend got them.
    for chat in users:
        ids = [uid for _, uid, c in tracker.arrivals if c == chat]
        assert len(ids) == 10 and ids == sorted(ids)
    assert {d["url"] for d in await emu.client.deliveries()} == set(urls)


async def test_a_backend_that_is_down_is_skipped(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend]
) -> None:
    down = closed_port_url()
    up = [backends[0], backends[1]]
    await emu.client.set_webhook_backends([up[0].url, down, up[1].url])
    await _users(emu, 1, 2, 3)
    await bot.set_webhook(PUBLIC_URL)
    batch = await emu.client.send_texts([(u, f"m{i}") for i in range(10) for u in (1, 2, 3)])
    await eventually(lambda: _queue_empty(emu), "all updates are confirmed")
    got = up[0].update_ids + up[1].update_ids
    assert sorted(got) == sorted(s["update_id"] for s in batch["sent"])  # none lost, none twice
    counts = {c["url"]: c for c in (await emu.client.webhook_backends())["backends"]}
    assert counts[down]["delivered"] == counts[down]["failed"] == 0
    assert counts[down]["refused"] >= 1
    assert counts[up[0].url]["delivered"] + counts[up[1].url]["delivered"] == 30
    refused = [d for d in await emu.client.deliveries() if d["url"] == down]
    assert refused and all(
        d["status"] is None and d["error"] == "Connection refused" for d in refused
    )
    # Skipping a backend is no delivery failure.
    assert (await bot.get_webhook_info()).last_error_message is None


async def test_a_backend_dropping_the_connection_is_skipped(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend]
) -> None:
    crashing, good = backends[0], backends[1]
    crashing.status = DROP
    await emu.client.set_webhook_backends([crashing.url, good.url])
    await _users(emu, 1, 2)
    await bot.set_webhook(PUBLIC_URL)
    batch = await emu.client.send_texts([(u, f"m{i}") for i in range(3) for u in (1, 2)])
    await eventually(lambda: _queue_empty(emu), "all updates are confirmed")
    assert sorted(good.update_ids) == sorted(s["update_id"] for s in batch["sent"])
    counts = (await emu.client.webhook_backends())["backends"]
    assert (counts[0]["delivered"], counts[0]["failed"]) == (0, 0) and counts[0]["refused"] >= 1
    assert counts[1] == {"url": good.url, "delivered": 6, "failed": 0, "refused": 0}
    dropped = [d for d in await emu.client.deliveries() if d["url"] == crashing.url]
    assert dropped and all(d["status"] is None for d in dropped)
    assert all(d["error"].startswith("Connection reset by peer") for d in dropped)
    assert (await bot.get_webhook_info()).last_error_message is None


async def test_when_every_backend_is_down_the_update_waits(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    await emu.client.set_webhook_backends([closed_port_url(), closed_port_url()])
    await bot.set_webhook(PUBLIC_URL)
    sent = await emu.client.send_text(user, "hi")

    async def tried_twice() -> bool:
        return len(await emu.client.deliveries(update_id=sent["update_id"])) >= 4

    await eventually(tried_twice, "both backends were tried twice")
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_message == "Connection refused"
    await emu.client.set_webhook_backends([backends[2].url])
    await eventually(lambda: _queue_empty(emu), "a backend that is up gets it")
    assert backends[2].update_ids == [sent["update_id"]]


async def test_a_backend_answering_500_fails_the_update_which_goes_to_the_next(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    bad, good = backends[0], backends[1]
    bad.status = 500
    await emu.client.set_webhook_backends([bad.url, good.url])
    await bot.set_webhook(PUBLIC_URL)
    sent = await emu.client.send_text(user, "hi")
    await eventually(lambda: _queue_empty(emu), "the retry reaches the good backend")
    log = await emu.client.deliveries(update_id=sent["update_id"])
    assert [(d["url"], d["status"]) for d in log] == [(bad.url, 500), (good.url, 200)]
    counts = (await emu.client.webhook_backends())["backends"]
    assert [(c["delivered"], c["failed"], c["refused"]) for c in counts] == [(0, 1, 0), (1, 0, 0)]


async def test_backends_control_validation_and_clearing(
    bot: telegram.Bot, emu: RunningEmulator, backends: list[FakeBackend], user: int
) -> None:
    with pytest.raises(EmulatorControlError) as exc:
        await emu.client.set_webhook_backends(["ftp://127.0.0.1/x"])
    assert exc.value.status == 400
    await emu.client.set_webhook_backends([backends[0].url])
    assert (await emu.client.set_webhook_backends(None)) == {"urls": [], "backends": []}
    # Without backends the registered webhook itself gets the updates again.
    await bot.set_webhook(backends[1].url)
    await emu.client.send_text(user, "hi")
    await eventually(lambda: len(backends[1].received) == 1, "the webhook gets it")
    assert backends[0].received == []


async def test_backends_given_at_construction(backends: list[FakeBackend]) -> None:
    url = backends[0].url
    async with run_emulator(webhook_backends=[url]) as emu:
        assert (await emu.client.webhook_backends())["urls"] == [url]
        await emu.client.create_user(5, "Ani")
        async with telegram.Bot(TOKEN, base_url=emu.base_url) as bot:
            await bot.set_webhook(PUBLIC_URL)  # https: accepted by the default emulator
        await emu.client.send_text(5, "hi")
        await eventually(lambda: len(backends[0].received) == 1, "the backend gets it")


def test_command_line_backends() -> None:
    args = build_parser().parse_args(
        [
            "--webhook-backend",
            "http://127.0.0.1:9001/telegram",
            "--webhook-backend",
            "http://127.0.0.1:9002/telegram",
            "--webhook-timeout",
            "5",
        ]
    )
    assert args.webhook_backends == [
        "http://127.0.0.1:9001/telegram",
        "http://127.0.0.1:9002/telegram",
    ]
    assert args.webhook_timeout == 5.0 and not args.webhook_allow_http
    assert build_parser().parse_args([]).webhook_backends is None


# ---------------------------------------------------------------------- the queue itself
@pytest.fixture
def state() -> EmulatorState:
    s = EmulatorState(bot_id=BOT_ID, webhook_require_https=False)
    for user_id in (10, 20):
        s.create_user(user_id, f"U{user_id}")
    return s


def _take_all(state: EmulatorState) -> list[WebhookJob]:
    jobs = []
    while (job := state.webhook_take()) is not None:
        jobs.append(job)
    return jobs


def test_the_queue_hands_out_one_update_per_chat(state: EmulatorState) -> None:
    a1, _ = state.user_send_text(10, "a1")
    assert state.webhook_take() is None  # no webhook yet
    state.set_webhook("http://127.0.0.1:1/hook")
    a2, _ = state.user_send_text(10, "a2")
    b1, _ = state.user_send_text(20, "b1")
    jobs = _take_all(state)
    assert [j.update_id for j in jobs] == [a1, b1]
    state.webhook_confirm(jobs[0])
    (job,) = _take_all(state)
    assert job.update_id == a2
    # A failed job given up goes first when handed out again.
    state.webhook_failed(job, "Connection refused")
    assert state.webhook_info()["last_error_message"] == "Connection refused"
    assert state.webhook_due(job)
    state.webhook_release(job)
    assert [j.update_id for j in _take_all(state)] == [a2]
    assert state.webhook_info()["pending_update_count"] == 2


def test_a_redelivered_copy_is_handed_out_after_the_original(state: EmulatorState) -> None:
    state.set_webhook("http://127.0.0.1:1/hook")
    first, _ = state.user_send_text(10, "x")
    (job,) = _take_all(state)
    state.redeliver_update(first)
    assert _take_all(state) == []  # the chat has its original out
    state.webhook_confirm(job)
    (copy_job,) = _take_all(state)
    assert copy_job.update == job.update and copy_job.update is not job.update
    state.webhook_confirm(copy_job)
    assert state.updates == []


def test_delete_and_reset_void_what_is_out(state: EmulatorState) -> None:
    state.set_webhook("http://127.0.0.1:1/hook")
    sent, _ = state.user_send_text(10, "x")
    (job,) = _take_all(state)
    state.delete_webhook()
    assert not state.webhook_due(job)
    state.set_webhook("http://127.0.0.1:1/hook")
    assert _take_all(state) == []  # still out: not handed out twice
    state.webhook_release(job)
    assert [j.update_id for j in _take_all(state)] == [sent]
    state.reset()
    state.create_user(10, "U10")
    state.set_webhook("http://127.0.0.1:1/hook")
    later, _ = state.user_send_text(10, "y")
    state.webhook_confirm(job)  # a job of the old queue changes nothing
    assert [u["update_id"] for u in state.updates] == [later]
    assert [j.update_id for j in _take_all(state)] == [later]
