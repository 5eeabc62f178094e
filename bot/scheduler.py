"""The scheduler: APScheduler through PTB's JobQueue, used only to tick.

Every ``SCHEDULER_TICK_SECONDS`` (30 s) the tick opens a session, queues whatever is due in
the database in one transaction (training reminders: ``bot.reminders.enqueue_due_reminders``;
the pushes of mutation stage changes nobody was told of yet: ``bot.mutations.process_events``,
e.g. left by a crash, by an import on the command line while the bot was down, or by another
process), commits, and wakes the outbox sender if anything was queued. It holds no truth
itself: what is due is computed from the database and every message has an idempotency key,
so a restart (or a second process on the same PostgreSQL) loses and doubles nothing. The
previous tick's time is kept only to bound the log of dropped reminders.

The monthly evaluation reminders (``bot.evaluation_reminders``: period opened, deadline near,
what is missing after it; working days from 08:00 WIB) are queued in the same transaction.
Evaluation conversations idle for ``EVALUATION_IDLE_MINUTES`` are paused politely
(``bot.evaluation_idle``).

With several processes on one PostgreSQL only the leader ticks (``bot.leader``: an
advisory lock; another process takes over within ``LEADER_RETRY_SECONDS`` when it dies);
the others' tick returns at once.

Time zones: the JobQueue's scheduler is configured with ``TIMEZONE`` (Asia/Jakarta) before
it starts, and every job also gets it explicitly (``job_kwargs["timezone"]``), so nothing
depends on the host's zone. The job runs one instance at a time (``max_instances=1``), runs
missed by a busy loop are merged (``coalesce``) and run up to one interval late
(``misfire_grace_time``). An exception in a tick is logged and the next tick runs.

The tick's clock is ``bot_data.extras["clock"]`` when set (tests: a callable returning an
aware UTC datetime), else the real time; the sender's quiet hours read the same clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from telegram.ext import Application, CallbackContext, Job

from bot import metrics
from bot.delivery import application_now, get_sender
from bot.evaluation_idle import pause_idle
from bot.evaluation_reminders import enqueue_evaluation_reminders
from bot.failure_log import failures
from bot.leader import is_leader
from bot.mutations import process_events
from bot.reminders import enqueue_due_reminders
from bot.retention import purge_expired_contents
from handlers.dedupe import prune as prune_processed_updates

log = logging.getLogger(__name__)

JOB_NAME = "scheduler-tick"
EXTRAS_JOB = "scheduler_job"
EXTRAS_LAST_TICK = "scheduler_last_tick"
EXTRAS_LAST_HOUSEKEEPING = "housekeeping_last_pass"
HOUSEKEEPING_EVERY = dt.timedelta(hours=1)  # retention: a batch per table each time


async def run_tick(application: Application, now: dt.datetime | None = None) -> int:
    """One tick: queue what is due at ``now`` (default: the application's clock): training
    reminders and the notices of pending stage changes; how many messages were queued.
    Never raises: a failure is logged and the next tick retries."""
    data = application.bot_data
    if data.settings is None or data.sessionmaker is None:
        log.warning("scheduler tick skipped: the database is not open")
        return 0
    if not is_leader(application):  # another process runs the scheduler (bot.leader)
        return 0
    now = now or application_now(application)
    last_tick = data.extras.get(EXTRAS_LAST_TICK)
    try:
        async with data.sessionmaker() as session, session.begin():
            queued = await enqueue_due_reminders(
                session,
                data.settings,
                now,
                last_tick=last_tick if isinstance(last_tick, dt.datetime) else None,
            )
            queued += await process_events(session, data.settings, now=now)
            queued += await enqueue_evaluation_reminders(session, data.settings, now)
            queued += await pause_idle(session, data.settings, now)
    except Exception:
        failures(application, "scheduler tick", log).failed()
        metrics.TICKS.labels("failed").inc()
        return 0
    failures(application, "scheduler tick", log).succeeded()
    metrics.TICKS.labels("ok").inc()
    data.extras[EXTRAS_LAST_TICK] = now
    await housekeeping(application, now)  # at most hourly; never raises
    if queued:
        sender = get_sender(application)
        if sender is not None:
            sender.wake()
    return queued


async def housekeeping(application: Application, now: dt.datetime) -> None:
    """If the last pass was an hour ago or more: forget update ids older than a week
    (``handlers.dedupe.prune``) and purge what retention says is due (``bot.retention``:
    delivered messages' contents after ``MESSAGE_RETENTION_DAYS``). Never raises: a failed
    pass is tried again at the next tick."""
    data = application.bot_data
    last = data.extras.get(EXTRAS_LAST_HOUSEKEEPING)
    if data.settings is None or data.sessionmaker is None:
        return
    if isinstance(last, dt.datetime) and now - last < HOUSEKEEPING_EVERY:
        return
    try:
        await prune_processed_updates(application, now)
        async with data.sessionmaker() as session, session.begin():
            await purge_expired_contents(session, data.settings, now)
    except Exception:
        log.exception("hourly housekeeping failed; the next tick retries")
        return
    data.extras[EXTRAS_LAST_HOUSEKEEPING] = now


async def tick(context: CallbackContext) -> None:
    await run_tick(context.application)


def start_scheduler(application: Application) -> Job | None:
    """Add the repeating tick to the application's JobQueue (started by ``Application.start``).

    Call from ``post_init``, after the database is open; calling it again replaces the job.
    """
    data = application.bot_data
    job_queue = application.job_queue
    if job_queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): nothing is scheduled")
        return None
    assert data.settings is not None, "post_init has not run"
    zone = ZoneInfo(data.settings.timezone)
    interval = data.settings.scheduler_tick_seconds
    if not job_queue.scheduler.running:
        # configure() replaces the whole configuration: keep PTB's executor.
        job_queue.scheduler.configure(**{**job_queue.scheduler_configuration, "timezone": zone})
    elif job_queue.scheduler.timezone != zone:
        log.warning(
            "the JobQueue already runs in %s; the tick job uses %s",
            job_queue.scheduler.timezone,
            zone.key,
        )
    stop_scheduler(application)
    job = job_queue.run_repeating(
        tick,
        interval=interval,
        first=1,
        name=JOB_NAME,
        job_kwargs={
            "id": JOB_NAME,
            "replace_existing": True,
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": interval,
            "timezone": zone,
        },
    )
    data.extras[EXTRAS_JOB] = job
    log.info("scheduler: ticking every %d s (%s)", interval, zone.key)
    return job


def stop_scheduler(application: Application) -> None:
    """Remove the tick job (the JobQueue itself is stopped by ``Application.stop``)."""
    job = application.bot_data.extras.pop(EXTRAS_JOB, None)
    if isinstance(job, Job):
        try:
            job.schedule_removal()
        except Exception:  # already gone with a shut-down scheduler
            log.debug("scheduler job already removed")
