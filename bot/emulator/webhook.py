"""Webhook delivery: the emulator pushes queued updates to the bot as Telegram does.

While a webhook is set, :class:`WebhookDeliverer` POSTs each queued update (its JSON, with
``X-Telegram-Bot-Api-Secret-Token`` when a secret was set) to the webhook URL, over one shared
keep-alive :class:`aiohttp.ClientSession`. A 2xx answer confirms the update; any other answer,
a connection error or a timeout leaves it queued and it is tried again after a backoff
(``retry_initial`` doubling up to ``retry_max``). At most ``max_connections`` requests are in
flight and at most one per chat (the queue bookkeeping is :class:`EmulatorState`'s: see
:meth:`EmulatorState.webhook_take`), so a conversation's updates arrive in order.

A list of *backends* stands for a load balancer in front of several bot processes: requests
go to them round-robin instead of to the registered URL (never contacted then). A backend that
refuses the connection, or drops it before answering, is skipped and the same update goes at
once to the next one; only when all fail is the attempt a failure.

Every attempt is kept in a bounded log (:meth:`WebhookDeliverer.deliveries`) for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
from yarl import URL

from bot.emulator.state import EmulatorError, EmulatorState, WebhookJob

__all__ = [
    "DELIVERY_LOG_SIZE",
    "SECRET_HEADER",
    "Backend",
    "WebhookDeliverer",
]

_LOGGER = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DELIVERY_LOG_SIZE = 100_000


@dataclass
class Backend:
    """One bot process behind the simulated load balancer, with what it got."""

    url: str
    delivered: int = 0  # answered 2xx
    failed: int = 0  # answered another status, or timed out
    refused: int = 0  # refused or dropped the connection before answering: next backend

    def to_view(self) -> dict[str, Any]:
        """Control-API representation."""
        return {
            "url": self.url,
            "delivered": self.delivered,
            "failed": self.failed,
            "refused": self.refused,
        }


class _Attempt(NamedTuple):
    """One row of the delivery log (a tuple: hundreds a second are kept)."""

    seq: int
    update_id: int
    url: str
    status: int | None
    error: str | None
    started: float  # wall clock, like the call log
    duration: float

    def to_view(self) -> dict[str, Any]:
        return self._asdict()


class _Refused(Exception):
    """The connection was refused or dropped before any answer (a load balancer moves on)."""


def check_url(url: Any) -> str:
    """An ``http(s)://host...`` URL, else ``EmulatorError(400)``."""
    if not isinstance(url, str):
        raise EmulatorError(400, "backend URLs must be strings")
    try:
        parsed = URL(url)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise EmulatorError(400, f"not an http(s) URL: {url!r}")
    return url


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise EmulatorError(400, f"{name} must be a positive number of seconds")
    return value


class WebhookDeliverer:
    """Pushes ``state``'s queue to its webhook (or to the backends) while the server runs.

    :meth:`wake` is called on every state change (cheap: it sets an event); the background
    task then hands out as many jobs as the limits allow, one task per job.
    """

    def __init__(
        self,
        state: EmulatorState,
        *,
        timeout: float = 60.0,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        backends: Iterable[str] | None = None,
        log_size: int = DELIVERY_LOG_SIZE,
    ) -> None:
        self.state = state
        self.timeout = 0.0
        self.retry_initial = 0.0
        self.retry_max = 0.0
        self.configure(timeout=timeout, retry_initial=retry_initial, retry_max=retry_max)
        self.backends: list[Backend] = []
        self.set_backends(backends)
        self._log: deque[_Attempt] = deque(maxlen=log_size)
        self._seq = 0
        self._next_backend = 0
        self._in_flight = 0
        self._retry_waiters: deque[asyncio.Future[None]] = deque()
        self._jobs: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ settings
    def configure(
        self,
        *,
        timeout: float | None = None,
        retry_initial: float | None = None,
        retry_max: float | None = None,
    ) -> dict[str, float]:
        """Change the request timeout and the retry backoff (``None`` keeps a value)."""
        new = {
            "timeout": self.timeout if timeout is None else _positive("timeout", timeout),
            "retry_initial": (
                self.retry_initial
                if retry_initial is None
                else _positive("retry_initial", retry_initial)
            ),
            "retry_max": self.retry_max if retry_max is None else _positive("retry_max", retry_max),
        }
        if new["retry_max"] < new["retry_initial"]:
            raise EmulatorError(400, "retry_max must not be below retry_initial")
        self.timeout, self.retry_initial, self.retry_max = (
            new["timeout"],
            new["retry_initial"],
            new["retry_max"],
        )
        self._client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        return self.settings()

    def settings(self) -> dict[str, float]:
        """The request timeout and retry backoff, in seconds."""
        return {
            "timeout": self.timeout,
            "retry_initial": self.retry_initial,
            "retry_max": self.retry_max,
        }

    def set_backends(self, urls: Iterable[str] | None) -> None:
        """Deliver round-robin to these URLs instead of the webhook (empty/``None``: to the
        webhook again). Counts start from zero."""
        checked = [check_url(url) for url in urls or ()]
        self.backends = [Backend(url) for url in checked]
        self._next_backend = 0

    def backends_view(self) -> dict[str, Any]:
        """``{"urls": [...], "backends": [{"url", "delivered", "failed", "refused"}, ...]}``."""
        return {
            "urls": [b.url for b in self.backends],
            "backends": [b.to_view() for b in self.backends],
        }

    def deliveries(
        self, since: int | None = None, update_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The attempts logged after the one numbered ``since`` (all of one update if asked),
        oldest first: ``seq``, ``update_id``, ``url``, ``status`` (``None`` without an answer),
        ``error`` (``None`` on 2xx), ``started`` (wall clock) and ``duration`` (seconds)."""
        log = self._log
        rows: Iterable[_Attempt] = log
        if since is not None:
            # seq grows by one per attempt: everything after ``since`` is at the end.
            newer = max(0, min(len(log), self._seq - since))
            rows = [log[i] for i in range(len(log) - newer, len(log))]
        return [r.to_view() for r in rows if update_id is None or r.update_id == update_id]

    def clear(self) -> None:
        """Forget the delivery log and the backends' counts (on reset)."""
        self._log.clear()
        for backend in self.backends:
            backend.delivered = backend.failed = backend.refused = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the HTTP session and start handing out jobs (in the running loop)."""
        self._session = aiohttp.ClientSession(
            # The deliverer enforces max_connections itself; keep-alive connections are reused.
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        self._wakeup = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="emulator-webhook")

    async def stop(self) -> None:
        """Stop delivering; updates in flight stay queued (unconfirmed)."""
        tasks = [t for t in (self._runner, *self._jobs) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        self._jobs.clear()
        self._retry_waiters.clear()
        self._in_flight = 0
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """Something changed (an update was queued, a webhook set...): look for work."""
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                self._pump()
            except Exception:  # pragma: no cover - a bug: keep delivering the rest
                _LOGGER.exception("webhook delivery failed")
            await self._wakeup.wait()

    def _pump(self) -> None:
        """Fill the free connection slots: retries waiting for one first, then new jobs."""
        limit = int(self.state.webhook.get("max_connections") or 40)
        while self._in_flight < limit and self._retry_waiters:
            waiter = self._retry_waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
        while self._in_flight < limit:
            job = self.state.webhook_take()
            if job is None:
                return
            self._in_flight += 1
            task = asyncio.create_task(self._deliver(job))
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)

    # ------------------------------------------------------------------ delivery
    async def _deliver(self, job: WebhookJob) -> None:
        """Deliver one job until confirmed or no longer due (holds a slot while it POSTs)."""
        failures = 0
        try:
            while True:
                try:
                    delivered = await self._attempt(job)
                finally:
                    self._in_flight -= 1
                    self.wake()
                if delivered:
                    self.state.webhook_confirm(job)
                    return
                await asyncio.sleep(min(self.retry_max, self.retry_initial * 2**failures))
                failures += 1
                if not self.state.webhook_due(job):
                    self.state.webhook_release(job)
                    return
                waiter = asyncio.get_running_loop().create_future()
                self._retry_waiters.append(waiter)
                self.wake()
                await waiter  # the pump counted us in flight again
        except asyncio.CancelledError:
            self.state.webhook_release(job)
            raise
        except Exception:  # pragma: no cover - a bug: the chat must not stay blocked
            _LOGGER.exception("webhook delivery of update %s failed", job.update_id)
            self.state.webhook_release(job)

    async def _attempt(self, job: WebhookJob) -> bool:
        """One delivery attempt (trying the backends in turn); ``True`` if answered 2xx."""
        webhook = self.state.webhook
        url = webhook.get("url") or ""
        headers = {"Content-Type": "application/json"}
        if webhook.get("secret_token"):
            headers[SECRET_HEADER] = webhook["secret_token"]
        body = json.dumps(job.update, ensure_ascii=False, separators=(",", ":")).encode()
        backends = self.backends
        if not backends:
            try:
                error = await self._post(job, url, body, headers)
            except _Refused as refused:
                error = str(refused)
            if error is not None:
                self.state.webhook_failed(job, error)
            return error is None
        count = len(backends)
        first = self._next_backend % count
        error = "Connection refused"
        for step in range(count):
            backend = backends[(first + step) % count]
            # The rotation goes on after the backend tried last (like nginx's round-robin).
            self._next_backend = (first + step + 1) % count
            try:
                error = await self._post(job, backend.url, body, headers)
            except _Refused as refused:
                backend.refused += 1
                error = str(refused)
                continue
            if error is None:
                backend.delivered += 1
                return True
            backend.failed += 1
            break
        self.state.webhook_failed(job, error)
        return False

    async def _post(
        self, job: WebhookJob, url: str, body: bytes, headers: dict[str, str]
    ) -> str | None:
        """POST once and log it: ``None`` on 2xx, else the error text as Telegram words it.
        Raises :class:`_Refused` when nothing answered at all."""
        assert self._session is not None, "deliverer not started"
        started_wall, started = time.time(), time.monotonic()
        status: int | None = None
        error: str | None = None
        refused = False
        try:
            async with self._session.post(
                url,
                data=body,
                headers=headers,
                timeout=self._client_timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                # Read the (small) answer so that the connection is kept for the next update.
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await response.read()
            if not 200 <= status < 300:
                error = f"Wrong response from the webhook: {status} {response.reason or ''}"
                error = error.rstrip()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError as exc:
            refused = True
            if isinstance(exc.os_error, ConnectionRefusedError):
                error = "Connection refused"
            elif isinstance(exc.os_error, socket.gaierror):
                error = f"Failed to resolve host: {exc.os_error.strerror}"
            else:
                error = f"Connection failed: {exc.os_error or exc}"
        except aiohttp.ClientConnectionError as exc:
            # Dropped before any answer (the answer's own read errors are ignored above).
            refused, error = True, f"Connection reset by peer: {exc or type(exc).__name__}"
        except aiohttp.ClientError as exc:
            error = f"Webhook request failed: {exc}"
        self._seq += 1
        self._log.append(
            _Attempt(
                self._seq,
                job.update_id,
                url,
                status,
                error,
                started_wall,
                time.monotonic() - started,
            )
        )
        if refused:
            raise _Refused(error)
        return error
