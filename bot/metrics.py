"""Prometheus metrics, served at ``/metrics`` in webhook mode (:mod:`bot.webhook`).

Counters and histograms live in this process (scrape every process directly, not through
the load balancer); the outbox gauges are read from the database at scrape time, so every
process reports the same whole outbox. Names:

=================================  ===========================================================
``bot_updates_total{type}``        updates handled, by kind (message, callback_query …)
``bot_update_duration_seconds``    time from an update's arrival to the end of its handlers
``bot_outbox_messages{status}``    outbox rows per status (pending, sending, sent …)
``bot_outbox_lag_seconds``         how long the oldest due message has been waiting
``bot_messages_sent_total{source}``  messages Telegram accepted: ``outbox`` pushes, ``reply``
``bot_telegram_429_total``         429 answers (flood control) from Telegram
``bot_scheduler_ticks_total{outcome}``  scheduler ticks run here: ``ok`` or ``failed``
``bot_scheduler_leader``           1 while this process runs the scheduler
=================================  ===========================================================

The counters are module-level (one registry per process, as Prometheus expects); tests read
them with :func:`sample`.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories.health import outbox_lag_seconds
from storage.repositories.outbox import OutboxRepository

UPDATES = Counter("bot_updates", "Telegram updates handled", ["type"])
UPDATE_SECONDS = Histogram(
    "bot_update_duration_seconds",
    "Time to handle one update, from its arrival to the end of its handlers",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
OUTBOX = Gauge("bot_outbox_messages", "Outbox messages per status", ["status"])
OUTBOX_LAG = Gauge("bot_outbox_lag_seconds", "Age of the oldest outbox message due now")
SENT = Counter("bot_messages_sent", "Messages Telegram accepted", ["source"])
TOO_MANY_REQUESTS = Counter("bot_telegram_429", "429 (flood control) answers from Telegram")
TICKS = Counter("bot_scheduler_ticks", "Scheduler ticks run in this process", ["outcome"])
LEADER = Gauge("bot_scheduler_leader", "1 while this process runs the scheduler")

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "blocked", "uncertain", "cancelled")


def update_type(update: object) -> str:
    """The kind of update (``message``, ``callback_query`` …), a small fixed label set."""
    for kind in (
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "inline_query",
        "channel_post",
    ):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


async def refresh_outbox(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: dt.datetime,
    *,
    quiet: bool = False,
    held_until: dt.datetime | None = None,
) -> float:
    """Read the outbox gauges from the database; the lag in seconds (``quiet``: in quiet
    hours, when only urgent messages are due; ``held_until``: when the last ones ended)."""
    async with sessionmaker() as session:
        counts = await OutboxRepository(session).counts_by_status()
        lag = await outbox_lag_seconds(session, now, urgent_only=quiet, held_until=held_until)
    for status in OUTBOX_STATUSES:
        OUTBOX.labels(status).set(counts.get(status, 0))
    OUTBOX_LAG.set(lag)
    return lag


def exposition() -> tuple[bytes, str]:
    """The text exposition format and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """A metric's current value (0 when never set): for tests and benchmarks."""
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
