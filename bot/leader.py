"""One scheduler for many processes: the leader holds a PostgreSQL advisory lock.

Every process on one PostgreSQL runs a :class:`Leadership` task. It tries
``pg_try_advisory_lock(LEADER_LOCK_KEY)`` on a connection of its own, kept open while it
leads: the lock lives as long as that session, so a leader that dies (SIGKILL, a lost host)
releases it when PostgreSQL sees its connection close (at once for a killed process; within
about 25 s for a host that vanished, through TCP keepalives set on that connection), and a
follower's next try, at most ``LEADER_RETRY_SECONDS`` later, takes it: well within a minute.
The leader checks its connection as often; if the check fails (the database restarted, the
network broke) it steps down at once, since the lock may already be someone else's.

What only the leader does is decided at the start of each run (:func:`is_leader`): the
scheduler's tick, the announcement progress pass, the retention purge. None of them holds
truth of its own (due work is computed from the database, every message has an idempotency
key), so a tick that overlaps a change of leader doubles nothing; leadership only keeps
several processes from doing the same work side by side.

SQLite is one process by design: that process always leads, with no lock and no task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from telegram.ext import Application

log = logging.getLogger(__name__)

# Any constant 64-bit key shared by every process of this bot ("bkt-asn" in ASCII).
LEADER_LOCK_KEY = 0x626B742D61736E
EXTRAS_LEADERSHIP = "leadership"
CHECK_TIMEOUT = 5.0
# The server probes the leader's connection after 10 s of silence, every 5 s, 3 times: a
# leader whose host vanished (no FIN ever comes) frees the lock within about 25 s instead of
# the system's two hours. (Over a Unix socket these do nothing: nothing can vanish there.)
KEEPALIVE = (
    ("tcp_keepalives_idle", 10),
    ("tcp_keepalives_interval", 5),
    ("tcp_keepalives_count", 3),
)


class Leadership:
    """Holds or seeks the scheduler's advisory lock; see the module docstring.

    ``on_change(leader)`` is called whenever this process becomes or stops being the leader.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        retry_seconds: float = 15.0,
        *,
        key: int = LEADER_LOCK_KEY,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.engine = engine
        self.retry_seconds = retry_seconds
        self.key = key
        self.on_change = on_change
        self.always = engine.dialect.name != "postgresql"  # one process: always the leader
        self._connection: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failures = 0

    @property
    def is_leader(self) -> bool:
        return self.always or self._connection is not None

    def start(self) -> None:
        if self.always:
            self._changed(True)
            return
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="scheduler-leadership")

    async def stop(self) -> None:
        """Stop seeking and give the lock up (a clean stop hands over at once)."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        await self._release()

    async def step(self) -> bool:
        """One attempt or check (the task's unit of work; tests call it directly)."""
        if self.always:
            return True
        if self._connection is None:
            await self._try_acquire()
        else:
            await self._check()
        return self.is_leader

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.step()
            except Exception:  # never let the task die: the next round tries again
                log.exception("scheduler leadership: unexpected error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.retry_seconds)

    async def _try_acquire(self) -> None:
        connection: AsyncConnection | None = None
        try:
            connection = await self.engine.connect()
            for setting, seconds in KEEPALIVE:
                await connection.execute(text(f"SET {setting} = {seconds}"))
            got = await asyncio.wait_for(
                connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}),
                CHECK_TIMEOUT,
            )
            # The lock belongs to the session, not to a transaction: end the implicit one.
            await connection.commit()
        except Exception as exc:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            self._failures += 1
            if self._failures == 1:
                log.warning("scheduler leadership: cannot reach the database (%s)", type(exc))
            return
        self._failures = 0
        if got:
            self._connection = connection
            log.info("scheduler: this process is the leader now")
            self._changed(True)
        else:
            await connection.close()

    async def _check(self) -> None:
        assert self._connection is not None
        try:
            await asyncio.wait_for(self._connection.scalar(text("SELECT 1")), CHECK_TIMEOUT)
            await self._connection.commit()
        except Exception:
            log.warning("scheduler: lost the leader's database connection, stepping down")
            await self._release(unlock=False)

    async def _release(self, *, unlock: bool = True) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            if unlock:
                await connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await connection.commit()
        with contextlib.suppress(Exception):
            # A broken connection cannot be returned to the pool: throw it away.
            await (connection.close() if unlock else connection.invalidate())
        log.info("scheduler: this process is no longer the leader")
        self._changed(False)

    def _changed(self, leader: bool) -> None:
        if self.on_change is not None:
            self.on_change(leader)


def get_leadership(application: Application) -> Leadership | None:
    found = application.bot_data.extras.get(EXTRAS_LEADERSHIP)
    return found if isinstance(found, Leadership) else None


def is_leader(application: Application) -> bool:
    """Whether this process runs the scheduler's work now (no leadership yet: it does, as
    before there were several processes; handler tests never start one)."""
    leadership = get_leadership(application)
    return leadership is None or leadership.is_leader
