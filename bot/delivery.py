"""The outbox sender: drains ``storage.repositories.outbox`` to Telegram within its limits.

One :class:`Sender` per process, started in ``post_init`` (:func:`start_sender`) as an asyncio
task, not a JobQueue job: it drains continuously while there is work (a full batch is
followed at once by the next), sleeps up to ``poll_interval`` when idle, and
:meth:`Sender.wake` ends that sleep so a service's message goes out right after its
transaction commits. A task never overlaps itself and a long batch never "misses" a tick,
which is what a repeating job would need ``max_instances``/``misfire_grace_time`` for; the
JobQueue stays for the scheduler, which only enqueues. It sends only while the application is
running (``start()`` … ``stop()``; handler tests that never start it send nothing) and is
stopped first in ``post_shutdown``: sends in flight finish, unsent claimed rows go back.

Each round (:meth:`Sender.run_once`) claims a batch under a lease, sends every chat's rows in
order in its own coroutine (chats in parallel; a chat whose next slot is further away than
``max_chat_wait`` gives its remaining rows back for a later round) and records each outcome:

============================  =====================================================
Telegram answer               outcome
============================  =====================================================
ok                            ``sent`` (message id kept)
403 Forbidden                 ``blocked``; employee unreachable; chat's other rows blocked
400 BadRequest                ``failed`` with Telegram's description
429 RetryAfter                *all* sending pauses ``retry_after`` s; row back to pending
read/write timeout            ``uncertain`` (it may have been delivered): never resent
sender died mid-send          ``uncertain`` (``sender stopped during delivery``), see below
connect/pool timeout          not sent: retried like a network error
network error, 5xx            retried after ``backoff_base·2^attempts`` s (≤ ``backoff_cap``);
                              ``failed`` after ``max_attempts``
============================  =====================================================

In flight: before a row's request may leave, the row is marked (``attempt_started_at``,
committed) together with the other rows expected to go out within ``wave_seconds`` (one
UPDATE per wave). Outcomes are kept in memory and stored every ``flush_interval`` s in one
transaction (the sent rows in one statement), and always before a round ends. If the process
dies in between, the marked rows whose lease runs out are made ``uncertain`` by the next
claim instead of being sent again: nothing is ever sent twice, at the price of a wave's
worth of rows for HR to check after a crash.

Limits (:class:`Pacer`): at most ``global_rate`` sends in any one-second sliding window of
actual send start times and ``per_chat_rate`` to one chat (defaults 25 and 1, Telegram
allows ~30 and ~1), each window lengthened by ``rate_margin`` (20 ms). With several
processes on one PostgreSQL the global rate is one budget for all of them, booked slot by
slot in the database (:mod:`bot.send_budget`; :func:`uses_shared_budget` says when: webhook
mode and the stand-alone sender), and a 429 pauses them all; the per-chat pace stays in
each process. The application's bot uses PTB's ``AIORateLimiter``, which would retry a 429
itself (its per-call ``rate_limit_args`` cannot ask for 0 retries: ``0 or max_retries``), so
the sender talks to the same Bot API through its own plain ``Bot`` (:func:`delivery_bot`)
and sees every ``RetryAfter``. Settings come from ``bot_data.extras["delivery"]`` (a dict of
:class:`Sender` keyword arguments, plus ``"enabled": False`` to not start it), else the
defaults.

Quiet hours: with ``quiet_start``/``quiet_end`` (local times in ``timezone``; the application
passes ``QUIET_HOURS_START``/``QUIET_HOURS_END``, 21:00–06:00 WIB) the sender claims only
``urgent`` rows during the window (``claim(..., urgent_only=True)``); the others stay pending
and go out after it, oldest first. Whether a row is urgent is decided when it is queued (a
training reminder that would otherwise arrive less than an hour before its start, see
``bot.rules.reminders``). The window is judged on ``wall_clock`` (UTC now; in the application
``bot_data.extras["clock"]`` when set, so tests control it); leases and backoff use real time.
``quiet_start == quiet_end`` (or ``None``) means no quiet hours.

Logs carry outbox ids, chat ids and statuses only, never message text, phone numbers or NIPs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import datetime as dt
import functools
import inspect
import itertools
import logging
import math
import os
import socket
import ssl
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import certifi
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, MessageEntity
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, Application
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot import metrics
from bot.failure_log import FailureLog
from bot.rules.quiet import in_quiet_hours, quiet_hours_end_after
from bot.send_budget import SharedSendBudget
from storage.models import utcnow
from storage.repositories.outbox import Claimed, OutboxRepository, validate_payload

log = logging.getLogger(__name__)

EXTRAS_SETTINGS = "delivery"
EXTRAS_SENDER = "sender"
EXTRAS_CLOCK = "clock"
EXTRAS_SEVERAL = "several_processes"  # set by webhook mode: other processes may send too
UNLIMITED_RATE = 10_000.0  # sends/s from which the global limit only counts, never spreads


def application_now(application: Application) -> dt.datetime:
    """UTC now for scheduling decisions: ``bot_data.extras["clock"]()`` if a test set one."""
    clock = application.bot_data.extras.get(EXTRAS_CLOCK)
    if callable(clock):
        now = clock()
        if isinstance(now, dt.datetime) and now.tzinfo is not None:
            return now.astimezone(dt.UTC)
        log.warning("extras['clock'] did not return an aware datetime; using the real time")
    return utcnow()


def default_owner() -> str:
    """``hostname:pid:random``: unique per sender, readable in the ``lease_owner`` column."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pacer:
    """Send budget on a monotonic ``clock`` (injectable for tests): pure bookkeeping.

    Global: a true sliding window over the *actual* send start times: never more than
    ``N = floor(global_rate)`` sends (at least 1) in any window of ``max(1, N / global_rate)``
    seconds, lengthened by ``margin`` seconds so that jitter between here and Telegram's clock
    cannot squeeze ``N + 1`` sends into one of its windows. Nothing is booked in advance: a
    send that starts late (an event-loop stall) delays the later ones instead of letting
    booked slots fire back to back, and idle time is never saved up beyond one window.
    Sends are also spread: never closer than half the average interval. Per chat: a send at
    most every ``1 / per_chat_rate + margin`` seconds.

    :meth:`global_delay` / :meth:`chat_delay` say how long to wait; :meth:`note_send` records
    a send at the moment its request is made. A rate ``<= 0`` means no limit.
    """

    def __init__(
        self,
        global_rate: float,
        per_chat_rate: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        margin: float = 0.0,
    ) -> None:
        self.clock = clock
        self.margin = margin
        if global_rate > 0:
            self.capacity = max(1, math.floor(global_rate + 1e-9))
            self.window = max(1.0, self.capacity / global_rate) + margin
            # Sends never start closer than half their average spacing: a window's worth of
            # sends is spread, not a burst whose order on the wire could differ from here.
            self.spacing = 0.5 / max(global_rate, 1.0) if global_rate < UNLIMITED_RATE else 0.0
        else:
            self.capacity, self.window, self.spacing = 0, 0.0, 0.0
        self.chat_interval = 1.0 / per_chat_rate + margin if per_chat_rate > 0 else 0.0
        self._sends: collections.deque[float] = collections.deque()
        self._next_chat: dict[int, float] = {}

    def global_delay(self) -> float:
        """Seconds until one more send fits in the window (0: now)."""
        if not self.capacity:
            return 0.0
        now = self.clock()
        sends = self._sends
        horizon = now - self.window
        while sends and sends[0] <= horizon:
            sends.popleft()
        gap = sends[-1] + self.spacing - now if sends else 0.0
        if len(sends) < self.capacity:
            return max(0.0, gap)
        return max(0.0, gap, sends[-self.capacity] - horizon)

    def chat_delay(self, chat_id: int) -> float:
        return max(0.0, self._next_chat.get(chat_id, -math.inf) - self.clock())

    def note_send(self, chat_id: int) -> None:
        """A request to ``chat_id`` starts now (counts for the window and the chat)."""
        self.note_global()
        self.note_chat(chat_id)

    def note_global(self) -> None:
        """A request starts now (counts for the window only)."""
        if self.capacity:
            self._sends.append(self.clock())

    def note_chat(self, chat_id: int) -> None:
        if not self.chat_interval:
            return
        now = self.clock()
        self._next_chat[chat_id] = now + self.chat_interval
        if len(self._next_chat) > 4096:  # forget chats that are free again
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process (certifi's CAs, as httpx would load them): building one
    reads the whole CA bundle, tens of milliseconds for every client otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


def delivery_bot(
    token: str,
    *,
    base_url: str = "https://api.telegram.org/bot",
    base_file_url: str = "https://api.telegram.org/file/bot",
    read_timeout: float = 15.0,
    connect_timeout: float = 5.0,
    pool_size: int = 64,
) -> Bot:
    """A plain ``Bot`` (no rate limiter, no retries) for the sender; ``initialize`` it, or
    use it as ``async with``. A long read timeout keeps ``uncertain`` rows rare. One HTTP
    client; ``pool_size`` connections, enough for a batch's chats sending at once."""
    request = HTTPXRequest(
        connection_pool_size=pool_size,
        read_timeout=read_timeout,
        write_timeout=max(read_timeout, 5.0),
        connect_timeout=connect_timeout,
        pool_timeout=30.0,
        httpx_kwargs={"verify": tls_context()},
    )
    return Bot(
        token,
        base_url=base_url,
        base_file_url=base_file_url,
        request=request,
        get_updates_request=request,
    )


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _never_left(exc: TimedOut) -> bool:
    """A timeout before the request was on the wire (no connection / no pool slot)."""
    return isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)


def _media(source: Mapping[str, Any], default_name: str) -> tuple[Any, str | None]:
    if source.get("file_id"):
        return source["file_id"], None
    if source.get("path"):
        path = Path(source["path"])
        return path.read_bytes(), source.get("filename") or path.name
    return base64.b64decode(source["bytes_b64"], validate=True), source.get("filename") or (
        default_name
    )


def build_call(bot: Bot, chat_id: int, payload: dict[str, Any]) -> Callable[..., Awaitable[Any]]:
    """The Bot API call for a payload (see ``storage.repositories.outbox``), as a callable
    taking the timeouts. Raises ``ValueError``/``OSError`` for a payload that can never work."""
    validate_payload(payload)
    common: dict[str, Any] = {"chat_id": chat_id, "parse_mode": payload.get("parse_mode")}
    if payload.get("reply_markup"):
        common["reply_markup"] = InlineKeyboardMarkup.de_json(payload["reply_markup"], None)
    if payload.get("disable_notification"):
        common["disable_notification"] = True
    if "text" in payload:
        kwargs = dict(common, text=payload["text"])
        if payload.get("entities"):
            kwargs["entities"] = MessageEntity.de_list(payload["entities"], bot)
        if payload.get("disable_web_page_preview"):
            kwargs["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        return lambda **timeouts: bot.send_message(**kwargs, **timeouts)
    caption = payload.get("caption")
    if payload.get("caption_entities"):
        common["caption_entities"] = MessageEntity.de_list(payload["caption_entities"], bot)
    if "photo" in payload:
        photo, _ = _media(payload["photo"], "photo.jpg")
        return lambda **timeouts: bot.send_photo(photo=photo, caption=caption, **common, **timeouts)
    document, filename = _media(payload["document"], "document")
    return lambda **timeouts: bot.send_document(
        document=document, filename=filename, caption=caption, **common, **timeouts
    )


async def _released(rows: Awaitable[int]) -> bool:
    return await rows > 0


_LOST: Any = object()  # a row whose lease another sender took over: not sent, not recorded
_UNREACHABLE: Any = object()  # the shared budget's database did not answer


class Sender:
    """Claims due outbox rows and sends them; see the module docstring.

    ``global_rate``/``per_chat_rate``: sends per second; ``batch_size`` rows per claim, leased
    for ``lease_seconds``; ``poll_interval``: idle wait between rounds; ``read_timeout``:
    per-call override (``None``: the bot's); a transient error waits
    ``backoff_base·2^attempts`` s (≤ ``backoff_cap``) and the row fails after
    ``max_attempts``; a chat whose next slot is more than ``max_chat_wait`` s away gets its
    remaining rows back for a later round. ``rate_margin``: seconds added to the rate windows
    (see :class:`Pacer`). Rows are marked in flight ``wave_seconds`` of sending at a time
    (one statement per wave); outcomes are stored every ``flush_interval`` s, together
    (one transaction). Between ``quiet_start`` and ``quiet_end`` (local
    times in ``timezone``, judged on ``wall_clock``) only urgent rows are claimed.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        global_rate: float = 25.0,
        per_chat_rate: float = 1.0,
        batch_size: int = 50,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        read_timeout: float | None = None,
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        max_chat_wait: float = 3.0,
        rate_margin: float = 0.02,
        wave_seconds: float = 1.0,
        flush_interval: float = 0.05,
        owner: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet_start: dt.time | None = None,
        quiet_end: dt.time | None = None,
        timezone: str = "Asia/Jakarta",
        wall_clock: Callable[[], dt.datetime] = utcnow,
        shared_budget: SharedSendBudget | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        # Several processes on one PostgreSQL: the global rate is booked there (the per-chat
        # pace stays here); else the Pacer's window is the whole budget.
        self.shared_budget = shared_budget
        if shared_budget is not None:
            shared_budget.sleep = self._sleep
        self.quiet_start = quiet_start
        self.quiet_end = quiet_end
        self.timezone = timezone
        self.wall_clock = wall_clock
        self._quiet_logged = False
        self._failures = FailureLog(log, "outbox sender round")
        self._budget_failures = FailureLog(log, "shared send budget (pacing locally)")
        self.max_chat_wait = max_chat_wait
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # Rows whose lease ends sooner than this are given back instead of sent.
        self.lease_margin = min(5.0, lease_seconds / 4)
        self.poll_interval = poll_interval
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.owner = owner or default_owner()
        self.clock = clock
        self.pacer = Pacer(global_rate, per_chat_rate, clock, margin=rate_margin)
        # Rows marked in flight in one statement: those expected out within wave_seconds.
        rows_per_wave = math.ceil(global_rate * wave_seconds) if global_rate > 0 else batch_size
        self.wave_size = max(1, min(batch_size, rows_per_wave))
        self.flush_interval = flush_interval
        self._timeouts = {} if read_timeout is None else {"read_timeout": read_timeout}
        self._slot_lock = asyncio.Lock()
        self._mark_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._unmarked: dict[int, Claimed] = {}
        self._marked: set[int] = set()
        self._sent: list[tuple[Claimed, int | None, dt.datetime]] = []
        self._outcomes: list[
            tuple[str, Claimed, Callable[[OutboxRepository], Awaitable[bool]], int]
        ] = []
        self._pause_until = -math.inf
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._bot: Bot | None = None
        self._warned_rate_limiter = False

    # ------------------------------------------------------------------ control
    def wake(self) -> None:
        """Drain now (call after the transaction that enqueued has committed)."""
        self._wake.set()

    def paused_for(self) -> float:
        """Seconds left of a 429 pause (0 if none)."""
        return max(0.0, self._pause_until - self.clock())

    def in_quiet_hours(self) -> bool:
        """Whether only urgent rows may be sent now (and log when that starts and ends)."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        now = self.wall_clock()
        quiet = in_quiet_hours(now, self.timezone, self.quiet_start, self.quiet_end)
        if quiet != self._quiet_logged:
            self._quiet_logged = quiet
            if quiet:
                ends = quiet_hours_end_after(now, self.timezone, self.quiet_start, self.quiet_end)
                log.info(
                    "outbox: quiet hours, only urgent messages until %s (%s)",
                    f"{ends.astimezone(ZoneInfo(self.timezone)):%H:%M}",
                    self.timezone,
                )
            else:
                log.info("outbox: quiet hours over, sending everything")
        return quiet

    async def take_slot(
        self,
        chat_id: int | None,
        timeout: float | None = 10.0,  # noqa: ASYNC109 - a budget, not a cancellation
        *,
        wait_for_chat: bool = True,
    ) -> bool:
        """Book a slot for a call the application makes itself (a reply, HR's progress
        message edited in place), so that it counts in the same budget as the outbox's sends.
        With a ``chat_id`` the call counts for that chat's pace too, and waits for it unless
        ``wait_for_chat`` is false (a reply in a conversation goes at once; the pushes to that
        chat wait after it). ``False`` if no slot came within ``timeout`` seconds (``None``:
        wait as long as it takes)."""
        if self.shared_budget is not None:
            taken = await self._take_shared_slot(chat_id, timeout, wait_for_chat=wait_for_chat)
            if taken is not None:
                return taken
            # The database is out of reach: this process keeps to the rate on its own.
        deadline = math.inf if timeout is None else self.clock() + timeout
        # Not behind the outbox rows' queue (``_slot_lock``): the next free slot is taken
        # as soon as it comes, so a person waiting for an answer goes before a broadcast.
        # Checking and noting the slot with nothing awaited in between is what keeps it from
        # being booked twice, here as for the rows.
        if not await self._wait_here(chat_id, deadline, wait_for_chat, own_window=True):
            return False
        if chat_id is None:
            self.pacer.note_global()
        else:
            self.pacer.note_send(chat_id)
        return True

    async def _wait_here(
        self, chat_id: int | None, deadline: float, wait_for_chat: bool, *, own_window: bool
    ) -> bool:
        """Wait out a 429 pause, the chat's pace (if ``wait_for_chat``) and, with
        ``own_window``, this process's global window; ``False`` if that ends after
        ``deadline``. Returns with nothing awaited after the last check."""
        while True:
            wait = self.paused_for()
            if own_window:
                wait = max(wait, self.pacer.global_delay())
            if chat_id is not None and wait_for_chat:
                wait = max(wait, self.pacer.chat_delay(chat_id))
            if wait <= 0:
                return True
            if self.clock() + wait > deadline:
                return False
            await asyncio.sleep(wait)

    async def _shared_take(self, max_wait: float | None) -> Any:
        """``shared_budget.take``, or ``_UNREACHABLE`` when the database cannot be reached
        (logged once per outage): the caller then paces with this process's own window."""
        assert self.shared_budget is not None
        try:
            retry_in = await self.shared_budget.take(max_wait)
        except Exception:
            self._budget_failures.failed()
            return _UNREACHABLE
        self._budget_failures.succeeded()
        return retry_in

    async def _take_shared_slot(
        self,
        chat_id: int | None,
        timeout: float | None,  # noqa: ASYNC109 - a budget, not a cancellation
        *,
        wait_for_chat: bool,
    ) -> bool | None:
        assert self.shared_budget is not None
        deadline = math.inf if timeout is None else self.clock() + timeout
        if not await self._wait_here(chat_id, deadline, wait_for_chat, own_window=False):
            return False
        while True:
            left = None if timeout is None else max(0.0, deadline - self.clock())
            retry_in = await self._shared_take(left)
            if retry_in is _UNREACHABLE:
                return None
            if retry_in is None:
                break
            if self.clock() + retry_in > deadline:
                return False
            await asyncio.sleep(retry_in)
        if chat_id is not None:
            self.pacer.note_chat(chat_id)
        return True

    def pause(self, seconds: float) -> None:
        self._pause_until = max(self._pause_until, self.clock() + seconds)

    def start(
        self, bot: Bot, *, ready: Callable[[], bool] | None = None, owns_bot: bool = False
    ) -> None:
        """Run the drain loop as a task; ``ready()`` False (e.g. the application is not
        running yet, or stopping) holds sending back without stopping the loop. With
        ``owns_bot`` :meth:`stop` closes the bot's HTTP client."""
        if self._task is not None:
            raise RuntimeError("sender already started")
        self._bot = bot if owns_bot else None
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(bot, ready), name=f"outbox-sender {self.owner}")

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a grace period
        """Finish the sends in flight, give unsent claimed rows back, end the loop."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout)
            except TimeoutError:
                log.warning("outbox sender %s did not stop in %.0f s", self.owner, timeout)
        if self._bot is not None:
            await self._bot.request.shutdown()
            self._bot = None

    async def _loop(self, bot: Bot, ready: Callable[[], bool] | None) -> None:
        log.info("outbox sender %s started", self.owner)
        while not self._stopping.is_set():
            self._wake.clear()
            handled = 0
            try:
                if ready is None or ready():
                    handled = await self.run_once(bot)
            except Exception:
                self._failures.failed()
            else:
                self._failures.succeeded()
            if handled >= self.batch_size:
                continue
            wait = max(self.poll_interval, self.paused_for())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
        log.info("outbox sender %s stopped", self.owner)

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------------ one round
    async def run_once(self, bot: Bot) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed. Every outcome
        is stored by the time it returns.

        ``bot`` should have no PTB rate limiter (see :func:`delivery_bot`): an
        ``AIORateLimiter`` retries 429s itself before this code sees them.
        """
        if getattr(bot, "rate_limiter", None) is not None and not self._warned_rate_limiter:
            self._warned_rate_limiter = True
            log.warning("outbox sender given a bot with a rate limiter: 429s are retried by it")
        if self.paused_for() > 0 or self._stopping.is_set():
            return 0
        # Only in quiet hours does the claim take the extra argument.
        quiet = {"urgent_only": True} if self.in_quiet_hours() else {}
        async with self.sessionmaker() as session, session.begin():
            rows = await OutboxRepository(session).claim(
                self.owner, self.batch_size, self.lease_seconds, utcnow(), **quiet
            )
        if not rows:
            return 0
        by_chat: dict[int, list[Claimed]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        log.debug("outbox: claimed %d rows for %d chats", len(rows), len(by_chat))
        # The order rows are expected to go out in (each chat's first, then second …): the
        # in-flight mark is set on the next rows in this order, a wave at a time.
        self._unmarked = {
            row.id: row
            for row in itertools.chain.from_iterable(itertools.zip_longest(*by_chat.values()))
            if row is not None
        }
        self._marked = set()
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush_loop(done), name=f"outbox-flush {self.owner}")
        try:
            await asyncio.gather(
                *(self._deliver_chat(bot, chat_rows) for chat_rows in by_chat.values())
            )
        finally:
            # Never cancel a flush half-way (its outcomes would be lost): let it finish.
            done.set()
            await flusher
            await self._flush()
        return len(rows)

    async def _deliver_chat(self, bot: Bot, rows: list[Claimed]) -> None:
        """One chat's rows, in order. A chat that would wait longer than ``max_chat_wait``
        for its next slot (or a pause, a shutdown) gives the rest back for a later round, so
        one busy chat never holds up the others."""
        blocked_by: int | None = None
        for index, row in enumerate(rows):
            try:
                if blocked_by is not None:
                    reason = f"chat blocked the bot (outbox #{blocked_by})"
                    self._queue(
                        "blocked",
                        row,
                        lambda r, row=row, reason=reason: r.mark_blocked(
                            row.id, self.owner, reason
                        ),
                    )
                    continue
                try:
                    call = build_call(bot, row.chat_id, row.payload)
                except (ValueError, TypeError, KeyError, OSError, binascii.Error) as exc:
                    reason = f"unusable payload: {type(exc).__name__}: {exc}"
                    self._queue(
                        "failed",
                        row,
                        lambda r, row=row, reason=reason: r.mark_failed(row.id, self.owner, reason),
                    )
                    continue
                wait_more = await self._wait_for_slot(row)
                if wait_more is _LOST:
                    continue
                if wait_more is not None:
                    self._give_back(rows[index:], wait_more)
                    return
                # Nothing may be awaited between the slot (noted at its start time) and the
                # request itself.
                if await self._send(call, row) == "blocked":
                    blocked_by = row.id
            except Exception:
                # A bug or a database outage: the lease expires and the row comes back (as
                # ``uncertain`` if it had been marked in flight).
                log.exception("outbox #%d: delivery crashed", row.id)

    def _give_back(self, rows: list[Claimed], after: float) -> None:
        not_before = utcnow() + dt.timedelta(seconds=after)
        ids = [row.id for row in rows]
        for row in rows:
            self._unmarked.pop(row.id, None)

        async def write(repo: OutboxRepository) -> bool:
            return await repo.release(ids, self.owner, not_before=not_before) > 0

        self._queue("released", rows[0], write, count=len(ids))

    async def _wait_for_slot(self, row: Claimed) -> float | None:
        """Wait for the chat's and a global slot, with the row marked in flight. ``None``: send
        now (the slot is taken); ``_LOST``: the row is no longer ours, skip it; else the row
        must be given back: in how many seconds it may be tried again."""
        if self._stopping.is_set():
            return 0.0
        if self.paused_for() > 0:
            return self.paused_for()
        delay = self.pacer.chat_delay(row.chat_id)
        if delay > self.max_chat_wait or self._lease_ends_within(row, delay):
            return delay
        await self._sleep(delay)
        async with self._slot_lock:  # first come, first served
            # Marked only at the head of the queue (with the rows expected next, one wave in
            # one statement), so at most about a wave is in flight: a crash leaves no more
            # uncertain and a cancel stops the rest of the batch. The write is waited for
            # before the global slot is computed, never between the slot and the request.
            if not await self._ensure_marked(row):
                log.warning("outbox #%d: lease lost before sending, left to its new owner", row.id)
                return _LOST
            while True:
                if self._stopping.is_set():
                    return 0.0
                if self.paused_for() > 0:
                    return self.paused_for()
                if self._lease_ends_within(row, 0):
                    return 0.0
                # The chat again: a call the application made (``take_slot``) may have
                # taken its slot while this row waited.
                wait = self.pacer.chat_delay(row.chat_id)
                local = self.shared_budget is None
                if not local and wait <= 0:
                    # A slot within the lease (and the chat's patience) or none; the
                    # booked slot's wait ends early on stop: then the row goes back.
                    lease_left = (row.lease_until - utcnow()).total_seconds()
                    patience = min(self.max_chat_wait, lease_left - self.lease_margin)
                    retry_in = await self._shared_take(max(0.0, patience))
                    if self._stopping.is_set():
                        return 0.0
                    if retry_in is None:
                        self.pacer.note_chat(row.chat_id)
                        return None
                    if retry_in is not _UNREACHABLE:
                        return retry_in
                    local = True  # the database is out of reach: pace here
                if local:
                    wait = max(self.pacer.global_delay(), self.pacer.chat_delay(row.chat_id))
                    if wait <= 0:
                        break
                await self._sleep(wait)
            self.pacer.note_send(row.chat_id)
        return None

    async def _ensure_marked(self, row: Claimed) -> bool:
        """Commit the in-flight mark of ``row`` (and of the next rows expected to go out within
        ``wave_seconds``, in the same statement) before its request may leave. ``False`` if
        the row is no longer leased by this sender."""
        if row.id in self._marked:
            return True
        async with self._mark_lock:
            if row.id in self._marked:
                return True
            self._unmarked.pop(row.id, None)
            wave = [row.id, *itertools.islice(self._unmarked, self.wave_size - 1)]
            for other in wave[1:]:
                del self._unmarked[other]
            marked: set[int] = set()

            async def write(repo: OutboxRepository) -> bool:
                nonlocal marked
                marked = await repo.mark_started(wave, self.owner)
                return True

            await self._write("in-flight mark", row, write)
            self._marked |= marked
            log.debug("outbox: %d rows marked in flight", len(marked))
            return row.id in marked

    def _lease_ends_within(self, row: Claimed, seconds: float) -> bool:
        margin = dt.timedelta(seconds=seconds + self.lease_margin)
        return utcnow() + margin >= row.lease_until

    async def _send(self, call: Callable[..., Awaitable[Any]], row: Claimed) -> str:
        try:
            message: Message = await call(**self._timeouts)
        except RetryAfter as exc:
            seconds = _retry_after_seconds(exc)
            self.pause(seconds)
            metrics.TOO_MANY_REQUESTS.inc()
            if self.shared_budget is not None:
                await self._pause_everyone(seconds)
            log.warning(
                "outbox #%d chat %d: 429, all sending paused %.0f s", row.id, row.chat_id, seconds
            )
            not_before = utcnow() + dt.timedelta(seconds=seconds)
            reason = f"429 flood control: retry after {seconds:g} s"
            self._queue(
                "released",
                row,
                lambda r: _released(
                    r.release(row.id, self.owner, not_before=not_before, reason=reason)
                ),
            )
            return "paused"
        except Forbidden as exc:
            reason = exc.message
            return self._queue("blocked", row, lambda r: r.mark_blocked(row.id, self.owner, reason))
        except (BadRequest, ChatMigrated) as exc:
            reason = exc.message
            return self._queue("failed", row, lambda r: r.mark_failed(row.id, self.owner, reason))
        except TimedOut as exc:
            if _never_left(exc):
                return self._retry(row, f"timed out before sending: {exc.message}")
            reason = f"timed out, delivery unknown: {exc.message}"
            return self._queue(
                "uncertain", row, lambda r: r.mark_uncertain(row.id, self.owner, reason)
            )
        except InvalidToken as exc:
            log.error("outbox: the bot token was rejected")
            return self._retry(row, exc.message)
        except (NetworkError, TelegramError) as exc:
            return self._retry(row, exc.message)
        self._sent.append((row, message.message_id, utcnow()))
        metrics.SENT.labels("outbox").inc()
        return "sent"

    async def _pause_everyone(self, seconds: float) -> None:
        assert self.shared_budget is not None
        try:
            await self.shared_budget.pause(seconds)
        except Exception:  # this process pauses anyway; the others meet their own 429
            log.warning("outbox: could not share a 429 pause with the other processes")

    def _retry(self, row: Claimed, reason: str) -> str:
        delay = min(self.backoff_cap, self.backoff_base * 2**row.attempts)

        async def write(repo: OutboxRepository) -> bool:
            status = await repo.retry_later(
                row.id, self.owner, reason, delay, max_attempts=self.max_attempts
            )
            if status is not None:
                log.info(
                    "outbox #%d chat %d: %s (attempt %d)",
                    row.id,
                    row.chat_id,
                    status,
                    row.attempts + 1,
                )
            return status is not None

        self._queue("retry", row, write)
        return "retry"

    # ------------------------------------------------------------------ recording outcomes
    def _queue(
        self,
        outcome: str,
        row: Claimed,
        write: Callable[[OutboxRepository], Awaitable[bool]],
        *,
        count: int = 1,
    ) -> str:
        """Keep an outcome for the next flush (within ``flush_interval``, and before the
        round ends). Until then the row stays marked in flight: were the process to die
        first, the row would end ``uncertain``, never sent twice."""
        self._outcomes.append((outcome, row, write, count))
        return outcome

    async def _flush_loop(self, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.flush_interval)
            await self._flush()

    async def _flush(self) -> None:
        """Store the outcomes kept so far in one transaction: the sent rows in one statement,
        the rarer outcomes one by one. A row no longer ours (lease taken over) is left alone."""
        async with self._flush_lock:
            sent, self._sent = self._sent, []
            others, self._outcomes = self._outcomes, []
            if not sent and not others:
                return
            applied: list[bool] = []
            recorded: set[int] = set()

            async def write(repo: OutboxRepository) -> bool:
                nonlocal recorded
                recorded = await repo.mark_sent_many(
                    [(row.id, message_id, at) for row, message_id, at in sent], self.owner
                )
                applied[:] = [await action(repo) for _, _, action, _ in others]
                return True

            first = sent[0][0] if sent else others[0][1]
            try:
                await self._write("outcomes", first, write)
            except Exception:
                log.exception(
                    "outbox: could not record %d outcomes (#%s): those rows end uncertain",
                    len(sent) + len(others),
                    ", #".join(str(r.id) for r, _, _ in sent[:20]),
                )
                return
            if sent:
                log.info(
                    "outbox: sent %s",
                    ", ".join(f"#{row.id} chat {row.chat_id}" for row, _, _ in sent),
                )
                for row, _, _ in sent:
                    if row.id not in recorded:
                        log.warning("outbox #%d: lease lost, sent not recorded", row.id)
            for (outcome, row, _, count), done in zip(others, applied, strict=True):
                if not done:
                    log.warning("outbox #%d: lease lost, %s not recorded", row.id, outcome)
                elif count > 1:
                    log.info(
                        "outbox #%d (+%d) chat %d: %s", row.id, count - 1, row.chat_id, outcome
                    )
                elif outcome != "retry":
                    log.info("outbox #%d chat %d: %s", row.id, row.chat_id, outcome)

    async def _write(
        self, what: str, row: Claimed, write: Callable[[OutboxRepository], Awaitable[bool]]
    ) -> None:
        """Run ``write`` in its own short transaction, retried once if the database hiccups."""
        for attempt in (1, 2):
            try:
                async with self.sessionmaker() as session, session.begin():
                    await write(OutboxRepository(session))
                return
            except Exception:
                if attempt == 2:
                    raise
                log.warning("outbox #%d: could not record %s, retrying", row.id, what)
                await asyncio.sleep(0.2)


# ---------------------------------------------------------------------- application wiring
class SharedBudgetRateLimiter(AIORateLimiter):
    """python-telegram-bot's ``AIORateLimiter`` (a 429 is retried, groups are limited) whose
    message sends and edits first take a slot of the running outbox sender's global budget
    (:meth:`Sender.take_slot`, no per-chat wait): replies and pushes together stay within
    ``SEND_RATE_GLOBAL``. A reply takes the next free slot ahead of the outbox queue, so a
    person waiting for an answer comes before a broadcast. Without a running sender (handler
    tests, before ``post_init``) it is a plain ``AIORateLimiter``."""

    def __init__(self, application: Callable[[], Application | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._application = application

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        application = self._application()
        sender = get_sender(application) if application is not None else None
        if sender is not None and _counts_as_message(endpoint):
            chat_id = data.get("chat_id")
            await sender.take_slot(
                chat_id if isinstance(chat_id, int) else None, timeout=None, wait_for_chat=False
            )
        counted = _counted(callback) if _counts_as_message(endpoint) else callback
        return await super().process_request(counted, args, kwargs, endpoint, data, rate_limit_args)


def _counted(
    callback: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``callback`` counting its outcome in the metrics (a 429 here is retried by PTB)."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await callback(*args, **kwargs)
        except RetryAfter:
            metrics.TOO_MANY_REQUESTS.inc()
            raise
        metrics.SENT.labels("reply").inc()
        return result

    return call


def _counts_as_message(endpoint: str) -> bool:
    """Calls Telegram's flood limits count: sending, editing, copying, forwarding."""
    name = endpoint.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "edit")) or name in {"copymessage", "forwardmessage"}


def uses_shared_budget(settings: Any, engine: Any, *, several: bool) -> bool:
    """Whether sends book the rate shared by all processes (:mod:`bot.send_budget`): on
    PostgreSQL, when ``SHARED_SEND_BUDGET`` says so, else when this kind of process may run
    beside others (``several``: webhook mode, the stand-alone sender). A polling bot is the
    only process Telegram lets fetch updates: its own window keeps the whole rate (the shared
    one books 7 % below it)."""
    if engine is None or engine.dialect.name != "postgresql":
        return False
    chosen = getattr(settings, "shared_send_budget", None)
    return several if chosen is None else bool(chosen)


def get_sender(application: Application) -> Sender | None:
    """The running sender (to :meth:`Sender.wake` it after enqueuing), if any."""
    sender = application.bot_data.extras.get(EXTRAS_SENDER)
    return sender if isinstance(sender, Sender) else None


def options_from_settings(settings: Any) -> dict[str, Any]:
    """:class:`Sender` arguments from ``bot.config.Settings``: rates, quiet hours, time zone."""
    return {
        "global_rate": settings.send_rate_global,
        "per_chat_rate": settings.send_rate_per_chat,
        "quiet_start": settings.quiet_hours_start,
        "quiet_end": settings.quiet_hours_end,
        "timezone": settings.timezone,
    }


def _settings(application: Application) -> dict[str, Any]:
    raw = application.bot_data.extras.get(EXTRAS_SETTINGS) or {}
    return dict(raw) if isinstance(raw, Mapping) else {}


async def start_sender(application: Application) -> Sender | None:
    """Start the sender for ``application`` (its database must be open): it sends only while
    the application is running. ``extras["delivery"]`` may override :class:`Sender` arguments."""
    data = application.bot_data
    options = _settings(application)
    if not options.pop("enabled", True) or data.sessionmaker is None:
        return None
    known = set(inspect.signature(Sender).parameters) - {
        "sessionmaker",
        "owner",
        "clock",
        "wall_clock",
    }
    unknown = set(options) - known
    if unknown:
        log.warning("ignoring unknown delivery settings: %s", ", ".join(sorted(unknown)))
    options = {k: v for k, v in options.items() if k in known}
    settings = data.settings
    bot = delivery_bot(
        application.bot.token,
        base_url=settings.telegram_base_url if settings else "https://api.telegram.org/bot",
        base_file_url=settings.base_file_url if settings else "https://api.telegram.org/file/bot",
        read_timeout=options.get("read_timeout") or 15.0,
        pool_size=max(16, int(options.get("batch_size") or 50)),
    )
    shared = None
    if uses_shared_budget(settings, data.engine, several=bool(data.extras.get(EXTRAS_SEVERAL))):
        assert data.engine is not None
        shared = SharedSendBudget(data.engine, float(options.get("global_rate") or 25.0))
    sender = Sender(
        data.sessionmaker,
        **options,
        wall_clock=lambda: application_now(application),
        shared_budget=shared,
    )
    # No ``bot.initialize()``: it would call getMe, and sending does not need it.
    await bot.request.initialize()
    sender.start(bot, ready=lambda: application.running, owns_bot=True)
    data.extras[EXTRAS_SENDER] = sender
    return sender


async def stop_sender(application: Application) -> None:
    sender = application.bot_data.extras.pop(EXTRAS_SENDER, None)
    if isinstance(sender, Sender):
        await sender.stop()
