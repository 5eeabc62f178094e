"""Benchmark: webhook mode scaled out to 1, 2 and 3 bot processes on one PostgreSQL.

The data and the requests are the status benchmark's (``bench/status_bench.py``: N employees,
default 10,000, U of them linked, default 1,000, 60% with a transfer in progress, 10% with a
cancelled one too, the rest none; everyone sends ``/status``), seeded once in one scratch
PostgreSQL database. Each run starts a fresh emulator in its own process and N bot processes
in webhook mode (``run_bot.py run --webhook --no-migrate --port P``, configured through the
environment as in production, quiet hours off, the scheduler's tick at its maximum), each on
a free port of 127.0.0.1; the emulator delivers the updates round-robin to them, as a load
balancer would (``set_webhook_backends``; the public ``WEBHOOK_URL`` is never contacted).

A closed loop of C simulated users (``--concurrency``, default 100: well above the 40
updates the webhook has in flight at once, so the bots never wait for work) keeps C
``/status`` in the emulator at every moment: as soon as one is answered the next linked user
(round-robin over all U, so the whole mix is asked) sends one. After a warm-up
(``--warmup`` s) the loop runs ``--duration`` s; then no new requests, and what is in flight
gets ``--drain`` s to finish.

* **Throughput runs**, N in ``--processes`` (default 1,2,3), ``SEND_RATE_GLOBAL`` at
  ``--lifted-rate`` (default 5000: the cap lifted, but every reply still books its slot in
  the shared budget, :mod:`bot.send_budget`): updates/s handled (the webhook answered 200,
  i.e. the handlers finished) within the measured window, p50 / p95 latency (from the moment
  the update was queued in the emulator to that answer, on the emulator's clock), errors
  (answers other than 200, failed deliveries, failed Bot API calls, ERROR lines in the bots'
  logs, handled updates without a reply) and unanswered (still in flight after the drain);
  and the CPU used in the measured window, in cores (CPU seconds per second), from ``/proc``:
  the bot processes (sum), the emulator, PostgreSQL (the processes named ``postgres`` that
  serve the scratch database or the whole server: :class:`PostgresMeter`; backends of other
  databases on a shared server are not ours), this driver, their total, the whole machine
  (``/proc/stat``) and the rest of it (other tenants of a shared machine show there); the same
  for a few idle seconds after the load (``--idle``); the database transactions and rows
  written per update (``pg_stat_database``) and how many backends wait for a row lock (held
  by another transaction: ``pg_stat_activity`` every 0.1 s, with the statement most seen
  waiting). The ratio of updates/s N=2 / N=1 has the goal >= 1.5 (printed, not asserted),
  N=3 / N=1 is shown; a "why" line puts the CPU figures together: what one process with a
  core to itself would handle and the most the machine's cores could, at that cost per
  update, with the emulator and PostgreSQL beside the bots.
* **Cap run**: N = 3 (the largest of ``--processes``), ``SEND_RATE_GLOBAL=25`` and the
  emulator's flood limit at 25 messages/s (429 above it), the same load (far more demand
  than 25/s): messages/s sent, the most sends in any one-second window (the emulator's
  ``send_stats``: must be <= 25) and the 429s (must be 0): the processes together keep to one
  cap.

The bots are ``run_bot.py`` as built (python-telegram-bot's own per-process limiter follows
``SEND_RATE_GLOBAL`` when it is above Telegram's 30/s, so the shared budget is the cap), with
``WEBHOOK_MAX_CONNECTIONS=100`` (Telegram's maximum; the default 40 is for the whole fleet).
``--without-shared-budget`` is for diagnosis only: each bot then runs through
``scale_bench.py --child-bot`` with no booking in the database and paces its sends alone
(what the shared budget costs).

    .venv/bin/python bench/scale_bench.py [--duration 30] [--processes 1,2,3] [--quick]
        [--database-url URL] [--concurrency 100] [--warmup 5] [--drain 30] [--idle 3]
        [--without-shared-budget] [--no-cap-run]
        [--users 1000] [--employees 10000]

PostgreSQL only (several processes share one database): ``--database-url`` (default
``postgresql://postgres@127.0.0.1:5432/test``) names the server, where a scratch database is
created and dropped. ``--quick`` is a smoke run (small data, a few seconds per run). Every
child process and the scratch database are removed at the end, on failure and on Ctrl+C
too. Nothing leaves 127.0.0.1. The exit status is 1 when an update went unanswered, an error
was seen or the cap run broke the cap; the scaling goal is printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.delivery_bench import TOKEN, emulator_process, free_port  # noqa: E402
from bench.import_bench import DEFAULT_POSTGRES, ScratchDatabase, postgres_reachable  # noqa: E402
from bench.status_bench import (  # noqa: E402
    COMMAND,
    FIRST_USER,
    SEND_METHODS,
    cpu_seconds,
    create_users,
    percentile,
    seed,
)

PUBLIC_URL = "https://bot.bench.example/telegram"  # never contacted: the backends stand in
SECRET = "rahasia-bench-skala"
LIFTED_RATE = 5000.0
CAP = 25.0
GOAL = 1.5
POLL_SECONDS = 0.1  # how often the driver reads the emulator's logs
CORES = os.cpu_count() or 1
RUN_WEBHOOK = ["run", "--webhook", "--no-migrate", "--port"]  # and the port
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- CPU, from /proc ----------------------------------------------------------------------
def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


class PostgresMeter:
    """CPU seconds of the PostgreSQL server's processes working for the scratch database:
    its backends (the process title names the database) and the server's own processes
    (WAL writer, checkpointer...: they serve every database, ours included). Backends of
    other databases (other users of a shared server) are left out. A thread reads ``/proc``
    every ``every`` seconds, so that a backend that ends (a pool's overflow connection
    closed) still counts up to its last reading."""

    def __init__(self, database: str, every: float = 0.25) -> None:
        self.database = database
        self.every = every
        self._seen: dict[tuple[int, str], tuple[float, str]] = {}  # (pid, start) -> cpu, kind
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            fields = _stat(entry.name)
            if not fields:
                continue
            if re.search(r"\(\d+\)|\[local\]", title):  # a backend: user database host(port)
                if self.database not in title.split():
                    continue
                kind = "backends"
            else:
                kind = "server"
            cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            with self._lock:
                self._seen[(int(entry.name), fields[19])] = (cpu, kind)

    def __enter__(self) -> PostgresMeter:
        def run() -> None:
            while not self._stop.wait(self.every):
                self._read()

        self._thread = threading.Thread(target=run, name="postgres-meter", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def cpu_seconds(self) -> float:
        """Read now; the total so far (ended backends at their last reading)."""
        self._read()
        with self._lock:
            return sum(cpu for cpu, _kind in self._seen.values())


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine was busy, and those stolen by the hypervisor."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, steal / CLOCK_TICKS


def child_pid(*needles: str) -> int | None:
    """The pid of this process's child whose command line holds every needle."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields and int(fields[1]) == me and all(n.encode() in command for n in needles):
            return int(entry.name)
    return None


@dataclass
class Snapshot:
    wall: float  # time.time(): the emulator's clock, on the same machine
    monotonic: float
    bots: list[float]
    emulator: float
    postgres: float
    driver: float
    machine: float
    steal: float

    @classmethod
    def take(
        cls, bot_pids: list[int], emulator_pid: int | None, postgres: PostgresMeter
    ) -> Snapshot:
        machine, steal = machine_cpu()
        return cls(
            wall=time.time(),
            monotonic=time.monotonic(),
            bots=[cpu_seconds(pid) or 0.0 for pid in bot_pids],
            emulator=(cpu_seconds(emulator_pid) or 0.0) if emulator_pid else float("nan"),
            postgres=postgres.cpu_seconds(),
            driver=time.process_time(),
            machine=machine,
            steal=steal,
        )


def cores(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """CPU seconds per second between two snapshots."""
    span = after.monotonic - before.monotonic
    bots = [(b - a) / span for a, b in zip(before.bots, after.bots, strict=True)]
    used = {
        "bots": sum(bots),
        "per_bot": bots,
        "emulator": (after.emulator - before.emulator) / span,
        "postgres": (after.postgres - before.postgres) / span,
        "driver": (after.driver - before.driver) / span,
        "machine": (after.machine - before.machine) / span,
        "steal": (after.steal - before.steal) / span,
    }
    used["total"] = used["bots"] + used["emulator"] + used["postgres"] + used["driver"]
    used["other"] = max(0.0, used["machine"] - used["total"])
    return used


# --- the bot processes ----------------------------------------------------------------------
def child_bot(port: str, options: list[str]) -> int:
    """``run_bot.py run --webhook --no-migrate --port PORT``, with ``no-budget`` in
    ``options`` (a diagnosis): no shared send budget in the database, each process paces
    itself alone. Everything else as built."""
    from unittest import mock

    import bot.cli
    import bot.delivery

    with contextlib.ExitStack() as stack:
        if "no-budget" in options:
            stack.enter_context(
                mock.patch.object(bot.delivery, "SharedSendBudget", lambda *a, **k: None)
            )
        return bot.cli.main([*RUN_WEBHOOK, port])


def child_options(args: argparse.Namespace) -> list[str]:
    """What ``--child-bot`` changes in the bots (nothing: ``run_bot.py`` itself runs)."""
    return ["no-budget"] if args.without_shared_budget else []


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM this child when the benchmark dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Bot:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def errors(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line]

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.log.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def distinct_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@contextlib.contextmanager
def bot_fleet(
    ports: list[int], root: str, database_url: str, rate: float, folder: Path, options: list[str]
) -> Iterator[list[Bot]]:
    """One webhook process per port, healthy when yielded; all stopped (SIGTERM, then
    SIGKILL) on the way out, whatever happened."""
    import httpx

    environment = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": database_url,
        "TELEGRAM_BASE_URL": f"{root}/bot",
        "TELEGRAM_BASE_FILE_URL": f"{root}/file/bot",
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "SEND_RATE_GLOBAL": f"{rate:g}",
        "WEBHOOK_MAX_CONNECTIONS": "100",
        "QUIET_HOURS_START": "00:00",  # no quiet hours
        "QUIET_HOURS_END": "00:00",
        "SCHEDULER_TICK_SECONDS": "600",  # the maximum: no tick during the measurement
        "PYTHONPATH": str(ROOT),
    }
    bots: list[Bot] = []
    try:
        for port in ports:
            log = folder / f"bot-{len(ports)}-{port}.log"
            command = (
                [__file__, "--child-bot", str(port), *options]
                if options
                else [str(ROOT / "run_bot.py"), *RUN_WEBHOOK, str(port)]
            )
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, *command],
                    cwd=folder,  # no .env file there
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            bots.append(Bot(port, process, log))
        deadline = time.monotonic() + 90
        waiting = list(bots)
        while waiting:
            for one in list(waiting):
                if one.process.poll() is not None:
                    raise RuntimeError(f"a bot process exited at start:\n{one.tail()}")
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = httpx.get(f"{one.url}/healthz", timeout=2, trust_env=False)
                    if answer.json().get("status") == "ok":
                        waiting.remove(one)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(
                    "bot processes not healthy after 90 s:\n"
                    + "\n".join(one.tail() for one in waiting)
                )
            if waiting:
                time.sleep(0.2)
        yield bots
    finally:
        for one in bots:
            if one.process.poll() is None:
                one.process.send_signal(signal.SIGTERM)
        for one in bots:
            try:
                one.process.wait(20)
            except subprocess.TimeoutExpired:
                one.process.kill()
                one.process.wait()


# --- the database -------------------------------------------------------------------------
async def forget_updates(database_url: str) -> None:
    """Empty ``processed_updates``: every run's emulator numbers its updates from 1 again,
    and the bots would take them for copies of the last run's."""
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE processed_updates"))
    finally:
        await engine.dispose()


async def database_counters(database_url: str) -> dict[str, int]:
    """Transactions and rows of the scratch database so far (``pg_stat_database``; this
    query's own transaction is one of them)."""
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT xact_commit + xact_rollback AS transactions, tup_inserted + "
                        "tup_updated + tup_deleted AS written FROM pg_stat_database "
                        "WHERE datname = current_database()"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return {"transactions": int(row.transactions), "written": int(row.written)}


class LockWaits:
    """How many backends of the scratch database wait for a lock (a row another transaction
    holds), read from ``pg_stat_activity`` every ``every`` seconds."""

    QUERY = (
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.samples = 0
        self.waiting = 0
        self.queries: collections.Counter[str] = collections.Counter()

    async def sample(self, database_url: str) -> None:
        from sqlalchemy import text

        from storage.db import create_engine

        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                while True:
                    # A transaction per reading: pg_stat_activity is frozen within one.
                    async with connection.begin():
                        found = (await connection.execute(text(self.QUERY))).scalars().all()
                    self.samples += 1
                    self.waiting += len(found)
                    self.queries.update(found)
                    await asyncio.sleep(self.every)
        finally:
            await engine.dispose()

    def mean(self) -> float:
        return self.waiting / self.samples if self.samples else float("nan")


# --- the closed loop ----------------------------------------------------------------------
@dataclass
class Loop:
    """The driver's bookkeeping: who waits for what, and what came back."""

    users: collections.deque[int]
    outstanding: dict[int, tuple[int, float]] = field(default_factory=dict)  # update -> user
    last_reply: dict[int, float] = field(default_factory=dict)  # chat -> last reply start
    done: list[tuple[float, float, bool]] = field(default_factory=list)  # end, latency, reply
    sends: list[float] = field(default_factory=list)  # start times of successful sends
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    too_many: int = 0
    delivery_seq: int | None = None
    call_seq: int | None = None


async def drive(
    root: str,
    bots: list[Bot],
    emulator_pid: int | None,
    database_url: str,
    meter: PostgresMeter,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Run the closed loop (warm-up, measurement, drain) and gather the run's figures."""
    import httpx

    from bot.emulator.client import EmulatorClient

    loop = Loop(collections.deque(FIRST_USER + n for n in range(args.users)))
    pids = [one.process.pid for one in bots]
    async with EmulatorClient(root, timeout=60) as client:

        async def read_logs() -> None:
            # Deliveries first: a reply is logged before the answer to its update.
            deliveries = await client.deliveries(since=loop.delivery_seq)
            calls = await client.calls(since=loop.call_seq)
            if deliveries:
                loop.delivery_seq = deliveries[-1]["seq"]
            if calls:
                loop.call_seq = calls[-1]["seq"]
            for call in calls:
                if call["status"] == 429:
                    loop.too_many += 1
                elif not call["ok"]:
                    loop.errors[f"{call['method']} failed ({call['status']})"] += 1
                elif call["method"] in SEND_METHODS:
                    loop.sends.append(call["time"])
                    chat = int(call["params"].get("chat_id") or 0)
                    loop.last_reply[chat] = max(loop.last_reply.get(chat, 0.0), call["time"])
            for delivery in deliveries:
                waiting = loop.outstanding.get(delivery["update_id"])
                if waiting is None:
                    continue
                if delivery["status"] == 200:
                    user, queued = loop.outstanding.pop(delivery["update_id"])
                    end = delivery["started"] + delivery["duration"]
                    replied = loop.last_reply.get(user, 0.0) >= queued
                    loop.done.append((end, end - queued, replied))
                    loop.users.append(user)
                elif delivery["status"] is None:
                    loop.errors[f"webhook delivery failed ({delivery['error']})"] += 1
                else:  # the emulator retries it (or, if it took the answer, it stays unanswered)
                    loop.errors[f"webhook answered {delivery['status']}"] += 1

        async def top_up() -> None:
            wanted = args.concurrency - len(loop.outstanding)
            if wanted <= 0:
                return
            chosen = [loop.users.popleft() for _ in range(min(wanted, len(loop.users)))]
            if not chosen:
                return
            answer = await client.send_texts([(user, COMMAND) for user in chosen])
            for user, sent in zip(chosen, answer["sent"], strict=True):
                loop.outstanding[sent["update_id"]] = (user, answer["time"])

        async def run_until(moment: float, issue: bool) -> None:
            while time.monotonic() < moment:
                if issue:
                    await top_up()
                elif not loop.outstanding:
                    return
                await asyncio.sleep(POLL_SECONDS)
                await read_logs()
                for one in bots:
                    if one.process.poll() is not None:
                        raise RuntimeError(f"a bot process died:\n{one.tail()}")

        started = time.monotonic()
        await run_until(started + args.warmup, issue=True)
        if not loop.done:
            raise RuntimeError(
                "nothing was answered during the warm-up:\n" + "\n".join(one.tail() for one in bots)
            )
        counted = await database_counters(database_url)
        waits = LockWaits()
        sampler = asyncio.create_task(waits.sample(database_url))
        before = Snapshot.take(pids, emulator_pid, meter)
        try:
            await run_until(before.monotonic + args.duration, issue=True)
        finally:
            after = Snapshot.take(pids, emulator_pid, meter)
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        counted = {k: v - counted[k] for k, v in (await database_counters(database_url)).items()}
        await run_until(time.monotonic() + args.drain, issue=False)
        # The same processes with nothing to do: what they cost merely by running.
        quiet = Snapshot.take(pids, emulator_pid, meter)
        await asyncio.sleep(args.idle)
        idle = cores(quiet, Snapshot.take(pids, emulator_pid, meter))
        stats = await client.send_stats(window=1.0)  # the whole run, warm-up included
        backends = await client.webhook_backends()
    metrics: collections.Counter[str] = collections.Counter()
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        for one in bots:
            with contextlib.suppress(httpx.HTTPError):
                metrics.update(prometheus((await http.get(f"{one.url}/metrics")).text))

    window = [d for d in loop.done if before.wall <= d[0] < after.wall]
    span = after.wall - before.wall
    latencies = sorted(d[1] for d in window)
    log_errors = [line for one in bots for line in one.errors()]
    no_reply = sum(1 for d in loop.done if not d[2])
    if no_reply:
        loop.errors["handled without a reply"] += no_reply
    if log_errors:
        loop.errors["ERROR lines in the bots' logs"] += len(log_errors)
    return {
        "processes": len(bots),
        "handled": len(window),
        "rate": len(window) / span,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "errors": sum(loop.errors.values()),
        "error_kinds": dict(loop.errors),
        "first_log_error": log_errors[0] if log_errors else "",
        "unanswered": len(loop.outstanding),
        "sent_rate": sum(1 for t in loop.sends if before.wall <= t < after.wall) / span,
        "max_in_window": stats["max_in_window"],
        "too_many": loop.too_many,
        "bot_429s": metrics["bot_telegram_429_total"],
        "bot_updates": metrics["bot_updates_total"],
        "shares": [b["delivered"] for b in backends["backends"]],
        "cpu": cores(before, after),
        "idle": idle,
        "lock_waits": waits.mean(),
        "waiting_for": waits.queries.most_common(1)[0][0] if waits.queries else "",
        "transactions": counted["transactions"] / len(window) if window else float("nan"),
        "written": counted["written"] / len(window) if window else float("nan"),
        "seconds": span,
        "whole": time.monotonic() - started,
    }


def prometheus(text: str) -> collections.Counter[str]:
    """Sum each sample's value by metric name (labels dropped) in Prometheus text format."""
    found: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        if m := re.match(r"^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)$", line):
            with contextlib.suppress(ValueError):
                found[m[1]] += float(m[2])
    return found


def run_once(
    processes: int,
    rate: float,
    flood: float | None,
    database_url: str,
    meter: PostgresMeter,
    folder: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """A fresh emulator (its flood limit ``flood``), ``processes`` bots at ``rate``, the loop."""
    from bot.emulator.client import EmulatorClient

    name = f"{processes}-{'cap' if flood else 'free'}"
    with emulator_process(folder / f"emulator-{name}.log") as root:
        emulator_pid = child_pid("bot.emulator", "--port", root.rsplit(":", 1)[1])
        asyncio.run(create_users(root, args.users))
        ports = distinct_ports(processes)

        async def prepare() -> None:
            async with EmulatorClient(root) as client:
                await client.set_rate_limit(global_per_second=flood)
                # Before any process sets the webhook: the public URL is never contacted.
                await client.set_webhook_backends([f"http://127.0.0.1:{p}/telegram" for p in ports])

        asyncio.run(prepare())
        asyncio.run(forget_updates(database_url))
        with bot_fleet(ports, root, database_url, rate, folder, child_options(args)) as bots:
            return asyncio.run(drive(root, bots, emulator_pid, database_url, meter, args))


# --- the report ---------------------------------------------------------------------------
def _f(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:.{digits}f}"  # nan


def report(runs: dict[int, dict[str, Any]], cap: dict[str, Any] | None, rate: float) -> list[str]:
    counts = sorted(runs)
    width = 12
    lines = [
        f"{'throughput runs (SEND_RATE_GLOBAL=' + f'{rate:g})':<44}"
        + "".join(f"{f'N={n}':>{width}}" for n in counts)
    ]

    def row(label: str, values: list[str]) -> None:
        # Columns at least two spaces apart, so that run_all.py can split them.
        lines.append(f"{label:<44}" + "".join(f"  {v:>{width - 2}}" for v in values))

    row("updates/s handled", [_f(runs[n]["rate"], 1) for n in counts])
    row("p50 latency s", [_f(runs[n]["p50"]) for n in counts])
    row("p95 latency s", [_f(runs[n]["p95"]) for n in counts])
    row("errors", [str(runs[n]["errors"]) for n in counts])
    row("unanswered", [str(runs[n]["unanswered"]) for n in counts])
    for key, label in (
        ("bots", "CPU cores: bot processes (sum)"),
        ("emulator", "CPU cores: emulator"),
        ("postgres", "CPU cores: PostgreSQL"),
        ("driver", "CPU cores: driver (this script)"),
        ("total", "CPU cores: total of the above"),
        ("machine", f"CPU cores: whole machine (of {CORES})"),
        ("other", "CPU cores: other processes (machine - ours)"),
    ):
        row(label, [_f(runs[n]["cpu"][key]) for n in counts])
    row("idle CPU cores: bot processes (sum)", [_f(runs[n]["idle"]["bots"]) for n in counts])
    row("idle CPU cores: PostgreSQL", [_f(runs[n]["idle"]["postgres"]) for n in counts])
    row("backends waiting for a row lock (mean)", [_f(runs[n]["lock_waits"]) for n in counts])
    row("database transactions per update", [_f(runs[n]["transactions"], 1) for n in counts])
    row("database rows written per update", [_f(runs[n]["written"], 1) for n in counts])
    row(
        "CPU ms per update: bots",
        [_f(runs[n]["cpu"]["bots"] / runs[n]["rate"] * 1000, 1) for n in counts],
    )
    row(
        "CPU ms per update: PostgreSQL",
        [_f(runs[n]["cpu"]["postgres"] / runs[n]["rate"] * 1000, 1) for n in counts],
    )
    row(
        "CPU ms per update: all",
        [_f(runs[n]["cpu"]["total"] / runs[n]["rate"] * 1000, 1) for n in counts],
    )
    row("most sends in one second", [str(runs[n]["max_in_window"]) for n in counts])
    row("429s", [str(runs[n]["too_many"]) for n in counts])
    row("updates per process", ["/".join(map(str, runs[n]["shares"])) for n in counts])
    if 1 in runs:
        base = runs[1]["rate"]
        for n in counts[1:]:
            ratio = runs[n]["rate"] / base if base else float("nan")
            goal = f" (goal >= {GOAL}) {'met' if ratio >= GOAL else 'not met'}" if n == 2 else ""
            lines.append(f"ratio N={n} / N=1 (updates/s) = {_f(ratio)}{goal}")
        lines.append(why(runs))
    if cap is not None:
        errors = f"{cap['errors']} / {cap['unanswered']}"
        lines.append(
            f"cap run (N={cap['processes']}, SEND_RATE_GLOBAL={CAP:g}, emulator flood limit "
            f"{CAP:g}/s)"
        )
        row("  messages/s sent", [_f(cap["sent_rate"], 1)])
        row("  updates/s handled", [_f(cap["rate"], 1)])
        row(f"  most sends in one second (<= {CAP:g})", [str(cap["max_in_window"])])
        lines[-1] += "  ok" if cap["max_in_window"] <= CAP else "  EXCEEDED"
        row("  429s (0)", [str(cap["too_many"])])
        lines[-1] += "  ok" if cap["too_many"] == 0 else "  MISS"
        row("  errors / unanswered", [errors])
        row("  updates per process", ["/".join(map(str, cap["shares"]))])
    return lines


def why(runs: dict[int, dict[str, Any]]) -> str:
    """What the CPU figures say about the scaling (one line)."""
    counts = sorted(runs)
    one = runs[1]

    def ms(run: dict[str, Any], key: str) -> str:
        return _f(run["cpu"][key] / run["rate"] * 1000 if run["rate"] else float("nan"), 1)

    def each(key: str, per_update: bool = False) -> str:
        return " / ".join(
            ms(runs[n], key) if per_update else _f(runs[n]["cpu"][key]) for n in counts
        )

    nan = float("nan")
    per_update = one["cpu"]["total"] / one["rate"] if one["rate"] else nan
    bot_cost = one["cpu"]["bots"] / one["rate"] if one["rate"] else nan
    ceiling = CORES / per_update if per_update else nan  # every core busy, nothing else
    alone = 1 / bot_cost if bot_cost else nan  # one bot with a core to itself
    text = (
        f"why: at N=1 one update cost {ms(one, 'total')} ms of CPU in all (bots "
        f"{ms(one, 'bots')}, emulator {ms(one, 'emulator')}, PostgreSQL {ms(one, 'postgres')}, "
        f"driver {ms(one, 'driver')}); one bot process with a core to itself would handle about "
        f"{_f(alone, 0)}/s, and {CORES} cores, shared with the emulator, PostgreSQL and the "
        f"driver, at most {_f(ceiling, 0)}/s however many processes: {_f(ceiling / alone)}x one "
        "process"
        + (
            f", short of the goal {GOAL}x on this machine"
            if ceiling / alone < GOAL
            else f" (measured N=1: {_f(one['rate'], 0)}/s)"
        )
        + f"; other processes of this shared machine took {each('other')} cores "
        f"(N={'/'.join(map(str, counts))})"
    )
    if one["cpu"]["steal"] > 0.01:
        text += f", the hypervisor stole {_f(one['cpu']['steal'])}"
    if one["cpu"]["machine"] >= 0.9 * CORES:
        text += (
            f"; the machine was already {_f(one['cpu']['machine'])} of {CORES} cores busy at "
            "N=1: a second process had no idle core to use"
        )
    if len(counts) > 1:
        text += (
            f"; per update the bots took {each('bots', True)} ms and PostgreSQL "
            f"{each('postgres', True)} ms as N grows, while "
            + " / ".join(_f(runs[n]["lock_waits"]) for n in counts)
            + " backends on average waited for a row lock"
        )
    return text + "."


def measure_all(
    url: str, counts: list[int], args: argparse.Namespace
) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None, list[str]]:
    """Seed a scratch database, then the throughput runs and the cap run; everything they
    started is gone when this returns or raises."""
    runs: dict[int, dict[str, Any]] = {}
    cap: dict[str, Any] | None = None
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        folder = Path(tmp)
        database = ScratchDatabase(url, folder)
        # Dropped even when interrupted while it is being created and migrated.
        with contextlib.ExitStack() as stack:
            stack.callback(database.__exit__, None, None, None)
            database.__enter__()
            meter = stack.enter_context(PostgresMeter(str(database.name)))
            seeded = asyncio.run(seed(database.url, args.employees, args.users))
            notes.append(
                f"seeded: {seeded['with_mutation']} linked users with a transfer "
                f"({seeded['mutations']} transfers, {seeded['events']} events)"
            )
            for n in counts:
                runs[n] = run_once(n, args.lifted_rate, None, database.url, meter, folder, args)
                print(
                    f"  N={n}: {runs[n]['rate']:.1f} updates/s, {runs[n]['handled']} handled in "
                    f"{runs[n]['seconds']:.1f} s",
                    flush=True,
                )
            if not args.no_cap_run:
                cap = run_once(counts[-1], CAP, CAP, database.url, meter, folder, args)
    return runs, cap, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, help="seconds measured per run (default 30)")
    parser.add_argument("--processes", default="1,2,3", help="bot process counts (default 1,2,3)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--database-url", dest="url", help=f"server (default {DEFAULT_POSTGRES})")
    parser.add_argument("--concurrency", type=int, help="simulated users in the loop (100)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default 5)")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds for the last answers")
    parser.add_argument(
        "--idle", type=float, default=3.0, help="seconds of idle CPU measured after each run"
    )
    parser.add_argument("--users", type=int, help="linked users (default 1000)")
    parser.add_argument("--employees", type=int, help="employees (default 10000)")
    parser.add_argument("--lifted-rate", type=float, default=LIFTED_RATE)
    parser.add_argument("--no-cap-run", action="store_true", help="skip the cap run")
    parser.add_argument(
        "--without-shared-budget",
        action="store_true",
        help="diagnosis: no shared send budget in the database (each process paces alone)",
    )
    parser.add_argument("--child-bot", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_bot:
        port, *options = args.child_bot
        return child_bot(port, options)

    quick = args.quick
    args.duration = args.duration or (4.0 if quick else 30.0)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if quick else 5.0)
    args.concurrency = args.concurrency or 100
    args.users = args.users or (200 if quick else 1000)
    args.employees = args.employees or (1000 if quick else 10_000)
    if quick:
        args.drain = min(args.drain, 15.0)
        args.idle = min(args.idle, 1.0)
    try:
        counts = sorted({int(n) for n in args.processes.split(",") if n.strip()})
    except ValueError:
        parser.error("--processes takes counts like 1,2,3")
    if not counts or counts[0] < 1:
        parser.error("--processes takes counts like 1,2,3")
    if args.concurrency > args.users:
        parser.error("--concurrency cannot exceed --users")
    url = args.url or DEFAULT_POSTGRES
    from bot.config import normalize_database_url
    from storage.db import is_sqlite

    if is_sqlite(normalize_database_url(url)):
        print("n/a: the scale-out benchmark runs on PostgreSQL only (several processes)")
        return 0
    if not postgres_reachable(normalize_database_url(url)):
        print(f"n/a: PostgreSQL at {url} not reachable")
        return 0

    # Ctrl+C or SIGTERM (a supervisor stopping us): stop at once, wherever we are (also in
    # an event loop: asyncio's own Ctrl+C handling only cancels a task, which may not end
    # it), then clean up undisturbed (a second signal is ignored).
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    began = time.monotonic()
    print(
        f"{args.employees} employees, {args.users} linked users; a closed loop of "
        f"{args.concurrency} of them sending {COMMAND} (the status benchmark's data and mix); "
        f"{args.warmup:g} s warm-up, {args.duration:g} s measured per run; N webhook processes "
        "behind the emulator's round-robin backends, one PostgreSQL; emulator, bots and "
        f"PostgreSQL on this machine's {CORES} cores; the bots as built"
        + (
            "; DIAGNOSIS: without the shared send budget (each process paces alone)"
            if args.without_shared_budget
            else ""
        ),
        flush=True,
    )
    try:
        runs, cap, notes = measure_all(url, counts, args)
    except KeyboardInterrupt:
        print("interrupted: the child processes and the scratch database are removed")
        return 130
    print("\n".join(report(runs, cap, args.lifted_rate)))
    failed = False
    for label, outcome in [*((f"N={n}", runs[n]) for n in counts), ("cap run", cap)]:
        if outcome is None:
            continue
        if outcome["waiting_for"]:
            notes.append(f"{label}: the lock waits were mostly in: {outcome['waiting_for']}")
        if outcome["error_kinds"]:
            notes.append(f"{label}: errors {outcome['error_kinds']}")
        if outcome["first_log_error"]:
            notes.append(f"{label}: first ERROR line: {outcome['first_log_error'][:200]}")
        if outcome["errors"] or outcome["unanswered"]:
            failed = True
        if outcome["max_in_window"] > args.lifted_rate:
            failed = True
        if outcome["bot_429s"] != outcome["too_many"]:
            notes.append(
                f"{label}: the bots counted {outcome['bot_429s']:g} 429s, the emulator "
                f"{outcome['too_many']}"
            )
    if cap is not None and (cap["max_in_window"] > CAP or cap["too_many"]):
        failed = True
    print(
        "updates/s = webhook deliveries answered 200 (handlers done) within the measured "
        "window / its length; latency from the update queued in the emulator to that answer; "
        "CPU cores = CPU seconds per second in the window (/proc); most sends in one second "
        "= the emulator's send_stats over the whole run."
    )
    print("\n".join(notes))
    print(f"whole run: {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
