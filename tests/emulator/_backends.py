"""Fake bot processes for the webhook tests: small aiohttp servers on 127.0.0.1 that record
what the emulator POSTs and answer as told."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

HANG = "hang"  # an answer that never comes (until the backend stops)
DROP = "drop"  # the connection is closed without an answer (a process that crashed)


def update_chat(update: dict[str, Any]) -> int | None:
    """The chat of a message or callback_query update."""
    payload = next(v for k, v in update.items() if k != "update_id")
    chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
    return chat["id"] if chat else None


@dataclass
class Tracker:
    """What several backends saw together: arrival order and requests in flight."""

    # (backend, update_id, chat) in the order the requests came in
    arrivals: list[tuple[str, int, int | None]] = field(default_factory=list)
    in_flight_per_chat: Counter[int | None] = field(default_factory=Counter)
    in_flight: int = 0
    max_per_chat: int = 0
    max_in_flight: int = 0

    def enter(self, name: str, update: dict[str, Any]) -> None:
        chat = update_chat(update)
        self.arrivals.append((name, update["update_id"], chat))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if chat is not None:
            self.in_flight_per_chat[chat] += 1
            self.max_per_chat = max(self.max_per_chat, self.in_flight_per_chat[chat])

    def leave(self, update: dict[str, Any]) -> None:
        self.in_flight -= 1
        chat = update_chat(update)
        if chat is not None:
            self.in_flight_per_chat[chat] -= 1


@dataclass
class Received:
    """One request a backend got."""

    update: dict[str, Any]
    headers: dict[str, str]


class FakeBackend:
    """A bot process behind the (simulated) load balancer. ``answers`` are used one per request
    (an HTTP status, :data:`HANG` or :data:`DROP`), then ``status``; ``jitter`` adds a random
    pause so that concurrent requests really overlap; while ``hold`` is set, requests wait."""

    def __init__(
        self, name: str = "backend", tracker: Tracker | None = None, jitter: float = 0.0
    ) -> None:
        self.name = name
        self.tracker = tracker if tracker is not None else Tracker()
        self.jitter = jitter
        self.status: int | str = 200
        self.answers: deque[int | str] = deque()
        self.hold: asyncio.Event | None = None
        self.received: list[Received] = []
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeBackend:
        app = web.Application()
        app.router.add_post("/telegram", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/telegram"
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def update_ids(self) -> list[int]:
        return [r.update["update_id"] for r in self.received]

    async def _handle(self, request: web.Request) -> web.Response:
        update = json.loads(await request.read())
        self.received.append(Received(update, dict(request.headers)))
        answer = self.answers.popleft() if self.answers else self.status
        if answer == DROP:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never written: the connection is gone
        self.tracker.enter(self.name, update)
        try:
            if self.jitter:
                await asyncio.sleep(random.uniform(0, self.jitter))
            if self.hold is not None:
                await self.hold.wait()
            if answer == HANG:
                await self._stopping.wait()
                return web.Response(status=503)
        finally:
            self.tracker.leave(update)
        return web.Response(status=int(answer))


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the connection is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/telegram"


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, within: float = 30.0
) -> None:
    """Wait until ``check()`` holds (a generous deadline: the machine is shared)."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting until {what}")
        await asyncio.sleep(0.02)
