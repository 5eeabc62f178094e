"""One send rate for every process on one PostgreSQL.

Telegram counts a bot's messages per second whatever process sends them, so processes
sharing an outbox must share one budget too. Each send books the next free slot in the
``send_budget`` row: one ``UPDATE … RETURNING`` that moves ``next_slot_at`` one interval
further (``interval = (1 + tolerance + margin) / rate``) and returns the booked time. Slots
are therefore at least an interval apart whoever booked them, and the process sends at its
slot's time (the database's clock, mapped onto the process's own: :class:`DatabaseClock`).

Why that keeps every one-second window at or under the rate: a send may leave up to
``tolerance`` after its slot (a busy event loop) and never before it; a later wake-up gives
the slot up and books another. The sends seen in any window ``[t, t + 1)`` therefore come
from slots in ``(t - tolerance - margin, t + 1)``, an interval holding fewer than
``rate`` slots. ``margin`` absorbs the clock mapping's error and the network's jitter between
here and Telegram. The price is 7 % of the rate (25/s books 23.4 slots a second). The
tolerance is 50 ms, not less: a process whose CPU is busy wakes up tens of milliseconds
late, and at 20 ms a loaded process gave up most of its slots (a benchmark measured eight
bookings per reply at two processes, against one at 50 ms).

The row is in an unlogged table: its UPDATE commits without waiting for the disk, and
after a crash of the server the row is simply made again.

A late wake-up costs a booking, not budget: reserving room for lateness would cost that much
time of the whole budget per send (at 5,000/s a 50 ms allowance would cap it at 20/s), so a
process on a starved CPU pays in database round trips instead (``given_up``, logged).

A 429 pushes ``next_slot_at`` past its ``retry_after``: every process pauses, not only the
one that met it. Booking costs one round trip (about a millisecond; the statement commits by
itself, so the row is locked for that statement only); a slot is only booked if it falls
within the caller's patience (``max_wait``), so a pause never strands a batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

BUDGET_NAME = "global"

_BOOK = text(
    """
    UPDATE send_budget
       SET next_slot_at = greatest(next_slot_at, clock_timestamp() + make_interval(secs => :lead))
                          + make_interval(secs => :interval)
     WHERE name = :name
       AND greatest(next_slot_at, clock_timestamp() + make_interval(secs => :lead))
           <= clock_timestamp() + make_interval(secs => :max_wait)
    RETURNING extract(epoch FROM next_slot_at) - :interval AS slot
    """
)
_NEXT = text(
    "SELECT extract(epoch FROM next_slot_at - clock_timestamp()) FROM send_budget"
    " WHERE name = :name"
)
_CREATE = text(
    "INSERT INTO send_budget (name, next_slot_at) VALUES (:name, clock_timestamp())"
    " ON CONFLICT (name) DO NOTHING"
)
_PAUSE = text(
    "UPDATE send_budget SET next_slot_at ="
    " greatest(next_slot_at, clock_timestamp() + make_interval(secs => :seconds))"
    " WHERE name = :name"
)
_NOW = text("SELECT extract(epoch FROM clock_timestamp())")


class DatabaseClock:
    """The database server's clock seen from this process: ``offset`` such that
    ``database time = time.monotonic() + offset``, estimated from the round trip with the
    smallest delay (its error is at most half that round trip). Re-estimated now and then:
    the two clocks drift apart slowly."""

    def __init__(self, engine: AsyncEngine, *, samples: int = 5, refresh: float = 60.0) -> None:
        self.engine = engine
        self.samples = samples
        self.refresh = refresh
        self.offset: float | None = None
        self.error = math.inf
        self.round_trip = 0.0
        self._synced_at = -math.inf

    async def sync(self) -> None:
        best: tuple[float, float] | None = None
        async with self.engine.connect() as connection:
            for _ in range(self.samples):
                before = time.monotonic()
                remote = float(await connection.scalar(_NOW))
                after = time.monotonic()
                sample = (after - before, remote - (before + after) / 2)
                if best is None or sample[0] < best[0]:
                    best = sample
            await connection.rollback()
        assert best is not None
        self.round_trip, self.offset = best
        self.error = best[0] / 2
        self._synced_at = time.monotonic()

    async def ensure(self) -> float:
        if self.offset is None or time.monotonic() - self._synced_at > self.refresh:
            await self.sync()
        assert self.offset is not None
        return self.offset


class SharedSendBudget:
    """See the module docstring. ``sleep`` waits (the sender's waits end early on stop)."""

    def __init__(
        self,
        engine: AsyncEngine,
        rate: float,
        *,
        tolerance: float = 0.05,
        margin: float = 0.02,
        name: str = BUDGET_NAME,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the shared send rate must be positive")
        self.engine = engine
        # Each statement commits by itself: the row is locked for the UPDATE alone, not
        # across the round trips of a BEGIN … COMMIT (every process's sends queue on it).
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.rate = rate
        self.tolerance = tolerance
        self.interval = (1.0 + tolerance + margin) / rate
        self.name = name
        self.sleep = sleep
        self.clock = DatabaseClock(engine)
        self.booked = 0
        self.given_up = 0  # slots missed by waking up too late
        self._created = False

    async def take(self, max_wait: float | None = None) -> float | None:
        """Book a slot and wait for it. ``None``: send now. A number: no slot comes within
        ``max_wait`` seconds (``None``: any wait), ask again in about that many seconds."""
        patience = 24 * 3600.0 if max_wait is None else max(0.0, max_wait)
        while True:
            offset = await self.clock.ensure()
            # Book at least a round trip ahead, so the answer is back before the slot starts.
            lead = min(0.25, max(0.001, 3 * self.clock.round_trip))
            slot = await self._book(lead, max(patience, lead + self.interval))
            if isinstance(slot, _Wait):
                if not self._created:  # the row was missing: made again, book at once
                    continue
                return slot.seconds
            self.booked += 1
            local_slot = slot - offset + self.clock.error  # never before the slot
            delay = local_slot - time.monotonic()
            if delay > 0:
                await self.sleep(delay)
            late = time.monotonic() - (local_slot - 2 * self.clock.error)
            if late <= self.tolerance:
                return None
            self.given_up += 1
            if self.given_up in (1, 100) or self.given_up % 1000 == 0:
                log.info(
                    "send budget: woke %.0f ms after a slot, booked another (%d so far)",
                    late * 1000,
                    self.given_up,
                )

    async def pause(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (Telegram's ``retry_after``)."""
        async with self._autocommit.connect() as connection:
            await self._ensure_row(connection)
            await connection.execute(_PAUSE, {"seconds": seconds, "name": self.name})

    async def _ensure_row(self, connection: object) -> None:
        if not self._created:
            await connection.execute(_CREATE, {"name": self.name})  # type: ignore[attr-defined]
            self._created = True

    async def _book(self, lead: float, max_wait: float) -> float | _Wait:
        params = {
            "lead": lead,
            "interval": self.interval,
            "max_wait": max_wait,
            "name": self.name,
        }
        async with self._autocommit.connect() as connection:
            await self._ensure_row(connection)
            slot = await connection.scalar(_BOOK, params)
            if slot is not None:
                return float(slot)
            wait = await connection.scalar(_NEXT, {"name": self.name})
        if wait is None:  # the row is gone (an unlogged table after a crash): make it again
            self._created = False
            return _Wait(0.0)
        return _Wait(max(0.0, float(wait)) - max_wait + lead + 0.01)


class _Wait:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.01, seconds)
