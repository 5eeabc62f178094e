"""The tick job: Asia/Jakarta time zone, one instance, failures logged, the sender woken."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import update

from bot import metrics, scheduler
from bot.announcements import JOB_NAME as PROGRESS_JOB
from bot.app import build_application
from bot.config import Settings
from bot.context import BotData
from bot.delivery import Sender
from bot.leader import Leadership
from bot.scheduler import EXTRAS_LAST_TICK, JOB_NAME, run_tick
from storage.models import OutboxMessage
from storage.repositories.outbox import OutboxRepository
from tests.scheduler.conftest import add_people, add_training, outbox, settings, wib
from tests.support.telegram import TOKEN, CapturingRequest

JAKARTA = ZoneInfo("Asia/Jakarta")


async def test_post_init_schedules_the_tick_in_jakarta_time_and_it_runs(database_url):
    config = Settings(
        bot_token=TOKEN, database_url=database_url, scheduler_tick_seconds=1, _env_file=None
    )
    app = build_application(config, request=CapturingRequest())
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    try:
        job_queue = app.job_queue
        assert job_queue is not None
        assert job_queue.scheduler.timezone == JAKARTA
        [job] = job_queue.get_jobs_by_name(JOB_NAME)
        # The other repeating job: HR's announcement progress, also in Jakarta time.
        [progress] = job_queue.get_jobs_by_name(PROGRESS_JOB)
        assert {j.name for j in job_queue.jobs()} == {JOB_NAME, PROGRESS_JOB}
        assert progress.job.trigger.timezone == JAKARTA
        assert job.job.trigger.timezone == JAKARTA
        assert job.job.trigger.interval == dt.timedelta(seconds=1)
        assert (job.job.max_instances, job.job.coalesce, job.job.misfire_grace_time) == (
            1,
            True,
            1,
        )
        fake_now = wib(2026, 3, 2, 10, 0)
        app.bot_data.extras["clock"] = lambda: fake_now
        await app.start()
        for _ in range(100):
            if app.bot_data.extras.get(EXTRAS_LAST_TICK) == fake_now:
                break
            await asyncio.sleep(0.05)
        assert app.bot_data.extras.get(EXTRAS_LAST_TICK) == fake_now
        await app.stop()
    finally:
        await app.shutdown()
        await app.post_shutdown(app)
    assert app.job_queue is not None and app.job_queue.jobs() == ()


async def test_a_failing_tick_is_logged_and_the_next_one_runs(sessionmaker, monkeypatch, caplog):
    [person] = await add_people(sessionmaker, 1)
    start = wib(2026, 3, 9, 9, 0)
    await add_training(sessionmaker, start, [person])
    sender = Sender(sessionmaker)
    application = SimpleNamespace(
        bot_data=BotData(settings=settings(), sessionmaker=sessionmaker, extras={"sender": sender})
    )
    real = scheduler.enqueue_due_reminders
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(scheduler, "enqueue_due_reminders", flaky)
    caplog.set_level(logging.INFO)
    now = start - dt.timedelta(days=7)
    failed, ok = (
        metrics.sample("bot_scheduler_ticks_total", {"outcome": o}) for o in ("failed", "ok")
    )
    assert await run_tick(application, now) == 0  # type: ignore[arg-type]
    assert metrics.sample("bot_scheduler_ticks_total", {"outcome": "failed"}) == failed + 1
    assert "scheduler tick failed" in caplog.text
    assert EXTRAS_LAST_TICK not in application.bot_data.extras
    assert not sender._wake.is_set()

    assert await run_tick(application, now) == 1  # type: ignore[arg-type]
    assert metrics.sample("bot_scheduler_ticks_total", {"outcome": "ok"}) == ok + 1
    assert sender._wake.is_set()
    assert "scheduler tick works again after 1 failed rounds" in caplog.text
    assert application.bot_data.extras[EXTRAS_LAST_TICK] == now
    assert len(await outbox(sessionmaker)) == 1
    # Restarted (no memory of the previous tick): still nothing twice.
    application.bot_data.extras.clear()
    assert await run_tick(application, now + dt.timedelta(seconds=30)) == 0  # type: ignore[arg-type]
    assert len(await outbox(sessionmaker)) == 1


async def test_the_tick_uses_the_application_clock(sessionmaker):
    [person] = await add_people(sessionmaker, 1)
    start = wib(2026, 3, 9, 9, 0)
    await add_training(sessionmaker, start, [person])
    clock = [start - dt.timedelta(days=8)]
    application = SimpleNamespace(
        bot_data=BotData(
            settings=settings(), sessionmaker=sessionmaker, extras={"clock": lambda: clock[0]}
        )
    )
    assert await run_tick(application) == 0  # type: ignore[arg-type]
    clock[0] = start - dt.timedelta(days=7)
    assert await run_tick(application) == 1  # type: ignore[arg-type]


async def test_only_the_leader_ticks(sessionmaker):
    """Several processes: a process that does not hold the scheduler's lock queues nothing."""
    [person] = await add_people(sessionmaker, 1)
    start = wib(2026, 3, 9, 9, 0)
    await add_training(sessionmaker, start, [person])
    # A follower as PostgreSQL would have it: no lock held (no connection kept).
    follower = Leadership.__new__(Leadership)
    follower.always, follower._connection = False, None
    application = SimpleNamespace(
        bot_data=BotData(
            settings=settings(), sessionmaker=sessionmaker, extras={"leadership": follower}
        )
    )
    now = start - dt.timedelta(days=7)
    assert await run_tick(application, now) == 0  # type: ignore[arg-type]
    assert await outbox(sessionmaker) == []
    follower._connection = object()  # type: ignore[assignment]  # the leader died: taken over
    assert follower.is_leader
    assert await run_tick(application, now) == 1  # type: ignore[arg-type]


async def test_the_tick_purges_old_contents_once_an_hour(sessionmaker):
    now = wib(2026, 11, 28, 10, 0)
    async with sessionmaker() as session, session.begin():
        repo = OutboxRepository(session)
        for key, age in (("old", 91), ("recent", 89)):
            await repo.enqueue(key, 4242, {"text": f"isi {key}"}, kind="test")
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == key)
                .values(status="sent", sent_at=now - dt.timedelta(days=age))
            )
    application = SimpleNamespace(bot_data=BotData(settings=settings(), sessionmaker=sessionmaker))
    await run_tick(application, now)  # type: ignore[arg-type]
    rows = {r.idempotency_key: r for r in await outbox(sessionmaker)}
    assert rows["old"].payload == {"purged": True} and rows["old"].content_purged_at == now
    assert rows["recent"].payload == {"text": "isi recent"}
    assert rows["recent"].content_purged_at is None
    # Eleven days later the recent one is old too, but not within the hour of the last pass.
    later = now + dt.timedelta(minutes=59)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == "recent")
            .values(sent_at=now - dt.timedelta(days=100))
        )
    await run_tick(application, later)  # type: ignore[arg-type]
    assert {r.idempotency_key: r for r in await outbox(sessionmaker)}["recent"].payload == {
        "text": "isi recent"
    }
    await run_tick(application, now + dt.timedelta(hours=1))  # type: ignore[arg-type]
    assert {r.idempotency_key: r for r in await outbox(sessionmaker)}["recent"].payload == {
        "purged": True
    }
